"""Compatibility name: ``check_device`` lives in :mod:`synthaug.validation`."""

from __future__ import annotations

from synthaug.validation import check_device

__all__ = ["check_device"]
