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
import warnings
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

import synthaug
from synthaug.data.real import LabelledImages, RealData, load_digits_data, load_fashion_mnist_data
from synthaug.filters import Filter, train_filter_classifier
from synthaug.metrics.classifier import SmallCNN
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.utils.seeding import seeded

from quality import long_tail  # noqa: E402  (bench/quality.py: the same long-tail protocol)

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- budgets
@dataclass
class Budget:
    seeds: int
    classifier_steps: int
    gan_epochs: dict[str, int]
    vae_epochs: dict[str, int]
    filter_steps: int
    protocols: list[str]
    batch_size: int = 64
    all_rows: bool = True  # False: --quick skips the filter variant of "replace" rows


def budget(quick: bool, smoke: bool) -> Budget:
    if smoke:
        return Budget(seeds=1, classifier_steps=30, gan_epochs={"low": 2, "longtail": 2}, vae_epochs={"low": 2, "longtail": 2},
                      filter_steps=20, protocols=["low20", "longtail"])
    if quick:
        return Budget(seeds=3, classifier_steps=500, gan_epochs={"low": 60, "longtail": 6}, vae_epochs={"low": 60, "longtail": 10},
                      filter_steps=500, protocols=["low100", "longtail"], all_rows=False)
    return Budget(seeds=3, classifier_steps=2000, gan_epochs={"low": 150, "longtail": 15, "full": 5},
                  vae_epochs={"low": 150, "longtail": 30, "full": 10}, filter_steps=1500,
                  protocols=["low50", "low100", "low500", "longtail", "full"])


# ----------------------------------------------------------------------------- data
def per_class_subset(data: LabelledImages, per_class: int, seed: int) -> LabelledImages:
    rng = np.random.default_rng(seed)
    keep = [rng.choice(np.flatnonzero(data.labels.numpy() == c), size=per_class, replace=False)
            for c in range(int(data.labels.max()) + 1)]
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
        weight = self.synthetic_weight if is_synthetic is not None and is_synthetic(index) else 1.0
        return image, int(label), float(weight)


def classic_augmentation(seed: int) -> A.Compose:
    """Flips, small shifts/rotations/scales and erasing: the usual Fashion-MNIST recipe."""
    return A.Compose(seed=seed, transforms=[
        A.HorizontalFlip(p=0.5),
        A.Affine(translate_percent=(-0.1, 0.1), scale=(0.9, 1.1), rotate=(-10, 10), p=0.7),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.1, 0.3), p=0.5),
    ])


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


def train_and_score(recipe: Recipe, seed: int, steps: int, batch_size: int, test: LabelledImages, k: int,
                    image_shape: tuple[int, int, int]) -> dict[str, Any]:
    start = time.perf_counter()
    dataset = recipe.build(seed)
    items = Items(dataset, classic_augmentation(seed) if recipe.augment else None, recipe.synthetic_weight)
    labels = np.asarray(synthaug.data.read_labels(dataset, progress=False))
    counts = np.bincount(labels, minlength=k)
    rng = torch.Generator().manual_seed(seed)
    if recipe.balanced_sampler:
        weights = torch.from_numpy(1.0 / counts[labels]).double()
        loader = DataLoader(items, batch_size=batch_size, generator=rng,
                            sampler=WeightedRandomSampler(weights, num_samples=steps * batch_size, generator=rng))
    else:
        loader = DataLoader(items, batch_size=batch_size, shuffle=True, drop_last=len(items) > batch_size, generator=rng)
    class_weight = torch.tensor(counts.sum() / (k * np.maximum(counts, 1)), dtype=torch.float32) \
        if recipe.class_weighted_loss else None
    with seeded(seed):
        model = SmallCNN(k, image_shape[0], image_shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    mix_rng = np.random.default_rng(seed)
    model.train()
    done, passes = 0, 0
    while done < steps:
        if recipe.fresh_each_pass and hasattr(dataset, "set_epoch"):
            dataset.set_epoch(passes)
        for images, targets, weights in loader:
            if recipe.mixup:
                lam = float(mix_rng.beta(0.2, 0.2))
                perm = torch.randperm(len(images), generator=rng)
                images = lam * images + (1 - lam) * images[perm]
                out = model(images)
                loss = lam * F.cross_entropy(out, targets, weight=class_weight, reduction="none") + \
                    (1 - lam) * F.cross_entropy(out, targets[perm], weight=class_weight, reduction="none")
            else:
                loss = F.cross_entropy(model(images), targets, weight=class_weight, reduction="none")
            loss = (loss * weights.float()).sum() / weights.float().sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done >= steps:
                break
        passes += 1
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(test.images[i : i + 1000]).argmax(1) for i in range(0, len(test), 1000)]).numpy()
    truth = test.labels.numpy()
    recalls = recall_score(truth, predicted, average=None, labels=list(range(k)), zero_division=0)
    return {"row": recipe.name, "seed": seed, "accuracy": float((predicted == truth).mean()),
            "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
            "worst_class_recall": float(recalls.min()), "per_class_recall": [round(float(r), 4) for r in recalls],
            "train_items": len(dataset), "seconds": round(time.perf_counter() - start, 1), "notes": recipe.notes}


