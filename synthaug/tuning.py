"""The guard: ``synthaug.tune`` picks a mix setting on held-out real data, or none at all.

Synthetic data helps a classifier only sometimes; a bad generator or a careless ratio
makes it worse. :func:`tune` holds out a stratified validation split of the real data,
trains the same classifier (same budget, same seeds) on the training part alone and on
the training part mixed by each setting of a small grid, scores every run on the
validation split, and returns the best setting only when it beats real-only by more
than the noise. Otherwise it returns the real data alone and says so::

    result = synthaug.tune(real_train, gen)          # default: SmallCNN, 8-10 candidates x 3 seeds
    print(result.summary())                          # the evidence table
    train = result.dataset                           # built on all of real_train
    result.best                                      # e.g. {"strategy": "ratio", "ratio": 0.25, "filter": 0.9}

Bring your own training with ``train_fn(train_dataset, val_dataset) -> float`` (higher
is better); ``synthaug.mix(real, gen, "tuned")`` is ``tune(real, gen).dataset`` (``"auto"``
is that strategy's deprecated name).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from synthaug.data.classes import ClassOrderWarning, align_classes
from synthaug.data.filters import Filter, FilterShortfall
from synthaug.data.labels import read_labels
from synthaug.data.mixing import MixedDataset, mix, register_strategy
from synthaug.data.real import LabelledImages
from synthaug.generators.base import GeneratorProtocol
from synthaug.metrics.classifier import accuracy, train_classifier, train_filter_classifier
from synthaug.metrics.report import json_ready
from synthaug.validation import (
    check_bool,
    check_choice,
    check_number,
    is_number,
    positive_int,
    seed_from,
    split_model_keyword,
)
from synthaug.viz import save_score_chart

logger = logging.getLogger(__name__)

METRICS = ("auto", "accuracy", "balanced_accuracy")
DEFAULT_RATIOS = (0.1, 0.25, 0.5)
DEFAULT_FILTER_THRESHOLDS = (None, 0.9)
# Largest / smallest real class count above which data count as imbalanced: the default
# grid then adds "balance" and metric="auto" scores balanced accuracy.
IMBALANCE_RATIO = 1.5
_SETTING_KEYS = ("strategy", "ratio", "target", "p", "filter", "synthetic_weight", "soft_labels", "synthetic_share")
# The recipe of docs/benchmarks.md as a grid setting: as many synthetic items as real ones,
# fresh every pass, each weighing 0.3 in the loss, with the filter classifier's soft labels.
RECIPE_SETTING: dict[str, Any] = {
    "strategy": "ratio",
    "ratio": 1.0,
    "filter": None,
    "synthetic_weight": 0.3,
    "soft_labels": True,
}

TrainFn = Callable[[Dataset, Dataset], float]


def default_grid(imbalanced: bool = False) -> list[dict[str, Any]]:
    """The settings :func:`tune` tries by default (real-only is always added as the baseline).

    ``"ratio"`` with ``ratio`` in ``DEFAULT_RATIOS`` (and ``"balance"`` when
    ``imbalanced``), each without a filter and with a 0.9-confidence filter; then
    :data:`RECIPE_SETTING` (ratio 1, synthetic weight 0.3, soft labels, fresh each pass).
    """
    strategies: list[dict[str, Any]] = [{"strategy": "ratio", "ratio": r} for r in DEFAULT_RATIOS]
    if imbalanced:
        strategies.append({"strategy": "balance"})
    return [{**s, "filter": t} for s in strategies for t in DEFAULT_FILTER_THRESHOLDS] + [dict(RECIPE_SETTING)]


def describe_setting(setting: Mapping[str, Any] | None) -> str:
    """``"ratio=0.25, filter=0.9"``-style label of a setting; ``"real only"`` for ``None``."""
    if setting is None:
        return "real only"
    strategy = setting["strategy"]
    name = strategy if isinstance(strategy, str) else getattr(strategy, "__name__", repr(strategy))
    args = [f"{key}={setting[key]:g}" for key in ("ratio", "target", "p") if setting.get(key) is not None]
    head = args[0] if strategy == "ratio" and len(args) == 1 else " ".join([name, *args])  # "ratio=0.25"
    head += f", filter={setting['filter']:g}" if setting.get("filter") is not None else ", no filter"
    if setting.get("synthetic_weight") is not None:
        head += f", weight={setting['synthetic_weight']:g}"
    if setting.get("soft_labels"):
        head += ", soft labels"
    if setting.get("synthetic_share") is not None:
        head += f", synthetic share {setting['synthetic_share']:g}"
    return head


def mix_call(setting: Mapping[str, Any] | None) -> str:
    """The :func:`~synthaug.mix` call a setting stands for, as Python source.

    ``teacher`` stands for a classifier trained on the real data (what :func:`tune` uses
    for ``filter`` and ``soft_labels``: :func:`~synthaug.metrics.train_filter_classifier`);
    ``None`` (real only) is ``"real"``.

    Example:
        >>> mix_call({"strategy": "ratio", "ratio": 0.25, "filter": 0.9})
        "mix(real, model, 'ratio', ratio=0.25, filter=Filter(teacher, min_confidence=0.9))"
    """
    if setting is None:
        return "real"
    strategy = setting["strategy"]
    name = repr(strategy) if not callable(strategy) else getattr(strategy, "__name__", repr(strategy))
    args = ["real", "model", name]
    args += [f"{key}={setting[key]:g}" for key in ("ratio", "target", "p") if setting.get(key) is not None]
    if setting.get("filter") is not None:
        args.append(f"filter=Filter(teacher, min_confidence={setting['filter']:g})")
    if setting.get("synthetic_weight") is not None:
        args.append(f"synthetic_weight={setting['synthetic_weight']:g}")
    if setting.get("soft_labels"):
        args.append("soft_labels=teacher")
    if setting.get("synthetic_share") is not None:
        args.append(f"synthetic_share={setting['synthetic_share']:g}")
    return f"mix({', '.join(args)})"


def _plain_setting(setting: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A setting with a callable strategy replaced by its name (for JSON)."""
    if setting is None:
        return None
    return {
        key: getattr(value, "__name__", repr(value)) if callable(value) else value for key, value in setting.items()
    }


