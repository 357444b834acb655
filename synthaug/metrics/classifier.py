"""A small CNN classifier and its fixed-budget training: the yardstick for synthetic data.

Every comparison (real only vs real + synthetic) trains the same architecture for the
same number of optimiser steps with the same seed, so differences come from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from synthaug.data.real import LabelledImages
from synthaug.utils.seeding import seeded
from synthaug.validation import check_int, positive_int


class SmallCNN(nn.Module):
    """Two conv blocks and a two-layer head; ~100k parameters at 16x16 grayscale."""

    def __init__(self, num_classes: int, channels: int = 1, image_size: int = 28, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Linear(2 * width * (image_size // 4) ** 2, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes)
        )

    num_features = 128  # size of :meth:`embed`'s output

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``[B, 128]``: the feature space generator metrics use."""
        return self.head[:-1](self.features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_classes]`` for images in [0, 1]."""
        return self.head[-1](self.embed(images))


def train_classifier(
    dataset: Dataset,
    num_classes: int,
    image_shape: Sequence[int],
    *,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    desc: str = "classifier",
    fresh_each_pass: bool = False,
    sampler: Sampler[int] | None = None,
) -> SmallCNN:
    """Train a :class:`SmallCNN` for exactly ``steps`` Adam steps on ``(image tensor, label)`` items.

    Batches are drawn by a seeded shuffling DataLoader, re-shuffled every pass, so the
    budget is the same whatever the dataset's length. A label may be a class index or a
    class-probability vector (``mix(..., synthetic_weight=, soft_labels=)``).
    ``fresh_each_pass``: call the dataset's ``set_epoch(pass)`` before each pass (fresh
    synthetic items, as a user's loop does). ``sampler``: draws the batches' items instead
    of shuffling (e.g. ``mixed.sampler()``, a :class:`~synthaug.data.ProportionSampler`);
    its ``set_epoch(pass)`` is called each pass too.
    """
    positive_int("steps", steps)
    channels, height, _ = image_shape
    with seeded(seed):
        model = SmallCNN(num_classes, channels, height).to(device)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(dataset) > batch_size,  # type: ignore[arg-type]  # map-style datasets have __len__; the stub omits it
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    done = 0
    with tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False) as bar:
        passes = 0
        while done < steps:
            if fresh_each_pass and hasattr(dataset, "set_epoch"):
                dataset.set_epoch(passes)
            if sampler is not None and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(passes)
            passes += 1
            for images, labels in loader:
                loss = F.cross_entropy(model(images.to(device)), torch.as_tensor(labels).to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                done += 1
                bar.update(1)
                if done == steps:
                    break
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: LabelledImages, batch_size: int = 512) -> float:
    """Share of ``data`` that ``model`` classifies correctly."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(data), batch_size):
        logits = model(data.images[start : start + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == data.labels[start : start + batch_size]).sum())
    return correct / len(data)


def train_classifier_on(data: LabelledImages, num_classes: int, **options: Any) -> SmallCNN:
    """:func:`train_classifier` on in-memory images: ``options`` are its keyword arguments."""
    return train_classifier(data.as_dataset(), num_classes, tuple(data.images.shape[1:]), **options)


def train_filter_classifier(
    real: Dataset | LabelledImages,
    num_classes: int | None = None,
    steps: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> nn.Module:
    """Train a small CNN on real ``(image, label)`` items for :class:`~synthaug.filters.Filter`.

    Items may be PIL images, tensors or arrays (see :mod:`synthaug.data.image_format`);
    they are read once into memory. Returns the classifier in eval mode.
    """
    data = LabelledImages.from_dataset(real, progress=progress)
    if len(data) == 0:
        raise ValueError("real must hold at least one item to train a filter classifier")
    largest = int(data.labels.max())
    if num_classes is not None:
        num_classes = check_int(
            "num_classes", num_classes, low=largest + 1, expected=f"an int above the largest label ({largest})"
        )
    k = num_classes if num_classes is not None else largest + 1
    return train_classifier_on(data, k, steps=steps, seed=seed, progress=progress, desc="filter classifier").eval()