# ----------------------------------------------------------------------------- generators
def trained_generator(family: str, protocol: str, train: LabelledImages, epochs: int, out: Path,
                      names: list[str]) -> synthaug.ConditionalGenerator:
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
    (path / "bench_training.json").write_text(json.dumps({"epochs": epochs, "seconds": round(time.perf_counter() - t0, 1),
                                                          "options": options}) + "\n")
    return synthaug.load(path)


def fidelity_per_class(gen, classifier, per_class: int = 200) -> np.ndarray:
    """Share of each class's samples that the real-trained filter classifier labels correctly."""
    labels = torch.arange(gen.num_classes).repeat_interleave(per_class)
    images = gen.sample(labels, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        predicted = classifier(images).argmax(1)
    return np.array([float((predicted[labels == c] == c).float().mean()) for c in range(gen.num_classes)])


# ----------------------------------------------------------------------------- rows
def recipes(protocol: str, train: LabelledImages, gens: dict, screen: Filter, fidelity: dict[str, np.ndarray],
            k: int, all_rows: bool = True) -> list[Recipe]:
    real = train.as_dataset()
    counts = np.bincount(train.labels.numpy(), minlength=k)
    imbalanced = counts.max() > 2 * counts.min()
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
    strategies = [("balance", {})] if imbalanced else [("ratio", {"ratio": 1.0})]
    strategies.append(("replace", {"p": 0.3}))
    for family, gen in gens.items():
        for strategy, options in strategies:
            label = f"{strategy} " + " ".join(f"{k_}={v}" for k_, v in options.items())
            for filtered in (False, True) if (all_rows or strategy != "replace") else (False,):
                name = f"{family} {label.strip()}" + (" + filter 0.9" if filtered else "") + " + classic aug"
                rows.append(Recipe(name, _mixer(real, gen, strategy, options, screen if filtered else None),
                                   augment=True, balanced_sampler=False))
    # Our recipes (see docs/benchmarks.md): fresh samples every pass at a low loss weight,
    # and for the long tail a fidelity-scaled top-up on top of class-balanced resampling.
    for family, gen in gens.items():
        if not imbalanced:
            rows.append(Recipe(f"{family} fresh ratio=1 each pass, weight 0.3 + classic aug",
                               _mixer(real, gen, "ratio", {"ratio": 1.0}, None), augment=True,
                               synthetic_weight=0.3, fresh_each_pass=True))
        else:
            budget_per_class = fidelity_scaled_budget(counts, fidelity[family])
            rows.append(Recipe(f"{family} fidelity-scaled top-up, weight 0.3 + balanced resampling + classic aug",
                               _mixer(real, gen, dict(enumerate(budget_per_class)), {}, screen), augment=True,
                               balanced_sampler=True, synthetic_weight=0.3, fresh_each_pass=True,
                               notes=f"synthetic per class {budget_per_class}"))
    return rows


def fidelity_scaled_budget(counts: np.ndarray, fidelity: np.ndarray) -> list[int]:
    """Top each class up towards the largest, scaled by fidelity^2; classes under 0.5 fidelity get none."""
    gap = counts.max() - counts
    scale = np.where(fidelity >= 0.5, fidelity ** 2, 0.0)
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
    return LabelledImages(torch.from_numpy(x).view(-1, *train.images.shape[1:]).clamp(0, 1),
                          torch.from_numpy(y).long()).as_dataset()


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
            entry[metric] = (round(float(values.mean()), 2), round(float(values.std(ddof=1)) if len(values) > 1 else 0.0, 2))
        entry["seconds"] = round(float(np.mean([run["seconds"] for run in runs])), 1)
        table.append(entry)
    return table


def markdown(protocol: str, table: list[dict]) -> str:
    lines = [f"### {protocol}", "", "| recipe | accuracy % | balanced accuracy % | worst-class recall % | s/run |",
             "|---|---|---|---|---|"]
    for e in table:
        cells = " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in (e["accuracy"], e["balanced_accuracy"], e["worst_class_recall"]))
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
    suffix = "-smoke" if args.smoke else "-quick" if args.quick else ""
    out = args.out or ROOT / "bench" / "results" / f"downstream{suffix}"
    protocols = args.protocols or plan.protocols
    start = time.perf_counter()
    real = None if args.report else (load_digits_data() if args.smoke else load_fashion_mnist_data())
    report = {"command": "python bench/downstream.py" + (" --quick" if args.quick else "") + (" --smoke" if args.smoke else ""),
              "budget": plan.__dict__, "device": f"cpu x{torch.get_num_threads()} threads, torch {torch.__version__}",
              "protocols": {}}
    for protocol in protocols:
        if not args.report:
            run_protocol(protocol, real, plan, out, args.smoke)
        table = summarise(load_rows(out, protocol))
        report["protocols"][protocol] = table
        print(markdown(protocol, table) + "\n")
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"total {report['total_seconds']} s; rows and bundles under {out}")


