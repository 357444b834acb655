"""Pictures people would rather look at than read: labelled sample grids, loss curves and score charts.

Uses matplotlib's object-oriented ``Figure`` API (no pyplot, no global backend state),
so importing synthaug never changes the caller's matplotlib setup.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import torch
from torchvision.utils import make_grid

from synthaug.generators.base import GeneratorProtocol
from synthaug.utils.atomic import atomic_file
from synthaug.utils.optional import optional_dependency
from synthaug.validation import check_seed, positive_int

# What needs matplotlib, for the error that names the `plots` extra (every picture here).
_FEATURE = "synthaug.viz (sample grids and charts)"


def _save_figure(figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


def class_grid_labels(num_classes: int, per_class: int) -> torch.Tensor:
    """Labels for a grid with one row per class: ``[0]*per_class + [1]*per_class + ...``."""
    return torch.arange(num_classes).repeat_interleave(per_class)


def save_image_grid(
    images: torch.Tensor,
    per_row: int,
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Path:
    """Save images ``[N, C, H, W]`` in [0, 1] as a PNG grid, ``per_row`` per row, rows labelled."""
    with optional_dependency("matplotlib", _FEATURE):
        from matplotlib.figure import Figure

    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [N, C, H, W], got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    if not len(images):
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    if images.shape[1] not in (1, 3, 4):
        raise ValueError(
            f"images must have 1 (grayscale), 3 (RGB) or 4 (RGBA) channels, got shape {tuple(images.shape)}"
        )
    positive_int("per_row", per_row)
    pad = 1
    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=per_row, padding=pad, pad_value=1.0)
    rows = -(-len(images) // per_row)
    cell = images.shape[-2] + pad
    figure = Figure(figsize=(max(3.0, 0.45 * per_row + 1.2), max(2.0, 0.45 * rows + 0.6)))
    axes = figure.add_subplot()
    axes.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
    axes.set_xticks([])
    if row_labels is not None:
        axes.set_yticks([pad + cell * r + cell / 2 - 0.5 for r in range(rows)])
        axes.set_yticklabels(list(row_labels)[:rows], fontsize=8)
    else:
        axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    if title:
        axes.set_title(title, fontsize=9)
    return _save_figure(figure, path)


def save_generator_grid(
    generator: GeneratorProtocol,
    path: str | Path,
    per_class: int = 8,
    seed: int = 0,
    title: str | None = None,
    truncation: float = 1.0,
) -> Path:
    """Sample ``per_class`` images of every class and save them as a grid (rows = classes).

    ``truncation`` is forwarded to synthaug generators' ``sample`` when it is not 1.
    """
    if not isinstance(generator, GeneratorProtocol):
        raise TypeError(
            "generator must provide num_classes, image_shape, class_names and sample(labels, generator=...) "
            f"(see synthaug.wrap), got {type(generator).__name__}"
        )
    positive_int("per_class", per_class)
    check_seed("seed", seed)
    labels = class_grid_labels(generator.num_classes, per_class)
    kwargs = {"truncation": truncation} if truncation != 1.0 else {}
    images = generator.sample(labels, generator=torch.Generator().manual_seed(seed), **kwargs)
    names = generator.class_names or [str(c) for c in range(generator.num_classes)]
    return save_image_grid(images, per_class, path, row_labels=names, title=title)


def save_loss_curves(records: Iterable[Mapping[str, float]], path: str | Path, title: str | None = None) -> Path:
    """Plot every ``loss*`` field of metric records (dicts with a ``step``) against step."""
    with optional_dependency("matplotlib", _FEATURE):
        from matplotlib.figure import Figure

    series: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(f"records must be dicts of metric values; record {i} is a {type(record).__name__}")
        for key, value in record.items():
            if key.startswith("loss"):
                if "step" not in record:
                    raise ValueError(f"records must give the step of each loss: record {i} has {key!r} but no 'step'")
                series[key][0].append(record["step"])
                series[key][1].append(value)
    if not series:
        raise ValueError("no loss values to plot: records have no 'loss*' fields")
    figure = Figure(figsize=(3.2 * len(series), 2.6))
    for i, (key, (steps, values)) in enumerate(sorted(series.items())):
        axes = figure.add_subplot(1, len(series), i + 1)
        axes.plot(steps, values, linewidth=1)
        axes.set_title(key, fontsize=9)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _save_figure(figure, path)


def save_score_chart(
    labels: Sequence[str],
    values: Sequence[float],
    path: str | Path,
    *,
    errors: Sequence[float] | None = None,
    baseline: float | None = None,
    baseline_label: str = "baseline",
    highlight: int | None = None,
    xlabel: str = "score",
    title: str | None = None,
) -> Path:
    """Save one horizontal bar per label (first on top) as a PNG, with a dashed line at ``baseline``.

    Args:
        labels: one name per bar.
        values: one score per bar; NaN draws no bar and writes "n/a" (e.g. a skipped setting).
        path: the ``.png`` file to write (atomically).
        errors: error bar half-widths, one per bar (NaN: none).
        baseline: the value to compare with, drawn as a dashed vertical line named ``baseline_label``.
        baseline_label: the legend entry of the line.
        highlight: index of the bar to colour as the chosen one.
        xlabel, title: axis label and chart title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Example:
        >>> save_score_chart(["real only", "ratio=0.5"], [84.1, 85.3], "scores.png", baseline=84.1, highlight=1)
    """
    with optional_dependency("matplotlib", _FEATURE):
        from matplotlib.figure import Figure

    labels, values = [str(label) for label in labels], [float(v) for v in values]
    if not labels:
        raise ValueError("labels must name at least one bar, got none")
    if len(values) != len(labels):
        raise ValueError(f"values must hold one score per label ({len(labels)}), got {len(values)}")
    spread = [float(e) for e in errors] if errors is not None else [math.nan] * len(values)
    if len(spread) != len(labels):
        raise ValueError(f"errors must hold one value per label ({len(labels)}), got {len(spread)}")
    if highlight is not None and not 0 <= highlight < len(labels):
        raise ValueError(f"highlight must be an index in [0, {len(labels)}), got {highlight}")
    finite = [v for v in values if math.isfinite(v)]
    ends = [v + s * sign for v, s in zip(values, spread) if math.isfinite(v) and math.isfinite(s) for sign in (-1, 1)]
    ends += finite + ([baseline] if baseline is not None and math.isfinite(baseline) else [])
    # Scores close together matter here: the axis spans the values, not zero to the largest.
    low, high = (min(ends), max(ends)) if ends else (0.0, 1.0)
    pad = max(0.1 * (high - low), 0.5 if high - low < 1e-9 else 0.0, 1e-6)
    low, high = low - pad, high + pad
    figure = Figure(figsize=(6.4, 0.4 * len(labels) + 1.2))
    axes = figure.add_subplot()
    rows = list(range(len(labels)))
    colours = ["tab:orange" if i == highlight else "tab:blue" for i in rows]
    widths = [v - low if math.isfinite(v) else 0.0 for v in values]
    axes.barh(rows, widths, left=low, color=colours, height=0.6)
    for i, (v, s) in enumerate(zip(values, spread)):
        if not math.isfinite(v):
            axes.text(low + 0.02 * (high - low), i, "n/a", va="center", fontsize=8, color="0.4")
            continue
        if math.isfinite(s):
            axes.errorbar(v, i, xerr=s, color="black", capsize=3, linewidth=1)
        axes.text(v, i - 0.35, f" {v:.4g}", va="bottom", fontsize=7)
    if baseline is not None and math.isfinite(baseline):
        axes.axvline(baseline, color="black", linestyle="--", linewidth=1, label=baseline_label)
        axes.legend(fontsize=8, loc="best")
    axes.set_xlim(low, high)
    axes.set_yticks(rows)
    axes.set_yticklabels(labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel, fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
    if title:
        axes.set_title(title, fontsize=10)
    figure.tight_layout()
    return _save_figure(figure, path)
