"""Seeded construction without touching the caller's global RNG state."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's global CPU RNG seeded, then restore the caller's state.

    Weight initialisers in ``torch.nn`` only draw from the global RNG, so building a model
    reproducibly needs it seeded; ``fork_rng`` keeps that from leaking to the caller.

    Example:
        >>> with seeded(0):
        ...     model = ConditionalGAN(num_classes=10)
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