def run_protocol(protocol: str, real: RealData, plan: Budget, out: Path, smoke: bool) -> None:
    train = protocol_data(protocol, real, smoke)
    k = real.num_classes
    kind = "low" if protocol.startswith("low") else protocol
    names = real.class_names
    gens = {family: trained_generator(family, protocol, train, epochs[kind], out, names)
            for family, epochs in (("cgan", plan.gan_epochs), ("cvae", plan.vae_epochs))}
    classifier = train_filter_classifier(train, num_classes=k, steps=plan.filter_steps, seed=0, progress=False)
    screen = Filter(classifier, min_confidence=0.9, max_rounds=10, on_shortfall="warn")
    fidelity = {family: fidelity_per_class(gen, classifier) for family, gen in gens.items()}
    (out / "rows" / protocol).mkdir(parents=True, exist_ok=True)
    (out / f"fidelity-{protocol}.json").write_text(json.dumps(
        {"evaluator": "filter classifier (real training images only)", **{f: v.round(3).tolist() for f, v in fidelity.items()}}) + "\n")
    image_shape = tuple(train.images.shape[1:])
    for order, recipe in enumerate(recipes(protocol, train, gens, screen, fidelity, k, plan.all_rows)):
        for seed in range(plan.seeds):
            path = out / "rows" / protocol / f"{_slug(recipe.name)}-seed{seed}.json"
            if path.exists():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # filter shortfall warnings: the acceptance report is saved instead
                result = train_and_score(recipe, seed, plan.classifier_steps, plan.batch_size, real.test, k, image_shape)
            result["order"] = order
            path.write_text(json.dumps(result) + "\n")
            print(f"{protocol} | {recipe.name} | seed {seed}: acc {result['accuracy']:.4f} "
                  f"bal {result['balanced_accuracy']:.4f} ({result['seconds']} s)", flush=True)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


if __name__ == "__main__":
    main()
