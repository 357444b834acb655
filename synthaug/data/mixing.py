"""``synthaug.mix``: one Dataset of real and synthetic ``(image, label)`` items, composed by a strategy.

Strategies (``strategy=``; there is no default, but leaving it out is fine when the one
option given names it: ``ratio=`` means ``"ratio"``, ``target=`` ``"balance"``, ``p=``
``"replace"``). An option that does not belong to the strategy is an error:

* ``"ratio"`` with ``ratio=r``: add ``round(r * len(real))`` synthetic items with the real
  class proportions (the lecture's 60,000 real + 10,000 fake is ``ratio=1/6``);
* ``"balance"``: top every class up to the largest class count, or to ``target=N``;
* imbalanced-learn's over-sampling ``sampling_strategy`` words, with its meaning (only the
  classes present count; no options): ``"not majority"`` and ``"all"`` (every class up
  to the majority count, as ``"balance"``), ``"minority"`` (the smallest class only),
  ``"not minority"``, and a float ``r`` in (0, 1] (every class up to ``r`` times the
  majority count; imbalanced-learn allows it for two classes only);
* a dict ``{class: count}``: add ``count`` synthetic items of each listed class (class
  indices or names). Note: imbalanced-learn's dicts give totals after resampling; here
  they give the synthetic items to add (use ``"balance", target=N`` for totals);
* a callable ``real_counts -> {class: count}``: the same, computed from the real counts
  ``{class index: count}``;
* ``"replace"`` with ``p=0.3``: each real item is replaced, with probability ``p``, by a
  synthetic item of the same class (DA-Fusion's ``synthetic_probability``); the length
  and the labels stay those of the real data;
* ``"tuned"``: :func:`synthaug.tune` trains classifiers on held-out real data to choose the
  setting, or no synthetic items at all when none beats real only (see
  :mod:`synthaug.tuning`). Its old name ``"auto"`` still works, with a
  ``DeprecationWarning`` (imbalanced-learn's ``"auto"`` means ``"not majority"``).

Synthetic items are given the form of the real items (see
:mod:`synthaug.data.image_format`), so one transform pipeline serves both.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.datasets import VisionDataset

from synthaug.data.classes import align_classes, class_names_of
from synthaug.data.counts import (
    IMBALANCE_POLICIES,
    check_total,
    counts_from_mapping,
    imbalance_policy_counts,
    proportional_counts,
)
from synthaug.data.image_format import IMAGE_KINDS, ImageFormat, ImageKind, detect_format, from_float_chw
from synthaug.data.items import apply_transforms
from synthaug.data.labels import label_histogram, read_labels
from synthaug.data.samplers import ProportionSampler
from synthaug.data.synthetic import SyntheticDataset
from synthaug.data.targets import ProbabilityTargets
from synthaug.generators.base import GeneratorProtocol
from synthaug.utils.seeding import stream_seed
from synthaug.validation import (
    check_callable,
    check_index,
    check_int,
    check_number,
    non_negative_int,
    seed_from,
    split_model_keyword,
)

STRATEGIES = ("ratio", "balance", "replace", *IMBALANCE_POLICIES)
"""The strategy names ``mix`` knows by itself (``"tuned"`` is registered by :mod:`synthaug.tuning`)."""

STRATEGY_OPTIONS: dict[str, tuple[str, ...]] = {"ratio": ("ratio",), "balance": ("target",), "replace": ("p",)}
"""The options each named strategy takes; every other strategy takes none of ``ratio``, ``target``, ``p``."""

RENAMED_STRATEGIES = {"auto": "tuned"}
"""Old strategy names, still accepted with a ``DeprecationWarning`` naming the new one."""


DelegatedStrategy = Callable[..., "MixedDataset"]
_DELEGATED: dict[str, DelegatedStrategy] = {}


def register_strategy(name: str, build: DelegatedStrategy) -> None:
    """Make ``mix(real, gen, name, ...)`` call ``build(real, gen, seed, **options)``.

    For strategies that build on ``mix`` itself, such as the guard (:mod:`synthaug.tuning`
    registers ``"tuned"``): they sit above this module and plug in here, so ``mix`` never
    imports them.
    """
    if not isinstance(name, str) or not name or name in STRATEGIES or name in RENAMED_STRATEGIES:
        reserved = STRATEGIES + tuple(RENAMED_STRATEGIES)
        raise ValueError(f"name must be a new strategy name (not one of {reserved}), got {name!r}")
    _DELEGATED[name] = build


def strategy_names() -> tuple[str, ...]:
    """Every strategy name ``mix`` accepts: the built-in ones, then the registered ones."""
    return STRATEGIES + tuple(_DELEGATED)


def is_ratio_strategy(strategy: Any) -> bool:
    """Whether ``strategy`` is a float: imbalanced-learn's minority/majority ratio."""
    return isinstance(strategy, (float, np.floating))


