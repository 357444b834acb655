"""Does Denoise make a classifier survive corrupted inputs? And do reconstruction scores flag them?

Usage:
    .venv/bin/python bench/robustness.py                 # Fashion-MNIST 28x28 (about 40 minutes on 2 CPU cores)
    .venv/bin/python bench/robustness.py --stage main    # the robustness tables only
    .venv/bin/python bench/robustness.py --stage novelty # the held-out-class AUROC only
    .venv/bin/python bench/robustness.py --report        # tables and figures from saved results, no training
    .venv/bin/python bench/robustness.py --smoke         # seconds, on the embedded digits (the tests run it)

Data: Fashion-MNIST's 60,000 training images (the downstream benchmark's clean split),
of which a seeded 5,000 are held out for validation (filter strengths, the gate), and the
10,000 test images. Models, all on the same 55,000 clean training images:
  * SmallCNN, trained on clean images (the classifier every defence protects);
  * SmallCNN trained with corruptions as augmentation (half of the images of each batch
    corrupted by the DAE's training mix, ``v2.RandomApply([CorruptionMix(...)], p=0.5)``);
  * DenoisingAutoencoder (width 32), trained by ``DAETrainer`` on the same images with
    synthaug's four corruptions, their severities widened to cover the test strengths;
  * ConditionalVAE, trained by ``CVAETrainer`` (for its reconstruction score).
Test sets: the clean test split, and the test split corrupted by each of synthaug's four
corruptions at three or four strengths, plus two corruptions the DAE never saw, from
albumentations: speckle (``MultiplicativeNoise``, elementwise) and JPEG (``ImageCompression``).
Defences: none; ``Denoise`` (every image); ``Denoise`` gated (threshold chosen on
validation); a median filter and a Gaussian blur (OpenCV), each with the strength chosen
on the validation split for each corruption; the corruption-augmented classifier, alone
and behind ``Denoise``. Scores: ``reconstruction_score`` of the DAE and of the cVAE, and
the clean classifier's maximum softmax probability, by AUROC (scikit-learn) for corrupted
vs clean test images, and for a held-out class (``--stage novelty``: models trained on 9
classes, each class held out once).

Results go to OUT/robustness/ (main.json, novelty/<class>.json; bundles/ keeps the trained
models so a rerun skips training) and the figures to docs/img/robustness-*.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

import synthaug
from synthaug.data.real import LabelledImages, RealData, load_digits_data, load_fashion_mnist_data
from synthaug.metrics import SmallCNN, detection_auroc, reconstruction_score, train_classifier
from synthaug.training import CVAETrainer, DAETrainer
from synthaug.transforms import CorruptionMix, Denoise
from synthaug.transforms.generative import denoise_in_batches
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python bench/robustness.py"

# The DAE's training mix: synthaug's four corruptions, equal weights, with severities wide
# enough to cover every seen test strength below (the defaults stop at sigma 0.3).
TRAIN_PARAMS = {
    "gaussian": {"sigma": (0.05, 0.5)},
    "salt_and_pepper": {"amount": (0.02, 0.3)},
    "cutout": {"size": (0.2, 0.5)},
    "blur": {"sigma": (0.5, 2.0)},
}
SEEN = {  # corruption -> test strengths (the function's severity argument)
    "gaussian": [0.1, 0.2, 0.3, 0.5],
    "salt_and_pepper": [0.05, 0.1, 0.2],
    "blur": [0.75, 1.25, 2.0],
    "cutout": [0.25, 0.35, 0.5],
}
UNSEEN = {  # never in the DAE's training: albumentations
    "speckle": [0.3, 0.5, 0.8],  # MultiplicativeNoise multiplier (1 - s, 1 + s), per pixel
    "jpeg": [30, 15, 5],  # ImageCompression quality
}
FILTERS = {"median": [3, 5], "gaussian_filter": [0.5, 0.8, 1.2]}  # median kernel; blur sigma (pixels)
GATE_QUANTILES = [0.5, 0.8, 0.9, 0.95, 0.99]


def settings(smoke: bool) -> dict[str, Any]:
    if smoke:
        return dict(classifier_steps=20, dae_steps=10, cvae_steps=10, novelty_steps=5, val=60, cvae_subset=40,
                    novelty_classes=2, throughput_batches=[1, 16], dae_width=8)  # fmt: skip
    return dict(classifier_steps=2000, dae_steps=3000, cvae_steps=3000, novelty_steps=800, val=5000,
                cvae_subset=2000, novelty_classes=10, throughput_batches=[1, 8, 64, 256, 1024], dae_width=32)  # fmt: skip


# ----------------------------------------------------------------------------- corruptions
def corrupt(name: str, strength: float, images: torch.Tensor, seed: int) -> torch.Tensor:
    """``images`` corrupted by one corruption at one strength, reproducibly from ``seed``."""
    if name in SEEN:
        key = {"gaussian": "sigma", "salt_and_pepper": "amount", "blur": "sigma", "cutout": "size"}[name]
        fn = synthaug.transforms.get_corruption(name)
        return fn(images, **{key: strength}, generator=torch.Generator().manual_seed(seed))
    import albumentations as A

    transform = (
        A.MultiplicativeNoise(multiplier=(1 - strength, 1 + strength), elementwise=True, p=1.0)
        if name == "speckle"
        else A.ImageCompression(quality_range=(int(strength), int(strength)), p=1.0)
    )
    pipeline = A.Compose([transform], seed=seed)
    arrays = to_uint8(images)
    out = np.stack([pipeline(image=a)["image"].reshape(a.shape) for a in arrays])
    return from_uint8(out)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def from_uint8(arrays: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arrays.astype(np.float32) / 255).permute(0, 3, 1, 2).contiguous()


def classical_filter(name: str, strength: float, images: torch.Tensor) -> torch.Tensor:
    """A median filter (kernel ``strength``) or Gaussian blur (sigma ``strength``), OpenCV, per image."""
    import cv2

    arrays = images.permute(0, 2, 3, 1).numpy().astype(np.float32)
    if name == "median":
        out = [cv2.medianBlur(a, int(strength)) for a in arrays]
    else:
        out = [cv2.GaussianBlur(a, (0, 0), float(strength), borderType=cv2.BORDER_REPLICATE) for a in arrays]
    stacked = np.stack([o.reshape(a.shape) for o, a in zip(out, arrays)])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).clamp(0, 1).contiguous()


def test_sets() -> list[tuple[str, float, bool]]:
    """``(corruption, strength, seen)`` for every corrupted test set."""
    return [(n, s, True) for n, levels in SEEN.items() for s in levels] + [
        (n, s, False) for n, levels in UNSEEN.items() for s in levels
    ]


def set_seed(name: str, strength: float, base: int) -> int:
    """A per-set seed, so each set's corruption does not depend on the others."""
    return base + 1000 * sorted([*SEEN, *UNSEEN]).index(name) + int(round(strength * 100))


