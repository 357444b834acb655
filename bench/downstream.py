"""Does synthetic data make a better classifier? Every recipe side by side against real baselines.

Usage:
    .venv/bin/python bench/downstream.py --quick          # under 20 minutes on 2 CPU cores
    .venv/bin/python bench/downstream.py                  # the full run (a few hours)
    .venv/bin/python bench/downstream.py --smoke --quick  # seconds, on the embedded digits (the tests run it)
    .venv/bin/python bench/downstream.py --report         # tables from saved rows, no training

Protocols (Fashion-MNIST; Debian package dataset-fashion-mnist):
  low<N>    N real images per class (100; the full run adds 50 and 500);
  longtail  class counts 5,000 -> 50, exponential (imbalance ratio 100);
  full      all 60,000 real images + 10,000 synthetic (the lecture's scenario; full run only).
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
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F
from quality import long_tail  # noqa: E402  (bench/quality.py: the same long-tail protocol)
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

import synthaug
from synthaug.data.real import LabelledImages, RealData, load_digits_data, load_fashion_mnist_data
from synthaug.filters import Filter, train_filter_classifier
from synthaug.metrics.classifier import SmallCNN
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.transforms import VAEVariation
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


SHARED = dict(
    classifier_steps={"low": 500, "longtail": 1000, "full": 1000},
    gan_epochs={"low": 60, "longtail": 15, "full": 5},
    vae_epochs={"low": 60, "longtail": 30, "full": 10},
    filter_steps=500,
)


def budget(quick: bool, smoke: bool) -> Budget:
    if smoke:
        tiny = {"low": 2, "longtail": 2, "full": 1}
        return Budget(
            seeds=1,
            classifier_steps={"low": 30, "longtail": 30, "full": 30},
            gan_epochs=tiny,
            vae_epochs=tiny,
            filter_steps=20,
            protocols=["low20", "longtail"],
            all_rows=not quick,
            guard_seeds=1,
        )
    if quick:
        return Budget(seeds=3, protocols=["low100"], all_rows=False, **SHARED)
    return Budget(seeds=3, protocols=["low50", "low100", "low500", "longtail", "full"], **SHARED)


def kind_of(protocol: str) -> str:
    return "low" if protocol.startswith("low") else protocol


# ----------------------------------------------------------------------------- data
def per_class_subset(data: LabelledImages, per_class: int, seed: int) -> LabelledImages:
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(data.labels.numpy() == c), size=per_class, replace=False)
        for c in range(int(data.labels.max()) + 1)
    ]
    index = torch.from_numpy(np.sort(np.concatenate(keep)))
    return LabelledImages(data.images[index], data.labels[index])


def protocol_data(name: str, real: RealData, smoke: bool) -> LabelledImages:
    if name.startswith("low"):
        return per_class_subset(real.train, int(name[3:]), seed=0)
    if name == "longtail":
        return long_tail(real.train, 120 if smoke else 5000, 3 if smoke else 50, seed=0)
    return real.train


class Items(Dataset):
    """``(image tensor, label, loss weight)`` from any synthaug dataset of tensor items, optionally augmented."""

    def __init__(self, dataset: Dataset, augment: A.BasicTransform | None, synthetic_weight: float = 1.0):
        self.dataset = dataset
        self.augment = augment
        self.synthetic_weight = synthetic_weight

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        if self.augment is not None:
            hwc = image.permute(1, 2, 0).numpy()
            image = torch.from_numpy(self.augment(image=hwc)["image"]).permute(2, 0, 1).contiguous()
        is_synthetic = getattr(self.dataset, "is_synthetic", None)
        synthetic = bool(is_synthetic is not None and is_synthetic(index))
        return image, int(label), float(self.synthetic_weight if synthetic else 1.0), synthetic


class Varied(Dataset):
    """Real items passed through ``synthaug.transforms.VAEVariation`` (a cVAE's nearby image, same label)."""

    def __init__(self, dataset: Dataset, vary: Callable):
        self.dataset, self.vary = dataset, vary

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.vary(*self.dataset[index])


def classic_augmentation(seed: int) -> A.Compose:
    """Flips, small shifts/rotations/scales and erasing: the usual Fashion-MNIST recipe."""
    return A.Compose(
        seed=seed,
        transforms=[
            A.HorizontalFlip(p=0.5),
            A.Affine(translate_percent=(-0.1, 0.1), scale=(0.9, 1.1), rotate=(-10, 10), p=0.7),
            A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.1, 0.3), p=0.5),
        ],
    )


