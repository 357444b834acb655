"""ImageFolder trees as training data: what their images are (channels, size), and a dataset that fits them.

:func:`inspect_image_folder` reads the headers of (up to ``max_images``) images, without
decoding pixels, and proposes the model's shape: 3 channels unless every image examined
is grayscale, and the most common short side rounded to a multiple of 4 (the square the
images are cut to keeps that side; see :mod:`synthaug.data.resize`).
:func:`image_folder_dataset` is a torchvision ``ImageFolder`` whose items are already
float ``[C, S, S]`` tensors, picklable for DataLoader workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synthaug.data.resize import FitImage, is_grayscale_mode

MIN_SIZE, MAX_SIZE = 8, 256  # the models' image_size range
DEFAULT_INSPECTED = 1000


@dataclass(frozen=True)
class FolderFormat:
    """What :func:`inspect_image_folder` found.

    Attributes:
        channels: 1 if every examined image is grayscale, else 3.
        image_size: the most common short side, rounded to a multiple of 4 in [8, 256].
        common_side: that most common short side before rounding, in pixels.
        common_shape: the most common ``(width, height)``.
        examined: images whose headers were read; ``total``: images in the folder.
        modes: PIL modes seen, with counts.
    """

    channels: int
    image_size: int
    common_side: int
    common_shape: tuple[int, int]
    examined: int
    total: int
    modes: dict[str, int]

    def describe(self) -> str:
        """One line for the command line: what was inferred and from what."""
        kind = "grayscale" if self.channels == 1 else "RGB"
        modes = ", ".join(f"{mode} x{count}" for mode, count in sorted(self.modes.items()))
        width, height = self.common_shape
        sample = f"all {self.total}" if self.examined == self.total else f"{self.examined} of {self.total}"
        return (
            f"inferred from {sample} images: channels {self.channels} ({kind}; modes {modes}), image size "
            f"{self.image_size} (most common image {width}x{height}, short side {self.common_side} px)"
        )


def round_image_size(side: int) -> int:
    """``side`` rounded to the nearest multiple of 4, within the models' range [8, 256]."""
    return int(min(MAX_SIZE, max(MIN_SIZE, 4 * round(side / 4))))


def _folder(path: str | Path, transform: Any = None) -> Any:
    from torchvision.datasets import ImageFolder

    if not Path(path).is_dir():
        raise ValueError(f"path must be an ImageFolder directory (root/<class>/<image>), got {str(path)!r}")
    return ImageFolder(str(path), transform=transform)


def inspect_image_folder(path: str | Path, max_images: int = DEFAULT_INSPECTED) -> FolderFormat:
    """The channels and square size to train on, read from the headers of up to ``max_images`` images.

    Images are spread evenly over the folder (so every class is seen); only headers are
    read, so this takes about a millisecond per image.
    """
    if not isinstance(max_images, int) or max_images < 1:
        raise ValueError(f"max_images must be a positive int, got {max_images!r}")
    samples = _folder(path).samples
    picked = np.unique(np.linspace(0, len(samples) - 1, min(max_images, len(samples))).round().astype(int))
    sides: Counter[int] = Counter()
    shapes: Counter[tuple[int, int]] = Counter()
    modes: Counter[str] = Counter()
    for i in picked:
        with Image.open(samples[i][0]) as image:  # lazy: the header only
            sides[min(image.size)] += 1
            shapes[image.size] += 1
            modes[image.mode] += 1
    common_side = sides.most_common(1)[0][0]
    channels = 1 if all(is_grayscale_mode(mode) for mode in modes) else 3
    return FolderFormat(
        channels,
        round_image_size(common_side),
        common_side,
        shapes.most_common(1)[0][0],
        len(picked),
        len(samples),
        dict(modes),
    )


def image_folder_dataset(path: str | Path, image_size: int, channels: int) -> Any:
    """A torchvision ``ImageFolder`` of ``(float [channels, image_size, image_size] in [0, 1], class index)``.

    Images keep their aspect ratio: the short side is resized, the centre square kept.
    """
    return _folder(path, FitImage(image_size, channels))
