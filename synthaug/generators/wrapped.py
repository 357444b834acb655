"""Adapt a user's own conditional generator ``module(z, y) -> images`` to synthaug."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from synthaug.generators.base import ConditionalGenerator, register_to_config
from synthaug.generators.config import ClassNamesField, IntField
from synthaug.validation import ArgumentTypeError, is_int


class WrappedGenerator(ConditionalGenerator):
    """A user-trained conditional generator behind synthaug's generator protocol.

    Build it with :func:`wrap`. It samples like synthaug's own models but cannot be saved
    as a bundle: loading bundles never executes code, so an arbitrary architecture cannot
    be rebuilt from a file. Save your module with your own code instead.
    """

    config_fields = {
        "num_classes": IntField(1, 10_000),
        "latent_dim": IntField(1, 1 << 20),
        "class_names": ClassNamesField(),
    }
    # The config describes what the base class reads (classes, latent size, names); the
    # module is a live object and the shape and range only make sense with it, and no
    # bundle can hold them, so they stay plain checked arguments.
    config_ignore = ("module", "image_shape", "output_range")

    @register_to_config
    def __init__(
        self,
        module: nn.Module,
        num_classes: int,
        image_shape: Sequence[int],
        latent_dim: int,
        output_range: tuple[float, float] = (-1.0, 1.0),
        class_names: Sequence[str] | None = None,
    ) -> None:
        """Wrap ``module``; see :func:`wrap`, the usual way to build one, for the arguments.

        Args:
            module: callable as ``module(z, labels)``.
            num_classes: number of classes, 1 to 10,000.
            image_shape: ``(C, H, W)`` of one output image, three positive ints.
            latent_dim: size of ``z``, 1 to 2**20.
            output_range: ``(low, high)``, finite, ``low < high``: the range of the module's output.
            class_names: optional distinct names, one per class.
        """
        super().__init__()
        if not callable(module):
            raise TypeError(f"module must be callable as module(z, labels), got {type(module).__name__}")
        try:
            shape = tuple(image_shape)
        except TypeError:
            raise ArgumentTypeError(f"image_shape must be three positive ints (C, H, W), got {image_shape!r}") from None
        if len(shape) != 3 or not all(is_int(s) and s > 0 for s in shape):
            raise ValueError(f"image_shape must be three positive ints (C, H, W), got {image_shape!r}")
        low, high = _check_range(output_range)
        self.module = module
        self._image_shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.output_range = (low, high)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        try:
            out = self.module(z, labels)
        except RuntimeError as e:  # shape errors inside the user's module; out-of-memory is not ours to rename
            if isinstance(e, torch.OutOfMemoryError):
                raise
            raise ValueError(
                f"wrapped module failed on z {list(z.shape)} and labels {list(labels.shape)}: {e}; "
                f"check wrap's latent_dim ({self.latent_dim}) and num_classes ({self.num_classes})"
            ) from e
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(labels), *self._image_shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"wrapped module returned {got}, expected a tensor of shape {(len(labels), *self._image_shape)}"
            )
        low, high = self.output_range
        return ((out.float() - low) / (high - low)).nan_to_num(0.5)

    def save_pretrained(self, path: Any) -> Any:
        raise TypeError(
            "a wrapped generator cannot be saved as a synthaug bundle (bundles are rebuilt from "
            "JSON without running code); save your module's state_dict with your own code"
        )

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, image_shape={self._image_shape}, latent_dim={self.latent_dim}"


def _check_range(output_range: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in output_range)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"output_range must be a pair of numbers (low, high), got {output_range!r}") from None
    if not low < high or not math.isfinite(low) or not math.isfinite(high):
        raise ValueError(f"output_range must be finite with low < high, got {output_range!r}")
    return low, high


def wrap(
    module: nn.Module,
    num_classes: int,
    image_shape: Sequence[int],
    latent_dim: int,
    output_range: tuple[float, float] = (-1.0, 1.0),
    class_names: Sequence[str] | None = None,
) -> WrappedGenerator:
    """Adapt ``module(z, y) -> images`` to the generator protocol.

    Args:
        module: callable taking ``z [B, latent_dim]`` (standard normal) and labels ``[B]``.
        num_classes: number of classes ``module`` is conditioned on.
        image_shape: ``(C, H, W)`` of one output image.
        latent_dim: size of ``z``.
        output_range: the value range of ``module``'s output; ``(-1, 1)`` for a tanh head,
            ``(0, 1)`` for a sigmoid head. Outputs are rescaled to [0, 1] and clamped.
        class_names: optional names, one per class; ``sample`` then takes them as labels
            as synthaug's own generators do (``gen.sample(["Coat", "Bag"])``).

    Example:
        >>> gen = wrap(my_dcgan_generator, num_classes=10, image_shape=(1, 28, 28), latent_dim=100)
        >>> ds = SyntheticDataset(gen, num_samples=1000)
    """
    return WrappedGenerator(module, num_classes, image_shape, latent_dim, output_range, class_names)
