"""Write an :func:`~synthaug.metrics.evaluate.evaluate_generator` result as files people read.

``write_report(report, out_dir, generator)`` writes into ``out_dir``:

- ``report.md``: the feature extractor, the overall table beside a real-data reference,
  the per-class table, the memorisation check, and the figures;
- ``report.json``: the result itself (undefined metrics as ``null``);
- ``label_fidelity.png``: per class, the share of samples the evaluator assigns to their
  label beside the evaluator's accuracy on real test images of that class;
- ``samples_class_NN.png``: a grid of the first evaluated samples of class NN
  (needs the generator).

Each file is written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from synthaug.data.synthetic import SyntheticDataset
from synthaug.utils.atomic import atomic_file, write_text_atomic
from synthaug.utils.optional import optional_dependency
from synthaug.viz import save_image_grid

OVERALL_ROWS = (
    # key, label, format, how to read it
    (
        "label_fidelity",
        "label fidelity",
        ".3f",
        "higher; the reference is the evaluator's accuracy on real test images",
    ),
    ("frechet_distance", "Fréchet distance", ".3f", "lower; 0 = same mean and covariance"),
    ("kid", "KID", ".4g", "lower; ~0 for one distribution, can be negative: compare with the reference"),
    ("precision", "precision", ".3f", "higher: share of samples inside the real manifold (fidelity)"),
    ("recall", "recall", ".3f", "higher: share of real images inside the samples' manifold (diversity)"),
    ("density", "density", ".3f", "~1 like real data; > 1 crowded into dense real regions, < 1 off-manifold"),
    ("coverage", "coverage", ".3f", "higher: share of real images with a sample among their neighbours"),
    ("cas", "CAS (train on samples, test on real)", ".3f", "higher; the reference trains the same classifier on real"),
    ("near_copy_share", "near copies of training images", ".1%", "at most the reference (the share new images get)"),
    ("exact_copies", "exact copies of training images", "d", "0"),
)
PER_CLASS_COLUMNS = (
    ("label_fidelity", "label fidelity", ".3f"),
    ("frechet_distance", "FD", ".2f"),
    ("kid", "KID", ".4g"),
    ("precision", "precision", ".2f"),
    ("recall", "recall", ".2f"),
    ("density", "density", ".2f"),
    ("coverage", "coverage", ".2f"),
    ("cas", "CAS", ".3f"),
    ("real_accuracy", "real-trained acc.", ".3f"),
    ("near_copy_share", "near copies", ".1%"),
    ("exact_copies", "exact copies", "d"),
)
GRID_PER_CLASS = 64


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (strict JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def _figure_name(index: int) -> str:
    return f"samples_class_{index:02d}.png"


def markdown_report(report: Mapping[str, Any], title: str | None = None, grids: bool = True) -> str:
    """The ``report.md`` text of an :func:`~synthaug.metrics.evaluate.evaluate_generator` result."""
    gen, data, settings = report["generator"], report["data"], report["settings"]
    extractor, overall, reference = report["feature_extractor"], report["overall"], report["reference"]
    mem = report["memorisation"]
    n = settings["num_samples"]
    lines = [
        f"# {title or 'Generator evaluation'}",
        "",
        f"- **generator**: {gen['model_type']}, {gen['num_classes']} classes, images {gen['image_shape']}",
        f"- **data**: {data['name']} ({data['num_train']} training, {data['num_test']} test images)",
        f"- **samples**: {settings['num_per_class']} per class, seed {settings['seed']}: items 0..{n - 1} of "
        f"`SyntheticDataset(generator, {n}, seed={settings['seed']})`, as `synthaug sample BUNDLE --n {n} "
        f"--seed {settings['seed']}` writes them",
        f"- **feature extractor**: {extractor['description']} "
        f"({'loaded from the cache' if extractor['from_cache'] else 'trained for this report and cached'}, key "
        f"`{extractor['cache_key'][:12]}`); its accuracy on the real test split is "
        f"{_fmt(extractor['real_test_accuracy'], '.3f')}. Fréchet distance, KID, precision, recall, density and "
        "coverage are measured on its features, not Inception's: they are not comparable with published "
        "FID/KID figures.",
        "",
        "## Overall",
        "",
        "| metric | generator | real reference | how to read it |",
        "|---|---:|---:|---|",
    ]
    for key, label, spec, reading in OVERALL_ROWS:
        value, ref = _fmt(overall[key], spec), _fmt(reference[key], spec)
        if key == "kid":
            value += f" ± {_fmt(overall['kid_std'], '.2g')}"
            ref += f" ± {_fmt(reference['kid_std'], '.2g')}"
        lines.append(f"| {label} | {value} | {ref} | {reading} |")
    lines += [
        "",
        f"Reference: label fidelity and CAS are the evaluator's own accuracy on the real test split (a SmallCNN "
        f"trained on real images with the same budget); the distribution metrics compare "
        f"{settings['reference_size']} real *training* images (up to {settings['num_per_class']} per class, which the "
        f"evaluator has seen) with the real test split, as the samples are; near copies: the share of new images "
        f"the threshold lets through by construction. KID uses subsets of {overall['kid_subset_size']} "
        f"(min(1000, set sizes)), {settings['kid_subsets']} subsets; PRDC uses k = {settings['k']}.",
        "",
        "## Per class",
        "",
        "| class | " + " | ".join(label for _, label, _ in PER_CLASS_COLUMNS) + " |",
        "|---|" + "---:|" * len(PER_CLASS_COLUMNS),
    ]
    for row in report["per_class"]:
        lines.append(
            f"| {row['class']} | " + " | ".join(_fmt(row[key], spec) for key, _, spec in PER_CLASS_COLUMNS) + " |"
        )
    lines += [
        "",
        "Per class, the samples of a class are compared with the real test images of that class. With fewer "
        "samples than the 128 features the Fréchet distance is biased upwards; KID is unbiased at any size and is "
        f"the better figure for comparing classes. n/a: too few images for the metric (PRDC needs more than k = "
        f"{settings['k']}).",
        "",
        "## Memorisation",
        "",
        f"Distance from each sample to its nearest real training image, in pixel space ({mem['distance']}), against "
        f"the same distance for {mem['num_reference']} real test images. Threshold for a near copy: percentile "
        f"{mem['percentile']:g} of the test images' distances, {mem['threshold']:.4f}; exact copy: at most "
        f"{mem['exact_threshold']:.4f} (half an 8-bit grey level).",
        "",
        f"- near copies: **{mem['near_copies']} of {mem['num_synthetic']} ({mem['near_copy_share']:.1%})**, "
        f"new images get about {mem['percentile'] / 100:.0%}",
        f"- exact copies: **{mem['exact_copies']}**",
        f"- median distance to the nearest training image: samples {mem['median_synthetic_to_train']:.4f}, "
        f"real test images {mem['median_test_to_train']:.4f}",
        f"- verdict: **{'FLAGGED: the generator reproduces training images' if mem['flagged'] else 'no sign of copying'}**",
        "",
        "| sample | nearest training image | distance |",
        "|---:|---:|---:|",
        *[f"| {pair['synthetic']} | {pair['train']} | {pair['distance']:.4f} |" for pair in mem["closest"]],
    ]
    lines += ["", "## Figures", "", "![label fidelity per class](label_fidelity.png)"]
    if grids:
        lines.append("")
        lines += [f"![samples of class {row['class']}]({_figure_name(c)})" for c, row in enumerate(report["per_class"])]
    return "\n".join(lines) + "\n"


def save_fidelity_chart(report: Mapping[str, Any], path: str | Path) -> Path:
    """Bar chart: per class, label fidelity of the samples beside the evaluator's accuracy on real test images."""
    with optional_dependency("matplotlib", "the label fidelity chart of synthaug evaluate"):
        from matplotlib.figure import Figure

    rows = report["per_class"]
    names = [str(row["class"]) for row in rows]
    positions = list(range(len(rows)))
    figure = Figure(figsize=(max(4.0, 0.55 * len(rows) + 1.5), 3.0))
    axes = figure.add_subplot()
    for offset, key, label in (
        (-0.2, "label_fidelity", "samples: label fidelity"),
        (0.2, "real_accuracy", "real test: evaluator accuracy"),
    ):
        values = [row[key] if row[key] is not None else float("nan") for row in rows]
        axes.bar([p + offset for p in positions], values, width=0.4, label=label)
    axes.set_xticks(positions)
    axes.set_xticklabels(names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right", fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share classified as its label", fontsize=8)
    axes.set_title("label fidelity per class (evaluator: SmallCNN trained on the real training split)", fontsize=9)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    figure.tight_layout()
    path = Path(path)
    with atomic_file(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


def save_class_grids(
    report: Mapping[str, Any], generator: Any, out_dir: str | Path, per_class: int = GRID_PER_CLASS
) -> list[Path]:
    """One PNG per class: the first ``per_class`` evaluated samples of that class, 8 to a row."""
    settings = report["settings"]
    dataset = SyntheticDataset(generator, settings["num_samples"], seed=settings["seed"], image_type="tensor")
    n, shown = settings["num_per_class"], min(per_class, settings["num_per_class"])
    paths = []
    for c, row in enumerate(report["per_class"]):
        images = torch.stack([dataset[c * n + j][0] for j in range(shown)])
        paths.append(
            save_image_grid(
                images,
                min(8, shown),
                Path(out_dir) / _figure_name(c),
                title=f"class {row['class']}: {shown} samples (seed {settings['seed']})",
            )
        )
    return paths


def write_report(
    report: Mapping[str, Any], out_dir: str | Path, generator: Any = None, title: str | None = None
) -> dict[str, Path]:
    """Write report.md, report.json and the figures into ``out_dir`` (created); return ``{name: path}``.

    Without ``generator`` the per-class sample grids are left out (and not linked).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"label_fidelity.png": save_fidelity_chart(report, out_dir / "label_fidelity.png")}
    if generator is not None:
        files.update((path.name, path) for path in save_class_grids(report, generator, out_dir))
    write_text_atomic(out_dir / "report.json", json.dumps(json_ready(report), indent=1, allow_nan=False) + "\n")
    write_text_atomic(out_dir / "report.md", markdown_report(report, title, grids=generator is not None))
    files.update({"report.json": out_dir / "report.json", "report.md": out_dir / "report.md"})
    return files