def check_strategy(strategy: Any, name: str = "strategy") -> Any:
    """A mixing strategy: a known name, a float ratio, a dict ``{class: count}`` or a callable; the one check."""
    expected = f"one of {strategy_names()}, a float in (0, 1], a dict {{class: count}} or a callable"
    if isinstance(strategy, str):
        if strategy not in strategy_names() and strategy not in RENAMED_STRATEGIES:
            raise ValueError(f"{name} must be {expected}, got {strategy!r}")
    elif is_ratio_strategy(strategy):
        check_number(name, strategy, low=0.0, high=1.0, low_open=True, expected=expected)
    elif not isinstance(strategy, Mapping) and not callable(strategy):
        raise TypeError(f"{name} must be {expected}, got {type(strategy).__name__} {strategy!r}")
    return strategy


def strategy_label(strategy: Any) -> str:
    """How messages and reprs name a strategy: its name, its ratio, ``"dict"`` or ``"callable"``."""
    if isinstance(strategy, str):
        return strategy
    if is_ratio_strategy(strategy):
        return repr(float(strategy))
    return "dict" if isinstance(strategy, Mapping) else "callable"


def resolve_strategy(strategy: Any, options: Mapping[str, Any]) -> Any:
    """The strategy ``mix`` runs: the one given (old names renamed, with a warning), or the one its option names.

    ``options`` are ``ratio``/``target``/``p`` as given (``None`` when not given). Raises
    ``ValueError`` when no strategy is given and no option names one, and when an option
    is given that the strategy does not take (options are never silently ignored).
    """
    given = [option for option, value in options.items() if value is not None]
    if strategy is None:
        implied = sorted({owner for owner, taken in STRATEGY_OPTIONS.items() for option in given if option in taken})
        if not implied:
            raise ValueError(
                "mix needs a strategy, e.g. strategy='ratio' needs ratio=r (synthetic items per real item, "
                f"e.g. 1/6), strategy='balance' tops classes up; known: {strategy_names()}, a float, a dict "
                "{class: count} or a callable"
            )
        if len(implied) > 1:
            raise ValueError(
                f"{', '.join(given)} belong to different strategies ({', '.join(map(repr, implied))}): "
                "give one strategy and its options"
            )
        strategy = implied[0]
    check_strategy(strategy)
    if isinstance(strategy, str) and strategy in RENAMED_STRATEGIES:
        new = RENAMED_STRATEGIES[strategy]
        warnings.warn(
            f"strategy={strategy!r} is deprecated; use strategy={new!r} (the name says that it trains classifiers "
            f"to choose the mix; in imbalanced-learn {strategy!r} means 'not majority')",
            DeprecationWarning,
            stacklevel=3,
        )
        return strategy  # run under the new name by mix; kept here so messages show the word the caller used
    taken = STRATEGY_OPTIONS.get(strategy, ()) if isinstance(strategy, str) else ()
    for option in given:
        if option not in taken and not (isinstance(strategy, str) and strategy in _DELEGATED):
            owner = next(name for name, options_ in STRATEGY_OPTIONS.items() if option in options_)
            raise ValueError(
                f"{option} is only for strategy={owner!r}, got strategy={strategy_label(strategy)!r}"
                + (f" (it takes {', '.join(taken)}=)" if taken else " (it takes none of ratio, target, p)")
            )
    return strategy