# ----------------------------------------------------------------------------- models
class _Augmented(Dataset):
    """``(image, label)`` items with a transform applied to the image (what a torchvision dataset's ``transform=`` does)."""

    def __init__(self, data: LabelledImages, transform: Callable) -> None:
        self.data, self.transform = data, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.data.images[index]), int(self.data.labels[index])


def classifier(train: LabelledImages, k: int, steps: int, path: Path, augment: bool, seed: int = 0) -> SmallCNN:
    """A SmallCNN on ``train`` (clean, or with corruptions as augmentation); cached as a state dict."""
    shape = tuple(train.images.shape[1:])
    if path.exists():
        with seeded(seed):
            model = SmallCNN(k, shape[0], shape[1])
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    dataset: Dataset = train.as_dataset()
    if augment:
        mix = CorruptionMix(params=TRAIN_PARAMS, seed=seed)
        dataset = _Augmented(train, v2.RandomApply([mix], p=0.5))
    with seeded(seed):  # RandomApply's coin comes from torch's global RNG
        model = train_classifier(dataset, k, shape, steps=steps, seed=seed, progress=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval()


def trained_bundle(path: Path, steps: int, train: Callable[[], None]) -> tuple[Any, float]:
    """The bundle at ``path`` and its training seconds: ``train()`` runs (timed) only when there is none yet."""
    if not (path / "config.json").exists():
        t0 = time.perf_counter()
        train()
        seconds = round(time.perf_counter() - t0, 1)
        (path / "bench_training.json").write_text(json.dumps({"steps": steps, "seconds": seconds}) + "\n")
    return synthaug.load(path), json.loads((path / "bench_training.json").read_text())["seconds"]


def train_dae(train: LabelledImages, steps: int, width: int, path: Path, preview: torch.Tensor) -> tuple[Any, float]:
    def fit() -> None:
        with seeded(0):
            dae = synthaug.DenoisingAutoencoder(
                channels=train.images.shape[1], image_size=train.images.shape[2], width=width
            )
        DAETrainer(dae, path, steps=steps, seed=0, progress=False, sample_every=0,
                   corruptions=None, corruption_params=TRAIN_PARAMS, preview_images=preview).fit(train)  # fmt: skip

    return trained_bundle(path, steps, fit)


def train_cvae(train: LabelledImages, steps: int, path: Path, names: list[str] | None) -> tuple[Any, float]:
    def fit() -> None:
        shape, k = train.images.shape, int(train.labels.max()) + 1
        with seeded(0):
            vae = synthaug.ConditionalVAE(num_classes=k, channels=shape[1], image_size=shape[2], class_names=names)
        CVAETrainer(vae, path, steps=steps, seed=0, progress=False, sample_every=0).fit(train)

    return trained_bundle(path, steps, fit)


@torch.no_grad()
def softmax_outputs(model: SmallCNN, images: torch.Tensor, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """``(predicted labels, maximum softmax probability)`` per image."""
    preds, msp = [], []
    for chunk in images.split(batch_size):
        probs = model(chunk).softmax(1)
        top, label = probs.max(1)
        preds.append(label.numpy())
        msp.append(top.numpy())
    return np.concatenate(preds), np.concatenate(msp)


def accuracy(preds: np.ndarray, truth: torch.Tensor) -> float:
    return float((preds == truth.numpy()).mean())


# ----------------------------------------------------------------------------- main stage
def split(real: RealData, val: int) -> tuple[LabelledImages, LabelledImages]:
    order = torch.randperm(len(real.train), generator=torch.Generator().manual_seed(0))
    pick = lambda idx: LabelledImages(real.train.images[idx], real.train.labels[idx], real.class_names)  # noqa: E731
    return pick(order[val:]), pick(order[:val])


def choose_filters(plain: SmallCNN, val: LabelledImages, seed: int) -> dict[str, dict[str, float]]:
    """Per corruption and filter, the strength with the best mean validation accuracy over the corruption's levels."""
    chosen: dict[str, dict[str, float]] = {}
    for name, levels in {**SEEN, **UNSEEN}.items():
        corrupted = [corrupt(name, s, val.images, set_seed(name, s, seed + 7)) for s in levels]
        chosen[name] = {}
        for family, strengths in FILTERS.items():
            scores = {
                strength: np.mean(
                    [
                        accuracy(softmax_outputs(plain, classical_filter(family, strength, c))[0], val.labels)
                        for c in corrupted
                    ]
                )
                for strength in strengths
            }
            chosen[name][family] = max(scores, key=lambda s: scores[s])
    return chosen


def choose_gate(dae, plain: SmallCNN, val: LabelledImages, seed: int) -> dict[str, Any]:
    """The gate quantile with the best validation accuracy: clean images weighted as much as all seen sets together."""
    clean_scores = reconstruction_score(dae, val.images).numpy()
    clean_preds = softmax_outputs(plain, val.images)[0]
    clean_denoised = softmax_outputs(plain, denoise_in_batches(dae, val.images, 256))[0]
    sets = []
    for name, levels in SEEN.items():
        for s in levels:
            c = corrupt(name, s, val.images, set_seed(name, s, seed + 7))
            denoised, scores = denoised_and_scores(dae, c)
            sets.append((softmax_outputs(plain, c)[0], softmax_outputs(plain, denoised)[0], scores))
    table = {}
    for q in GATE_QUANTILES:
        gate = float(np.quantile(clean_scores, q))
        clean_acc = accuracy(np.where(clean_scores > gate, clean_denoised, clean_preds), val.labels)
        corrupted_acc = np.mean([accuracy(np.where(sc > gate, d, n), val.labels) for n, d, sc in sets])
        table[q] = {"gate": gate, "clean": clean_acc, "corrupted": float(corrupted_acc),
                    "objective": 0.5 * clean_acc + 0.5 * float(corrupted_acc)}  # fmt: skip
    best = max(table, key=lambda q: table[q]["objective"])
    return {"quantile": best, "gate": table[best]["gate"], "validation": {str(q): v for q, v in table.items()}}


def denoised_and_scores(dae, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, np.ndarray]:
    outs, scores = [], []
    for chunk in images.split(batch_size):
        out, score = dae.denoise_and_score(chunk)
        outs.append(out)
        scores.append(score)
    return torch.cat(outs), torch.cat(scores).numpy()


def throughput(dae, image_shape: tuple[int, ...], batches: list[int], seconds: float = 2.0) -> dict[str, float]:
    """Images/s of ``Denoise`` on float tensor batches of each size (the transform a user calls)."""
    denoise = Denoise(dae, batch_size=max(batches))
    out = {}
    for b in batches:
        images = torch.rand(b, *image_shape)
        denoise(images)  # warm-up
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            denoise(images)
            done += b
        out[str(b)] = round(done / (time.perf_counter() - t0), 1)
    return out


def run_main(real: RealData, out: Path, cfg: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    train, val = split(real, cfg["val"])
    k, bundles = real.num_classes, out / "bundles"
    t0 = time.perf_counter()
    plain = classifier(train, k, cfg["classifier_steps"], bundles / "classifier-clean.pt", augment=False)
    augmented = classifier(train, k, cfg["classifier_steps"], bundles / "classifier-corruption-aug.pt", augment=True)
    dae, dae_seconds = train_dae(train, cfg["dae_steps"], cfg["dae_width"], bundles / "dae", val.images[:16])
    vae, vae_seconds = train_cvae(train, cfg["cvae_steps"], bundles / "cvae", real.class_names)
    print(f"models ready ({time.perf_counter() - t0:.0f}s); choosing filters and the gate on validation", flush=True)
    filters = choose_filters(plain, val, seed)
    gate = choose_gate(dae, plain, val, seed)

    test = real.test
    truth = test.labels
    sub = slice(0, cfg["cvae_subset"])  # the cVAE scores every class per image: a subset of the test split
    clean = {"images": test.images}
    rows: list[dict[str, Any]] = []

    def evaluate(name: str, strength: float | None, seen: bool | None, images: torch.Tensor) -> dict[str, Any]:
        denoised, dae_scores = denoised_and_scores(dae, images)
        plain_none, msp = softmax_outputs(plain, images)
        plain_denoised = softmax_outputs(plain, denoised)[0]
        aug_none = softmax_outputs(augmented, images)[0]
        aug_denoised = softmax_outputs(augmented, denoised)[0]
        row: dict[str, Any] = {"corruption": name, "strength": strength, "seen": seen}
        gates = {q: v["gate"] for q, v in gate["validation"].items()}
        acc = {
            "none": accuracy(plain_none, truth),
            "denoise": accuracy(plain_denoised, truth),
            "denoise_gated": accuracy(np.where(dae_scores > gate["gate"], plain_denoised, plain_none), truth),
            "augmented": accuracy(aug_none, truth),
            "augmented_denoise": accuracy(aug_denoised, truth),
            "augmented_denoise_gated": accuracy(np.where(dae_scores > gate["gate"], aug_denoised, aug_none), truth),
        }
        choice = filters.get(name, {}) if name != "clean" else None
        for family in FILTERS:
            # Clean images: each filter at the strength chosen most often across corruptions.
            strength_used = choice[family] if choice else most_chosen(filters, family)
            acc[family] = accuracy(softmax_outputs(plain, classical_filter(family, strength_used, images))[0], truth)
            row[f"{family}_strength"] = strength_used
        row["accuracy"] = acc
        row["gate_curve"] = {
            q: accuracy(np.where(dae_scores > g, plain_denoised, plain_none), truth) for q, g in gates.items()
        }
        row["gated_share"] = float((dae_scores > gate["gate"]).mean())
        row["_scores"] = {"dae": dae_scores, "msp": msp, "cvae": reconstruction_score(vae, images[sub]).numpy()}
        return row

    t1 = time.perf_counter()
    clean_row = evaluate("clean", None, None, clean["images"])
    rows.append(clean_row)
    pictures = {}
    for name, strength, seen in test_sets():
        images = corrupt(name, strength, test.images, set_seed(name, strength, seed))
        row = evaluate(name, strength, seen, images)
        ref = clean_row["_scores"]
        row["auroc"] = {
            "dae": detection_auroc(ref["dae"], row["_scores"]["dae"]),
            "cvae": detection_auroc(ref["cvae"], row["_scores"]["cvae"]),
            "max_softmax": detection_auroc(-ref["msp"], -row["_scores"]["msp"]),  # low confidence = flagged
        }
        rows.append(row)
        if strength == (SEEN.get(name) or UNSEEN[name])[-2]:  # the second strongest level goes in the picture
            pictures[name] = (images[:6], denoise_in_batches(dae, images[:6], 256))
        print(
            f"  {name} {strength}: " + ", ".join(f"{k} {v * 100:.1f}" for k, v in row["accuracy"].items()), flush=True
        )
    eval_seconds = time.perf_counter() - t1
    for row in rows:
        row.pop("_scores")

    summary = {
        "command": " ".join([COMMAND, *sys.argv[1:]]),
        "data": {
            "name": real.name,
            "train": len(train),
            "validation": len(val),
            "test": len(test),
            "image_shape": list(test.images.shape[1:]),
            "cvae_score_subset": cfg["cvae_subset"],
        },  # fmt: skip
        "models": {
            "classifier_steps": cfg["classifier_steps"],
            "dae": {
                "config": dae.config,
                "parameters": sum(p.numel() for p in dae.parameters()),
                "steps": cfg["dae_steps"],
                "seconds": dae_seconds,
                "corruption_params": TRAIN_PARAMS,
            },  # fmt: skip
            "cvae": {"steps": cfg["cvae_steps"], "seconds": vae_seconds},
        },
        "filters": filters,
        "gate": gate,
        "throughput": throughput(dae, tuple(test.images.shape[1:]), cfg["throughput_batches"]),
        "eval_seconds": round(eval_seconds, 1),
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "rows": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.json").write_text(json.dumps(summary, indent=2) + "\n")
    torch.save({n: (c.clone(), d.clone()) for n, (c, d) in pictures.items()} | {"clean": test.images[:6].clone()},
               out / "pictures.pt")  # fmt: skip
    return summary


def most_chosen(filters: dict[str, dict[str, float]], family: str) -> float:
    values = [choice[family] for choice in filters.values()]
    return max(set(values), key=values.count)


# ----------------------------------------------------------------------------- novelty
def run_novelty(real: RealData, out: Path, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Each class held out once: DAE, cVAE and classifier on the other classes; AUROC of the held-out test images."""
    train, _ = split(real, cfg["val"])
    results = []
    for held in range(cfg["novelty_classes"]):
        path = out / "novelty" / f"{held}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        t0 = time.perf_counter()
        keep = train.labels != held
        relabel = torch.arange(real.num_classes)
        relabel[held + 1 :] -= 1  # the 9 known classes as 0..8
        known = LabelledImages(train.images[keep], relabel[train.labels[keep]])
        steps = cfg["novelty_steps"]
        work = out / "bundles" / f"novelty-{held}"
        cls = classifier(known, real.num_classes - 1, steps, work / "classifier.pt", augment=False)
        dae, _ = train_dae(known, steps, cfg["dae_width"], work / "dae", known.images[:16])
        vae, _ = train_cvae(known, steps, work / "cvae", None)
        test_known = real.test.images[real.test.labels != held][: cfg["cvae_subset"]]
        test_novel = real.test.images[real.test.labels == held][: cfg["cvae_subset"]]
        result: dict[str, Any] = {"held_out": held, "class": real.class_names[held], "steps": steps,
                                  "known": len(test_known), "novel": len(test_novel)}  # fmt: skip
        auroc = {}
        for label, model in (("dae", dae), ("cvae", vae)):
            auroc[label] = detection_auroc(
                reconstruction_score(model, test_known), reconstruction_score(model, test_novel)
            )
        auroc["max_softmax"] = detection_auroc(
            -softmax_outputs(cls, test_known)[1], -softmax_outputs(cls, test_novel)[1]
        )
        result["auroc"] = auroc
        result["seconds"] = round(time.perf_counter() - t0, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(
            f"  held out {real.class_names[held]}: " + ", ".join(f"{k} {v:.3f}" for k, v in auroc.items()), flush=True
        )
        results.append(result)
    return results


# ----------------------------------------------------------------------------- report
ROWS = [  # (key, label) of the accuracy table, in order
    ("none", "no defence"),
    ("denoise", "Denoise"),
    ("denoise_gated", "Denoise, gated"),
    ("median", "median filter"),
    ("gaussian_filter", "Gaussian blur filter"),
    ("augmented", "corruption-augmented classifier"),
    ("augmented_denoise", "augmented + Denoise"),
]


def recovered(row: dict[str, Any], clean: dict[str, Any], key: str) -> float | None:
    """Share of the clean classifier's accuracy lost to the corruption that a defence wins back."""
    lost = clean["accuracy"]["none"] - row["accuracy"]["none"]
    if lost <= 0.005:  # under half a point lost: a share would be noise
        return None
    return (row["accuracy"][key] - row["accuracy"]["none"]) / lost


def level(row: dict[str, Any]) -> str:
    name, s = row["corruption"], row["strength"]
    if name == "salt_and_pepper":
        return f"{s * 100:g}%"
    if name == "jpeg":
        return f"q{s:g}"
    return f"{s:g}"


def markdown(summary: dict[str, Any], novelty: list[dict[str, Any]]) -> str:
    rows = summary["rows"]
    clean = rows[0]
    lines = ["### Accuracy (%) per corruption and strength", ""]
    header = "| corruption | strength | " + " | ".join(label for _, label in ROWS) + " |"
    lines += [header, "|---|---|" + "---:|" * len(ROWS)]
    for row in rows:
        seen = "" if row["seen"] is None else ("" if row["seen"] else " (unseen)")
        strength = "" if row["strength"] is None else level(row)
        best = max(row["accuracy"][k] for k, _ in ROWS)
        cells = [
            f"**{row['accuracy'][k] * 100:.2f}**" if row["accuracy"][k] == best else f"{row['accuracy'][k] * 100:.2f}"
            for k, _ in ROWS
        ]
        lines.append(f"| {row['corruption']}{seen} | {strength} | " + " | ".join(cells) + " |")
    lines += ["", "### Share of the lost accuracy recovered", ""]
    keys = [k for k, _ in ROWS if k != "none"]
    lines += ["| corruption | strength | lost (points) | " + " | ".join(dict(ROWS)[k] for k in keys) + " |"]
    lines += ["|---|---|---:|" + "---:|" * len(keys)]
    for row in rows[1:]:
        lost = (clean["accuracy"]["none"] - row["accuracy"]["none"]) * 100
        cells = []
        for k in keys:
            share = recovered(row, clean, k)
            cells.append("n/a" if share is None else f"{share * 100:.0f}%")
        unseen = "" if row["seen"] else " (unseen)"
        lines.append(f"| {row['corruption']}{unseen} | {level(row)} | {lost:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "### Clean-image cost (points lost on the clean test split)", ""]
    lines += ["| defence | clean accuracy | cost |", "|---|---:|---:|"]
    for k, label in ROWS:
        base = clean["accuracy"]["none"] if not k.startswith("augmented") else clean["accuracy"]["augmented"]
        ref = "" if not k.startswith("augmented") else " (vs the augmented classifier alone)"
        cost = (base - clean["accuracy"][k]) * 100
        lines.append(f"| {label}{ref} | {clean['accuracy'][k] * 100:.2f} | {cost:+.2f} |".replace("+-", "-"))
    lines += ["", "### The gate: share of clean validation images let through untouched", ""]
    lines += [
        "| quantile | threshold | clean test accuracy | mean accuracy, seen corruptions | mean, unseen | chosen |"
    ]
    lines += ["|---:|---:|---:|---:|---:|---|"]
    chosen = float(summary["gate"]["quantile"])
    for q, v in summary["gate"]["validation"].items():
        seen = np.mean([r["gate_curve"][q] for r in rows[1:] if r["seen"]]) * 100
        unseen = np.mean([r["gate_curve"][q] for r in rows[1:] if not r["seen"]]) * 100
        mark = "yes (validation)" if float(q) == chosen else ""
        lines.append(
            f"| {float(q):g} | {v['gate']:.5f} | {clean['gate_curve'][q] * 100:.2f} | {seen:.2f} | {unseen:.2f} | {mark} |"
        )
    denoise_all = [np.mean([r["accuracy"]["denoise"] for r in rows[1:] if r["seen"] is s]) * 100 for s in (True, False)]
    lines.append(
        f"| (no gate) | | {clean['accuracy']['denoise'] * 100:.2f} | {denoise_all[0]:.2f} | {denoise_all[1]:.2f} | |"
    )
    lines += ["", "### Denoise speed", ""]
    shape = "x".join(map(str, summary["data"]["image_shape"]))
    lines += ["| batch | images/s |", "|---:|---:|"]
    lines += [f"| {b} | {v:,.0f} |" for b, v in summary["throughput"].items()]
    lines += ["", f"`Denoise` on float tensor batches [B, {shape}], {summary['machine']['threads']} CPU threads."]
    lines += ["", "### Corrupted vs clean: AUROC of each score", ""]
    lines += ["| corruption | strength | DAE reconstruction | cVAE reconstruction | max softmax (baseline) |"]
    lines += ["|---|---|---:|---:|---:|"]
    for row in rows[1:]:
        a = row["auroc"]
        unseen = "" if row["seen"] else " (unseen)"
        lines.append(
            f"| {row['corruption']}{unseen} | {level(row)} | {a['dae']:.3f} | {a['cvae']:.3f} | {a['max_softmax']:.3f} |"
        )
    if novelty:
        lines += ["", "### A class never seen in training: AUROC (held-out class vs the 9 known)", ""]
        lines += ["| held-out class | DAE reconstruction | cVAE reconstruction | max softmax (baseline) |"]
        lines += ["|---|---:|---:|---:|"]
        for r in novelty:
            a = r["auroc"]
            lines.append(f"| {r['class']} | {a['dae']:.3f} | {a['cvae']:.3f} | {a['max_softmax']:.3f} |")
        for label, fn in (("mean", np.mean), ("worst", np.min)):
            cells = [f"{fn([r['auroc'][k] for r in novelty]):.3f}" for k in ("dae", "cvae", "max_softmax")]
            lines.append(f"| **{label}** | " + " | ".join(cells) + " |")
    lines += ["", "### Targets", ""] + target_lines(summary)
    return "\n".join(lines) + "\n"


def target_lines(summary: dict[str, Any]) -> list[str]:
    rows, clean = summary["rows"], summary["rows"][0]
    out = ["| target | measured | reached |", "|---|---|---|"]
    for name, levels in SEEN.items():
        for s in levels[-2:]:
            row = next(r for r in rows if r["corruption"] == name and r["strength"] == s)
            share = recovered(row, clean, "denoise")
            text = "n/a" if share is None else f"{share * 100:.0f}%"
            out.append(f"| Denoise recovers >= 70% of the loss: {name} {level(row)} | {text} | "
                       f"{'yes' if share is not None and share >= 0.7 else 'no'} |")  # fmt: skip
    for name in SEEN:
        mine = [r for r in rows if r["corruption"] == name]
        den = np.mean([r["accuracy"]["denoise"] for r in mine])
        best_filter = max(np.mean([r["accuracy"][f] for r in mine]) for f in FILTERS)
        out.append(f"| Denoise beats the best classical filter: {name} (mean over strengths) | "
                   f"{den * 100:.2f} vs {best_filter * 100:.2f} | {'yes' if den > best_filter else 'no'} |")  # fmt: skip
    for key, label in (("denoise", "default Denoise"), ("denoise_gated", "gated Denoise")):
        cost = (clean["accuracy"]["none"] - clean["accuracy"][key]) * 100
        out.append(f"| clean-image cost of the {label} <= 0.3 points | {cost:.2f} | {'yes' if cost <= 0.3 else 'no'} |")
    for row in rows[1:]:
        if (row["corruption"] == "gaussian" and row["strength"] >= 0.2) or (
            row["corruption"] == "salt_and_pepper" and row["strength"] >= 0.1
        ):
            a = row["auroc"]["dae"]
            out.append(f"| corrupted-vs-clean AUROC >= 0.95 (DAE): {row['corruption']} {level(row)} | {a:.3f} | "
                       f"{'yes' if a >= 0.95 else 'no'} |")  # fmt: skip
    return out


def headline(summary: dict[str, Any], novelty: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """What the docs' figure blocks read (scripts/doc_figures.py): the report and its key figures."""
    rows, clean = summary["rows"], summary["rows"][0]
    strongest = [r for r in rows[1:] if r["seen"] and r["strength"] in SEEN[r["corruption"]][-2:]]
    shares = {f"{r['corruption']} {level(r)}": recovered(r, clean, "denoise") for r in strongest}
    targets = target_lines(summary)[2:]
    return {
        "command": summary["command"],
        "data": summary["data"],
        "markdown": text,
        "recovered_strongest": shares,
        "clean_accuracy": clean["accuracy"]["none"],
        "clean_cost": {k: clean["accuracy"]["none"] - clean["accuracy"][k] for k in ("denoise", "denoise_gated")},
        "gate": summary["gate"],
        "novelty_mean": {k: float(np.mean([r["auroc"][k] for r in novelty])) for k in ("dae", "cvae", "max_softmax")}
        if novelty
        else None,
        "targets": {"reached": sum(line.endswith("| yes |") for line in targets), "total": len(targets)},
        "throughput": summary["throughput"],
    }


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, clean = summary["rows"], summary["rows"][0]
    names = [*SEEN, *UNSEEN]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), sharey=True)
    for ax, name in zip(axes.flat, names):
        mine = [r for r in rows if r["corruption"] == name]
        xs = [0, *range(1, len(mine) + 1)]
        for key, label in ROWS:
            ys = [clean["accuracy"][key] * 100] + [r["accuracy"][key] * 100 for r in mine]
            ax.plot(xs, ys, marker="o", label=label, lw=2 if key == "denoise" else 1.2)
        ax.set_xticks(xs, ["clean"] + [level(r) for r in mine])
        ax.set_title(name + ("" if name in SEEN else " (unseen by the DAE)"))
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Fashion-MNIST test accuracy against corruption strength, per defence")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def picture(pictures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in [*SEEN, *UNSEEN] if n in pictures]
    clean = pictures["clean"]
    cols = len(clean)
    fig, axes = plt.subplots(3 * len(names), cols, figsize=(cols * 0.9, 3 * len(names) * 0.9))
    for i, name in enumerate(names):
        corrupted, denoised = pictures[name]
        for j in range(cols):
            for r, (image, label) in enumerate(((corrupted, "corrupted"), (denoised, "denoised"), (clean, "clean"))):
                ax = axes[3 * i + r, j]
                ax.imshow(image[j, 0].numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(
                        f"{name}\n{label}" if r == 0 else label, fontsize=6, rotation=0, ha="right", va="center"
                    )
    fig.tight_layout(pad=0.1)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def report(out: Path, figures: Path | None) -> str:
    summary = json.loads((out / "main.json").read_text())
    novelty = [json.loads(p.read_text()) for p in sorted((out / "novelty").glob("*.json"), key=lambda p: int(p.stem))]
    text = markdown(summary, novelty)
    (out / "report.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(headline(summary, novelty, text), indent=2) + "\n")
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
        plot(summary, figures / "robustness-accuracy.png")
        if (out / "pictures.pt").exists():
            picture(torch.load(out / "pictures.pt", weights_only=True), figures / "robustness-pictures.png")
    return text


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["main", "novelty", "all"], default="all")
    parser.add_argument("--report", action="store_true", help="tables and figures from saved results")
    parser.add_argument("--smoke", action="store_true", help="tiny models on the embedded digits, no figures in docs")
    parser.add_argument(
        "--out", type=Path, default=None, help="default bench/results/robustness (smoke: .../robustness-smoke)"
    )
    parser.add_argument("--figures", type=Path, default=None, help="default docs/img (smoke: OUT)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "bench" / "results" / ("robustness-smoke" if args.smoke else "robustness")
    figures = args.figures or (out if args.smoke else ROOT / "docs" / "img")
    if not args.report:
        cfg = settings(args.smoke)
        real = load_digits_data() if args.smoke else load_fashion_mnist_data()
        torch.manual_seed(0)
        if args.stage in ("main", "all"):
            run_main(real, out, cfg)
        if args.stage in ("novelty", "all"):
            run_novelty(real, out, cfg)
    text = report(out, figures)
    print(text)
    return text


if __name__ == "__main__":
    main()
