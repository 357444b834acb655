"""``ProportionSampler``: class-balanced batches with a fixed real : synthetic share per class.

A class-balanced sampler over a mixed dataset (``WeightedRandomSampler`` with weights
``1 / count(class)``) counts synthetic items as items of their class. On a long tail
topped up with ``mix(real, gen, "balance")`` a rare class then holds 50 real and 4,950
synthetic items, so 99% of its draws are synthetic and its real images are seen 100
times less often than before the top-up: the generator's mistakes on the class it knows
least take over. :class:`ProportionSampler` instead fixes, per class, how many draws of an
epoch are synthetic (``synthetic_share``) and spreads the rest evenly over the class's real
items, so the real images stay in charge and the synthetic ones add variety.

The counts are exact: an epoch of ``num_samples`` draws gives each class its quota (equal
quotas, or the real class proportions with ``class_balanced=False``), and within a class
``round(synthetic_share * quota)`` synthetic draws when the class has synthetic items (a
class without any, such as the majority class under ``"balance"``, draws only real ones).
Items of a kind are visited in a fresh permutation, cycled when the quota exceeds them, so
no real image is drawn twice more often than another.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from synthaug.validation import ArgumentTypeError, check_bool, check_int, check_number, check_seed


def synthetic_mask(dataset: Any) -> np.ndarray:
    """Whether each item of ``dataset`` is synthetic, as a bool array (one pass over ``is_synthetic``).

    Uses ``dataset.synthetic_mask()`` when the dataset has it (:class:`~synthaug.MixedDataset`
    answers without reading items).
    """
    fast = getattr(dataset, "synthetic_mask", None)
    if callable(fast):
        return np.asarray(fast(), dtype=bool)
    is_synthetic = getattr(dataset, "is_synthetic", None)
    if not callable(is_synthetic):
        raise ArgumentTypeError(
            "dataset must tell real from synthetic items (a synthaug.MixedDataset, or a Dataset with "
            f"is_synthetic(index)), got {type(dataset).__name__}"
        )
    return np.fromiter((bool(is_synthetic(i)) for i in range(len(dataset))), dtype=bool, count=len(dataset))


def _labels_of(dataset: Any) -> np.ndarray:
    targets = getattr(dataset, "targets", None)
    if targets is None:
        raise ArgumentTypeError(
            f"dataset must have targets (class indices per item, as torchvision datasets do), got {type(dataset).__name__}"
        )
    labels = np.asarray(targets.numpy() if isinstance(targets, torch.Tensor) else targets)
    if labels.ndim != 1 or len(labels) != len(dataset) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"dataset.targets must hold one class index per item ({len(dataset)}), got shape {labels.shape} "
            f"of {labels.dtype}"
        )
    return labels.astype(np.int64)


def _split_evenly(total: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``total`` split over classes in proportion to ``weights``; the rounding remainder goes to random classes."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    left = total - int(counts.sum())
    if left:
        # Largest remainders first; ties broken at random so no class is always favoured.
        order = np.lexsort((rng.random(len(weights)), -(exact - counts)))
        counts[order[:left]] += 1
    return counts


def _cycled(items: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` items: whole shuffled passes over ``items``, then part of one more."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    passes = [rng.permutation(items) for _ in range(-(-n // len(items)))]
    return np.concatenate(passes)[:n]


class ProportionSampler(Sampler[int]):
    """Draw each class's quota with a fixed share of synthetic items (see the module docstring).

    Args:
        dataset: a :class:`~synthaug.MixedDataset` (or any dataset with ``targets`` and
            ``is_synthetic(index)``).
        synthetic_share: the share of each class's draws that are synthetic, in [0, 1].
        num_samples: draws per epoch (default ``len(dataset)``); with
            ``DataLoader(batch_size=B, sampler=...)`` an epoch is ``num_samples / B`` steps.
        class_balanced: equal quotas per class (default); ``False`` keeps the real items'
            class proportions (only the real : synthetic split within classes changes).
        synthetic_from_epoch: epochs before it draw real items only (synthetic data
            switched on late, as deferred re-weighting does for class weights).
        seed: the order's seed; each epoch's draws come from ``(seed, epoch)``.

    Call :meth:`set_epoch` at the start of every epoch (as with ``DistributedSampler``),
    after the dataset's own ``set_epoch``: the sampler reads which items are synthetic
    each time it is iterated.

    Example:
        >>> train = synthaug.mix(real_train, gen, "balance", synthetic_share=0.3)
        >>> sampler = train.sampler()   # a ProportionSampler honouring the share
        >>> loader = DataLoader(train, batch_size=64, sampler=sampler)
        >>> for epoch in range(epochs):
        ...     train.set_epoch(epoch); sampler.set_epoch(epoch)
        ...     for images, labels in loader: ...
    """

    def __init__(
        self,
        dataset: Any,
        synthetic_share: float = 0.3,
        num_samples: int | None = None,
        class_balanced: bool = True,
        synthetic_from_epoch: int = 0,
        seed: int = 0,
    ) -> None:
        if not hasattr(dataset, "__len__"):
            raise ArgumentTypeError(f"dataset must be a map-style Dataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.synthetic_share = check_number("synthetic_share", synthetic_share, low=0.0, high=1.0)
        self.num_samples = len(dataset) if num_samples is None else check_int("num_samples", num_samples, low=1)
        self.class_balanced = check_bool("class_balanced", class_balanced)
        self.synthetic_from_epoch = check_int("synthetic_from_epoch", synthetic_from_epoch, low=0)
        self.seed = check_seed("seed", seed)
        self.epoch = 0
        labels = _labels_of(dataset)  # checked now, so a bad dataset fails here, not in the loader
        if not len(labels):
            raise ValueError("dataset is empty: there is nothing to sample")

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s draws next (and switch synthetic items on from ``synthetic_from_epoch``)."""
        self.epoch = check_int("epoch", epoch, low=0)

    def __len__(self) -> int:
        return self.num_samples

    def share_now(self) -> float:
        """The synthetic share in force this epoch (0 before ``synthetic_from_epoch``)."""
        return self.synthetic_share if self.epoch >= self.synthetic_from_epoch else 0.0

    def plan(self) -> dict[int, tuple[int, int]]:
        """``{class: (real draws, synthetic draws)}`` of this epoch: the exact counts :meth:`__iter__` yields."""
        return {c: (len(real), len(synth)) for c, (real, synth) in self._draws().items()}

    def _draws(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        labels = _labels_of(self.dataset)
        synthetic = synthetic_mask(self.dataset)
        rng = np.random.default_rng([self.seed, self.epoch])
        share = self.share_now()
        real_counts = np.bincount(labels[~synthetic], minlength=int(labels.max()) + 1)
        synthetic_counts = np.bincount(labels[synthetic], minlength=len(real_counts))
        # A class is drawn when it has real items, or synthetic ones while they are switched on.
        classes = np.flatnonzero((real_counts > 0) | ((synthetic_counts > 0) & (share > 0)))
        if not len(classes):
            raise ValueError("dataset has no real items and synthetic_share is 0 this epoch: nothing to draw")
        weights = np.ones(len(classes)) if self.class_balanced else real_counts[classes].astype(np.float64)
        if not weights.sum():  # class proportions of a dataset with no real items: equal quotas
            weights = np.ones(len(classes))
        quotas = _split_evenly(self.num_samples, weights, rng)
        draws: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for c, quota in zip(classes.tolist(), quotas.tolist()):
            members = labels == c
            real_items = np.flatnonzero(members & ~synthetic)
            synthetic_items = np.flatnonzero(members & synthetic)
            if not len(real_items):  # a class only the generator has: every draw is synthetic
                n_synthetic = quota
            else:
                n_synthetic = round(share * quota) if len(synthetic_items) else 0
            draws[c] = (_cycled(real_items, quota - n_synthetic, rng), _cycled(synthetic_items, n_synthetic, rng))
        return draws

    def __iter__(self) -> Iterator[int]:
        draws = self._draws()
        order = np.concatenate([np.concatenate(pair) for pair in draws.values()]).astype(np.int64)
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        yield from rng.permutation(order).tolist()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(synthetic_share={self.synthetic_share:g}, num_samples={self.num_samples}, "
            f"class_balanced={self.class_balanced}, synthetic_from_epoch={self.synthetic_from_epoch}, "
            f"seed={self.seed}, epoch={self.epoch})"
        )