def _synthetic_counts(strategy: Any, real_counts: list[int], kwargs: dict, class_names: list[str] | None) -> list[int]:
    """Synthetic items to add per class for the additive strategies."""
    k = len(real_counts)
    if isinstance(strategy, Mapping):
        counts = counts_from_mapping(strategy, k, class_names, "strategy")
        check_total("strategy", sum(counts), dict(strategy))
        return counts
    if is_ratio_strategy(strategy) or strategy in IMBALANCE_POLICIES:
        return imbalance_policy_counts(strategy, real_counts)
    if callable(strategy):
        wanted = strategy({c: n for c, n in enumerate(real_counts)})
        if not isinstance(wanted, Mapping):
            raise TypeError(f"a callable strategy must return a dict {{class: count}}, got {type(wanted).__name__}")
        counts = counts_from_mapping(wanted, k, class_names, "the strategy callable's result")
        check_total("the strategy callable's result", sum(counts), dict(wanted))
        return counts
    if strategy == "ratio":
        ratio = check_number("ratio", kwargs["ratio"], low=0.0) if "ratio" in kwargs else None
        if ratio is None:
            raise ValueError("strategy='ratio' needs ratio=r (synthetic items per real item, e.g. 1/6)")
        total = check_total("ratio", round(ratio * sum(real_counts)), ratio)
        return proportional_counts(real_counts, total)
    if strategy == "balance":
        target = kwargs.get("target")
        if target is None:
            target = max(real_counts)
        else:
            target = check_int("target", target, low=1, expected="a positive int (items per class after topping up)")
        counts = [max(int(target) - n, 0) for n in real_counts]
        check_total("target", sum(counts), target)
        return counts
    return check_strategy(strategy)  # raises: not an additive strategy


