"""Real labelled image data as in-memory tensors: embedded digits, Fashion-MNIST, ImageFolder.

Evaluation and the built-in sets work on small image sets (at most a few hundred MB as
float), read once into ``[N, C, H, W]`` float tensors in [0, 1]. Training on a user's
dataset too large for that streams it instead (:mod:`synthaug.data.streaming`).
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from synthaug.data.folder import image_folder_dataset
from synthaug.data.image_format import to_float_chw
from synthaug.data.labels import read_labels
from synthaug.utils.atomic import atomic_file

logger = logging.getLogger(__name__)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_DATA_ROOT = Path("~/.cache/synthaug").expanduser()
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass
class LabelledImages:
    """Images ``[N, C, H, W]`` float in [0, 1] with int64 labels ``[N]``.

    ``class_names`` (optional, one per label index) travel to :meth:`as_dataset`'s
    ``classes``, so mixing matches them to a generator's classes by name.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str] | None = None

    def __post_init__(self) -> None:
        for name in ("images", "labels"):
            if not isinstance(getattr(self, name), torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(getattr(self, name)).__name__}")
        if self.images.dim() != 4 or len(self.images) != len(self.labels):
            raise ValueError(
                f"images must be [N, C, H, W] with one label each, got {tuple(self.images.shape)} and {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_dataset(cls, dataset: Any, progress: bool = True, name: str = "real") -> LabelledImages:
        """Read a map-style dataset of ``(image, label)`` items into memory.

        Images may be PIL images, tensors or arrays (see :mod:`synthaug.data.image_format`);
        a :class:`LabelledImages` is returned as it is.
        """
        if isinstance(dataset, LabelledImages):
            return dataset
        labels = torch.from_numpy(read_labels(dataset, progress=progress, name=name))
        images = [
            to_float_chw(dataset[i][0])
            for i in tqdm(range(len(dataset)), desc="reading images", unit="item", disable=not progress, leave=False)
        ]
        return cls(torch.stack(images), labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def gather(self, index: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """The images at ``index`` as one ``[len(index), C, H, W]`` tensor."""
        return self.images[torch.as_tensor(index, dtype=torch.long, device=self.images.device)]

    def iter_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every ``(images, labels)`` batch in item order (views, no copies)."""
        for start in range(0, len(self), batch_size):
            yield self.images[start : start + batch_size], self.labels[start : start + batch_size]

    def as_dataset(self) -> LabelledImagesDataset:
        """A map-style Dataset of ``(image tensor, int label)``, like torchvision's datasets."""
        return LabelledImagesDataset(self)


class LabelledImagesDataset(torch.utils.data.Dataset):
    """``(image [C, H, W] float in [0, 1], int label)`` items over a :class:`LabelledImages`.

    Labels are Python ints, as torchvision datasets and :class:`~synthaug.SyntheticDataset`
    return them, so the two concatenate and collate together.

    Attributes:
        classes, class_to_idx: the class names and their indices, like torchvision's
            datasets, when ``data`` has ``class_names`` (else ``None``).
    """

    def __init__(self, data: LabelledImages):
        self.data = data
        self.targets = data.labels.tolist()
        self.classes = list(data.class_names) if data.class_names else None
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)} if self.classes else None

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.data.images[index], self.targets[index]


@dataclass
class RealData:
    """A train/test split of one labelled image source."""

    name: str
    train: LabelledImages
    test: LabelledImages
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    def __post_init__(self) -> None:
        # The splits know their class names too, so their datasets mix by name.
        for split in (self.train, self.test):
            if split.class_names is None:
                split.class_names = list(self.class_names)

    def __repr__(self) -> str:
        return (
            f"RealData({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes})"
        )


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)


