"""Exponential moving average of a network's weights (for GAN generators)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(average: nn.Module, current: nn.Module, decay: float, step: int) -> None:
    """Move ``average``'s parameters towards ``current``'s; copy its buffers.

    The decay is warmed up as ``min(decay, (1 + step) / (10 + step))`` so short runs are
    not dominated by the random initial weights. Buffers (BatchNorm running statistics)
    are copied, not averaged: they must describe the activations of the averaged weights'
    own inputs, and the latest statistics are the closest available.

    Written here rather than with ``torch.optim.swa_utils.AveragedModel`` so the averaged
    copy keeps the very same parameter names as the raw network (one architecture, two
    weight sets, interchangeable in a bundle) and to get the warm-up.
    """
    if not 0 <= decay < 1:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    rate = 1.0 - min(decay, (1.0 + step) / (10.0 + step))
    for mine, theirs in zip(average.parameters(), current.parameters()):
        mine.lerp_(theirs.detach(), rate)
    for buffer, source in zip(average.buffers(), current.buffers()):
        buffer.copy_(source)