class MixedDataset(VisionDataset):
    """Real and synthetic ``(image, label)`` items in one map-style Dataset (see :func:`mix`).

    The real items come first, then the synthetic ones (``"replace"``: synthetic items
    take the place of the real ones they replace); shuffle in the DataLoader. A
    torchvision ``VisionDataset``, with the attributes torchvision's datasets have.

    Attributes:
        real: the real dataset.
        model: the generator the synthetic items come from (``generator`` is its old name).
        synthetic: the :class:`~synthaug.SyntheticDataset` the synthetic items come from
            (``None`` when there are none).
        real_counts, synthetic_counts: items per class of each kind (this epoch).
        image_format: the form every item has (that of the real items).
        classes: the class names, in label order (the real data's, else the model's,
            else ``"0"``, ``"1"``, ...).
        class_to_idx: ``{name: index}``.
        targets: all labels, in item order, as a LongTensor (with ``synthetic_weight`` or
            ``soft_labels`` the items' targets are vectors; these stay class indices).
        synthetic_share: the share of each class's draws that :meth:`sampler` makes
            synthetic (``None`` unless given to :func:`mix`).
    """

    def __init__(
        self,
        real: Dataset,
        model: GeneratorProtocol,
        real_labels: np.ndarray,
        image_format: ImageFormat,
        strategy: str,
        synthetic_counts: list[int] | None = None,
        p: float | None = None,
        seed: int = 0,
        synthetic_options: Mapping[str, Any] | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        label_reference: Any = 0,
        probability_targets: ProbabilityTargets | None = None,
        synthetic_share: float | None = None,
    ) -> None:
        super().__init__(root=None, transform=transform, target_transform=target_transform)
        self.real = real
        self.model = model
        self.real_labels = real_labels
        self.image_format = image_format
        self.strategy = strategy
        self.p = p
        self.seed = seed
        self.synthetic_options = dict(synthetic_options or {})
        names = getattr(model, "class_names", None) or class_names_of(real)
        self.classes = list(names) if names else [str(c) for c in range(model.num_classes)]
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self._worker = None  # set by apply_transforms: the DataLoader worker whose seed the transforms have
        self.epoch = 0
        self._additive_counts = synthetic_counts
        self._label_reference = label_reference
        self.probability_targets = probability_targets
        self.synthetic_share = synthetic_share
        # Soft labels per synthetic chunk: one teacher call per generator call, not per item.
        self._soft_targets: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._build()

    @property
    def generator(self) -> GeneratorProtocol:
        """The old name of :attr:`model` (kept readable: code written against it still works)."""
        return self.model

    def _make_synthetic(self, counts: list[int]) -> SyntheticDataset | None:
        if not sum(counts):
            return None
        synthetic = SyntheticDataset(
            self.model,
            class_counts=dict(enumerate(counts)),
            seed=self.seed,
            image_type="tensor",
            **self.synthetic_options,
        )
        synthetic.set_epoch(self.epoch)
        return synthetic

    def _build(self) -> None:
        self._soft_targets.clear()
        k = self.model.num_classes
        real_counts = np.bincount(self.real_labels, minlength=k)
        if self.strategy != "replace":
            assert self._additive_counts is not None  # mix() gives the counts of every additive strategy
            self._source = None
            self.synthetic_counts = list(self._additive_counts)
            self.synthetic = self._make_synthetic(self.synthetic_counts)
            synthetic_labels = self.synthetic.targets.numpy() if self.synthetic is not None else np.zeros(0, np.int64)
            self.targets = torch.from_numpy(np.concatenate([self.real_labels, synthetic_labels]).astype(np.int64))
            self.real_counts = real_counts.tolist()
            return
        # Which real items are replaced is a pure function of (seed, epoch); the j-th
        # replaced item of class c reads synthetic item offset[c] + j.
        assert self.p is not None  # mix() refuses "replace" without p
        rng = np.random.default_rng(stream_seed(self.seed, self.epoch, 1 << 41))
        replaced = rng.random(len(self.real_labels)) < self.p
        self.synthetic_counts = np.bincount(self.real_labels[replaced], minlength=k).tolist()
        self.synthetic = self._make_synthetic(self.synthetic_counts)
        source = np.arange(len(self.real_labels), dtype=np.int64)
        order = np.flatnonzero(replaced)
        labels = self.real_labels[order]
        offsets = np.concatenate([[0], np.cumsum(self.synthetic_counts)[:-1]]).astype(np.int64)
        rank = np.zeros(len(order), dtype=np.int64)
        for c in np.unique(labels):  # rank of each replaced item within its class, in item order
            members = labels == c
            rank[members] = np.arange(int(members.sum()))
        source[order] = -(offsets[labels] + rank) - 1
        self._source = source
        self.targets = torch.from_numpy(self.real_labels.astype(np.int64))
        self.real_counts = (real_counts - np.asarray(self.synthetic_counts)).tolist()

    def set_epoch(self, epoch: int) -> None:
        """Fresh synthetic items (and, for ``"replace"``, a fresh choice of replaced items) for ``epoch``."""
        epoch = non_negative_int("epoch", epoch)
        if epoch == self.epoch:
            return
        self.epoch = int(epoch)
        if self.strategy == "replace":
            self._build()
        elif self.synthetic is not None:
            self.synthetic.set_epoch(self.epoch)
            self._soft_targets.clear()

    def __len__(self) -> int:
        return len(self.targets)

    def _source_of(self, index: int) -> int:
        """Where item ``index`` comes from: ``r >= 0`` is real item r, ``-(j + 1)`` synthetic item j."""
        if self._source is not None:
            return int(self._source[index])
        offset = index - len(self.real_labels)
        return index if offset < 0 else -offset - 1

    def is_synthetic(self, index: int) -> bool:
        """Whether item ``index`` (negative counts from the end) is a synthetic one."""
        return self._source_of(check_index(index, len(self))) < 0

    def synthetic_mask(self) -> np.ndarray:
        """Whether each item is synthetic, as a bool array ``[len(self)]`` (this epoch)."""
        if self._source is not None:
            return self._source < 0
        return np.arange(len(self)) >= len(self.real_labels)

    def sampler(
        self,
        num_samples: int | None = None,
        *,
        synthetic_share: float | None = None,
        class_balanced: bool = True,
        synthetic_from_epoch: int = 0,
        seed: int | None = None,
    ) -> ProportionSampler:
        """A :class:`~synthaug.data.ProportionSampler` over this dataset honouring its ``synthetic_share``.

        Args:
            num_samples: draws per epoch (default ``len(self)``).
            synthetic_share: overrides the share given to :func:`mix` (one of the two is needed).
            class_balanced, synthetic_from_epoch: see :class:`~synthaug.data.ProportionSampler`.
            seed: the order's seed (default: the mix's seed).
        """
        share = self.synthetic_share if synthetic_share is None else synthetic_share
        if share is None:
            raise ValueError(
                "sampler needs a synthetic share: pass mix(..., synthetic_share=0.3) or sampler(synthetic_share=0.3)"
            )
        return ProportionSampler(
            self,
            synthetic_share=share,
            num_samples=num_samples,
            class_balanced=class_balanced,
            synthetic_from_epoch=synthetic_from_epoch,
            seed=self.seed if seed is None else seed,
        )

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = check_index(index, len(self))
        source = self._source_of(index)
        vectors = self.probability_targets
        if source >= 0:
            image, target = self.real[source]
            if vectors is not None:
                target = vectors.real(target)
        else:
            assert self.synthetic is not None  # a synthetic source exists only with synthetic items
            image, target = self.synthetic[-source - 1]
            if vectors is not None and vectors.teacher is not None:
                target = self._soft_target(-source - 1)
            elif vectors is not None:
                target = vectors.synthetic(target, image)
            else:
                target = _convert_label(target, self._label_reference)
            image = from_float_chw(image, self.image_format)
        # The shared path: each DataLoader worker's transforms draw their own random numbers.
        return apply_transforms(self, image, target)

    def _soft_target(self, item: int) -> torch.Tensor:
        """The soft-label target of synthetic item ``item``; the teacher sees its whole chunk
        (the generator's float images, before transforms) once, and the result is cached
        like the chunk's images."""
        assert self.synthetic is not None and self.probability_targets is not None
        chunk, offset = self.synthetic.chunk_of(item)
        targets = self._soft_targets.get(chunk)
        if targets is None:
            targets = self.probability_targets.synthetic_batch(self.synthetic.chunk_images(chunk))
            self._soft_targets[chunk] = targets
            while len(self._soft_targets) > self.synthetic.cache_chunks:
                self._soft_targets.popitem(last=False)
        else:
            self._soft_targets.move_to_end(chunk)
        return targets[offset].clone()

    def summary(self) -> str:
        """A table of real and synthetic items per class."""
        rows = ["| class | real | synthetic | total |", "|---|---|---|---|"]
        for c, (r, s) in enumerate(zip(self.real_counts, self.synthetic_counts)):
            rows.append(f"| {self.classes[c]} | {r} | {s} | {r + s} |")
        rows.append(f"| all | {sum(self.real_counts)} | {sum(self.synthetic_counts)} | {len(self)} |")
        return "\n".join(rows)

    def __repr__(self) -> str:
        share = sum(self.synthetic_counts) / max(len(self), 1)
        lines = [
            f"Dataset {type(self).__name__}",
            f"    Number of datapoints: {len(self)} ({sum(self.real_counts)} real, "
            f"{sum(self.synthetic_counts)} synthetic, {share:.1%})",
            f"    Strategy: {self.strategy}" + (f", p={self.p}" if self.p is not None else ""),
            f"    Item form: {self.image_format.describe()}",
            f"    Seed: {self.seed}, epoch: {self.epoch}",
        ]
        if self.probability_targets is not None:
            lines.append(f"    Targets: {self.probability_targets.describe()}")
        if self.synthetic_share is not None:
            lines.append(f"    Synthetic share per class (sampler()): {self.synthetic_share:g}")
        if len(self.real_counts) <= 20:
            lines.append("    Real per class: " + str(self.real_counts))
            lines.append("    Synthetic per class: " + str(self.synthetic_counts))
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


