"""``SyntheticDataset``: a torchvision-style Dataset of class-conditioned generated images."""

from __future__ import annotations

import bisect
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torchvision.datasets import VisionDataset
from torchvision.transforms.functional import to_pil_image

from synthaug.data.batches import SyntheticBatches
from synthaug.data.counts import check_count, resolve_class_counts
from synthaug.data.items import (  # noqa: F401  (apply_transforms, check_callable, reseed_transform_rngs: old homes)
    IMAGE_TYPES,
    ImageType,
    apply_transforms,
    check_callable,
    reseed_transform_rngs,
    with_context,
)
from synthaug.generators.base import GeneratorProtocol, check_truncation
from synthaug.utils.seeding import stream_seed
from synthaug.validation import check_choice, check_index, non_negative_int, seed_from, split_model_keyword

if TYPE_CHECKING:
    from synthaug.data.filters import Filter

logger = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 256 * 2**20


class SyntheticDataset(VisionDataset):
    """Generated ``(image, label)`` pairs from a class-conditional generator.

    Item ``i`` is a deterministic function of ``(seed, epoch, i)`` (for a fixed
    ``chunk_size``): the same whatever the ``num_workers`` or access order, and the
    global RNG is never touched. The epoch is 0 (a fixed set) until :meth:`set_epoch`
    asks for fresh samples, as ``DistributedSampler.set_epoch`` does for its order.

    Images are generated ``chunk_size`` at a time (one generator call) and kept in a
    per-process LRU cache of ``cache_chunks`` chunks, so memory is bounded by the cache,
    not by ``num_samples``: a dataset of 10,000,000 virtual items costs a few KB until
    it is read. Labels are laid out class by class; shuffle in the DataLoader (or, for
    datasets larger than the cache, use :class:`~synthaug.data.ChunkShuffleSampler`).

    Args:
        model: the class-conditional generator, anything satisfying
            :class:`~synthaug.GeneratorProtocol`, e.g. the result of :func:`synthaug.load`
            or :func:`synthaug.wrap`. (Its old keyword ``generator=`` still works, with a
            ``DeprecationWarning``.)
        num_samples: total number of items. May be ``None`` when ``class_counts`` is a
            dict or a dataset.
        class_counts: ``None`` for equal counts per class; ``{class: count}`` with class
            indices or names (``{"Coat": 100}``, when the model has ``class_names``); or a
            real labelled dataset, whose label histogram is matched (scaled to
            ``num_samples`` if given).
        seed: selects the set of samples (default 0).
        transform: applied to each image, e.g. a ``torchvision.transforms`` pipeline.
        target_transform: applied to each label.
        image_type: ``"pil"`` (default, like torchvision's MNIST: mode ``L`` or ``RGB``),
            ``"tensor"`` (float32 ``[C, H, W]`` in [0, 1]) or ``"numpy"`` (uint8
            ``[H, W, C]``, what albumentations expects).
        chunk_size: images per generator call.
        cache_chunks: generated chunks kept in memory per process; ``None`` (default) fits
            as many as 256 MiB holds (all of a 60,000-image 28x28 dataset).
        truncation: latent temperature forwarded to synthaug generators' ``sample``.
        filter: a :class:`~synthaug.filters.Filter`; rejected samples are redrawn
            deterministically (see :mod:`synthaug.filters`).
        generator: a ``torch.Generator`` to take the seed from instead of ``seed``. Items
            are a pure function of ``(seed, epoch, index)``, so the seed is drawn from it
            once, here: a seeded generator gives the same dataset every time, and its
            later state changes nothing.

    Attributes:
        model: the generator the items come from (``generator`` is its old name).
        classes: the class names (the model's ``class_names``, else ``"0"``, ``"1"``, ...).
        class_to_idx: ``{name: index}``, as torchvision's datasets have.
        targets: every item's label, in item order.

    Example:
        >>> gen = synthaug.load("runs/demo/cgan")
        >>> ds = SyntheticDataset(gen, num_samples=1000, transform=transforms.ToTensor())
        >>> image, label = ds[0]          # image [1, 16, 16] in [0, 1], label 0
        >>> ds = SyntheticDataset(gen, class_counts={"Coat": 100}, generator=torch.Generator().manual_seed(0))
    """

    def __init__(
        self,
        model: GeneratorProtocol | None = None,
        num_samples: int | None = None,
        class_counts: Any = None,
        seed: int | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        image_type: ImageType = "pil",
        chunk_size: int = 256,
        cache_chunks: int | None = None,
        truncation: float = 1.0,
        filter: Filter | None = None,  # noqa: A002  (the issue's and users' name for it)
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        model, generator = split_model_keyword(model, generator, "SyntheticDataset")
        check_callable("transform", transform)
        check_callable("target_transform", target_transform)
        super().__init__(root=None, transform=transform, target_transform=target_transform)
        if not isinstance(model, GeneratorProtocol):
            raise TypeError(
                "model: the generator must provide num_classes, image_shape, class_names and "
                f"sample(labels, generator=...) (see synthaug.wrap), got {type(model).__name__}"
            )
        check_choice("image_type", image_type, IMAGE_TYPES)
        seed = seed_from("seed", seed, generator, default=0)
        if filter is not None and not hasattr(filter, "fill"):
            raise TypeError(f"filter must be a synthaug.filters.Filter, got {type(filter).__name__}")
        self.model = model
        self.seed = int(seed)
        self.epoch = 0
        self.image_type = image_type
        self.chunk_size = check_count("chunk_size", chunk_size)
        self.truncation = check_truncation(truncation)
        self.filter = filter
        names = getattr(model, "class_names", None)
        self.class_counts = resolve_class_counts(num_samples, class_counts, model.num_classes, names)
        self.classes = list(names) if names else [str(c) for c in range(model.num_classes)]
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        # A plain list: bisect on it is the cheapest label lookup in __getitem__.
        self._boundaries = np.cumsum(self.class_counts).tolist()
        if cache_chunks is None:
            channels, height, width = model.image_shape
            item_bytes = channels * height * width * (4 if image_type == "tensor" else 1)
            cache_chunks = max(2, DEFAULT_CACHE_BYTES // (item_bytes * self.chunk_size))
        self.cache_chunks = check_count("cache_chunks", cache_chunks)
        self._cache: OrderedDict[int, list[torch.Tensor]] = OrderedDict()
        self._worker = None  # the DataLoader worker whose seed the transforms' own RNGs were given

    @property
    def generator(self) -> GeneratorProtocol:
        """The old name of :attr:`model` (kept readable: code written against it still works)."""
        return self.model

    def __len__(self) -> int:
        return self._boundaries[-1]

    @property
    def num_chunks(self) -> int:
        return -(-len(self) // self.chunk_size)

    @property
    def targets(self) -> torch.Tensor:
        """All labels in item order (computed on demand: 8 bytes per item)."""
        return torch.repeat_interleave(torch.arange(len(self.class_counts)), torch.tensor(self.class_counts))

    def set_epoch(self, epoch: int) -> None:
        """Draw the samples of ``epoch`` from now on (0 is the default, fixed set).

        Call it in the main process before each epoch's DataLoader iteration; workers
        started afterwards see the new epoch. With ``persistent_workers=True`` the workers
        keep the epoch they started with, so leave that off when you use epochs.
        """
        epoch = non_negative_int("epoch", epoch)
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self._cache.clear()

    def _check_index(self, index: Any) -> int:
        return check_index(index, len(self))

    def label_of(self, index: int) -> int:
        """The class of item ``index`` (negative counts from the end) without generating it."""
        return bisect.bisect_right(self._boundaries, self._check_index(index))

    def labels_of(self, indices: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Classes of many items at once, as a LongTensor (no generation).

        ``indices`` are integers in ``[-len(self), len(self))``; negative ones count from
        the end, as for :meth:`label_of`. Out-of-range indices raise ``IndexError``.
        """
        raw = indices.cpu().numpy() if isinstance(indices, torch.Tensor) else np.asarray(indices)
        if raw.dtype == bool or not (np.issubdtype(raw.dtype, np.integer) or raw.size == 0):
            raise TypeError(f"indices must be integers, got dtype {raw.dtype}")
        positions = raw.astype(np.int64)
        n = len(self)
        bad = (positions < -n) | (positions >= n)
        if bad.any():
            raise IndexError(f"indices {positions[bad][:5].tolist()} are out of range for a dataset of {n} samples")
        positions = positions % n if n else positions
        return torch.from_numpy(np.searchsorted(self._boundaries, positions, side="right").astype(np.int64))

    def _draw(self, labels: torch.Tensor, *keys: int) -> torch.Tensor:
        """One generator call for ``labels`` from the random stream ``(seed, epoch, *keys)``."""
        # A CPU stream whatever the generator's device: item i is the same draw on CPU and GPU.
        rng = torch.Generator().manual_seed(stream_seed(self.seed, self.epoch, *keys))
        kwargs = {"truncation": self.truncation} if self.truncation != 1.0 else {}
        return self.model.sample(labels, generator=rng, **kwargs)

    def generate(self, labels: torch.Tensor, *keys: int) -> torch.Tensor:
        """Images for ``labels`` from the stream ``(seed, epoch, *keys)``, filtered if a filter is set.

        Returns a float tensor ``[B, C, H, W]`` in [0, 1] on the generator's device.
        """
        images = self._draw(labels, *keys)
        if self.filter is not None:
            images = self.filter.fill(images, labels, lambda again, r: self._draw(again, *keys, r), self.classes)
        return images

    def _generate_chunk(self, chunk: int) -> torch.Tensor:
        start = chunk * self.chunk_size
        labels = self.labels_of(np.arange(start, min(start + self.chunk_size, len(self))))
        # CPU kernels round differently with different thread counts, and DataLoader workers
        # run with one thread: generating with one thread everywhere keeps item i the same
        # bytes whatever num_workers is.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            images = self.generate(labels, chunk).detach().to("cpu", torch.float32)
        finally:
            torch.set_num_threads(threads)
        if self.image_type == "tensor":
            return images
        # Quantise once per chunk; PIL and numpy items are uint8 like real image files.
        return images.mul(255).round_().to(torch.uint8)

    def _chunk(self, chunk: int) -> list[torch.Tensor]:
        """The chunk's items (views into one generated tensor), from the LRU cache or generated now."""
        cached = self._cache.get(chunk)
        if cached is not None:
            self._cache.move_to_end(chunk)
            return cached
        # A list of per-item views: indexing a list and cloning a view is about half the
        # cost of indexing the tensor and cloning, which matters in __getitem__.
        items = list(self._generate_chunk(chunk).unbind(0))
        self._cache[chunk] = items
        while len(self._cache) > self.cache_chunks:
            self._cache.popitem(last=False)
        return items

    def chunk_of(self, index: int) -> tuple[int, int]:
        """``(chunk, offset)``: item ``index`` is item ``offset`` of generator call ``chunk``."""
        return divmod(self._check_index(index) % max(len(self), 1), self.chunk_size)

    def chunk_images(self, chunk: int) -> torch.Tensor:
        """The images of generator call ``chunk`` as one tensor ``[n, C, H, W]`` (float in [0, 1] for
        ``image_type="tensor"``, uint8 otherwise), before transforms; cached like items.

        For work done once per chunk instead of once per item (a teacher's soft labels
        in :func:`synthaug.mix`).
        """
        if not 0 <= chunk < self.num_chunks:
            raise IndexError(f"chunk {chunk} is out of range for {self.num_chunks} chunks")
        return torch.stack(self._chunk(chunk))

    def warm(self, progress: bool = True) -> SyntheticDataset:
        """Generate the current epoch's chunks into the cache now (as many as it holds).

        Call it before building a DataLoader with ``num_workers > 0``: forked workers
        inherit the cache instead of each generating every chunk again. Returns ``self``.
        """
        from tqdm.auto import tqdm

        count = min(self.num_chunks, self.cache_chunks)
        for chunk in tqdm(range(count), desc="generating", unit="chunk", disable=not progress, leave=False):
            self._chunk(chunk)
        return self

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if type(index) is not int or not 0 <= index < self._boundaries[-1]:  # fast path for sampler ints
            index = self._check_index(index)
        chunk, offset = divmod(index, self.chunk_size)
        try:
            image = self._chunk(chunk)[offset]
            if self.image_type == "pil":
                image = to_pil_image(image)
            elif self.image_type == "numpy":
                image = image.permute(1, 2, 0).numpy().copy()
            else:
                image = image.clone()  # callers may modify items in place; the cache must not change
            target = bisect.bisect_right(self._boundaries, index)
            image, target = apply_transforms(self, image, target)
        except Exception as e:
            # Name the item and what reproduces it (the failing worker's traceback is only text).
            raise with_context(
                e, f"SyntheticDataset item {index} (seed {self.seed}, epoch {self.epoch}, chunk {chunk})"
            ) from e
        return image, target

    def batches(
        self, batch_size: int = 256, shuffle: bool = True, drop_last: bool = False, device: Any = None
    ) -> SyntheticBatches:
        """Batch mode: whole batches generated in one call on the generator's device.

        See :class:`~synthaug.data.SyntheticBatches`. Use it in the training loop of the
        main process (no DataLoader), so CUDA is never initialised in forked workers.
        """
        return SyntheticBatches(self, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, device=device)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # workers regenerate; pickles stay small
        state["_worker"] = None
        return state

    def extra_repr(self) -> str:
        gen = self.model
        kind = getattr(gen, "model_type", "") or type(gen).__name__
        counts = self.class_counts if len(self.class_counts) <= 20 else "..."
        lines = [
            f"Generator: {type(gen).__name__} ({kind}), image_shape={tuple(gen.image_shape)}",
            f"Classes: {len(self.classes)}, counts per class: {counts}",
            f"Seed: {self.seed}, epoch: {self.epoch}, image_type: {self.image_type}, chunk_size: {self.chunk_size}",
        ]
        if self.truncation != 1.0:
            lines.append(f"Truncation: {self.truncation}")
        if self.filter is not None:
            lines.append(f"Filter: {self.filter!r}")
        return "\n".join(lines)

    @classmethod
    def from_export(cls, path: Any, **kwargs: Any) -> VisionDataset:
        """Deprecated: use :class:`synthaug.ExportedDataset` (``synthaug.export.ExportedDataset``).

        Reading an export needs no generator and lives in :mod:`synthaug.export`, a layer
        above this one; this alias stays until 0.3.
        """
        # The one import against the layering (docs/architecture.md): a deprecated alias,
        # listed in tests/test_architecture.py, removed in 0.3.
        from synthaug.export.reader import ExportedDataset

        warnings.warn(
            "SyntheticDataset.from_export is deprecated; use synthaug.ExportedDataset(path) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return ExportedDataset(path, **kwargs)


class ChunkShuffleSampler(torch.utils.data.Sampler[int]):
    """Shuffled order for datasets larger than their chunk cache (a shuffle buffer of chunks).

    Visits ``buffer_chunks`` randomly chosen chunks at a time and yields all their items
    in random order, so each chunk is generated once per epoch and the cache only needs
    ``buffer_chunks`` chunks, while batches still mix classes (the chunks of a group come
    from all over the dataset). A plain ``shuffle=True`` on a dataset far larger than the
    cache would regenerate a chunk for almost every item.

    Args:
        dataset: the :class:`SyntheticDataset` to order.
        buffer_chunks: chunks mixed together; at most the dataset's ``cache_chunks``.
        seed: order seed; combined with the dataset's epoch so every epoch's order differs.
    """

    def __init__(self, dataset: SyntheticDataset, buffer_chunks: int = 32, seed: int = 0) -> None:
        if not isinstance(dataset, SyntheticDataset):
            raise TypeError(f"dataset must be a SyntheticDataset, got {type(dataset).__name__}")
        buffer_chunks = check_count("buffer_chunks", buffer_chunks)
        if buffer_chunks > dataset.cache_chunks:
            raise ValueError(
                f"buffer_chunks ({buffer_chunks}) must be at most the dataset's cache_chunks "
                f"({dataset.cache_chunks}), or chunks are evicted before they are read"
            )
        self.dataset = dataset
        self.buffer_chunks = buffer_chunks
        self.seed = check_count("seed", seed, allow_zero=True)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        ds = self.dataset
        rng = np.random.default_rng([self.seed, ds.epoch])
        order = rng.permutation(ds.num_chunks)
        for group in range(0, len(order), self.buffer_chunks):
            chunks = order[group : group + self.buffer_chunks]
            items = np.concatenate(
                [np.arange(c * ds.chunk_size, min((c + 1) * ds.chunk_size, len(ds))) for c in chunks]
            )
            yield from rng.permutation(items).tolist()
