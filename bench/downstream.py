"""Does synthetic data make a better classifier? Every recipe side by side against real baselines.

Usage:
    .venv/bin/python bench/downstream.py --quick          # under 20 minutes on 2 CPU cores
    .venv/bin/python bench/downstream.py                  # the full run (a few hours)
    .venv/bin/python bench/downstream.py --smoke --quick  # seconds, on the embedded digits (the tests run it)
    .venv/bin/python bench/downstream.py --report         # tables from saved rows, no training
    .venv/bin/python bench/downstream.py --sweep          # generator step budgets on low100 (generator_sweep.py)
    .venv/bin/python bench/downstream.py --fair           # low100, each row at its best budget (fair_budget.py)
    .venv/bin/python bench/downstream.py --levers         # low100 at 2,000 steps: the recipe with each lever
    .venv/bin/python bench/downstream.py --protocols semi100   # the unlabelled pool (semi_supervised.py)

Protocols (Fashion-MNIST; Debian package dataset-fashion-mnist):
  low<N>    N real images per class (100; the full run adds 50 and 500);
  longtail  class counts 5,000 -> 50, exponential (imbalance ratio 100);
  full      all 60,000 real images + 10,000 synthetic (the lecture's scenario; full run only);
  semi<N>   N labelled images per class + the rest of the training split without labels.
Every row of a protocol trains the same SmallCNN for the same number of steps at the same
batch size, for each seed, and is scored on the balanced 10,000-image test set (accuracy,
balanced accuracy, worst-class recall). The generators and the filter classifier see only
the protocol's real training images. Generators are trained once per protocol and saved
as bundles under OUT/bundles, and every (row, seed) result is saved as JSON under OUT/rows,
so a rerun skips finished work and --report regenerates the tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import semi_supervised
import torch
from fair_budget import FAIR_BUDGETS, SMOKE_BUDGETS, fair_markdown, load_fair_rows, run_fair
from generator_sweep import best_budget, bundle_path, load_sweep, plot_sweep, run_sweep, sweep_markdown
from quality import long_tail  # noqa: E402  (bench/quality.py: the same long-tail protocol)
from sklearn.metrics import balanced_accuracy_score
from torch.utils.data import Dataset
from training_runs import (
    Recipe,
    Varied,
    fit,
    per_class_subset,
    predict,
    recipe_mix,
    slug,
    train_and_score,
    wait_while_paused,
)

import synthaug
from synthaug.data.real import LabelledImages, RealData, load_digits_data, load_fashion_mnist_data
from synthaug.filters import Filter, train_filter_classifier
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.transforms import VAEVariation
from synthaug.transforms.translation import HeadToTail
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- budgets
@dataclass
class Budget:
    """Per-protocol training budgets (``kind``: ``low``, ``longtail`` or ``full``).

    --quick and the full run share these budgets and the output folder: --quick runs the
    low100 protocol's core rows, the full run adds the remaining rows and protocols and
    skips every (row, seed) already saved.
    """

    seeds: int
    classifier_steps: dict[str, int]
    gan_epochs: dict[str, int]
    vae_epochs: dict[str, int]
    filter_steps: int
    protocols: list[str]
    batch_size: int = 64
    all_rows: bool = True  # False (--quick): no filtered variants, the core rows only
    guard_seeds: int = 2
    semi_generator_steps: int = 5000  # semi<N>: generators train on 60,000 images, so steps, not epochs


SHARED = dict(
    classifier_steps={"low": 500, "longtail": 1000, "full": 1000, "semi": 2000},
    gan_epochs={"low": 60, "longtail": 15, "full": 5},
    vae_epochs={"low": 60, "longtail": 30, "full": 10},
    filter_steps=500,
)


# The classifier budget of the levers table (the fixed budget where the probe saw the recipe pay).
LEVER_STEPS = 2000

# Generator step budgets of the sweep (each family resumed from one budget to the next).
SWEEP = {"cgan": [1000, 2500, 5000, 10000], "cvae": [1000, 2500, 5000, 10000, 20000]}
SWEEP_SMOKE = {"cgan": [5, 10], "cvae": [5, 10]}


def budget(quick: bool, smoke: bool) -> Budget:
    if smoke:
        tiny = {"low": 2, "longtail": 2, "full": 1}
        return Budget(
            seeds=1,
            classifier_steps={"low": 30, "longtail": 30, "full": 30, "semi": 30},
            gan_epochs=tiny,
            vae_epochs=tiny,
            filter_steps=20,
            protocols=["low20", "longtail", "semi20"],
            all_rows=not quick,
            guard_seeds=1,
            semi_generator_steps=5,
        )
    if quick:
        return Budget(seeds=3, protocols=["low100"], all_rows=False, **SHARED)
    return Budget(
        seeds=3, protocols=["low50", "low100", "low500", "longtail", "longtail10", "full", "semi100"], **SHARED
    )


def kind_of(protocol: str) -> str:
    if protocol.startswith("longtail"):
        return "longtail"
    return "low" if protocol.startswith("low") else "semi" if protocol.startswith("semi") else protocol


# The long-tail protocols: (largest, smallest) class counts; imbalance ratio 100 and 10.
LONG_TAILS = {"longtail": (5000, 50), "longtail10": (5000, 500)}


# ----------------------------------------------------------------------------- data
def protocol_data(name: str, real: RealData, smoke: bool) -> LabelledImages:
    if name.startswith("low"):
        return per_class_subset(real.train, int(name[3:]), seed=0)
    if name in LONG_TAILS:
        largest, smallest = LONG_TAILS[name]
        return long_tail(
            real.train, 120 if smoke else largest, max(3, 120 * smallest // largest) if smoke else smallest, seed=0
        )
    return real.train


# ----------------------------------------------------------------------------- generators
def trained_generator(
    family: str, protocol: str, train: LabelledImages, epochs: int, out: Path, names: list[str]
) -> synthaug.ConditionalGenerator:
    """Train once per protocol and save; later runs load the bundle."""
    path = out / "bundles" / f"{protocol}-{family}"
    if (path / "config.json").exists():
        return synthaug.load(path)
    k = int(train.labels.max()) + 1
    shape = dict(num_classes=k, channels=train.images.shape[1], image_size=train.images.shape[2], class_names=names)
    with seeded(0):
        model = synthaug.ConditionalGAN(**shape) if family == "cgan" else synthaug.ConditionalVAE(**shape)
    options = {"class_balanced": True} if (family == "cgan" and kind_of(protocol) == "longtail") else {}
    trainer = CGANTrainer if family == "cgan" else CVAETrainer
    t0 = time.perf_counter()
    trainer(model, path, epochs=epochs, seed=0, progress=False, sample_every=0, **options).fit(train)
    (path / "bench_training.json").write_text(
        json.dumps({"epochs": epochs, "seconds": round(time.perf_counter() - t0, 1), "options": options}) + "\n"
    )
    return synthaug.load(path)


def fidelity_per_class(gen, classifier, per_class: int = 200) -> np.ndarray:
    """Share of each class's samples that the real-trained filter classifier labels correctly."""
    labels = torch.arange(gen.num_classes).repeat_interleave(per_class)
    images = gen.sample(labels, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        predicted = classifier(images).argmax(1)
    return np.array([float((predicted[labels == c] == c).float().mean()) for c in range(gen.num_classes)])


# ----------------------------------------------------------------------------- rows
def recipes(
    protocol: str,
    train: LabelledImages,
    gens: dict,
    screen: Filter,
    fidelity: dict[str, np.ndarray],
    k: int,
    all_rows: bool = True,
    guard: Callable[[int], Dataset] | None = None,
) -> list[Recipe]:
    """The rows of one protocol, in table order. ``all_rows=False`` keeps the core rows (--quick)."""
    real = train.as_dataset()
    counts = np.bincount(train.labels.numpy(), minlength=k)
    imbalanced = counts.max() > 2 * counts.min()
    full = kind_of(protocol) == "full"
    rows = [
        Recipe("real only", lambda s: real),
        Recipe("real + classic aug", lambda s: real, augment=True),
        Recipe("real + mixup + classic aug", lambda s: real, augment=True, mixup=True),
    ]
    if imbalanced:
        rows += [
            Recipe("class-balanced resampling + classic aug", lambda s: real, augment=True, balanced_sampler=True),
            Recipe("class-weighted loss + classic aug", lambda s: real, augment=True, class_weighted_loss=True),
        ]
        if importlib.util.find_spec("imblearn") is not None:  # a bench-only extra: pip install .[bench]
            rows.append(Recipe("SMOTE (pixels) + classic aug", lambda s: smote(train, s), augment=True))
    if full:  # the lecture's scenario: all real images + 10,000 synthetic
        strategies = [("ratio", {"ratio": 10_000 / len(train)}, "+10k")]
    elif imbalanced:
        strategies = [("balance", {}, "balance"), ("replace", {"p": 0.3}, "replace p=0.3")]
    else:
        strategies = [("ratio", {"ratio": 1.0}, "ratio=1"), ("replace", {"p": 0.3}, "replace p=0.3")]
    for family, gen in gens.items():
        for strategy, options, label in strategies:
            filter_variants = (False, True) if all_rows else (False,)
            for filtered in filter_variants:
                name = f"{family} {label}" + (" + filter 0.9" if filtered else "") + " + classic aug"
                rows.append(
                    Recipe(name, _mixer(real, gen, strategy, options, screen if filtered else None), augment=True)
                )
    # Our recipes (see docs/benchmarks.md): fresh samples every pass at a low loss weight,
    # and for the long tail a fidelity-scaled top-up on top of class-balanced resampling.
    for family, gen in gens.items():
        if not imbalanced:
            strategy, options, label = strategies[0]
            rows.append(
                Recipe(
                    f"{family} fresh {label} each pass, weight 0.3 + classic aug",
                    _mixer(real, gen, strategy, options, None),
                    augment=True,
                    synthetic_weight=0.3,
                    fresh_each_pass=True,
                )
            )
            if all_rows and family == "cvae":
                rows.append(
                    Recipe(
                        "cvae variation of real images (p=0.5, strength 0.7) + classic aug",
                        lambda s, g=gen: Varied(real, VAEVariation(g, strength=0.7, p=0.5, seed=s)),
                        augment=True,
                    )
                )
            if all_rows:
                rows.append(
                    Recipe(
                        f"{family} fresh {label} each pass, soft labels, weight 0.3 + classic aug",
                        _mixer(real, gen, strategy, options, None),
                        augment=True,
                        synthetic_weight=0.3,
                        fresh_each_pass=True,
                        extra={"teacher": screen.classifier},
                        notes="synthetic items' targets: the filter classifier's softmax",
                    )
                )
        else:
            budget_per_class = fidelity_scaled_budget(counts, fidelity[family])
            rows.append(
                Recipe(
                    f"{family} fidelity-scaled top-up, weight 0.3 + balanced resampling + classic aug",
                    # No filter: the fidelity scaling already drops the classes the
                    # generator gets wrong, and fresh filtered draws every pass would
                    # cost minutes per run.
                    _mixer(real, gen, dict(enumerate(budget_per_class)), {}, None),
                    augment=True,
                    balanced_sampler=True,
                    synthetic_weight=0.3,
                    fresh_each_pass=True,
                    notes=f"synthetic per class {budget_per_class}",
                )
            )
    if imbalanced:
        rows += long_tail_rows(train, gens, screen, counts)
    if guard is not None:
        rows.append(
            Recipe(
                "guard: synthaug.tune's choice + " + ("balanced resampling + " if imbalanced else "") + "classic aug",
                guard,
                augment=True,
                balanced_sampler=imbalanced,
                fresh_each_pass=True,  # a no-op unless the guard chose synthetic items
            )
        )
    return rows


# Long-tail levers (issue 16): the share of each class's draws that is synthetic, the
# share of steps after which synthetic items (and class-balanced batches) switch on, and
# the most translations made per class (a pool the sampler draws from).
SYNTHETIC_SHARE = 0.3
LATE = 0.8
TRANSLATION_POOL = 1000


def long_tail_rows(train: LabelledImages, gens: dict, screen: Filter, counts: np.ndarray) -> list[Recipe]:
    """The long-tail baselines of the literature and synthaug's long-tail recipes (docs/benchmarks.md).

    Baselines: the logit-adjusted loss (tau 1, which is balanced softmax), post-hoc logit
    adjustment, deferred re-weighting, and the logit-adjusted loss followed by deferred
    class-balanced resampling (the twin of the late recipes without synthetic items).
    Recipes: the proportion sampler over a ``balance`` top-up; the same switched on late
    after the logit-adjusted loss; head -> tail translation (M2m) in pixel and cVAE-latent
    space, switched on late, from the frozen filter classifier.
    """
    real = train.as_dataset()
    share = SYNTHETIC_SHARE
    # The logit-adjusted loss while batches follow the real class frequencies, then class-
    # balanced batches (with synthetic items, for the recipes) for the last 20% of steps.
    late = dict(augment=True, loss="logit_adjusted", synthetic_from=LATE, plain_early=True)
    rows = [
        Recipe(
            "logit-adjusted loss (tau 1 = balanced softmax) + classic aug",
            lambda s: real,
            augment=True,
            loss="logit_adjusted",
        ),
        Recipe("post-hoc logit adjustment (tau 1) + classic aug", lambda s: real, augment=True, posthoc_adjust=True),
        Recipe("deferred re-weighting (DRW, from 80%) + classic aug", lambda s: real, augment=True, loss="drw"),
        Recipe(
            "logit-adjusted loss, then class-balanced resampling from 80% + classic aug",
            lambda s: real,
            balanced_sampler=True,
            **late,
        ),
    ]
    for family, gen in gens.items():
        top_up = _mixer(real, gen, "balance", {"synthetic_share": share}, None)
        rows += [
            Recipe(
                f"{family} balance, synthetic share {share:g} per class + classic aug",
                top_up,
                augment=True,
                synthetic_share=share,
            ),
            Recipe(
                f"logit-adjusted loss, then {family} balance at share {share:g} from 80% + classic aug",
                top_up,
                synthetic_share=share,
                **late,
            ),
        ]
    pool = {c: int(min(counts.max() - n, TRANSLATION_POOL)) for c, n in enumerate(counts) if n < counts.max()}
    translators = {
        "pixel": HeadToTail(screen.classifier, train, space="pixel"),
        "cvae latent": HeadToTail(screen.classifier, train, space="latent", cvae=gens["cvae"]),
    }
    for space, translator in translators.items():
        rows.append(
            Recipe(
                f"logit-adjusted loss, then M2m {space} translation at share {share:g} from 80% + classic aug",
                _mixer(real, translator, pool, {"synthetic_share": share}, None),
                synthetic_share=share,
                notes=f"translations per class {pool}; acceptance in translation-<protocol>.json",
                extra={"translator": translator},
                **late,
            )
        )
    return rows


def user_pipeline(imbalanced: bool) -> Recipe:
    """The best non-generative training a user would run anyway: the guard's baseline."""
    # fresh_each_pass: a user's loop calls set_epoch (the recipe setting draws fresh samples each pass).
    return Recipe("user pipeline", lambda s: None, augment=True, balanced_sampler=imbalanced, fresh_each_pass=True)


# The guard's candidates on a long tail: the default grid's additive settings that fit a
# long tail, and the proportion-sampler recipe with and without the filter.
LONG_TAIL_GUARD_GRID: list[dict[str, Any]] = [
    {"strategy": "ratio", "ratio": 0.5},
    {"strategy": "balance"},
    {"strategy": "balance", "synthetic_share": 0.3},
    {"strategy": "balance", "synthetic_share": 0.3, "filter": 0.9},
]


def guard_choice(
    protocol: str,
    train: LabelledImages,
    gens: dict,
    fidelity: dict[str, np.ndarray],
    screen: Filter,
    k: int,
    steps: int,
    batch_size: int,
    seeds: int,
    out: Path,
) -> Callable[[int], Dataset]:
    """Run ``synthaug.tune`` once per protocol (saved to OUT/guard-<protocol>.json) and
    return a builder of the chosen training set for each benchmark seed.

    The guard sees only the protocol's training images: it holds out 20% of them per
    class, trains the user's own pipeline (classic aug; plus class-balanced resampling on
    imbalanced data) for half the rows' steps on real only and on each default-grid
    setting, and keeps real only unless a setting wins beyond the seed noise. It is given
    the generator with the higher mean label fidelity under the filter classifier (also
    trained on the training images only).
    """
    real = train.as_dataset()
    counts = np.bincount(train.labels.numpy(), minlength=k)
    imbalanced = bool(counts.max() > 2 * counts.min())
    path = out / f"guard-{protocol}.json"
    # On a long tail the guard also gets the proportion-sampler recipe as a candidate (issue 16).
    grid = LONG_TAIL_GUARD_GRID if imbalanced else None
    decision = json.loads(path.read_text()) if path.exists() else None
    if decision is not None and decision.get("grid") != grid:
        decision = None  # decided over another grid: decide again
    if decision is None:
        family = max(gens, key=lambda f: float(fidelity[f].mean()))
        pipeline = user_pipeline(imbalanced)
        image_shape = tuple(train.images.shape[1:])

        def train_fn(train_part, val_part) -> float:
            model = fit(pipeline, train_part, train_part.seed, steps, batch_size, k, image_shape)
            images = torch.stack([val_part[i][0] for i in range(len(val_part))])
            truth = np.array([int(val_part[i][1]) for i in range(len(val_part))])
            predicted = predict(model, images)
            return float(balanced_accuracy_score(truth, predicted) if imbalanced else (predicted == truth).mean())

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = synthaug.tune(
                real, gens[family], train_fn, grid=grid, seeds=seeds, filter_steps=500, progress=False
            )
        decision = {
            "generator": family,
            "best": result.best,
            "reason": result.reason,
            "seconds": round(result.seconds, 1),
            "steps_per_run": steps,
            "seeds": seeds,
            "metric": "balanced accuracy" if imbalanced else "accuracy",
            "summary": result.summary(),
            "grid": grid,
        }
        path.write_text(json.dumps(decision, indent=1) + "\n")
    print(f"{protocol} | guard ({decision['seconds']} s): {decision['reason']}", flush=True)
    best, gen = decision["best"], gens[decision["generator"]]

    def build(seed: int) -> Dataset:
        if best is None:
            return real
        options = {
            key: best[key]
            for key in ("ratio", "target", "p", "synthetic_weight", "synthetic_share")
            if best.get(key) is not None
        }
        if best.get("soft_labels"):
            options["soft_labels"] = screen.classifier
        chosen = (
            None
            if best.get("filter") is None
            else Filter(screen.classifier, min_confidence=best["filter"], max_rounds=10, on_shortfall="warn")
        )
        return synthaug.mix(real, gen, best["strategy"], seed=seed, filter=chosen, progress=False, **options)

    return build


def fidelity_scaled_budget(counts: np.ndarray, fidelity: np.ndarray) -> list[int]:
    """Top each class up towards the largest, scaled by fidelity^2; classes under 0.5 fidelity get none."""
    gap = counts.max() - counts
    scale = np.where(fidelity >= 0.5, fidelity**2, 0.0)
    return [int(g * s) for g, s in zip(gap, scale)]


def _mixer(real, gen, strategy, options, screen):
    def build(seed: int):
        return synthaug.mix(real, gen, strategy, seed=seed, filter=screen, progress=False, **options)

    return build


def smote(train: LabelledImages, seed: int) -> Dataset:
    from imblearn.over_sampling import SMOTE

    flat = train.images.flatten(1).numpy()
    counts = np.bincount(train.labels.numpy())
    x, y = SMOTE(random_state=seed, k_neighbors=min(5, int(counts.min()) - 1)).fit_resample(flat, train.labels.numpy())
    return LabelledImages(
        torch.from_numpy(x).view(-1, *train.images.shape[1:]).clamp(0, 1), torch.from_numpy(y).long()
    ).as_dataset()


# ----------------------------------------------------------------------------- report
def summarise(results: list[dict]) -> list[dict]:
    rows: dict[str, list[dict]] = {}
    for r in sorted(results, key=lambda r: (r.get("order", 0), r["seed"])):
        rows.setdefault(r["row"], []).append(r)
    table = []
    for name, runs in rows.items():
        entry = {"row": name, "seeds": len(runs), "notes": runs[0].get("notes", "")}
        for metric in ("accuracy", "balanced_accuracy", "worst_class_recall"):
            values = np.array([run[metric] for run in runs]) * 100
            entry[metric] = (
                round(float(values.mean()), 2),
                round(float(values.std(ddof=1)) if len(values) > 1 else 0.0, 2),
            )
        entry["seconds"] = round(float(np.mean([run["seconds"] for run in runs])), 1)
        table.append(entry)
    return table


def plot(protocol: str, table: list[dict], path: Path) -> Path:
    """Horizontal bars of each row's mean (± std over seeds) against the user's baseline row."""
    from matplotlib.figure import Figure

    from synthaug.viz import _save_figure

    metric = "balanced_accuracy" if kind_of(protocol) == "longtail" else "accuracy"
    names = [e["row"] for e in table][::-1]
    means = np.array([e[metric][0] for e in table][::-1])
    stds = np.array([e[metric][1] for e in table][::-1])
    colours = [
        "tab:orange" if is_synthetic_row(n) else "tab:green" if n.startswith("guard") else "tab:blue" for n in names
    ]
    figure = Figure(figsize=(9, 0.32 * len(names) + 1.2))
    ax = figure.subplots()
    ax.barh(range(len(names)), means, xerr=stds, color=colours, capsize=2)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    low = max(0.0, float(means.min() - stds.max() - 3))
    ax.set_xlim(low, float(means.max() + stds.max() + 1.5))
    ax.set_xlabel(f"test {metric.replace('_', ' ')} % (mean ± std over seeds)")
    ax.set_title(f"{protocol}: blue real baselines, orange synthetic, green the guard", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return _save_figure(figure, path)


def is_synthetic_row(name: str) -> bool:
    """Whether a row trains on synthaug's synthetic items (a generator's or translations)."""
    return any(word in name for word in ("cgan", "cvae", "M2m"))


def target_check(protocol: str, table: list[dict], margin: float) -> dict[str, Any] | None:
    """The best synthaug recipe against the best non-generative row (the guard is neither).

    ``reached``: the recipe leads by at least ``margin`` points, the gap exceeds twice the
    larger seed std, and its worst-class recall is no lower than that row's.
    """
    metric = "balanced_accuracy" if kind_of(protocol) == "longtail" else "accuracy"
    synthetic = [e for e in table if is_synthetic_row(e["row"])]
    real = [e for e in table if not is_synthetic_row(e["row"]) and not e["row"].startswith("guard")]
    if not synthetic or not real:
        return None
    best, base = (max(rows, key=lambda e: e[metric][0]) for rows in (synthetic, real))
    gap = best[metric][0] - base[metric][0]
    noise = 2 * max(best[metric][1], base[metric][1])
    worst_ok = best["worst_class_recall"][0] >= base["worst_class_recall"][0]
    return {
        "metric": metric,
        "best_recipe": best["row"],
        "best_recipe_score": best[metric],
        "best_non_generative": base["row"],
        "best_non_generative_score": base[metric],
        "gap": round(gap, 2),
        "twice_the_larger_std": round(noise, 2),
        "worst_class_recall": [best["worst_class_recall"], base["worst_class_recall"]],
        "target": margin,
        "reached": bool(gap >= margin and gap > noise and worst_ok),
    }


# Issue 16's targets: best recipe >= best non-generative row + this many points.
LONG_TAIL_TARGETS = {"longtail": 2.0, "longtail10": 1.0}


def guard_check(protocol: str, table: list[dict]) -> str:
    """One line: the guard's row against the same training without synthetic data (its
    baseline: the user's pipeline) and against plain real only (no augmentation)."""
    rows = {e["row"]: e for e in table}
    guard = next((e for e in table if e["row"].startswith("guard")), None)
    if guard is None:
        return ""
    metric = "balanced_accuracy" if kind_of(protocol) == "longtail" else "accuracy"
    baseline = "class-balanced resampling + classic aug" if kind_of(protocol) == "longtail" else "real + classic aug"
    parts = []
    for name, role in ((baseline, "the same pipeline without synthetic data"), ("real only", "no augmentation")):
        if name in rows:
            (m, s), (gm, gs) = rows[name][metric], guard[metric]
            noise = max(s, gs)
            verdict = "worse beyond the seed noise" if gm < m - noise else "not worse beyond the seed noise"
            parts.append(f"{gm - m:+.2f} points vs {name} ({role}; seed std {noise:.2f}: {verdict})")
    return f"Guard check ({metric.replace('_', ' ')}): " + "; ".join(parts)


def markdown(protocol: str, table: list[dict]) -> str:
    lines = [
        f"### {protocol}",
        "",
        "| recipe | accuracy % | balanced accuracy % | worst-class recall % | s/run |",
        "|---|---|---|---|---|",
    ]
    for e in table:
        cells = " | ".join(
            f"{m:.2f} ± {s:.2f}" for m, s in (e["accuracy"], e["balanced_accuracy"], e["worst_class_recall"])
        )
        lines.append(f"| {e['row']} | {cells} | {e['seconds']} |")
    return "\n".join(lines)


def load_rows(out: Path, protocol: str) -> list[dict]:
    folder = out / "rows" / protocol
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer protocols and shorter training (< 20 min)")
    parser.add_argument("--smoke", action="store_true", help="tiny settings on the embedded digits (seconds)")
    parser.add_argument("--report", action="store_true", help="print tables from saved rows; train nothing")
    parser.add_argument("--protocols", nargs="+", default=None, help="subset of the budget's protocols")
    parser.add_argument(
        "--sweep", action="store_true", help="the generator step-budget sweep on low100 (bench/generator_sweep.py)"
    )
    parser.add_argument(
        "--fair",
        action="store_true",
        help="low100 with each row at its best budget chosen on validation (bench/fair_budget.py); needs --sweep first",
    )
    parser.add_argument(
        "--levers",
        action="store_true",
        help=f"low100 at {LEVER_STEPS} classifier steps: the recipe with each lever of docs/benchmarks.md; needs --sweep",
    )
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/downstream[-quick|-smoke]")
    args = parser.parse_args()
    plan = budget(args.quick, args.smoke)
    # --quick and the full run share one folder (same budgets): the full run resumes --quick's rows.
    out = args.out or ROOT / "bench" / "results" / ("downstream-smoke" if args.smoke else "downstream")
    protocols = args.protocols or plan.protocols
    start = time.perf_counter()
    real = None if args.report else (load_digits_data() if args.smoke else load_fashion_mnist_data())
    report = {
        "command": "python bench/downstream.py"
        + (" --quick" if args.quick else "")
        + (" --smoke" if args.smoke else "")
        + "".join(f" --{flag}" for flag in ("sweep", "fair", "levers") if getattr(args, flag))
        + (" --protocols " + " ".join(args.protocols) if args.protocols else ""),
        "budget": plan.__dict__,
        "device": f"cpu x{torch.get_num_threads()} threads, torch {torch.__version__}",
        "protocols": {},
    }
    sweep_protocol = "low20" if args.smoke else "low100"
    if args.sweep and not args.report:
        run_sweep(
            sweep_protocol,
            protocol_data(sweep_protocol, real, args.smoke),
            real,
            SWEEP_SMOKE if args.smoke else SWEEP,
            out,
            classifier_steps=30 if args.smoke else 1000,
            num_per_class=20 if args.smoke else 200,
        )
    sweep = load_sweep(out, sweep_protocol)
    if sweep:
        report["sweep"] = sweep
        report.setdefault("plots", {})["sweep"] = str(plot_sweep(sweep_protocol, sweep, out / "sweep.png"))
        print(sweep_markdown(sweep_protocol, sweep) + "\n")
    if args.fair and not args.report:
        run_fair(
            sweep_protocol,
            fair_rows(sweep_protocol, sweep, out, real, plan.filter_steps),
            protocol_data(sweep_protocol, real, args.smoke),
            real.test,
            plan.seeds,
            SMOKE_BUDGETS if args.smoke else FAIR_BUDGETS,
            plan.batch_size,
            out,
        )
    fair_runs = load_fair_rows(out, sweep_protocol)
    if fair_runs:
        fair_table = summarise(fair_runs)
        report["fair"] = {sweep_protocol: fair_table}
        report.setdefault("plots", {})[f"fair-{sweep_protocol}"] = str(
            plot(f"{sweep_protocol} (fair budgets)", fair_table, out / f"fair-{sweep_protocol}.png")
        )
        print(fair_markdown(sweep_protocol, fair_table, fair_runs) + "\n")
    lever_protocol = f"{sweep_protocol}-levers"
    if args.levers and not args.report:
        lever_train = protocol_data(sweep_protocol, real, args.smoke)
        run_rows(
            lever_protocol,
            lever_rows(sweep_protocol, sweep, out, real, plan.filter_steps)(lever_train),
            plan.seeds,
            plan.classifier_steps["low"] if args.smoke else LEVER_STEPS,
            plan.batch_size,
            real.test,
            real.num_classes,
            tuple(lever_train.images.shape[1:]),
            out,
        )
    if args.sweep or args.fair or args.levers:
        protocols = []  # those runs train only their own tables
    if (out / "rows" / lever_protocol).exists():
        protocols = [*protocols, lever_protocol]  # its rows are trained by --levers, reported always
    for protocol in protocols:
        if not args.report and protocol != lever_protocol:
            run_protocol(protocol, real, plan, out, args.smoke)
        table = summarise(load_rows(out, protocol))
        report["protocols"][protocol] = table
        if table:
            report.setdefault("plots", {})[protocol] = str(plot(protocol, table, out / f"{protocol}.png"))
        check = guard_check(protocol, table)
        if check:
            report.setdefault("guard_checks", {})[protocol] = check
        print(markdown(protocol, table) + "\n" + (f"\n{check}\n" if check else ""))
        if protocol in LONG_TAIL_TARGETS:
            targets = target_check(protocol, table, LONG_TAIL_TARGETS[protocol])
            report.setdefault("targets", {})[protocol] = targets
            print(f"Target check: {json.dumps(targets)}\n")
    if args.out is None and not args.smoke:  # the docs show the default run's plots: refresh them
        for name, path in report.get("plots", {}).items():
            shutil.copyfile(path, ROOT / "docs" / "img" / f"downstream-{name.replace(' ', '-')}.png")
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    if not args.report:  # this invocation's wall time, kept per mode (a resumed run only counts what it did)
        mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        mode += "".join(f"-{flag}" for flag in ("sweep", "fair", "levers") if getattr(args, flag))
        mode += "".join(f"-{name}" for name in args.protocols or [])
        (out / f"time-{mode}.json").write_text(
            json.dumps({"command": report["command"], "protocols": protocols, "seconds": report["total_seconds"]})
            + "\n"
        )
    print(f"total {report['total_seconds']} s; rows and bundles under {out}")


def run_protocol(protocol: str, real: RealData, plan: Budget, out: Path, smoke: bool) -> None:
    if kind_of(protocol) == "semi":
        run_semi(protocol, real, plan, out)
        return
    train = protocol_data(protocol, real, smoke)
    k = real.num_classes
    kind = kind_of(protocol)
    steps = plan.classifier_steps[kind]
    names = real.class_names
    gens = {
        family: trained_generator(family, protocol, train, epochs[kind], out, names)
        for family, epochs in (("cgan", plan.gan_epochs), ("cvae", plan.vae_epochs))
    }
    classifier = train_filter_classifier(train, num_classes=k, steps=plan.filter_steps, seed=0, progress=False)
    screen = Filter(classifier, min_confidence=0.9, max_rounds=10, on_shortfall="warn")
    fidelity = {family: fidelity_per_class(gen, classifier) for family, gen in gens.items()}
    (out / "rows" / protocol).mkdir(parents=True, exist_ok=True)
    (out / f"fidelity-{protocol}.json").write_text(
        json.dumps(
            {
                "evaluator": "filter classifier (real training images only)",
                **{f: v.round(3).tolist() for f, v in fidelity.items()},
            }
        )
        + "\n"
    )
    image_shape = tuple(train.images.shape[1:])
    guard = guard_choice(
        protocol, train, gens, fidelity, screen, k, max(steps // 2, 1), plan.batch_size, plan.guard_seeds, out
    )
    # longtail10 (added later) runs the core rows: no filtered variants, to fit the budget.
    rows = recipes(protocol, train, gens, screen, fidelity, k, plan.all_rows and protocol != "longtail10", guard)
    run_rows(protocol, rows, plan.seeds, steps, plan.batch_size, real.test, k, image_shape, out)
    save_translation_reports(protocol, rows, out)


def save_translation_reports(protocol: str, rows: list[Recipe], out: Path) -> None:
    """Per translator: what was asked for, translated and replaced by real images (this run's counts)."""
    reports = {}
    for recipe in rows:
        translator = recipe.extra.get("translator")
        if translator is not None and translator.requested.sum():
            reports[translator.space] = {
                "requested": translator.requested.tolist(),
                "translated": translator.translated.tolist(),
                "fell_back": translator.fell_back.tolist(),
                "settings": repr(translator),
            }
    if reports:
        path = out / f"translation-{protocol}.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**saved, **reports}, indent=1) + "\n")


def run_rows(
    protocol: str,
    rows: list[Recipe],
    seeds: int,
    steps: int,
    batch_size: int,
    test: LabelledImages,
    k: int,
    image_shape: tuple[int, ...],
    out: Path,
) -> None:
    """Train and score every (row, seed) not yet saved under OUT/rows/<protocol>."""
    (out / "rows" / protocol).mkdir(parents=True, exist_ok=True)
    for order, recipe in enumerate(rows):
        for seed in range(seeds):
            wait_while_paused()
            path = out / "rows" / protocol / f"{slug(recipe.name)}-seed{seed}.json"
            if path.exists():  # done earlier (e.g. by --quick): keep it, in this run's table order
                saved = json.loads(path.read_text())
                if saved.get("order") != order:
                    path.write_text(json.dumps({**saved, "order": order}) + "\n")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # filter shortfall warnings: the acceptance report is saved instead
                result = train_and_score(recipe, seed, steps, batch_size, test, k, image_shape)
            result["order"] = order
            result["steps"] = steps
            path.write_text(json.dumps(result) + "\n")
            print(
                f"{protocol} | {recipe.name} | seed {seed}: acc {result['accuracy']:.4f} "
                f"bal {result['balanced_accuracy']:.4f} ({result['seconds']} s)",
                flush=True,
            )


def fair_rows(
    protocol: str, sweep: list[dict], out: Path, real: RealData, filter_steps: int
) -> Callable[[LabelledImages], list[Recipe]]:
    """The fair-budget rows: the real baselines and synthaug's recipe with each family's
    generator at the sweep's budget of best label fidelity."""
    chosen = {family: best_budget(sweep, family) for family in ("cgan", "cvae")}
    missing = [family for family, steps in chosen.items() if steps is None]
    if missing:
        raise SystemExit(f"--fair needs the generator sweep of {protocol} first (none for {missing}): run --sweep")
    gens: dict[str, Any] = {}

    def generator(family: str) -> Any:
        # Loaded on first use, so a resumed run whose rows of one family are all saved does
        # not need that family's bundle (bundles are not committed; a fresh machine retrains
        # only what it still uses, through --sweep).
        if family not in gens:
            gens[family] = synthaug.load(bundle_path(out, protocol, family, chosen[family]))
        return gens[family]

    def rows(images: LabelledImages) -> list[Recipe]:
        real_items = images.as_dataset()
        teacher = train_filter_classifier(
            images, num_classes=real.num_classes, steps=filter_steps, seed=0, progress=False
        )

        def recipe(family: str) -> Recipe:
            return Recipe(
                f"{family} ({chosen[family]:,} steps) recipe: ratio=1, weight 0.3, soft labels, fresh each pass"
                " + classic aug",
                lambda seed: recipe_mix(lambda s: real_items, generator(family), 1.0, teacher, 0.3)(seed),
                augment=True,
                fresh_each_pass=True,
            )

        # The head-to-head pair first, so a partial (resumed) run compares them soonest.
        return [
            Recipe("real + classic aug", lambda s: real_items, augment=True),
            recipe("cgan"),
            Recipe("real only", lambda s: real_items),
            Recipe("real + mixup + classic aug", lambda s: real_items, augment=True, mixup=True),
            recipe("cvae"),
        ]

    return rows


def lever_rows(
    protocol: str, sweep: list[dict], out: Path, real: RealData, filter_steps: int
) -> Callable[[LabelledImages], list[Recipe]]:
    """The recipe (cGAN at the sweep's budget) with each further lever, beside its baseline."""
    steps = best_budget(sweep, "cgan")
    if steps is None:
        raise SystemExit(f"--levers needs the generator sweep of {protocol} first: run --sweep")
    gen = synthaug.load(bundle_path(out, protocol, "cgan", steps))

    def rows(images: LabelledImages) -> list[Recipe]:
        real_items = images.as_dataset()
        teacher = train_filter_classifier(
            images, num_classes=real.num_classes, steps=filter_steps, seed=0, progress=False
        )
        recipe = recipe_mix(lambda s: real_items, gen, 1.0, teacher, 0.3)
        name = f"cgan ({steps:,} steps) recipe"
        meetable = Filter(teacher, min_confidence=0.5, max_rounds=10, on_shortfall="warn")

        def filtered(seed: int) -> Dataset:
            return synthaug.mix(
                real_items,
                gen,
                "ratio",
                seed=seed,
                ratio=1.0,
                synthetic_weight=0.3,
                soft_labels=teacher,
                filter=meetable,
                progress=False,
            )

        return [
            Recipe("real + classic aug", lambda s: real_items, augment=True),
            Recipe(f"{name} + classic aug", recipe, augment=True, fresh_each_pass=True),
            Recipe(
                f"{name}, synthetic from half-way + classic aug",
                recipe,
                augment=True,
                fresh_each_pass=True,
                synthetic_from=0.5,
                notes="real items only for the first half of the steps",
            ),
            Recipe(
                f"{name}, last layer fine-tuned on real (last 10% of steps) + classic aug",
                recipe,
                augment=True,
                fresh_each_pass=True,
                finetune_last_layer=0.1,
            ),
            Recipe(
                f"{name}, filter 0.5 (meetable) + classic aug",
                filtered,
                augment=True,
                fresh_each_pass=True,
                notes="teacher confidence >= 0.5 for the drawn class",
            ),
        ]

    return rows


def run_semi(protocol: str, real: RealData, plan: Budget, out: Path) -> None:
    """semi<N>: N labelled images per class and the rest of the training split as an unlabelled pool."""
    labelled, pool, pool_truth = semi_supervised.split(real, int(protocol[4:]))
    k, names = real.num_classes, real.class_names
    steps = plan.classifier_steps["semi"]
    gens = {
        family: semi_supervised.semi_generator(
            family, protocol, labelled, pool, plan.semi_generator_steps, plan.filter_steps * 2, out, names
        )
        for family in ("cgan", "cvae")
    }
    teacher = Filter(
        train_filter_classifier(labelled, num_classes=k, steps=plan.filter_steps, seed=0, progress=False),
        min_confidence=0.0,
    )
    fidelity = {family: fidelity_per_class(gen, teacher.classifier) for family, gen in gens.items()}
    (out / f"fidelity-{protocol}.json").write_text(
        json.dumps(
            {
                "evaluator": "filter classifier (labelled images only)",
                **{f: v.round(3).tolist() for f, v in fidelity.items()},
            }
        )
        + "\n"
    )
    best = max(fidelity, key=lambda f: float(fidelity[f].mean()))

    def pseudo(seed: int) -> LabelledImages:
        return semi_supervised.pseudo_labelled(labelled, pool, pool_truth, seed, steps, plan.batch_size, out, protocol)

    rows = semi_supervised.recipes(labelled, pseudo, gens, teacher, best, top_up_ratio=0.25)
    run_rows(protocol, rows, plan.seeds, steps, plan.batch_size, real.test, k, tuple(labelled.images.shape[1:]), out)


if __name__ == "__main__":
    main()