def stratified_split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(kept, held_out)`` item indices: ``fraction`` of every class held out, drawn from ``seed``.

    The same labels, fraction and seed always give the same split, which is how
    ``synthaug evaluate --seed S`` finds the images a ``synthaug train --val-split F --seed S``
    run held out.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    try:
        kept, held_out = train_test_split(idx, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as e:  # sklearn: a class with one image, or fewer held out than classes
        raise ValueError(
            f"cannot hold out {fraction:g} of {len(labels)} images in every class ({e}); "
            "use a larger fraction, more images per class, or no split"
        ) from e
    return np.sort(kept), np.sort(held_out)


def _stratified_split(
    images: torch.Tensor, labels: torch.Tensor, test_fraction: float, seed: int
) -> tuple[LabelledImages, LabelledImages]:
    kept, held_out = stratified_split_indices(labels.numpy(), test_fraction, seed)
    train_idx, test_idx = torch.from_numpy(kept), torch.from_numpy(held_out)
    return LabelledImages(images[train_idx], labels[train_idx]), LabelledImages(images[test_idx], labels[test_idx])


def load_digits_data(image_size: int = 16, test_fraction: float = 0.25, seed: int = 0) -> RealData:
    """scikit-learn's embedded 8x8 digits (1,797 images), resized to ``image_size``, split stratified."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    train, test = _stratified_split(_resize(images, image_size), labels, test_fraction, seed)
    return RealData("digits", train, test, [str(c) for c in bunch.target_names])


def prepare_fashion_mnist(root: str | Path = DEFAULT_DATA_ROOT) -> Path:
    """Make sure ``root/FashionMNIST/raw`` holds the four IDX files torchvision reads.

    Uses files already there, else decompresses the Debian package ``dataset-fashion-mnist``
    from ``/usr/share/datasets/fashion-mnist``. Never downloads.
    """
    root = Path(root).expanduser()
    raw = root / "FashionMNIST" / "raw"
    missing = [n for n in FASHION_MNIST_FILES if not (raw / n).is_file()]
    if not missing:
        return root
    if all((DEBIAN_FASHION_MNIST / f"{n}.gz").is_file() for n in missing):
        logger.info("decompressing Fashion-MNIST from %s into %s", DEBIAN_FASHION_MNIST, raw)
        for name in missing:
            with gzip.open(DEBIAN_FASHION_MNIST / f"{name}.gz", "rb") as src, atomic_file(raw / name) as tmp:
                with open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        return root
    raise FileNotFoundError(
        f"Fashion-MNIST files {missing} not found in {raw}. Either install the Debian package "
        f"(apt-get install dataset-fashion-mnist; its files in {DEBIAN_FASHION_MNIST} are found "
        f"automatically), or, on a machine with network access, run "
        f"torchvision.datasets.FashionMNIST({str(root)!r}, download=True)"
    )


def load_fashion_mnist_data(root: str | Path = DEFAULT_DATA_ROOT, image_size: int = 28) -> RealData:
    """Fashion-MNIST's official 60,000/10,000 split through ``torchvision.datasets.FashionMNIST``."""
    from torchvision.datasets import FashionMNIST

    root = prepare_fashion_mnist(root)
    parts = []
    for train in (True, False):
        ds = FashionMNIST(str(root), train=train, download=False)
        # .data/.targets are the decoded uint8 arrays: no per-item PIL round trip.
        images = ds.data.unsqueeze(1).float().div_(255.0)
        parts.append(LabelledImages(_resize(images, image_size), ds.targets.long()))
    return RealData("fashion-mnist", parts[0], parts[1], list(FashionMNIST.classes))


def load_image_folder_data(
    path: str | Path, image_size: int = 32, channels: int = 3, test_fraction: float = 0.2, seed: int = 0
) -> RealData:
    """An ``ImageFolder`` tree (``root/<class>/<image>``) read into memory and split stratified.

    Each image's short side is resized to ``image_size`` and the centre square cut out
    (the aspect ratio is kept; see :func:`~synthaug.data.resize.resize_and_crop`).
    ``synthaug train`` streams large folders instead (:mod:`synthaug.data.folder`).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3 for an image folder, got {channels}")
    ds = image_folder_dataset(path, image_size, channels)
    images = torch.stack([ds[i][0] for i in range(len(ds))])
    labels = torch.tensor(ds.targets, dtype=torch.long)
    train, test = _stratified_split(images, labels, test_fraction, seed)
    return RealData(Path(path).name, train, test, list(ds.classes))


def load_real_data(
    name: str,
    *,
    data_root: str | Path = DEFAULT_DATA_ROOT,
    image_size: int | None = None,
    channels: int | None = None,
    seed: int = 0,
) -> RealData:
    """Resolve a ``--data`` value: ``"digits"``, ``"fashion-mnist"`` or an ImageFolder path."""
    if name == "digits":
        return load_digits_data(image_size or 16, seed=seed)
    if name in ("fashion-mnist", "fashion_mnist", "fmnist"):
        return load_fashion_mnist_data(data_root, image_size or 28)
    if os.path.isdir(name):
        return load_image_folder_data(name, image_size or 32, channels or 3, seed=seed)
    raise ValueError(
        f"data must be 'digits', 'fashion-mnist' or an ImageFolder directory, got {name!r} (not a directory)"
    )
