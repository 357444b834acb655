"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for data-efficient GAN training.

With little data the discriminator memorises the real images and GAN training collapses.
DiffAugment applies the *same kind* of random, differentiable transformation to real and
fake batches right before the discriminator, so D cannot memorise and G still gets
gradients through the augmentation. Images are in the GAN's [-1, 1] range.

Every draw comes from the caller's ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F


def _uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)


def _randint(low: int, high: int, size: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(low, high, (size,), generator=generator, device=like.device)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, saturation (colour images only) and contrast per image."""
    b = len(x)
    x = x + (_uniform((b, 1, 1, 1), x, generator) - 0.5)
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform((b, 1, 1, 1), x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform((b, 1, 1, 1), x, generator) + 0.5) + mean


def _shift(x: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor, sy: int, sx: int) -> torch.Tensor:
    """``x[b]`` moved by ``(ty[b], tx[b])`` pixels (``|ty| <= sy``, ``|tx| <= sx``), zeros where nothing moves in."""
    b, _, h, w = x.shape
    # Every possible window of the padded images, as a view (no copy): [B, C, 2sy+1, 2sx+1, H, W];
    # then one gather picks each image's window.
    windows = F.pad(x, [sx, sx, sy, sy]).unfold(2, h, 1).unfold(3, w, 1)
    return windows[torch.arange(b, device=x.device), :, ty + sy, tx + sx]


class _Translate(torch.autograd.Function):
    """:func:`_shift` with its exact gradient: the incoming gradient shifted back, also zero-filled.

    Autograd's own backward of the gather is a scatter-add into a zeroed tensor the size of
    all windows ((2sy+1)(2sx+1) times the batch); shifting back costs the same as forward.
    The backward calls this function again, so higher-order gradients work too.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, ty: torch.Tensor, tx: torch.Tensor, sy: int, sx: int) -> torch.Tensor:
        ctx.save_for_backward(ty, tx)
        ctx.pad = (sy, sx)
        return _shift(x, ty, tx, sy, sx)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None, None]:
        ty, tx = ctx.saved_tensors
        sy, sx = ctx.pad
        grad_x = _Translate.apply(grad, -ty, -tx, sy, sx) if ctx.needs_input_grad[0] else None
        return grad_x, None, None, None, None


def translation(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = max(1, round(h * ratio)), max(1, round(w * ratio))
    ty = _randint(-sy, sy + 1, b, x, generator)
    tx = _randint(-sx, sx + 1, b, x, generator)
    return _Translate.apply(x, ty, tx, sy, sx)


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ``ratio`` x image size per image (may cross the border)."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = _randint(0, h + (1 - size_y % 2), b, x, generator) - size_y // 2
    x0 = _randint(0, w + (1 - size_x % 2), b, x, generator) - size_x // 2
    ys = torch.arange(h, device=x.device)
    xs = torch.arange(w, device=x.device)
    # The square is the outer product of a row band and a column band: [B, H] and [B, W]
    # masks, not [B, H, W] comparisons.
    rows = ((ys >= y0[:, None]) & (ys < (y0 + size_y)[:, None])).to(x.dtype)
    cols = ((xs >= x0[:, None]) & (xs < (x0 + size_x)[:, None])).to(x.dtype)
    return x * (1 - rows[:, None, :, None] * cols[:, None, None, :])


AUGMENTATIONS: dict[str, Callable[..., torch.Tensor]] = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment:
    """Apply a policy of differentiable augmentations, in order.

    Args:
        policy: names from ``AUGMENTATIONS`` (``"color"``, ``"translation"``, ``"cutout"``),
            as a sequence or a comma-separated string. The paper's default is all three.

    Example:
        >>> augment = DiffAugment("translation,cutout")
        >>> out = augment(images, generator=torch.Generator().manual_seed(0))  # same shape
    """

    def __init__(self, policy: str | Sequence[str] = ("color", "translation", "cutout")):
        names = [p.strip() for p in policy.split(",") if p.strip()] if isinstance(policy, str) else list(policy)
        unknown = [n for n in names if n not in AUGMENTATIONS]
        if unknown or not names:
            raise ValueError(f"DiffAugment policy must name some of {sorted(AUGMENTATIONS)}, got {policy!r}")
        self.policy = names

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # A channels-last batch (the trainer's layout on CUDA) stays channels-last, so the
        # discriminator's first convolution does not convert it back.
        layout = (
            torch.channels_last
            if images.dim() == 4
            and not images.is_contiguous()
            and images.is_contiguous(memory_format=torch.channels_last)
            else torch.contiguous_format
        )
        for name in self.policy:
            images = AUGMENTATIONS[name](images, generator)
        return images.contiguous(memory_format=layout)

    def __repr__(self) -> str:
        return f"DiffAugment(policy={','.join(self.policy)!r})"