def _convert_label(label: int, reference: Any) -> Any:
    """``label`` with the type of a real label (tensor, numpy scalar or int), so batches collate."""
    if isinstance(reference, torch.Tensor):
        return torch.tensor(label, dtype=reference.dtype)
    if isinstance(reference, np.generic):
        return type(reference)(label)
    return label


def _format_for(image_type: str | None, first_image: Any, generator: GeneratorProtocol) -> ImageFormat:
    channels, height, width = generator.image_shape
    if image_type is None:
        fmt = detect_format(first_image)
    elif image_type not in IMAGE_KINDS:
        raise ValueError(
            f"image_type must be None (detect from the real data) or one of {IMAGE_KINDS}, got {image_type!r}"
        )
    else:
        dtype = "float32" if image_type == "tensor" else "uint8"
        kind = cast(ImageKind, image_type)  # one of IMAGE_KINDS, checked above
        fmt = ImageFormat(kind, channels, height, width, dtype, image_type != "pil")
    if fmt.shape != tuple(generator.image_shape):
        raise ValueError(
            f"the generator makes {channels}x{height}x{width} images but the real items are {fmt.describe()}: "
            "train or wrap a generator for this image shape, or resize/convert the real data first"
        )
    return fmt


def mix(
    real: Dataset,
    model: GeneratorProtocol | None = None,
    strategy: str | float | Mapping[Any, int] | Callable[[dict[int, int]], Mapping[Any, int]] | None = None,
    seed: int | None = None,
    *,
    ratio: float | None = None,
    target: int | None = None,
    p: float | None = None,
    image_type: str | None = None,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    truncation: float = 1.0,
    filter: Any = None,  # noqa: A002
    chunk_size: int = 256,
    synthetic_weight: float | None = None,
    soft_labels: Any = None,
    synthetic_share: float | None = None,
    progress: bool = True,
    generator: torch.Generator | None = None,
) -> MixedDataset:
    """Mix synthetic items from ``model`` into ``real``, composed by ``strategy``.

    Args:
        real: a map-style dataset of ``(image, label)`` items; its labels are read from
            ``targets`` when it has them (torchvision datasets do), else by iterating it.
        model: a class-conditional generator (:class:`~synthaug.GeneratorProtocol`) with
            the real data's classes and image shape. (Its old keyword ``generator=`` still
            works, with a ``DeprecationWarning``.)
        strategy: ``"ratio"`` (with ``ratio=``), ``"balance"`` (optional ``target=``),
            ``"replace"`` (with ``p=``), imbalanced-learn's ``"not majority"``,
            ``"minority"``, ``"not minority"``, ``"all"`` or a float ratio, a dict
            ``{class: count}``, a callable, or ``"tuned"`` (``synthaug.tune(real, model,
            seed=seed, ...).dataset``: trains classifiers to choose; ``"auto"`` is its
            deprecated name); see the module docstring. No default: it may be left out
            only when ``ratio``, ``target`` or ``p`` names it.
        seed: selects the synthetic samples (and, for ``"replace"``, which items); default 0.
        ratio, target, p: the options of ``"ratio"``, ``"balance"`` and ``"replace"``;
            giving one to another strategy is an error.
        image_type: force the synthetic items' form (``"pil"``, ``"tensor"``, ``"numpy"``)
            instead of detecting it from ``real[0]``.
        transform, target_transform: applied to every item, real and synthetic, after
            mixing (put ``Normalize`` here, not in the real dataset).
        truncation, filter, chunk_size: passed to the :class:`~synthaug.SyntheticDataset`.
        synthetic_weight: the loss weight of a synthetic item, in (0, 1] (real items
            weigh 1). With it or ``soft_labels``, every target becomes a float vector of
            class probabilities (real: one-hot; synthetic: ``synthetic_weight`` times the
            teacher's softmax or the one-hot), which ``F.cross_entropy(logits, targets)``
            reads as is: see :mod:`synthaug.data.targets`.
        soft_labels: a classifier trained on real data (a ``torch.nn.Module`` or callable
            from float images ``[N, C, H, W]`` in [0, 1] to logits, or a
            :class:`~synthaug.filters.Filter`, whose classifier is used): synthetic items
            learn its belief about what they show. Put in eval mode.
        synthetic_share: the share, in [0, 1], of each class's draws that are synthetic
            when batches come from ``mixed.sampler()`` (a
            :class:`~synthaug.data.ProportionSampler`): class-balanced batches in which a
            rare class's few real images keep ``1 - synthetic_share`` of its draws however
            many synthetic items topped it up. It changes no item, only the sampler.
        progress: show a progress bar when labels must be read item by item.
        generator: a ``torch.Generator`` to draw the seed from (once, now) instead of ``seed``.

    Returns:
        A :class:`MixedDataset`; ``print(mixed.summary())`` shows its composition. Call
        ``mixed.set_epoch(epoch)`` at the start of each epoch (as with PyTorch's
        ``DistributedSampler``) for fresh synthetic samples every pass.

    Example:
        >>> train = synthaug.mix(real_train, gen, "ratio", ratio=1 / 6)
        >>> train = synthaug.mix(real_train, gen, "not majority")   # imbalanced-learn's word
        >>> loader = DataLoader(train, batch_size=128, shuffle=True)

        A long tail topped up, with the rare classes' real images kept in charge (70% of
        each class's draws real)::

        >>> train = synthaug.mix(real_train, gen, "balance", synthetic_share=0.3)
        >>> loader = DataLoader(train, batch_size=128, sampler=train.sampler())

        The recipe of docs/benchmarks.md (fresh samples each epoch, weight 0.3, soft labels
        from a real-trained teacher)::

        >>> teacher = synthaug.filters.train_filter_classifier(real_train, num_classes=10)
        >>> train = synthaug.mix(real_train, gen, "ratio", ratio=1.0, synthetic_weight=0.3, soft_labels=teacher)
        >>> for epoch in range(epochs):
        ...     train.set_epoch(epoch)
        ...     for images, targets in DataLoader(train, batch_size=64, shuffle=True):
        ...         loss = F.cross_entropy(model(images), targets)  # targets: [B, K] probabilities
    """
    model, generator = split_model_keyword(model, generator, "mix")
    seed = seed_from("seed", seed, generator, default=0)
    strategy = resolve_strategy(strategy, {"ratio": ratio, "target": target, "p": p})
    if isinstance(strategy, str) and (strategy in _DELEGATED or strategy in RENAMED_STRATEGIES):
        return _delegate(
            strategy,
            real,
            model,
            seed,
            ratio=ratio,
            target=target,
            p=p,
            filter=filter,
            image_type=image_type,
            transform=transform,
            target_transform=target_transform,
            truncation=truncation,
            chunk_size=chunk_size,
            progress=progress,
            synthetic_weight=synthetic_weight,
            soft_labels=soft_labels,
            synthetic_share=synthetic_share,
        )
    if not isinstance(model, GeneratorProtocol):
        raise TypeError(
            f"model: the generator must satisfy synthaug.GeneratorProtocol (see synthaug.wrap), got {type(model).__name__}"
        )
    check_callable("transform", transform)
    check_callable("target_transform", target_transform)
    if synthetic_share is not None:
        synthetic_share = check_number("synthetic_share", synthetic_share, low=0.0, high=1.0)
    # Synthetic labels must mean the real data's classes: matched by name where both name them.
    model = align_classes(model, real, real_name="the real dataset", caller="mix")
    k = model.num_classes
    if not hasattr(real, "__len__") or not hasattr(real, "__getitem__"):
        raise TypeError(f"real must be a map-style Dataset of (image, label) items, got {type(real).__name__}")
    if len(real) == 0:
        raise ValueError("real dataset is empty: there is nothing to mix into")
    first = real[0]
    if not isinstance(first, (tuple, list)) or len(first) < 2:
        raise TypeError(f"real dataset items must be (image, label) pairs; item 0 is a {type(first).__name__}")
    fmt = _format_for(image_type, first[0], model)
    labels = read_labels(real, progress=progress, name="real")
    real_counts = label_histogram(labels, k)
    names = getattr(model, "class_names", None)
    replace_p = None
    if strategy == "replace":
        if p is None:
            raise ValueError("strategy='replace' needs p (the probability of replacing each real item), e.g. p=0.3")
        replace_p = check_number("p", p, low=0.0, high=1.0)
        counts = None  # MixedDataset draws the replaced items per epoch
    else:
        options = {key: value for key, value in (("ratio", ratio), ("target", target)) if value is not None}
        counts = _synthetic_counts(strategy, real_counts, options, names)
    synthetic_options = {"chunk_size": chunk_size, "truncation": truncation, "filter": filter}
    vectors = (
        None
        if synthetic_weight is None and soft_labels is None
        else ProbabilityTargets(k, synthetic_weight, soft_labels)
    )
    return MixedDataset(
        real,
        model,
        labels,
        fmt,
        strategy_label(strategy),
        counts,
        replace_p,
        seed,
        synthetic_options,
        transform,
        target_transform,
        label_reference=first[1],
        probability_targets=vectors,
        synthetic_share=synthetic_share,
    )