@dataclass(frozen=True)
class TuneRow:
    """One candidate's evidence.

    Attributes:
        setting: the mix setting (``None`` for real only, the baseline).
        mean, std: of the validation scores over the runs (``std`` is the sample standard
            deviation, NaN with fewer than two runs; ``mean`` is NaN when skipped).
        n: runs scored (0 when skipped).
        scores: the runs' validation scores, in seed order.
        seconds: wall time of all the candidate's runs (mixing, training, scoring).
        note: why a candidate was skipped (e.g. the filter rejected the generator's samples).
    """

    setting: dict[str, Any] | None
    mean: float
    std: float
    n: int
    scores: tuple[float, ...] = ()
    seconds: float = 0.0
    note: str = ""

    @property
    def label(self) -> str:
        return describe_setting(self.setting)


@dataclass(repr=False)
class TuneResult:
    """What :func:`tune` found.

    Attributes:
        best: the chosen setting (keys ``strategy``, ``ratio`` / ``target`` / ``p``,
            ``filter``), or ``None`` when real only was kept.
        table: one :class:`TuneRow` per candidate, real only first, then the grid in order.
        dataset: a :class:`~synthaug.MixedDataset` on ALL the real data with the chosen
            setting (no synthetic items when real only was kept).
        chose_real_only: ``True`` when no setting beat real only by more than the margin.
        metric: what the scores are (``"accuracy"``, ``"balanced_accuracy"``, or
            ``"score"`` from a user ``train_fn``).
        reason: one sentence on the decision.
        seconds: wall time of the whole search.
        min_gain: the ``min_gain`` the search used.
        split: (training items, validation items) of the real data.
        val_se: the validation split's standard error of the real-only score,
            ``sqrt(p * (1 - p) / n_val)``; part of the margin (0 when ``val_noise=False``).
    """

    best: dict[str, Any] | None
    table: list[TuneRow]
    dataset: MixedDataset
    chose_real_only: bool
    metric: str
    reason: str
    seconds: float = 0.0
    min_gain: float = 0.005
    split: tuple[int, int] = field(default=(0, 0))
    val_se: float = 0.0

    def __repr__(self) -> str:
        return (
            f"TuneResult(best={self.best!r}, chose_real_only={self.chose_real_only}, metric={self.metric!r}, "
            f"candidates={len(self.table)}, seconds={self.seconds:.1f})"
        )

    @property
    def _percent(self) -> bool:
        """Whether the scores are rates shown in percent (the default classifier's metrics)."""
        return self.metric in ("accuracy", "balanced_accuracy")

    def _show(self, value: float) -> str:
        return f"{100 * value:.2f}" if self._percent else f"{value:.4g}"

    def _row_verdict(self, row: TuneRow) -> tuple[str, str]:
        """``(gain over real only, verdict)`` of a row, as :meth:`summary` shows them."""
        if row.n == 0:
            return "n/a", f"skipped: {row.note}"
        if row.setting is None:
            return "", "baseline" + (" (chosen)" if self.chose_real_only else "")
        base = self.table[0]
        delta = row.mean - base.mean
        gain = ("+" if delta >= 0 else "") + self._show(delta)
        if row.setting == self.best:
            return gain, "chosen"
        if delta > _margin(base, row, self.min_gain, self.val_se):
            return gain, "beats real only"
        return gain, "worse" if delta < 0 else "within noise"

    def summary(self) -> str:
        """A markdown table of every candidate's validation score, and the decision."""
        show, unit = self._show, " %" if self._percent else ""
        lines = [
            f"Validation {self.metric}{unit} (train {self.split[0]} / validation {self.split[1]} real items); "
            f"a setting must beat real only by more than max(min_gain={show(self.min_gain)}, "
            f"std of either row, validation standard error={show(self.val_se)}).",
            "",
            f"| setting | {self.metric}{unit} | std | n | vs real only | verdict | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in self.table:
            gain, verdict = self._row_verdict(row)
            if row.n == 0:
                lines.append(f"| {row.label} | n/a | n/a | 0 | {gain} | {verdict} | {row.seconds:.1f} |")
                continue
            std = show(row.std) if not math.isnan(row.std) else "n/a"
            lines.append(
                f"| {row.label} | {show(row.mean)} | {std} | {row.n} | {gain} | {verdict} | {row.seconds:.1f} |"
            )
        lines += ["", self.reason]
        return "\n".join(lines)

    def verdict(self) -> str:
        """One line: mix (and the :func:`~synthaug.mix` call that won) or keep real only, and by how much.

        Example:
            >>> result.verdict()
            "mix — mix(real, model, 'ratio', ratio=0.5) beat real only by +1.20 points of validation accuracy"
        """
        base = self.table[0]
        unit = f"points of validation {self.metric}" if self._percent else f"in validation {self.metric}"
        if self.best is not None:
            row = next(r for r in self.table[1:] if r.setting == self.best)
            return f"mix — {mix_call(self.best)} beat real only by +{self._show(row.mean - base.mean)} {unit}"
        scored = [row for row in self.table[1:] if row.n]
        if not scored:
            return "keep real only — every mixed setting was skipped (see the table)"
        top = max(scored, key=lambda row: row.mean)
        delta = top.mean - base.mean
        return (
            "keep real only — no setting beat real only beyond the noise "
            f"(best: {top.label}, {'+' if delta >= 0 else ''}{self._show(delta)} {unit})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The evidence as JSON-ready data (NaN is ``None``; a callable strategy is its name).

        Keys: ``verdict``, ``best``, ``chose_real_only``, ``metric``, ``reason``,
        ``seconds``, ``min_gain``, ``split`` (``train``, ``validation``), ``val_se`` and
        ``rows``: one dict per candidate with ``setting``, ``label``, ``mix`` (the call),
        ``mean``, ``std``, ``n``, ``scores``, ``gain`` (vs real only, ``None`` for the
        baseline and skipped rows), ``verdict``, ``seconds`` and ``note``.
        """
        base = self.table[0]
        rows = []
        for row in self.table:
            rows.append(
                {
                    "setting": _plain_setting(row.setting),
                    "label": row.label,
                    "mix": mix_call(row.setting),
                    "mean": row.mean,
                    "std": row.std,
                    "n": row.n,
                    "scores": list(row.scores),
                    "gain": row.mean - base.mean if row.setting is not None and row.n else None,
                    "verdict": self._row_verdict(row)[1],
                    "seconds": row.seconds,
                    "note": row.note,
                }
            )
        return json_ready(
            {
                "verdict": self.verdict(),
                "best": _plain_setting(self.best),
                "chose_real_only": self.chose_real_only,
                "metric": self.metric,
                "reason": self.reason,
                "seconds": self.seconds,
                "min_gain": self.min_gain,
                "split": {"train": self.split[0], "validation": self.split[1]},
                "val_se": self.val_se,
                "rows": rows,
            }
        )

    def to_markdown(self, title: str | None = None, figure: str | None = None) -> str:
        """A markdown page: a title, the :meth:`verdict`, an optional figure and the :meth:`summary` table.

        Args:
            title: the page's heading (default ``"Does synthetic data help? (synthaug.tune)"``).
            figure: a path or URL of the chart (:meth:`save_chart`) to show below the verdict.

        Returns:
            The page's text, ending with a newline.
        """
        lines = [f"# {title or 'Does synthetic data help? (synthaug.tune)'}", "", f"**Verdict:** {self.verdict()}", ""]
        if self.best is not None and (self.best.get("filter") is not None or self.best.get("soft_labels")):
            lines += [
                "`teacher`: a classifier trained on the real data, e.g. "
                "`synthaug.filters.train_filter_classifier(real, num_classes)` (tune trained one on its training "
                "part); `Filter` is `synthaug.filters.Filter`.",
                "",
            ]
        if figure is not None:
            lines += [f"![validation {self.metric} per setting]({figure})", ""]
        return "\n".join([*lines, self.summary(), ""])

    def save_chart(self, path: str | Path, title: str | None = None) -> Path:
        """A PNG bar chart of every candidate's mean validation score (error bars: std), real only marked.

        Args:
            path: the ``.png`` file to write (atomically).
            title: the chart's title (default: the verdict's first words).

        Returns:
            ``path`` as a :class:`~pathlib.Path`.
        """
        scale = 100.0 if self._percent else 1.0
        chosen = next(
            (i for i, row in enumerate(self.table) if row.setting is not None and row.setting == self.best), 0
        )
        return save_score_chart(
            [row.label for row in self.table],
            [scale * row.mean for row in self.table],
            path,
            errors=[scale * row.std for row in self.table],
            baseline=scale * self.table[0].mean,
            baseline_label="real only",
            highlight=chosen,
            xlabel=f"validation {self.metric}" + (" (%)" if self._percent else ""),
            title=title or self.verdict().split(" — ")[0],
        )


def _margin(base: TuneRow, row: TuneRow, min_gain: float, val_se: float = 0.0) -> float:
    """How much ``row`` must beat ``base`` by: the largest of ``min_gain``, either row's
    seed noise and the validation split's standard error."""
    noise = [s for s in (base.std, row.std) if not math.isnan(s)]
    return max([min_gain, val_se, *noise])


def _validation_se(score: float, n_val: int) -> float:
    """Binomial standard error of a rate ``score`` measured on ``n_val`` items (0 if not a rate).

    Averaging runs over seeds shrinks the seed noise but not this: every run is scored on
    the same validation items, so a gain smaller than their sampling error is not evidence.
    """
    if math.isnan(score) or not 0.0 <= score <= 1.0 or n_val <= 0:
        return 0.0
    return math.sqrt(score * (1.0 - score) / n_val)


def _decide(table: list[TuneRow], min_gain: float, metric: str, val_se: float = 0.0) -> tuple[TuneRow | None, str]:
    """The best row that beats real only (``table[0]``) by more than its margin, or None; and why."""
    baseline = table[0]
    winners = [
        row for row in table[1:] if row.n and row.mean - baseline.mean > _margin(baseline, row, min_gain, val_se)
    ]
    if not winners:
        reason = (
            f"No setting beat real only ({metric} {baseline.mean:.4f}) by more than the margin: "
            "keeping the real data only."
        )
        logger.warning("synthaug.tune: %s", reason)
        return None, reason
    best = max(winners, key=lambda row: row.mean)  # the first of equals: the earlier in the grid
    reason = (
        f"Chose {best.label}: {metric} {best.mean:.4f} vs {baseline.mean:.4f} for real only "
        f"(+{best.mean - baseline.mean:.4f} > margin {_margin(baseline, best, min_gain, val_se):.4f})."
    )
    logger.info("synthaug.tune: %s", reason)
    return best, reason


class _RealPart(Dataset):
    """Items ``indices`` of ``real``, with their labels as ``targets`` (so ``mix`` reads no item for them)."""

    def __init__(self, real: Dataset, indices: np.ndarray, labels: np.ndarray) -> None:
        self.real = real
        self.indices = indices
        self.targets = labels[indices]
        classes = getattr(real, "classes", None)
        if classes is not None:
            self.classes = classes

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.real[int(self.indices[index])]


def _split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded train / validation indices; every class with 2+ items is in both."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_val = min(max(round(val_fraction * len(members)), 1), len(members) - 1)
        if n_val == 0:
            logger.warning("class %d has a single real item: it is used for training only", c)
        val.append(members[:n_val])
        train.append(members[n_val:])
    train_idx, val_idx = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
    if len(val_idx) == 0:
        raise ValueError("real must hold at least two items of some class to hold out a validation split")
    return train_idx, val_idx


def _check_grid(grid: Any) -> list[dict[str, Any]]:
    if isinstance(grid, (str, Mapping)) or not isinstance(grid, Sequence):
        raise TypeError(f"grid must be a list of settings (dicts with 'strategy'), got {type(grid).__name__}")
    if len(grid) == 0:
        raise ValueError("grid is empty: give at least one setting, e.g. [{'strategy': 'ratio', 'ratio': 0.25}]")
    settings = []
    for i, setting in enumerate(grid):
        if not isinstance(setting, Mapping):
            raise TypeError(
                f"grid[{i}] must be a dict like {{'strategy': 'ratio', 'ratio': 0.25, 'filter': 0.9}}, "
                f"got {type(setting).__name__}"
            )
        unknown = sorted(set(setting) - set(_SETTING_KEYS), key=str)
        if unknown or "strategy" not in setting:
            raise ValueError(
                f"grid[{i}] = {dict(setting)!r}: keys must be 'strategy' (required) and any of "
                f"{_SETTING_KEYS[1:]}" + (f", got unknown {unknown}" if unknown else "")
            )
        if isinstance(setting["strategy"], str) and setting["strategy"] in ("tuned", "auto"):
            raise ValueError(
                f"grid[{i}]: strategy {setting['strategy']!r} cannot be tuned (it is tune itself); "
                "give a concrete strategy"
            )
        threshold = setting.get("filter")
        if threshold is not None:
            check_number(
                f"grid[{i}]: filter", threshold, low=0.0, high=1.0, expected="None or a min_confidence in [0, 1]"
            )
        if setting.get("synthetic_weight") is not None:
            check_number(f"grid[{i}]: synthetic_weight", setting["synthetic_weight"], low=0.0, high=1.0, low_open=True)
        check_bool(f"grid[{i}]: soft_labels", setting.get("soft_labels", False))
        if setting.get("synthetic_share") is not None:
            check_number(f"grid[{i}]: synthetic_share", setting["synthetic_share"], low=0.0, high=1.0)
        settings.append({"filter": None, **setting})
    return settings


def _check_score(score: Any, label: str) -> float:
    if not is_number(score):
        raise TypeError(
            f"train_fn must return a number (higher is better); for {label!r} it returned "
            f"{type(score).__name__} {score!r}"
        )
    if math.isnan(score):
        raise ValueError(f"train_fn returned NaN for {label!r}")
    return float(score)


def _check_arguments(real: Any, model: Any, train_fn: Any, metric: Any, val_fraction: Any, min_gain: Any) -> None:
    if not isinstance(model, GeneratorProtocol):
        raise TypeError(
            f"model: the generator must satisfy synthaug.GeneratorProtocol (see synthaug.wrap), got {type(model).__name__}"
        )
    if train_fn is not None and not callable(train_fn):
        raise TypeError(
            f"train_fn must be a callable train_fn(train_dataset, val_dataset) -> float, got {type(train_fn).__name__}"
        )
    check_choice("metric", metric, METRICS)
    if train_fn is not None and metric != "auto":
        raise ValueError(f"metric={metric!r} is for the default classifier; a train_fn returns its own score")
    check_number("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    check_number("min_gain", min_gain, low=0.0)
    if not hasattr(real, "__len__") or not hasattr(real, "__getitem__"):
        raise TypeError(f"real must be a map-style Dataset of (image, label) items, got {type(real).__name__}")
    if len(real) == 0:
        raise ValueError("real dataset is empty: there is nothing to tune on")


def _score(classifier: Any, data: LabelledImages, metric: str) -> float:
    """Accuracy, or balanced accuracy: the mean per-class accuracy over the classes present."""
    if metric == "accuracy":
        return accuracy(classifier, data)
    per_class = [
        accuracy(classifier, LabelledImages(data.images[data.labels == c], data.labels[data.labels == c]))
        for c in data.labels.unique().tolist()
    ]
    return float(np.mean(per_class))


def tune(
    real: Dataset,
    model: GeneratorProtocol | None = None,
    train_fn: TrainFn | None = None,
    *,
    grid: Sequence[Mapping[str, Any]] | None = None,
    metric: str = "auto",
    val_fraction: float = 0.2,
    seeds: int = 3,
    seed: int | None = None,
    min_gain: float = 0.005,
    val_noise: bool = True,
    steps: int = 500,
    batch_size: int = 64,
    filter_steps: int | None = None,
    truncation: float = 1.0,
    chunk_size: int = 256,
    image_type: str | None = None,
    transform: Callable | None = None,
    target_transform: Callable | None = None,
    progress: bool = True,
    generator: torch.Generator | None = None,
) -> TuneResult:
    """Choose how to mix ``model``'s samples into ``real`` by validation, or choose not to.

    1. Split ``real`` into training and validation parts (stratified per class, seeded by
       ``seed``; ``val_fraction`` of each class is held out).
    2. For real only and every setting of ``grid``, and for each of ``seeds`` runs
       (seeds ``seed, seed + 1, ...``), mix the training part (``synthaug.mix`` with that
       run's seed) and train and score a classifier: ``train_fn`` or the default.
    3. Keep the setting with the best mean score if it beats real only by more than
       ``max(min_gain, std of real only, std of the setting, validation standard error)``;
       else keep real only and log a warning. Never silently hurt: ties and noise go to
       real only. The validation standard error, ``sqrt(p * (1 - p) / n_val)`` for the
       real-only score ``p``, is the sampling noise of a rate measured on ``n_val`` items:
       with 200 validation images at 83% it is 2.7 points, so small validation sets
       rarely justify synthetic data, which is the honest answer.

    Args:
        real: a map-style dataset of ``(image, label)`` items (PIL, tensor or ndarray images).
        model: a class-conditional generator (:class:`~synthaug.GeneratorProtocol`) with the
            real data's classes and image shape. (Its old keyword ``generator=`` still works,
            with a ``DeprecationWarning``.)
        train_fn: ``train_fn(train_dataset, val_dataset) -> float``, higher is better.
            ``train_dataset`` is a :class:`~synthaug.MixedDataset` over the training part
            (no synthetic items for real only; its ``seed`` is the run's seed), and
            ``val_dataset`` the validation part; both hold the real items' form, without
            ``transform``. Called ``(1 + len(grid)) * seeds`` times. ``None`` (default)
            trains a :class:`~synthaug.metrics.classifier.SmallCNN` for ``steps`` Adam
            steps of ``batch_size`` with the run's seed and scores ``metric``.
        grid: settings to try, dicts with ``strategy`` (any :func:`~synthaug.mix`
            strategy), its ``ratio`` / ``target`` / ``p``, ``filter`` (``None`` or a
            :class:`~synthaug.filters.Filter` ``min_confidence``), ``synthetic_weight``
            and ``soft_labels`` (``True``: the filter classifier's soft labels; see
            :func:`~synthaug.mix`). Default: :func:`default_grid` (``"balance"`` added
            for imbalanced data; :data:`RECIPE_SETTING` last). A setting with
            ``synthetic_weight`` or ``soft_labels`` gives ``train_fn`` a dataset whose
            targets are class-probability vectors; call its ``set_epoch`` each pass.
        metric: ``"accuracy"``, ``"balanced_accuracy"`` or ``"auto"`` (balanced accuracy
            when the largest real class is more than ``IMBALANCE_RATIO`` times the
            smallest). Only for the default classifier; a ``train_fn`` scores itself.
        val_fraction: share of each class held out, in (0, 1).
        seeds: runs per candidate; their spread is the noise a gain must beat.
        seed: the split, the filter classifier and the first run; also the returned
            dataset's seed. Default 0.
        min_gain: the smallest gain over real only that counts (in score units: 0.005 is
            half a percentage point of accuracy).
        val_noise: add the validation standard error to the margin (skipped when the
            real-only score is outside [0, 1], i.e. not a rate). Set ``False`` for a
            ``train_fn`` whose score is not an accuracy-like rate.
        steps, batch_size: the default classifier's budget (the same for every run).
        filter_steps: training steps of the filter classifier (trained on the training
            part only, once); default ``steps``.
        truncation, chunk_size: passed to every ``mix`` call.
        image_type, transform, target_transform: passed to ``mix`` for the returned
            dataset only (candidates are scored on untransformed items).
        progress: show a progress bar over the runs.
        generator: a ``torch.Generator`` to draw ``seed`` from (once, now) instead of giving it.

    Returns:
        A :class:`TuneResult`; ``print(result.summary())`` shows the evidence and
        ``result.verdict()`` says it in one line.

    Raises:
        TypeError, ValueError: for bad arguments, before any training.

    Example:
        >>> result = synthaug.tune(real_train, gen, seeds=3)
        >>> loader = DataLoader(result.dataset, batch_size=128, shuffle=True)
    """
    start = time.perf_counter()
    model, torch_generator = split_model_keyword(model, generator, "tune")
    _check_arguments(real, model, train_fn, metric, val_fraction, min_gain)
    check_bool("val_noise", val_noise)
    seeds = positive_int("seeds", seeds)
    seed = seed_from("seed", seed, torch_generator, default=0)
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    filter_steps = positive_int("filter_steps", filter_steps) if filter_steps is not None else steps
    settings = _check_grid(grid) if grid is not None else None
    # Synthetic labels must mean the real classes: matched by name once, here; the parts
    # tune splits off carry no names, so its inner mix calls are told nothing new.
    model = align_classes(model, real, real_name="the real dataset", caller="tune")

    labels = read_labels(real, progress=progress)
    counts = np.bincount(labels, minlength=model.num_classes)
    present = counts[counts > 0]
    imbalanced = bool(present.max() > IMBALANCE_RATIO * present.min())
    settings = settings if settings is not None else default_grid(imbalanced)
    chosen_metric = (
        "score"
        if train_fn is not None
        else metric
        if metric != "auto"
        else ("balanced_accuracy" if imbalanced else "accuracy")
    )
    train_idx, val_idx = _split_indices(labels, float(val_fraction), seed)
    train_part, val_part = _RealPart(real, train_idx, labels), _RealPart(real, val_idx, labels)
    options = {"truncation": truncation, "chunk_size": chunk_size, "progress": False}
    # Every candidate is built once before any training: mix checks shapes, labels and
    # the settings' arguments, so a bad grid fails now rather than after an hour.
    for i, candidate in enumerate(settings):
        try:
            _mix(train_part, model, candidate, seed, None, options)
        except (TypeError, ValueError) as e:
            raise type(e)(f"grid[{i}] = {candidate!r}: {e}") from e
    _mix(train_part, model, None, seed, None, options)

    if train_fn is None:
        # The default classifier reads float tensors: convert the real items once and mix
        # into those, so each run decodes no real image again.
        train_images = LabelledImages.from_dataset(train_part, progress)
        base: Dataset = train_images.as_dataset()
        filter_source: Dataset | LabelledImages = train_images
        val_images = LabelledImages.from_dataset(val_part, progress)

        def run(train_dataset: MixedDataset, run_seed: int) -> float:
            # Probability targets (the recipe) and a synthetic share (its sampler needs to
            # tell synthetic items apart) train on the mix itself, fresh every pass; other
            # settings are read into memory once.
            vectors = train_dataset.probability_targets is not None
            shared = train_dataset.synthetic_share is not None
            net = train_classifier(
                train_dataset if vectors or shared else LabelledImages.from_dataset(train_dataset, False).as_dataset(),
                model.num_classes,
                tuple(model.image_shape),
                steps=steps,
                batch_size=batch_size,
                seed=run_seed,
                progress=False,
                desc="tune classifier",
                fresh_each_pass=vectors or shared,
                sampler=train_dataset.sampler(seed=run_seed) if shared else None,
            )
            return _score(net, val_images, chosen_metric)
    else:
        base = filter_source = train_part

        def run(train_dataset: MixedDataset, run_seed: int) -> float:
            return train_fn(train_dataset, val_part)

    filter_model: list[Any] = []  # trained on the first filtered setting, then shared

    def classifier() -> Any:
        """The filter classifier (also the soft-label teacher), trained on the training part at first use."""
        if not filter_model:
            logger.info("training the filter classifier on the %d training items", len(train_idx))
            filter_model.append(
                train_filter_classifier(filter_source, model.num_classes, steps=filter_steps, seed=seed, progress=False)
            )
        return filter_model[0]

    def screen(threshold: float | None) -> Filter | None:
        return None if threshold is None else Filter(classifier(), min_confidence=threshold)

    def teacher(setting: Mapping[str, Any] | None) -> Any:
        return classifier() if setting is not None and setting.get("soft_labels") else None

    table: list[TuneRow] = []
    with tqdm(total=(1 + len(settings)) * seeds, desc="tune", unit="run", disable=not progress) as bar:
        for setting in [None, *settings]:
            label = describe_setting(setting)
            bar.set_postfix_str(label)
            began, scores, note = time.perf_counter(), [], ""
            try:
                threshold = None if setting is None else setting["filter"]
                chosen_filter = screen(threshold)
                for i in range(seeds):
                    mixed = _mix(base, model, setting, seed + i, chosen_filter, options, teacher(setting))
                    scores.append(_check_score(run(mixed, seed + i), label))
                    bar.update(1)
            except FilterShortfall as e:
                drawn = int(chosen_filter.drawn.sum()) if chosen_filter is not None else 0
                accepted = int(chosen_filter.accepted.sum()) if chosen_filter is not None else 0
                note = f"the filter accepted {accepted} of {drawn} draws"
                logger.info("skipping %s: %s", label, e)
                bar.update(seeds - len(scores))
                scores = []
            mean = float(np.mean(scores)) if scores else math.nan
            std = float(np.std(scores, ddof=1)) if len(scores) > 1 else math.nan
            table.append(
                TuneRow(
                    None if setting is None else dict(setting),
                    mean,
                    std,
                    len(scores),
                    tuple(scores),
                    time.perf_counter() - began,
                    note,
                )
            )
            logger.info("%s: %s %.4f over %d runs (%.1f s)", label, chosen_metric, mean, len(scores), table[-1].seconds)

    if seeds == 1:
        logger.info("one run per candidate: the seed noise is not measured, only min_gain guards the choice")
    val_se = _validation_se(table[0].mean, len(val_idx)) if val_noise else 0.0
    best_row, reason = _decide(table, float(min_gain), chosen_metric, val_se)
    best = None if best_row is None else best_row.setting
    final_options = {
        **options,
        "image_type": image_type,
        "transform": transform,
        "target_transform": target_transform,
        "progress": progress,
    }
    final_filter = Filter(filter_model[0], best["filter"]) if best is not None and best["filter"] is not None else None
    dataset = _mix(real, model, best, seed, final_filter, final_options, teacher(best))
    return TuneResult(
        best,
        table,
        dataset,
        best is None,
        chosen_metric,
        reason,
        time.perf_counter() - start,
        float(min_gain),
        (len(train_idx), len(val_idx)),
        val_se,
    )


def _mix(
    real: Dataset,
    model: GeneratorProtocol,
    setting: Mapping[str, Any] | None,
    seed: int,
    screen: Filter | None,
    options: Mapping[str, Any],
    teacher: Any = None,
) -> MixedDataset:
    """``mix`` for one setting; ``None`` is real only (a MixedDataset without synthetic items).

    ``teacher`` gives the soft labels of a setting with ``soft_labels`` (the filter classifier).

    ``model`` is already aligned to the real classes (:func:`tune` did it), so the
    warning that a nameless part of the real data would raise says nothing new.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassOrderWarning)
        if setting is None:
            return mix(real, model, "ratio", seed, ratio=0.0, **options)
        kwargs = {
            key: setting[key]
            for key in ("ratio", "target", "p", "synthetic_weight", "synthetic_share")
            if setting.get(key) is not None
        }
        if setting.get("soft_labels"):
            kwargs["soft_labels"] = teacher if teacher is not None else _untrained_teacher(model)
        return mix(real, model, setting["strategy"], seed, filter=screen, **kwargs, **options)


def _untrained_teacher(model: GeneratorProtocol) -> Any:
    """A stand-in teacher for the dry run that checks a grid before any training (its outputs are never used)."""
    return lambda images: images.new_zeros(len(images), model.num_classes)


def _tuned_strategy(real: Dataset, model: GeneratorProtocol, seed: int, **options: Any) -> MixedDataset:
    """``mix(real, gen, "tuned")``: the setting :func:`tune` chooses, with tune's defaults (it trains classifiers)."""
    return tune(real, model, seed=seed, **options).dataset  # tune logs its decision


# The guard builds on mix; mix learns of "tuned" here, never by importing this module.
# (mix maps the old name "auto" to it, with a DeprecationWarning.)
register_strategy("tuned", _tuned_strategy)
