"""Seeded construction without touching the caller's global RNG state."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
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


def stream_seed(*keys: int) -> int:
    """A 63-bit seed for the random stream named by ``keys`` (e.g. seed, epoch, chunk, round).

    SeedSequence hashes the keys into well-separated streams: neighbouring chunks, epochs,
    workers and seeds share no random numbers.
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)
