"""Bringing an image to a model's square shape without distorting it.

A stretch to ``size x size`` squashes a wide image; the convention of image classifiers
(torchvision's ``Resize(size)`` + ``CenterCrop(size)``) scales the *short* side to
``size``, keeping the aspect ratio, and cuts the centre square out of the long side.
:func:`resize_and_crop` does that on float tensors (any number of leading dimensions),
:func:`convert_channels` turns grayscale into RGB and back, and :class:`FitImage` joins
both behind one picklable callable that accepts every image form
:mod:`synthaug.data.image_format` supports (DataLoader workers pickle it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from synthaug.data.image_format import detect_format, to_float_chw

# ITU-R BT.601 luma, the weights PIL's convert("L") uses.
_LUMA = (0.299, 0.587, 0.114)
_GRAY_PIL_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def is_grayscale_mode(mode: str) -> bool:
    """Whether a PIL image mode holds one channel of intensity (``L``, ``1``, ``I;16``, ``LA``...)."""
    return mode in _GRAY_PIL_MODES


def resize_and_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """Scale ``images`` (``[..., H, W]`` float) so the short side is ``size``, then crop the centre ``size x size``.

    Antialiased bilinear, as torchvision resizes tensors; values are clamped to [0, 1]
    (the antialiasing filter can overshoot). An image already ``size x size`` is returned
    as it is.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if images.dim() < 2:
        raise ValueError(f"images must be [..., H, W], got shape {tuple(images.shape)}")
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images
    scale = size / min(height, width)
    new_height, new_width = max(size, round(height * scale)), max(size, round(width * scale))
    lead = images.shape[:-2]
    flat = images.reshape(-1, 1, height, width).float()
    if (new_height, new_width) != (height, width):
        flat = F.interpolate(flat, size=(new_height, new_width), mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_height - size) // 2, (new_width - size) // 2
    flat = flat[..., top : top + size, left : left + size].clamp(0, 1)
    return flat.reshape(*lead, size, size)


def convert_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """A float ``[C, H, W]`` image with ``channels`` channels: grayscale repeated to RGB, RGB to luma."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    have = image.shape[0]
    if have == channels:
        return image
    if have == 1:
        return image.expand(3, *image.shape[1:]).clone()
    if have == 3:
        weights = torch.tensor(_LUMA, dtype=image.dtype, device=image.device).view(3, 1, 1)
        return (image * weights).sum(0, keepdim=True)
    raise ValueError(f"image has {have} channels; expected 1 (grayscale) or 3 (RGB)")


class FitImage:
    """A picklable transform: any supported image -> float ``[channels, size, size]`` in [0, 1].

    PIL images of other modes (``P``, ``RGBA``, ``I;16``...) are converted by PIL first;
    then :func:`convert_channels` and :func:`resize_and_crop`. Float items must be in
    [0, 1] (a normalised image raises ``ValueError``, see
    :func:`~synthaug.data.image_format.detect_format`).

    Args:
        size: side of the square output.
        channels: 1 (grayscale) or 3 (RGB).
    """

    def __init__(self, size: int, channels: int) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        self.size = size
        self.channels = channels

    def __call__(self, image: Any) -> torch.Tensor:
        if isinstance(image, Image.Image) and image.mode not in ("L", "RGB"):
            image = image.convert("L" if is_grayscale_mode(image.mode) and self.channels == 1 else "RGB")
            if self.channels == 1 and image.mode == "RGB":
                image = image.convert("L")
        detect_format(image)  # type, layout and value range, with errors naming what is wrong
        tensor = convert_channels(to_float_chw(image), self.channels)
        return resize_and_crop(tensor, self.size).contiguous()

    def __repr__(self) -> str:
        return f"FitImage(size={self.size}, channels={self.channels})"
