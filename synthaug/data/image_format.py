"""The form of an image item (PIL / tensor / ndarray, dtype, range, channels), and conversion into it.

Synthetic images must come out in exactly the form the user's real items have, so that
one transform pipeline serves both. :func:`detect_format` reads that form off one real
item; :func:`to_float_chw` turns any supported image into a float ``[C, H, W]`` tensor
in [0, 1] (what generators and autoencoders consume), and :func:`from_float_chw` turns
such a tensor back into the detected form.

Supported forms:

* PIL images of mode ``L``, ``RGB`` (and ``RGBA`` / ``P`` only as errors naming them);
* tensors ``[C, H, W]`` or ``[H, W]``: ``uint8`` in 0..255 or floating in [0, 1];
* numpy arrays ``[H, W, C]`` or ``[H, W]``: ``uint8`` in 0..255 or floating in [0, 1].

Normalised images (after ``transforms.Normalize``) have no fixed range and cannot be
matched: apply normalisation after mixing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

ImageKind = Literal["pil", "tensor", "numpy"]
IMAGE_KINDS = ("pil", "tensor", "numpy")
_PIL_MODES = {"L": 1, "RGB": 3}


@dataclass(frozen=True)
class ImageFormat:
    """How an image item is represented.

    Attributes:
        kind: ``"pil"``, ``"tensor"`` or ``"numpy"``.
        channels: 1 or 3.
        height, width: spatial size.
        dtype: ``"uint8"`` or a floating dtype name (``"float32"``...); ``"uint8"`` for PIL.
        channel_axis: ``True`` when the item has a channel axis (``[C,H,W]`` tensors,
            ``[H,W,C]`` arrays); ``False`` for 2-D grayscale items and PIL.
        device: torch device of tensor items (``"cpu"`` otherwise).
    """

    kind: ImageKind
    channels: int
    height: int
    width: int
    dtype: str = "uint8"
    channel_axis: bool = True
    device: str = "cpu"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``, the generator-side shape of this form."""
        return (self.channels, self.height, self.width)

    @property
    def is_float(self) -> bool:
        return self.dtype != "uint8"

    def describe(self) -> str:
        layout = {
            "pil": f"PIL {'L' if self.channels == 1 else 'RGB'}",
            "tensor": "tensor [C,H,W]" if self.channel_axis else "tensor [H,W]",
            "numpy": "ndarray [H,W,C]" if self.channel_axis else "ndarray [H,W]",
        }[self.kind]
        value_range = "in [0, 1]" if self.is_float else "in 0..255"
        return f"{layout} {self.dtype} {value_range}, {self.channels}x{self.height}x{self.width}"


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _check_channels(channels: int, what: str) -> None:
    if channels not in (1, 3):
        raise ValueError(f"{what} has {channels} channels; expected 1 (grayscale) or 3 (RGB)")


def _check_float_range(low: float, high: float, what: str) -> None:
    if low != low or high != high:  # min/max propagate NaN
        raise ValueError(f"{what} contains NaN; expected values in [0, 1]")
    # A little slack for rounding; anything further out is a normalised image.
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"{what} is floating point with values in [{low:.3g}, {high:.3g}]; expected [0, 1] "
            "(a normalised image cannot be matched: apply transforms.Normalize after mixing)"
        )


