"""Batch mode: synthetic batches generated whole, in the main process, on the generator's device.

A DataLoader generates items one by one in worker processes, and CUDA cannot be
initialised in forked workers. For a GPU generator it is both simpler and much faster to
skip the DataLoader for synthetic data and generate each batch in one call where the
training loop runs, in the spirit of torchvision's batch-level ``MixUp``/``CutMix``::

    synth = synthaug.SyntheticDataset(gen.to("cuda"), num_samples=60_000)
    for epoch in range(epochs):
        batches = synth.batches(batch_size=256, shuffle=True)
        synth.set_epoch(epoch)
        for images, labels in batches:        # float [B, C, H, W] in [0, 1] on cuda
            ...

Batch ``b`` of an epoch is a deterministic function of ``(seed, epoch, b, batch_size)``
and every epoch honours the dataset's class counts exactly. The images are not the
same draws as ``dataset[i]`` (they come from per-batch, not per-chunk, random streams).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from synthaug.data.counts import check_count
from synthaug.validation import check_bool, check_device

if TYPE_CHECKING:
    from synthaug.data.synthetic import SyntheticDataset

_BATCH_STREAM = 1 << 40  # keeps batch streams apart from the chunk streams of the same epoch


class SyntheticBatches:
    """An iterable of ``(images, labels)`` batches over a :class:`SyntheticDataset`'s labels.

    Args:
        dataset: supplies the generator, class counts, seed, epoch, truncation and filter.
        batch_size: items per batch.
        shuffle: shuffle the labels each epoch (seeded by the dataset's seed and epoch);
            ``False`` yields them class by class.
        drop_last: drop a last, smaller batch.
        device: where the images are returned (default: the generator's device). Labels
            are returned on the same device.
    """

    def __init__(
        self,
        dataset: SyntheticDataset,
        batch_size: int = 256,
        shuffle: bool = True,
        drop_last: bool = False,
        device: Any = None,
    ) -> None:
        # Duck-typed: SyntheticDataset imports this module for its batches() method.
        if not callable(getattr(dataset, "generate", None)) or not hasattr(dataset, "targets"):
            raise TypeError(f"dataset must be a SyntheticDataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = check_count("batch_size", batch_size)
        self.shuffle = check_bool("shuffle", shuffle)
        self.drop_last = check_bool("drop_last", drop_last)
        self.device = check_device("device", device) if device is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __repr__(self) -> str:
        return (
            f"SyntheticBatches(batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"batches={len(self)}, epoch={self.dataset.epoch})"
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ds = self.dataset
        labels = ds.targets
        if self.shuffle:
            order = np.random.default_rng([ds.seed, ds.epoch, _BATCH_STREAM]).permutation(len(labels))
            labels = labels[torch.from_numpy(order)]
        for b in range(len(self)):
            batch_labels = labels[b * self.batch_size : (b + 1) * self.batch_size]
            images = ds.generate(batch_labels, _BATCH_STREAM, self.batch_size, b)
            device = self.device or images.device
            yield images.to(device), batch_labels.to(device)
