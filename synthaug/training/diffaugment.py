"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for data-efficient GAN training.

With little data the discriminator memorises the real images and GAN training collapses.
DiffAugment applies the *same kind* of random, differentiable transformation to real and
fake batches right before the discriminator, so D cannot memorise and G still gets
gradients through the augmentation. Images are in the GAN's [-1, 1] range.

Every draw comes from the caller's ``torch.Generator``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch


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


def translation(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size in x and y, filling with zeros."""
    b, _, h, w = x.shape
    sy, sx = max(1, round(h * ratio)), max(1, round(w * ratio))
    ty = _randint(-sy, sy + 1, b, x, generator)
    tx = _randint(-sx, sx + 1, b, x, generator)
    padded = torch.nn.functional.pad(x, [sx, sx, sy, sy])
    rows = (torch.arange(h, device=x.device)[None, :, None] + ty[:, None, None] + sy)  # [B, H, 1]
    cols = (torch.arange(w, device=x.device)[None, None, :] + tx[:, None, None] + sx)  # [B, 1, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indexing picks the shifted window per image and stays differentiable.
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of side ``ratio`` x image size per image (may cross the border)."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = _randint(0, h + (1 - size_y % 2), b, x, generator) - size_y // 2
    x0 = _randint(0, w + (1 - size_x % 2), b, x, generator) - size_x // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= y0[:, None, None]) & (ys < (y0 + size_y)[:, None, None]) & \
        (xs >= x0[:, None, None]) & (xs < (x0 + size_x)[:, None, None])
    return x * (~inside).unsqueeze(1).to(x.dtype)


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
        for name in self.policy:
            images = AUGMENTATIONS[name](images, generator)
        return images.contiguous()

    def __repr__(self) -> str:
        return f"DiffAugment(policy={','.join(self.policy)!r})"
