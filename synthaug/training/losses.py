"""GAN objectives, by name: the classic non-saturating BCE (as taught) and the hinge loss.

Each returns ``(discriminator_loss(real_logits, fake_logits), generator_loss(fake_logits))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _bce_d(real: Tensor, fake: Tensor) -> Tensor:
    # softplus(-x) = BCE(sigmoid(x), 1); softplus(x) = BCE(sigmoid(x), 0), without the sigmoid's overflow.
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _bce_g(fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()  # non-saturating: maximise log D(G(z))


def _hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _hinge_g(fake: Tensor) -> Tensor:
    return -fake.mean()


@dataclass(frozen=True)
class GANLoss:
    """A pair of loss functions on discriminator logits."""

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


GAN_LOSSES = {
    "bce": GANLoss("bce", _bce_d, _bce_g),
    "hinge": GANLoss("hinge", _hinge_d, _hinge_g),
}


def get_gan_loss(name: str) -> GANLoss:
    """The loss named ``name``; the error lists the known ones."""
    try:
        return GAN_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss must be one of {sorted(GAN_LOSSES)}, got {name!r}") from None
