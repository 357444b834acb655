"""Reading a real dataset's labels without decoding its images, where the dataset allows it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset
from tqdm.auto import tqdm

from synthaug.validation import is_int

logger = logging.getLogger(__name__)


def _as_label_array(values: Any, what: str) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} must be one label per item (1-D), got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.mod(array, 1) == 0):
            array = array.astype(np.int64)
        else:
            raise ValueError(f"{what} must be integer class indices, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _fast_labels(dataset: Any) -> np.ndarray | None:
    """Labels from metadata (``targets``, ``labels``, a TensorDataset's second tensor), or None."""
    if isinstance(dataset, Subset):
        parent = _fast_labels(dataset.dataset)
        return None if parent is None else parent[np.asarray(dataset.indices, dtype=np.int64)]
    if isinstance(dataset, ConcatDataset):
        parts = [_fast_labels(d) for d in dataset.datasets]
        known = [p for p in parts if p is not None]
        return None if len(known) < len(parts) else np.concatenate(known) if known else np.zeros(0, np.int64)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return _as_label_array(dataset.tensors[1], "TensorDataset's second tensor")
    for name in ("targets", "labels"):  # torchvision datasets expose `targets`
        values = getattr(dataset, name, None)
        if values is not None and not callable(values):
            try:
                array = _as_label_array(values, f"{type(dataset).__name__}.{name}")
            except (ValueError, TypeError):
                continue
            if len(array) == len(dataset):
                return array
    return None


def read_labels(dataset: Dataset | Sequence, progress: bool = True, *, name: str = "dataset") -> np.ndarray:
    """All labels of ``dataset`` as an int64 array, in item order.

    Uses ``dataset.targets`` (torchvision datasets), ``dataset.labels``, a
    ``TensorDataset``'s second tensor, and follows ``Subset`` / ``ConcatDataset``; only
    when none of those exists does it iterate the items (decoding every image) with a
    progress bar. ``name`` is the argument the dataset came in as, for error messages.

    Raises:
        TypeError: if the dataset has no length, or its items are not ``(image, label)`` pairs.
        ValueError: if labels are not non-negative integers.
    """
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"{name} must be a map-style Dataset with __len__ and __getitem__, got {type(dataset).__name__}"
        )
    labels = _fast_labels(dataset)
    if labels is None:
        logger.info("%s exposes no targets: reading every item to get its labels", type(dataset).__name__)
        values = []
        for i in tqdm(range(len(dataset)), desc="reading labels", unit="item", disable=not progress, leave=False):
            item = dataset[i]
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise TypeError(f"{name} items must be (image, label) pairs; item {i} is a {type(item).__name__}")
            label = item[1]
            if isinstance(label, torch.Tensor):
                label = label.item() if label.numel() == 1 else label
            if not is_int(label):
                raise TypeError(
                    f"{name} item {i} has label {label!r} ({type(label).__name__}); expected an int class index"
                )
            values.append(int(label))
        labels = np.asarray(values, dtype=np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} labels must be non-negative class indices, found {int(labels.min())}")
    return labels


def label_histogram(labels: np.ndarray, num_classes: int, *, name: str = "the real data") -> list[int]:
    """Count per class ``0..num_classes-1``; labels outside that range are an error naming ``name``."""
    if labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{name} has label {int(labels.max())}, but the generator has only "
            f"{num_classes} classes (0..{num_classes - 1})"
        )
    return np.bincount(labels, minlength=num_classes).astype(int).tolist()
