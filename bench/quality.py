"""Quality of synthaug's generators on Fashion-MNIST, measured in a real-data classifier's feature space.

Usage:
    .venv/bin/python bench/quality.py                    # full 60,000-image training set
    .venv/bin/python bench/quality.py --long-tail        # class counts 5,000 -> 50 (exponential)

Needs Fashion-MNIST (Debian package dataset-fashion-mnist, found automatically).
Writes OUT/quality[_longtail].json and prints markdown tables.

Every distance is in the penultimate feature space of a SmallCNN trained on the full real
training split (Inception weights are not available offline and Inception FID on 28x28
grayscale is not meaningful): the figures are not comparable with published FIDs.
The evaluator sees the full training split; the generators see only their training set.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import synthaug
from synthaug.data.real import LabelledImages, load_fashion_mnist_data
from synthaug.metrics.classifier import accuracy, train_classifier
from synthaug.metrics.fidelity import frechet_distance, intra_class_diversity, label_fidelity, predict
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.utils.seeding import seeded
from synthaug.viz import save_generator_grid

ROOT = Path(__file__).resolve().parents[1]


def long_tail(data: LabelledImages, largest: int, smallest: int, seed: int) -> LabelledImages:
    """Keep ``largest * (smallest/largest)**(c/(K-1))`` images of class c (exponential decay)."""
    k = int(data.labels.max()) + 1
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(k):
        count = round(largest * (smallest / largest) ** (c / (k - 1)))
        members = np.flatnonzero(data.labels.numpy() == c)
        keep.append(rng.choice(members, size=count, replace=False))
    index = torch.from_numpy(np.sort(np.concatenate(keep)))
    return LabelledImages(data.images[index], data.labels[index])


def sample_all(gen, per_class: int, seed: int, truncation: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(gen.num_classes).repeat_interleave(per_class)
    rng = torch.Generator().manual_seed(seed)
    images = torch.cat(
        [gen.sample(labels[i : i + 1000], generator=rng, truncation=truncation) for i in range(0, len(labels), 1000)]
    )
    return images, labels


def evaluate(name, images, labels, classifier, real_test, real_features, real_labels, k) -> dict:
    predicted, features = predict(classifier, images)
    overall, per_class = label_fidelity(predicted, labels, k)
    diversity = intra_class_diversity(features, labels, real_features, real_labels, k)
    return {
        "name": name,
        "label_fidelity": round(overall, 4),
        "per_class_fidelity": [round(p, 3) for p in per_class],
        "frechet_distance": round(frechet_distance(classifier, real_test.images, images), 3),
        "diversity": round(float(np.nanmean(diversity)), 3),
        "per_class_diversity": [round(d, 3) for d in diversity],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-tail", action="store_true", help="train generators on a 5,000 -> 50 long-tailed subset")
    parser.add_argument("--gan-epochs", type=int, default=15, help="default 15")
    parser.add_argument("--vae-epochs", type=int, default=None, help="default 10 (full) or 30 (long tail)")
    parser.add_argument("--classifier-steps", type=int, default=6000, help="evaluator SmallCNN steps (default 6000)")
    parser.add_argument("--per-class", type=int, default=1000, help="generated images per class")
    parser.add_argument(
        "--truncation",
        type=float,
        nargs="+",
        default=[1.0, 0.7, 0.5],
        help="cGAN latent temperatures to score (default 1.0 0.7 0.5); the cVAE rows use 1.0",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--grids", type=Path, default=ROOT / "docs" / "img", help="where each model's labelled sample grid goes (PNG)"
    )
    args = parser.parse_args()
    gan_epochs = args.gan_epochs
    vae_epochs = args.vae_epochs or (30 if args.long_tail else 10)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    data = load_fashion_mnist_data()
    k = data.num_classes
    classifier = train_classifier(
        data.train.as_dataset(), k, data.image_shape, steps=args.classifier_steps, seed=args.seed, progress=False
    )
    evaluator_accuracy = accuracy(classifier, data.test)
    real_labels_test = data.test.labels
    _, test_features = predict(classifier, data.test.images)
    train_set = long_tail(data.train, 5000, 50, args.seed) if args.long_tail else data.train
    counts = torch.bincount(train_set.labels, minlength=k).tolist()

    rows = []
    reference = (
        train_set
        if len(train_set) <= 10_000
        else LabelledImages(data.train.images[:10_000], data.train.labels[:10_000])
    )
    rows.append(
        evaluate(
            "real train vs real test (reference)",
            reference.images,
            reference.labels,
            classifier,
            data.test,
            test_features,
            real_labels_test,
            k,
        )
    )
    shape = dict(num_classes=k, channels=1, image_size=28, class_names=data.class_names)
    runs = [("cgan", {}), ("cgan", {"class_balanced": True})] if args.long_tail else [("cgan", {})]
    runs.append(("cvae", {}))
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family, options in runs:
            label = family + (" + class-balanced batches" if options.get("class_balanced") else "")
            t0 = time.perf_counter()
            with seeded(args.seed):
                model = (synthaug.ConditionalGAN if family == "cgan" else synthaug.ConditionalVAE)(**shape)
            trainer_cls = CGANTrainer if family == "cgan" else CVAETrainer
            epochs = gan_epochs if family == "cgan" else vae_epochs
            trainer_cls(
                model,
                Path(tmp) / label.replace(" ", "_"),
                epochs=epochs,
                seed=args.seed,
                progress=False,
                sample_every=0,
                **options,
            ).fit(train_set)
            seconds[label] = round(time.perf_counter() - t0, 1)
            variants = [("gmm", 1.0), ("prior", 1.0)] if family == "cvae" else [(None, t) for t in args.truncation]
            for sampler, truncation in variants:
                if sampler:
                    model.latent_sampler = sampler
                images, labels = sample_all(model, args.per_class, args.seed, truncation)
                detail = (
                    f", {sampler} sampler" if sampler else (f", truncation {truncation}" if truncation != 1.0 else "")
                )
                name = f"{label} ({epochs} epochs{detail})"
                stem = (
                    ("fmnist-longtail-" if args.long_tail else "fmnist-")
                    + family
                    + ("-balanced" if options.get("class_balanced") else "")
                    + (f"-{sampler}" if sampler else "")
                    + (f"-t{truncation}" if truncation != 1.0 else "")
                )
                save_generator_grid(
                    model, args.grids / f"{stem}.png", per_class=8, seed=args.seed, title=name, truncation=truncation
                )
                rows.append(evaluate(name, images, labels, classifier, data.test, test_features, real_labels_test, k))
    result = {
        "command": "python bench/quality.py" + (" --long-tail" if args.long_tail else ""),
        "evaluator": f"SmallCNN trained {args.classifier_steps} steps on the full real train split",
        "evaluator_test_accuracy": round(evaluator_accuracy, 4),
        "train_class_counts": counts,
        "train_seconds": seconds,
        "total_seconds": round(time.perf_counter() - start, 1),
        "rows": rows,
        "class_names": data.class_names,
        "device": f"cpu x{torch.get_num_threads()} threads",
    }
    name = "quality_longtail.json" if args.long_tail else "quality.json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")

    print(f"evaluator: {result['evaluator']}, test accuracy {evaluator_accuracy:.3f}; train counts {counts}")
    print(
        "\n| model | label fidelity | Fréchet distance (classifier features) | diversity vs real |\n|---|---|---|---|"
    )
    for r in rows:
        print(f"| {r['name']} | {r['label_fidelity']:.3f} | {r['frechet_distance']:.2f} | {r['diversity']:.2f} |")
    print("\nper-class label fidelity:\n| model | " + " | ".join(data.class_names) + " |")
    print("|---" * (k + 1) + "|")
    for r in rows:
        cells = " | ".join("n/a" if math.isnan(p) else f"{p:.2f}" for p in r["per_class_fidelity"])
        print(f"| {r['name']} | {cells} |")
    print(f"\ntraining seconds: {seconds}; total {result['total_seconds']} s")


if __name__ == "__main__":
    main()