def _delegate(
    strategy: str,
    real: Dataset,
    model: GeneratorProtocol,
    seed: int,
    *,
    ratio: Any,
    target: Any,
    p: Any,
    filter: Any,  # noqa: A002
    synthetic_weight: Any,
    soft_labels: Any,
    synthetic_share: Any = None,
    **options: Any,
) -> MixedDataset:
    """A registered strategy (``"tuned"``: the guard) chooses ``ratio``/``target``/``p``/``filter`` itself.

    ``strategy`` is the word the caller used (an old name is run under its new one).
    """
    given = [
        name
        for name, value in (
            ("ratio", ratio),
            ("target", target),
            ("p", p),
            ("filter", filter),
            ("synthetic_weight", synthetic_weight),
            ("soft_labels", soft_labels),
            ("synthetic_share", synthetic_share),
        )
        if value is not None
    ]
    if given:
        raise ValueError(
            f"strategy={strategy!r} chooses {', '.join(given)} itself; leave them out "
            "(or call synthaug.tune with a grid)"
        )
    name = RENAMED_STRATEGIES.get(strategy, strategy)
    if name not in _DELEGATED:
        raise ValueError(f"strategy={strategy!r} is not registered: import synthaug (or synthaug.tuning) first")
    return _DELEGATED[name](real, model, seed, **options)
