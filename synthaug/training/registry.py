"""Model type -> trainer class, feeding ``synthaug train MODEL`` (same names as generators)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthaug.utils.registry import Registry

if TYPE_CHECKING:  # the trainers import this module to register themselves
    from synthaug.training.base import Trainer

TRAINERS: Registry[Trainer] = Registry("trainable model type")

register_trainer = TRAINERS.register
"""Class decorator: ``@register_trainer("cgan")`` makes a trainer the one ``synthaug train cgan`` uses."""


def get_trainer_class(name: str) -> type[Trainer]:
    """The trainer class of a model type, as ``synthaug train MODEL`` finds it.

    Args:
        name: a trainable model type, such as ``"cgan"``, ``"cvae"`` or ``"dae"``.

    Returns:
        The registered :class:`~synthaug.training.Trainer` subclass.

    Raises:
        ValueError: no trainer is registered under ``name``; the message lists the known names.
    """
    return TRAINERS.get(name)


def available_trainers() -> list[str]:
    """Names of the model types that have a trainer, sorted.

    Returns:
        The choices of ``synthaug train MODEL``, e.g. ``["cgan", "cvae", "dae"]``.
    """
    return TRAINERS.names()