# ----------------------------------------------------------------------------- one classifier run
@dataclass
class Recipe:
    """How one row builds its training data and trains (everything else is shared)."""

    name: str
    build: Callable[[int], Dataset]  # seed -> dataset of tensor (image, label) items
    augment: bool = False
    mixup: bool = False
    balanced_sampler: bool = False
    class_weighted_loss: bool = False
    synthetic_weight: float = 1.0
    fresh_each_pass: bool = False
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def fit(
    recipe: Recipe, dataset: Dataset, seed: int, steps: int, batch_size: int, k: int, image_shape: tuple[int, int, int]
) -> SmallCNN:
    """Train the shared SmallCNN on ``dataset`` the recipe's way for exactly ``steps`` Adam steps."""
    items = Items(dataset, classic_augmentation(seed) if recipe.augment else None, recipe.synthetic_weight)
    labels = np.asarray(synthaug.data.read_labels(dataset, progress=False))
    counts = np.bincount(labels, minlength=k)
    rng = torch.Generator().manual_seed(seed)
    if recipe.balanced_sampler:
        weights = torch.from_numpy(1.0 / counts[labels]).double()
        loader = DataLoader(
            items,
            batch_size=batch_size,
            generator=rng,
            sampler=WeightedRandomSampler(weights, num_samples=steps * batch_size, generator=rng),
        )
    else:
        loader = DataLoader(
            items, batch_size=batch_size, shuffle=True, drop_last=len(items) > batch_size, generator=rng
        )
    class_weight = (
        torch.tensor(counts.sum() / (k * np.maximum(counts, 1)), dtype=torch.float32)
        if recipe.class_weighted_loss
        else None
    )
    with seeded(seed):
        model = SmallCNN(k, image_shape[0], image_shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    # Cosine decay to zero: the last iterate is a converged model, not a point on a noisy
    # trajectory, so rows differ by their data rather than by where training stopped.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    mix_rng = np.random.default_rng(seed)
    teacher = recipe.extra.get("teacher")
    model.train()
    done, passes = 0, 0
    while done < steps:
        if recipe.fresh_each_pass and hasattr(dataset, "set_epoch"):
            dataset.set_epoch(passes)
        for images, targets, weights, synthetic in loader:
            if recipe.mixup:
                lam = float(mix_rng.beta(0.2, 0.2))
                perm = torch.randperm(len(images), generator=rng)
                images = lam * images + (1 - lam) * images[perm]
                out = model(images)
                loss = lam * F.cross_entropy(out, targets, weight=class_weight, reduction="none") + (
                    1 - lam
                ) * F.cross_entropy(out, targets[perm], weight=class_weight, reduction="none")
            else:
                out = model(images)
                loss = F.cross_entropy(out, targets, weight=class_weight, reduction="none")
                if teacher is not None and bool(synthetic.any()):
                    # Soft labels: synthetic items learn the real-trained teacher's belief
                    # about what they show, not the label they were drawn for.
                    with torch.no_grad():
                        soft = teacher(images[synthetic]).softmax(1)
                    loss[synthetic] = -(soft * out[synthetic].log_softmax(1)).sum(1)
            loss = (loss * weights.float()).sum() / weights.float().sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            done += 1
            if done >= steps:
                break
        passes += 1
    return model.eval()


def predict(model: SmallCNN, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(images[i : i + 1000]).argmax(1) for i in range(0, len(images), 1000)]).numpy()


