"""Training on a user's dataset as it is: in memory when it fits, streamed through a DataLoader when not.

:func:`training_data` turns any map-style ``Dataset`` of ``(image, label)`` items (PIL
images, tensors or arrays, in any size and channel count) into what a trainer iterates:

* a :class:`~synthaug.data.real.LabelledImages` (one float tensor, the fast path), when
  the decoded images take at most ``in_memory_limit_mb`` (default
  :data:`DEFAULT_IN_MEMORY_LIMIT_MB`, 2 GiB: 1.1 M images at 28x28x1, 170,000 at
  32x32x3, 43,000 at 64x64x3);
* a :class:`StreamedImages` otherwise: only the labels are held in memory and each batch
  is decoded by DataLoader worker processes, so a folder of 100,000 images never needs
  100,000 decoded float tensors at once.

Either way every image is brought to the model's shape by
:class:`~synthaug.data.resize.FitImage` (short side resized, centre crop, channels
converted), labels come from the dataset's ``targets`` where it has them (see
:func:`~synthaug.data.labels.read_labels`), and the two paths give the same batches
for the same index batches.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from synthaug.data.labels import read_labels
from synthaug.data.real import LabelledImages
from synthaug.data.resize import FitImage

logger = logging.getLogger(__name__)

DEFAULT_IN_MEMORY_LIMIT_MB = 2048
"""Decoded training sets up to this many MiB (float32) are held in memory; larger ones are streamed."""
DECODE_BATCH = 256
DECODE_WORKERS_FROM = 2048
"""Fewer images than this are decoded in the calling process: starting workers would take longer."""


def default_num_workers() -> int:
    """DataLoader workers when none are given: one core left for training, at most 4."""
    return min(4, max(0, (os.cpu_count() or 1) - 1))


def decoded_megabytes(num_items: int, image_shape: Sequence[int]) -> float:
    """MiB that ``num_items`` float32 images of ``image_shape`` take once decoded."""
    return num_items * math.prod(image_shape) * 4 / 2**20


class FittedImages(Dataset):
    """``(image float [C, H, W] in [0, 1], label int)`` items of ``dataset``, each image fitted to ``image_shape``.

    Labels come from ``labels`` (read once, see :func:`~synthaug.data.labels.read_labels`),
    not from the items. Picklable when ``dataset`` is, so DataLoader workers can use it.

    Args:
        dataset: a map-style dataset of ``(image, label)`` items.
        image_shape: ``(channels, size, size)`` with channels 1 or 3.
        labels: one int64 label per item.
        name: what the dataset is called in error messages.
    """

    def __init__(self, dataset: Any, image_shape: Sequence[int], labels: torch.Tensor, name: str = "data") -> None:
        channels, height, width = image_shape
        if height != width:
            raise ValueError(f"image_shape must be square (C, S, S), got {tuple(image_shape)}")
        if len(labels) != len(dataset):
            raise ValueError(
                f"labels must have one entry per item of {name}: {len(labels)} labels, {len(dataset)} items"
            )
        self.dataset = dataset
        self.image_shape = (channels, height, width)
        self.labels = labels
        self.name = name
        self.fit = FitImage(height, channels)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.dataset[index]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(f"{self.name} items must be (image, label) pairs; item {index} is a {type(item).__name__}")
        try:
            image = self.fit(item[0])
        except (TypeError, ValueError) as e:
            raise type(e)(f"{self.name} item {index}: {e}") from e
        return image, int(self.labels[index])

    def __repr__(self) -> str:
        return f"FittedImages({len(self)} items of {type(self.dataset).__name__}, image_shape={self.image_shape})"


class _EpochBatches(Sampler[list[int]]):
    """A batch sampler whose batches the trainer sets before each epoch (so workers can persist)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class StreamedImages:
    """A training set whose images are decoded batch by batch; only the labels live in memory.

    It answers what a trainer asks of :class:`~synthaug.data.real.LabelledImages`
    (``labels``, ``image_shape``, ``len``, :meth:`gather`, :meth:`iter_batches`) without
    an ``images`` tensor; :meth:`loader` feeds the training loop.

    Args:
        items: the fitted items (see :class:`FittedImages`).
        num_workers: DataLoader worker processes (``None``: :func:`default_num_workers`).
        class_names: optional, one per label index.
    """

    def __init__(self, items: FittedImages, num_workers: int | None = None, class_names: list[str] | None = None):
        if not isinstance(items, FittedImages):
            raise TypeError(f"items must be a FittedImages, got {type(items).__name__}")
        if num_workers is not None and (not isinstance(num_workers, int) or num_workers < 0):
            raise ValueError(f"num_workers must be an int >= 0 or None, got {num_workers!r}")
        self.items = items
        self.labels = items.labels
        self.num_workers = default_num_workers() if num_workers is None else num_workers
        self.class_names = class_names

    def __len__(self) -> int:
        return len(self.items)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.items.image_shape

    def gather(self, index: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """The images at ``index`` as one ``[len(index), C, H, W]`` tensor (decoded now, in this process)."""
        return torch.stack([self.items[int(i)][0] for i in index])

    def iter_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every ``(images, labels)`` batch in item order, decoded by the workers."""
        yield from DataLoader(self.items, batch_size=batch_size, num_workers=self.num_workers)

    def loader(self, pin_memory: bool = False) -> tuple[DataLoader, _EpochBatches]:
        """A DataLoader over the items and its batch sampler: set ``sampler.batches`` before iterating an epoch.

        The workers persist across epochs; each epoch's batches are exactly the index
        lists given, so the trainer's seeded batch order is kept.
        """
        sampler = _EpochBatches()
        loader = DataLoader(
            self.items,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=pin_memory,
            persistent_workers=self.num_workers > 0,
        )
        return loader, sampler

    def __repr__(self) -> str:
        return (
            f"StreamedImages({len(self)} images {list(self.image_shape)}, num_workers={self.num_workers}, "
            f"{decoded_megabytes(len(self), self.image_shape):.0f} MB decoded)"
        )


TrainingData = LabelledImages | StreamedImages
"""What a trainer trains on once :func:`training_data` has read the user's data."""


def decode_all(items: FittedImages, num_workers: int = 0, progress: bool = True) -> LabelledImages:
    """Every item of ``items`` decoded into one :class:`~synthaug.data.real.LabelledImages` (workers decode)."""
    loader = DataLoader(items, batch_size=DECODE_BATCH, num_workers=num_workers)
    images = torch.empty(len(items), *items.image_shape)
    start = 0
    with tqdm(total=len(items), desc="decoding images", unit="image", disable=not progress, leave=False) as bar:
        for batch, _ in loader:
            images[start : start + len(batch)] = batch
            start += len(batch)
            bar.update(len(batch))
    return LabelledImages(images, items.labels.clone())


def training_data(
    data: Any,
    image_shape: Sequence[int],
    *,
    in_memory_limit_mb: float = DEFAULT_IN_MEMORY_LIMIT_MB,
    num_workers: int | None = None,
    progress: bool = True,
    name: str = "data",
) -> TrainingData:
    """``data`` as a trainer takes it: in memory if its decoded images fit ``in_memory_limit_mb``, else streamed.

    Args:
        data: a :class:`~synthaug.data.real.LabelledImages` or a :class:`StreamedImages`
            (returned as they are), or a map-style ``Dataset`` of ``(image, label)`` items:
            PIL images, tensors or arrays (see :mod:`synthaug.data.image_format`), e.g.
            a torchvision ``ImageFolder``.
        image_shape: ``(channels, size, size)`` every image is brought to (short side
            resized, centre crop; grayscale/RGB converted).
        in_memory_limit_mb: the largest decoded size (float32, MiB) held in memory.
        num_workers: DataLoader workers that decode (``None``: :func:`default_num_workers`).
        progress: show a progress bar while labels or images are read.
        name: the argument's name, for error messages.

    Raises:
        TypeError: ``data`` is not a map-style dataset of ``(image, label)`` pairs.
        ValueError: labels that are not non-negative ints, or an empty dataset.
    """
    if isinstance(data, (LabelledImages, StreamedImages)):
        return data
    if isinstance(data, (torch.Tensor, np.ndarray)) or not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(
            f"{name} must be a LabelledImages or a map-style Dataset of (image, label) items, got {type(data).__name__}"
        )
    if (
        not isinstance(in_memory_limit_mb, (int, float))
        or isinstance(in_memory_limit_mb, bool)
        or in_memory_limit_mb < 0
    ):
        raise ValueError(f"in_memory_limit_mb must be a number >= 0, got {in_memory_limit_mb!r}")
    if len(data) == 0:
        raise ValueError(f"{name} is empty")
    labels = torch.from_numpy(read_labels(data, progress=progress, name=name))
    items = FittedImages(data, image_shape, labels, name=name)
    items.__getitem__(0)  # the first item now: a wrong item type fails here, not in a worker
    megabytes = decoded_megabytes(len(items), items.image_shape)
    workers = default_num_workers() if num_workers is None else num_workers
    if megabytes <= in_memory_limit_mb:
        logger.info("%s: %d images (%.0f MB decoded) fit in memory: decoding them once", name, len(items), megabytes)
        return decode_all(items, workers if len(items) >= DECODE_WORKERS_FROM else 0, progress)
    logger.info(
        "%s: %d images (%.0f MB decoded) exceed in_memory_limit_mb=%s: streaming them with %d workers",
        name,
        len(items),
        megabytes,
        in_memory_limit_mb,
        workers,
    )
    return StreamedImages(items, workers)
