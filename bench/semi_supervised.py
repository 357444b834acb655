"""Protocol semi100: 100 labelled images per class plus the other 59,000 training images without labels.

Usage (through bench/downstream.py):
    .venv/bin/python bench/downstream.py --protocols semi100
    .venv/bin/python bench/downstream.py --protocols semi20 --smoke   # seconds, on the embedded digits

The labelled images are exactly low100's. The pool is every other Fashion-MNIST training
image with its label thrown away; no label of the pool is read anywhere in this module
except to *score* the pseudo-labels (saved beside the rows, never used to train).

Baselines a user would run without a generator:
  * real only, and real + classic augmentation, on the 1,000 labelled images;
  * pseudo-labelling (self-training, Lee 2013): the SmallCNN trained on the labelled
    images with classic augmentation labels the pool, the labels of confidence >= 0.9 are
    kept, and a fresh SmallCNN trains on labelled + pseudo-labelled images (classic aug).
Generators learn from all images, through the public API
``Trainer.fit(labelled, unlabelled=pool)``: the cGAN and the cVAE on pseudo-labels (their
trainer's own labeller, ``pseudo_label_threshold`` 0.9). Their rows use the recipe
``mix(..., synthetic_weight=0.3, soft_labels=teacher)`` with fresh samples each pass,
alone and on top of pseudo-labelling.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from training_runs import Recipe, fit, per_class_indices, recipe_mix

import synthaug
from synthaug.data.real import LabelledImages, RealData
from synthaug.filters import Filter
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.utils.seeding import seeded

PSEUDO_THRESHOLD = 0.9
RECIPE_WEIGHT = 0.3


def split(real: RealData, per_class: int) -> tuple[LabelledImages, torch.Tensor, torch.Tensor]:
    """``(labelled, pool images, pool labels)``: low<per_class>'s images, and every other training image.

    The pool labels are returned only to score pseudo-labels; nothing trains on them.
    """
    index = per_class_indices(real.train.labels, per_class, seed=0)  # low<per_class>'s images
    labelled = LabelledImages(real.train.images[index], real.train.labels[index])
    rest = torch.ones(len(real.train), dtype=torch.bool)
    rest[index] = False
    return labelled, real.train.images[rest], real.train.labels[rest]


def semi_generator(
    family: str,
    protocol: str,
    labelled: LabelledImages,
    pool: torch.Tensor,
    steps: int,
    labeller_steps: int,
    out: Path,
    names: list[str],
) -> synthaug.ConditionalGenerator:
    """A generator trained on the labelled images and the pool (``fit(labelled, unlabelled=pool)``), once per protocol."""
    path = out / "bundles" / f"{protocol}-{family}"
    if (path / "config.json").exists():
        return synthaug.load(path)
    shape = dict(num_classes=len(names), channels=labelled.images.shape[1], image_size=labelled.images.shape[2])
    with seeded(0):
        model = (synthaug.ConditionalGAN if family == "cgan" else synthaug.ConditionalVAE)(**shape, class_names=names)
    trainer = (CGANTrainer if family == "cgan" else CVAETrainer)(
        model, path, steps=steps, seed=0, progress=False, sample_every=0, pseudo_label_steps=labeller_steps
    )
    start = time.perf_counter()
    trainer.fit(labelled, unlabelled=pool)
    (path / "bench_training.json").write_text(
        json.dumps({"steps": steps, "seconds": round(time.perf_counter() - start, 1), "unlabelled": len(pool)}) + "\n"
    )
    return synthaug.load(path)


def pseudo_labelled(
    labelled: LabelledImages,
    pool: torch.Tensor,
    pool_truth: torch.Tensor,
    seed: int,
    steps: int,
    batch_size: int,
    out: Path,
    protocol: str,
) -> LabelledImages:
    """Self-training's training set for ``seed``: labelled + the pool images its teacher labels with confidence >= 0.9.

    The teacher is the row "real + classic aug" of this seed (same budget). Cached as
    OUT/semi/<protocol>-pseudo-seed<seed>.pt (indices and labels; loaded weights_only).
    """
    path = out / "semi" / f"{protocol}-pseudo-seed{seed}.pt"
    if path.exists():
        saved = torch.load(path, weights_only=True)
        index, labels = saved["index"], saved["labels"]
    else:
        k = int(labelled.labels.max()) + 1
        teacher = fit(
            Recipe("teacher", lambda s: None, augment=True),
            labelled.as_dataset(),
            seed,
            steps,
            batch_size,
            k,
            tuple(labelled.images.shape[1:]),
        )
        with torch.no_grad():
            probs = torch.cat([teacher(pool[i : i + 2000]).softmax(1) for i in range(0, len(pool), 2000)])
        confidence, predicted = probs.max(1)
        index = torch.nonzero(confidence >= PSEUDO_THRESHOLD).flatten()
        labels = predicted[index]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"index": index, "labels": labels}, path)
        (path.with_suffix(".json")).write_text(
            json.dumps(
                {
                    "pool": len(pool),
                    "kept": len(index),
                    "threshold": PSEUDO_THRESHOLD,
                    # Scoring only: the pool's true labels never reach training.
                    "kept_label_accuracy": (
                        round(float((pool_truth[index] == labels).float().mean()), 4) if len(index) else None
                    ),
                }
            )
            + "\n"
        )
    return LabelledImages(torch.cat([labelled.images, pool[index]]), torch.cat([labelled.labels, labels]))


def recipes(
    labelled: LabelledImages,
    pseudo: Any,
    gens: dict[str, Any],
    teacher: Filter,
    best_family: str,
    top_up_ratio: float,
) -> list[Recipe]:
    """semi100's rows in table order; ``pseudo(seed)`` gives the pseudo-labelled training set of a seed."""
    real = labelled.as_dataset()
    rows = [
        Recipe(f"real only ({len(labelled):,} labelled)", lambda s: real),
        Recipe("real + classic aug", lambda s: real, augment=True),
        Recipe(
            f"pseudo-labelling (confidence >= {PSEUDO_THRESHOLD}) + classic aug",
            lambda s: pseudo(s).as_dataset(),
            augment=True,
        ),
    ]
    for family, gen in gens.items():
        rows.append(
            Recipe(
                f"semi {family} recipe: ratio=1, weight {RECIPE_WEIGHT}, soft labels, fresh each pass + classic aug",
                recipe_mix(lambda s: real, gen, 1.0, teacher, RECIPE_WEIGHT),
                augment=True,
                fresh_each_pass=True,
            )
        )
    rows.append(
        Recipe(
            f"pseudo-labelling + semi {best_family} recipe (ratio={top_up_ratio}) + classic aug",
            recipe_mix(lambda s: pseudo(s).as_dataset(), gens[best_family], top_up_ratio, teacher, RECIPE_WEIGHT),
            augment=True,
            fresh_each_pass=True,
            notes=f"{best_family}: the higher label fidelity under the labelled-only teacher",
        )
    )
    return rows