def train_and_score(
    recipe: Recipe,
    seed: int,
    steps: int,
    batch_size: int,
    test: LabelledImages,
    k: int,
    image_shape: tuple[int, int, int],
) -> dict[str, Any]:
    start = time.perf_counter()
    dataset = recipe.build(seed)
    predicted = predict(fit(recipe, dataset, seed, steps, batch_size, k, image_shape), test.images)
    truth = test.labels.numpy()
    recalls = recall_score(truth, predicted, average=None, labels=list(range(k)), zero_division=0)
    return {
        "row": recipe.name,
        "seed": seed,
        "accuracy": float((predicted == truth).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "worst_class_recall": float(recalls.min()),
        "per_class_recall": [round(float(r), 4) for r in recalls],
        "train_items": len(dataset),
        "seconds": round(time.perf_counter() - start, 1),
        "notes": recipe.notes,
    }


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
    options = {"class_balanced": True} if (family == "cgan" and protocol == "longtail") else {}
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
    if guard is not None:
        rows.append(
            Recipe(
                "guard: synthaug.tune's choice + " + ("balanced resampling + " if imbalanced else "") + "classic aug",
                guard,
                augment=True,
                balanced_sampler=imbalanced,
            )
        )
    return rows


def user_pipeline(imbalanced: bool) -> Recipe:
    """The best non-generative training a user would run anyway: the guard's baseline."""
    return Recipe("user pipeline", lambda s: None, augment=True, balanced_sampler=imbalanced)


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
    if path.exists():
        decision = json.loads(path.read_text())
    else:
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
            result = synthaug.tune(real, gens[family], train_fn, seeds=seeds, filter_steps=500, progress=False)
        decision = {
            "generator": family,
            "best": result.best,
            "reason": result.reason,
            "seconds": round(result.seconds, 1),
            "steps_per_run": steps,
            "seeds": seeds,
            "metric": "balanced accuracy" if imbalanced else "accuracy",
            "summary": result.summary(),
        }
        path.write_text(json.dumps(decision, indent=1) + "\n")
    print(f"{protocol} | guard ({decision['seconds']} s): {decision['reason']}", flush=True)
    best, gen = decision["best"], gens[decision["generator"]]

    def build(seed: int) -> Dataset:
        if best is None:
            return real
        options = {key: best[key] for key in ("ratio", "target", "p") if best.get(key) is not None}
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

    metric = "balanced_accuracy" if protocol == "longtail" else "accuracy"
    names = [e["row"] for e in table][::-1]
    means = np.array([e[metric][0] for e in table][::-1])
    stds = np.array([e[metric][1] for e in table][::-1])
    colours = [
        "tab:orange" if n.startswith(("cgan", "cvae")) else "tab:green" if n.startswith("guard") else "tab:blue"
        for n in names
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


def guard_check(protocol: str, table: list[dict]) -> str:
    """One line: the guard's row against the same training without synthetic data (its
    baseline: the user's pipeline) and against plain real only (no augmentation)."""
    rows = {e["row"]: e for e in table}
    guard = next((e for e in table if e["row"].startswith("guard")), None)
    if guard is None:
        return ""
    metric = "balanced_accuracy" if protocol == "longtail" else "accuracy"
    baseline = "class-balanced resampling + classic aug" if protocol == "longtail" else "real + classic aug"
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
        + (" --smoke" if args.smoke else ""),
        "budget": plan.__dict__,
        "device": f"cpu x{torch.get_num_threads()} threads, torch {torch.__version__}",
        "protocols": {},
    }
    for protocol in protocols:
        if not args.report:
            run_protocol(protocol, real, plan, out, args.smoke)
        table = summarise(load_rows(out, protocol))
        report["protocols"][protocol] = table
        if table:
            report.setdefault("plots", {})[protocol] = str(plot(protocol, table, out / f"{protocol}.png"))
        check = guard_check(protocol, table)
        if check:
            report.setdefault("guard_checks", {})[protocol] = check
        print(markdown(protocol, table) + "\n" + (f"\n{check}\n" if check else ""))
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    if not args.report:  # this invocation's wall time, kept per mode (a resumed run only counts what it did)
        mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        (out / f"time-{mode}.json").write_text(
            json.dumps({"command": report["command"], "protocols": protocols, "seconds": report["total_seconds"]})
            + "\n"
        )
    print(f"total {report['total_seconds']} s; rows and bundles under {out}")


def run_protocol(protocol: str, real: RealData, plan: Budget, out: Path, smoke: bool) -> None:
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
    for order, recipe in enumerate(recipes(protocol, train, gens, screen, fidelity, k, plan.all_rows, guard)):
        for seed in range(plan.seeds):
            path = out / "rows" / protocol / f"{_slug(recipe.name)}-seed{seed}.json"
            if path.exists():  # done earlier (e.g. by --quick): keep it, in this run's table order
                saved = json.loads(path.read_text())
                if saved.get("order") != order:
                    path.write_text(json.dumps({**saved, "order": order}) + "\n")
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # filter shortfall warnings: the acceptance report is saved instead
                result = train_and_score(recipe, seed, steps, plan.batch_size, real.test, k, image_shape)
            result["order"] = order
            path.write_text(json.dumps(result) + "\n")
            print(
                f"{protocol} | {recipe.name} | seed {seed}: acc {result['accuracy']:.4f} "
                f"bal {result['balanced_accuracy']:.4f} ({result['seconds']} s)",
                flush=True,
            )


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


if __name__ == "__main__":
    main()
