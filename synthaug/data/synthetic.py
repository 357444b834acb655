"""``SyntheticDataset``: a torchvision-style Dataset of class-conditioned generated images."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable, Literal, Mapping

import numpy as np
import torch
from torchvision.datasets import VisionDataset
from torchvision.transforms.functional import to_pil_image

from synthaug.generators.base import GeneratorProtocol, check_truncation

logger = logging.getLogger(__name__)

ImageType = Literal["pil", "tensor", "numpy"]
IMAGE_TYPES = ("pil", "tensor", "numpy")


def _check_positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return int(value)


def resolve_class_counts(
    num_samples: int | None, class_counts: Mapping[Any, int] | None, num_classes: int, class_names: list[str] | None = None
) -> list[int]:
    """Turn ``num_samples`` / ``class_counts`` into one count per class index.

    ``class_counts=None`` splits ``num_samples`` equally (the remainder goes to the first
    classes). A dict maps class index (or class name, when the generator has names) to a
    count; classes it leaves out get none.
    """
    if class_counts is None:
        if num_samples is None:
            raise ValueError("num_samples is required when class_counts is None")
        n = _check_positive_int("num_samples", num_samples)
        base, extra = divmod(n, num_classes)
        return [base + (1 if c < extra else 0) for c in range(num_classes)]
    if not isinstance(class_counts, Mapping):
        raise TypeError(f"class_counts must be a dict {{class: count}} or None, got {type(class_counts).__name__}")
    counts = [0] * num_classes
    for key, count in class_counts.items():
        if isinstance(key, str) and class_names and key in class_names:
            index = class_names.index(key)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < num_classes:
            index = int(key)
        else:
            known = f"0..{num_classes - 1}" + (f" or one of {class_names}" if class_names else "")
            raise ValueError(f"class_counts has unknown class {key!r}; expected {known}")
        counts[index] = _check_positive_int(f"class_counts[{key!r}]", count, allow_zero=True)
    total = sum(counts)
    if total == 0:
        raise ValueError(f"class_counts must ask for at least one sample, got {dict(class_counts)}")
    if num_samples is not None and _check_positive_int("num_samples", num_samples) != total:
        raise ValueError(f"num_samples ({num_samples}) must equal the sum of class_counts ({total}), or be None")
    return counts


def _chunk_seed(seed: int, chunk: int) -> int:
    # SeedSequence hashes (seed, chunk) into well-separated streams: neighbouring chunks
    # and neighbouring seeds share no random numbers.
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1, dtype=np.uint64)[0] >> 1)


class SyntheticDataset(VisionDataset):
    """Generated ``(image, label)`` pairs from a class-conditional generator.

    Item ``i`` is a deterministic function of ``(seed, i)`` (for a fixed ``chunk_size``):
    the same whatever the ``num_workers`` or access order, and the global RNG is never
    touched. Images are generated ``chunk_size`` at a time (one generator call) and the
    last ``cache_chunks`` chunks are kept per process, so memory is bounded whatever
    ``num_samples`` is. Labels are laid out class by class; shuffle in the DataLoader.

    Args:
        generator: anything satisfying :class:`~synthaug.GeneratorProtocol`, e.g. the
            result of :func:`synthaug.load` or :func:`synthaug.wrap`.
        num_samples: total number of items. May be ``None`` when ``class_counts`` is a dict.
        class_counts: ``None`` for equal counts per class, or ``{class: count}`` with class
            indices (or names, when the generator has ``class_names``).
        seed: selects the fixed set of samples.
        transform: applied to each image, e.g. a ``torchvision.transforms`` pipeline.
        target_transform: applied to each label.
        image_type: ``"pil"`` (default, like torchvision's MNIST: mode ``L`` or ``RGB``),
            ``"tensor"`` (float32 ``[C, H, W]`` in [0, 1]) or ``"numpy"`` (uint8
            ``[H, W, C]``, what albumentations expects).
        chunk_size: images per generator call.
        cache_chunks: generated chunks kept in memory per process.
        truncation: latent temperature forwarded to synthaug generators' ``sample``.

    Example:
        >>> gen = synthaug.load("runs/demo/cgan")
        >>> ds = SyntheticDataset(gen, num_samples=1000, transform=transforms.ToTensor())
        >>> image, label = ds[0]          # image [1, 16, 16] in [0, 1], label 0
    """

    def __init__(
        self,
        generator: GeneratorProtocol,
        num_samples: int | None,
        class_counts: Mapping[Any, int] | None = None,
        seed: int = 0,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        image_type: ImageType = "pil",
        chunk_size: int = 256,
        cache_chunks: int = 64,
        truncation: float = 1.0,
    ) -> None:
        super().__init__(root=None, transform=transform, target_transform=target_transform)
        if not isinstance(generator, GeneratorProtocol):
            raise TypeError(
                f"generator must provide num_classes, image_shape, class_names and sample(labels, generator=...) "
                f"(see synthaug.wrap), got {type(generator).__name__}"
            )
        if image_type not in IMAGE_TYPES:
            raise ValueError(f"image_type must be one of {IMAGE_TYPES}, got {image_type!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.generator = generator
        self.seed = int(seed)
        self.image_type = image_type
        self.chunk_size = _check_positive_int("chunk_size", chunk_size)
        self.cache_chunks = _check_positive_int("cache_chunks", cache_chunks)
        self.truncation = check_truncation(truncation)
        names = getattr(generator, "class_names", None)
        self.class_counts = resolve_class_counts(num_samples, class_counts, generator.num_classes, names)
        self.classes = list(names) if names else [str(c) for c in range(generator.num_classes)]
        self._boundaries = np.cumsum(self.class_counts)
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return int(self._boundaries[-1])

    @property
    def targets(self) -> torch.Tensor:
        """All labels in item order (computed on demand: 8 bytes per item)."""
        return torch.repeat_interleave(torch.arange(len(self.class_counts)), torch.tensor(self.class_counts))

    def _check_index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} samples")
        return int(index) % n

    def label_of(self, index: int) -> int:
        """The class of item ``index`` (negative counts from the end) without generating it."""
        return int(np.searchsorted(self._boundaries, self._check_index(index), side="right"))

    def _chunk_labels(self, chunk: int) -> torch.Tensor:
        start = chunk * self.chunk_size
        stop = min(start + self.chunk_size, len(self))
        positions = np.arange(start, stop)
        return torch.from_numpy(np.searchsorted(self._boundaries, positions, side="right").astype(np.int64))

    def _generate_chunk(self, chunk: int) -> torch.Tensor:
        labels = self._chunk_labels(chunk)
        rng = torch.Generator().manual_seed(_chunk_seed(self.seed, chunk))
        kwargs = {"truncation": self.truncation} if self.truncation != 1.0 else {}
        # CPU kernels round differently with different thread counts, and DataLoader workers
        # run with one thread: generating with one thread everywhere keeps item i the same
        # bytes whatever num_workers is.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            images = self.generator.sample(labels, generator=rng, **kwargs).detach().to("cpu", torch.float32)
        finally:
            torch.set_num_threads(threads)
        if self.image_type == "tensor":
            return images
        # Quantise once per chunk; PIL and numpy items are uint8 like real image files.
        return images.mul(255).round_().to(torch.uint8)

    def _chunk(self, chunk: int) -> torch.Tensor:
        cached = self._cache.get(chunk)
        if cached is not None:
            self._cache.move_to_end(chunk)
            return cached
        images = self._generate_chunk(chunk)
        self._cache[chunk] = images
        while len(self._cache) > self.cache_chunks:
            self._cache.popitem(last=False)
        return images

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = self._check_index(index)
        chunk, offset = divmod(index, self.chunk_size)
        image = self._chunk(chunk)[offset]
        if self.image_type == "pil":
            image = to_pil_image(image)
        elif self.image_type == "numpy":
            image = image.permute(1, 2, 0).numpy().copy()
        else:
            image = image.clone()  # callers may modify items in place; the cache must not change
        target = self.label_of(index)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # workers regenerate; pickles stay small
        return state

    def extra_repr(self) -> str:
        gen = self.generator
        kind = getattr(gen, "model_type", "") or type(gen).__name__
        return "\n".join([
            f"Generator: {type(gen).__name__} ({kind}), image_shape={tuple(gen.image_shape)}",
            f"Classes: {len(self.classes)}, counts per class: {self.class_counts if len(self.class_counts) <= 20 else '...'}",
            f"Seed: {self.seed}, image_type: {self.image_type}, chunk_size: {self.chunk_size}",
        ])