def detect_format(image: Any, check_range: bool = True) -> ImageFormat:
    """Read the form of one image item (see the module docstring for what is supported).

    Raises:
        TypeError: for anything that is not a PIL image, tensor or ndarray.
        ValueError: for unsupported layouts, channel counts, dtypes or float ranges.
    """
    if isinstance(image, Image.Image):
        if image.mode not in _PIL_MODES:
            raise ValueError(
                f"image is a PIL image of mode {image.mode!r}; expected mode 'L' or 'RGB' "
                "(convert it with image.convert('RGB'))"
            )
        return ImageFormat("pil", _PIL_MODES[image.mode], image.height, image.width, "uint8", False)
    if isinstance(image, torch.Tensor):
        if image.ndim not in (2, 3):
            raise ValueError(f"image tensor has shape {tuple(image.shape)}; expected [C, H, W] or [H, W]")
        channels = image.shape[0] if image.ndim == 3 else 1
        _check_channels(channels, f"image tensor of shape {tuple(image.shape)}")
        if image.dtype != torch.uint8 and not image.is_floating_point():
            raise ValueError(f"image tensor has dtype {image.dtype}; expected torch.uint8 or a floating dtype")
        if check_range and image.is_floating_point() and image.numel():
            _check_float_range(float(image.min()), float(image.max()), "image tensor")
        return ImageFormat(
            "tensor",
            channels,
            image.shape[-2],
            image.shape[-1],
            _dtype_name(image.dtype),
            image.ndim == 3,
            str(image.device),
        )
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3):
            raise ValueError(f"image array has shape {image.shape}; expected [H, W, C] or [H, W]")
        channels = image.shape[2] if image.ndim == 3 else 1
        _check_channels(channels, f"image array of shape {image.shape}")
        if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
            raise ValueError(f"image array has dtype {image.dtype}; expected uint8 or a floating dtype")
        if check_range and np.issubdtype(image.dtype, np.floating) and image.size:
            _check_float_range(float(image.min()), float(image.max()), "image array")
        return ImageFormat("numpy", channels, image.shape[0], image.shape[1], str(image.dtype), image.ndim == 3)
    raise TypeError(f"image must be a PIL image, a torch.Tensor or a numpy array, got {type(image).__name__}")


def to_float_chw(image: Any) -> torch.Tensor:
    """Any supported image as a new float32 ``[C, H, W]`` CPU tensor in [0, 1] (the input is not modified)."""
    fmt = detect_format(image, check_range=False)
    if fmt.kind == "pil":
        array = np.asarray(image, dtype=np.uint8)
        tensor = torch.from_numpy(array.copy())
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    elif fmt.kind == "numpy":
        tensor = torch.from_numpy(np.array(image, copy=True))
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)
    else:
        tensor = image.detach().to("cpu", copy=True)
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(255)
    return tensor.float().clamp_(0, 1).contiguous()


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] to uint8 0..255 (rounded, as image files store them)."""
    return images.mul(255).round_().clamp_(0, 255).to(torch.uint8)


def from_float_chw(image: torch.Tensor, fmt: ImageFormat) -> Any:
    """A float ``[C, H, W]`` tensor in [0, 1] (or a uint8 one in 0..255) in the form ``fmt``.

    The channel count and size must already match ``fmt``: converting grayscale to RGB
    or resizing would silently change what the classifier sees, so it is an error here.
    """
    if tuple(image.shape) != fmt.shape:
        raise ValueError(
            f"image of shape {tuple(image.shape)} cannot be given the form {fmt.describe()}: expected shape {fmt.shape}"
        )
    if fmt.kind == "tensor":
        if fmt.is_float:
            out = image.float().div(255) if image.dtype == torch.uint8 else image
            out = out.to(device=fmt.device, dtype=getattr(torch, fmt.dtype))
        else:
            out = (image if image.dtype == torch.uint8 else quantize(image)).to(fmt.device)
        out = out if fmt.channel_axis else out[0]
        return out.clone() if out.data_ptr() == image.data_ptr() else out
    as_uint8 = image if image.dtype == torch.uint8 else quantize(image)
    if fmt.kind == "pil":
        array = as_uint8.cpu().numpy()
        return Image.fromarray(
            array[0] if fmt.channels == 1 else array.transpose(1, 2, 0).copy(), mode="L" if fmt.channels == 1 else "RGB"
        )
    if fmt.is_float:
        hwc = (image.float().div(255) if image.dtype == torch.uint8 else image).cpu().permute(1, 2, 0).numpy()
        hwc = hwc.astype(fmt.dtype, copy=True)
    else:
        hwc = as_uint8.cpu().permute(1, 2, 0).numpy().copy()
    return hwc if fmt.channel_axis else hwc[:, :, 0].copy()
