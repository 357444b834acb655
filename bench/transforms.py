"""Throughput of the generative transforms, per image and per batch, and the pictures in docs/transforms.md.

Usage:
    .venv/bin/python bench/transforms.py [--pictures] [--dae-epochs 30] [--vae-epochs 30] [--device cpu]
                                         [--threads N] [--repeats 3] [--out bench/results] [--img docs/img]

Trains a DenoisingAutoencoder (width 32, the equal mix of the four corruptions) and a
ConditionalVAE (the demo's shape: latent 16, width 32) on the 1,347 training digits of
scikit-learn's embedded set (16x16), seed 0, then times, in images per second (best of
``--repeats``):

* per image: PIL ``L`` 16x16 items through ``Denoise``, ``VAEVariation`` (p=1, strength
  0.5) and ``SyntheticReplace`` (p=1, the cVAE as generator), and numpy ``[16, 16, 1]``
  uint8 items through the albumentations ``Denoise`` — what a Dataset's ``__getitem__``
  pays per item;
* per batch: float tensors ``[256, 1, 16, 16]`` through ``Denoise``, ``VAEVariation`` and
  ``BatchSyntheticMix`` (p=0.3: counts every image of the batch, 30% of them generated).

Writes OUT/transforms.json and prints a markdown table. With ``--pictures`` it also
writes IMG/transforms-denoise.png, IMG/transforms-vae-variation.png and
IMG/transforms-batch-mix.png from held-out digits. About a minute on 2 idle CPU cores.
``--threads 1`` is what DataLoader workers use, and the robust choice on a shared machine:
two threads competing with another process for two cores can be several times slower.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms.functional import to_pil_image

import synthaug
import synthaug.albumentations as SA
from synthaug.data.real import load_digits_data
from synthaug.training import CVAETrainer, DAETrainer
from synthaug.transforms import (
    BatchSyntheticMix,
    Denoise,
    SyntheticReplace,
    VAEVariation,
    gaussian_noise,
    salt_and_pepper,
)
from synthaug.utils.seeding import seeded
from synthaug.viz import save_image_grid

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python bench/transforms.py"
BATCH = 256


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def rate(fn: Callable[[], int], repeats: int, device: str) -> float:
    """Images per second of ``fn`` (which returns how many images it handled): best of ``repeats`` after a warm-up."""
    fn()
    best = 0.0
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        count = fn()
        sync(device)
        best = max(best, count / (time.perf_counter() - start))
    return best


def train(data, run_dir: Path, args) -> tuple[Path, Path, dict]:
    seconds = {}
    with seeded(args.seed):
        dae = synthaug.DenoisingAutoencoder(channels=1, image_size=16, width=32)
        cvae = synthaug.ConditionalVAE(
            num_classes=data.num_classes, channels=1, image_size=16, class_names=data.class_names
        )
    result = DAETrainer(
        dae, run_dir / "dae", epochs=args.dae_epochs, seed=args.seed, device=args.device, sample_every=0, progress=False
    ).fit(data.train)
    seconds["dae"] = round(result.seconds, 1)
    result = CVAETrainer(
        cvae,
        run_dir / "cvae",
        epochs=args.vae_epochs,
        seed=args.seed,
        device=args.device,
        sample_every=0,
        progress=False,
    ).fit(data.train)
    seconds["cvae"] = round(result.seconds, 1)
    return run_dir / "dae", run_dir / "cvae", seconds


def measure(dae_path: Path, cvae_path: Path, data, args) -> list[dict]:
    device = args.device
    dae = synthaug.load(dae_path, device=device)
    cvae = synthaug.load(cvae_path, device=device)
    items = [(to_pil_image(image), int(label)) for image, label in zip(data.test.images[:200], data.test.labels[:200])]
    arrays = [np.asarray(image)[:, :, None].copy() for image, _ in items]
    batch = data.test.images[:BATCH].to(device)
    labels = data.test.labels[:BATCH].to(device)

    denoise = Denoise(dae, batch_size=BATCH)
    vary = VAEVariation(cvae, strength=0.5, p=1.0, seed=0)
    replace = SyntheticReplace(cvae, p=1.0, seed=0)
    mix = BatchSyntheticMix(cvae, p=0.3, seed=0)
    album = SA.Denoise(dae_path)

    def per_item(fn: Callable) -> Callable[[], int]:
        return lambda: sum(1 for item in items if fn(item) is not None)

    single = batch[:1]
    cases = [
        (
            "dae.denoise alone (reference)",
            "tensor [1, 1, 16, 16] float32, one per call",
            1,
            lambda: sum(1 for _ in items if dae.denoise(single) is not None),
        ),
        ("Denoise", "PIL L 16x16, one per call", 1, per_item(lambda item: denoise(item[0]))),
        ("VAEVariation", "PIL L 16x16 + label, one per call", 1, per_item(lambda item: vary(*item))),
        ("SyntheticReplace (cVAE)", "PIL L 16x16 + label, one per call", 1, per_item(lambda item: replace(*item))),
        (
            "albumentations Denoise",
            "ndarray [16, 16, 1] uint8, one per call",
            1,
            lambda: sum(1 for array in arrays if album(image=array)["image"] is not None),
        ),
        ("Denoise", f"tensor [{BATCH}, 1, 16, 16] float32", BATCH, lambda: len(denoise(batch))),
        ("VAEVariation", f"tensor [{BATCH}, 1, 16, 16] float32 + labels", BATCH, lambda: len(vary(batch, labels)[0])),
        (
            "BatchSyntheticMix p=0.3 (cVAE)",
            f"tensor [{BATCH}, 1, 16, 16] float32 + labels",
            BATCH,
            lambda: len(mix(batch, labels)[0]),
        ),
    ]
    rows = []
    for transform, inputs, batch_size, fn in cases:
        rows.append(
            {
                "transform": transform,
                "input": inputs,
                "batch": batch_size,
                "images_per_s": round(rate(fn, args.repeats, device)),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| transform | input | images/s |", "|---|---|---|"]
    lines += [f"| {r['transform']} | {r['input']} | {r['images_per_s']:,} |" for r in rows]
    return "\n".join(lines)


def pictures(dae_path: Path, cvae_path: Path, data, img_dir: Path, seed: int) -> list[Path]:
    """Before/after grids from held-out digits, one column per class."""
    test = data.test
    first = [int((test.labels == c).nonzero()[0]) for c in range(data.num_classes)]
    clean, labels = test.images[first], test.labels[first]
    rng = torch.Generator().manual_seed(seed)
    noisy = gaussian_noise(clean, sigma=0.2, generator=rng)
    peppered = salt_and_pepper(clean, amount=0.1, generator=rng)
    denoise = Denoise(dae_path)
    rows = torch.cat([clean, noisy, denoise(noisy), peppered, denoise(peppered)])
    paths = [
        save_image_grid(
            rows,
            len(first),
            img_dir / "transforms-denoise.png",
            row_labels=["clean", "gaussian 0.2", "Denoise", "salt&pepper 0.1", "Denoise"],
            title="Denoise on held-out digits",
        )
    ]

    strengths = [0.0, 0.5, 1.0, 2.0]
    rows = [clean] + [VAEVariation(cvae_path, strength=s, seed=seed)(clean, labels)[0] for s in strengths]
    paths.append(
        save_image_grid(
            torch.cat(rows),
            len(first),
            img_dir / "transforms-vae-variation.png",
            row_labels=["real", *(f"strength {s:g}" for s in strengths)],
            title="VAEVariation of held-out digits",
        )
    )

    real, real_labels = test.images[:20], test.labels[:20]
    mixed, _ = BatchSyntheticMix(synthaug.load(cvae_path), p=0.3, seed=seed)(real, real_labels)
    paths.append(
        save_image_grid(
            torch.cat([real, mixed]),
            len(real),
            img_dir / "transforms-batch-mix.png",
            row_labels=["batch", "mixed p=0.3"],
            title="BatchSyntheticMix: 6 of 20 replaced by cVAE samples of the same labels",
        )
    )
    return paths


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", action="store_true", help="also write the docs pictures")
    parser.add_argument("--dae-epochs", type=int, default=30)
    parser.add_argument("--vae-epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--img", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    data = load_digits_data(image_size=16, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        dae_path, cvae_path, train_seconds = train(data, Path(tmp), args)
        rows = measure(dae_path, cvae_path, data, args)
        figures = [
            str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)
            for p in (pictures(dae_path, cvae_path, data, args.img, args.seed) if args.pictures else [])
        ]

    summary = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "data": {"name": "digits", "image_size": 16, "train": len(data.train), "test": len(data.test)},
        "training": {
            "dae_epochs": args.dae_epochs,
            "vae_epochs": args.vae_epochs,
            "seconds": train_seconds,
            "seed": args.seed,
        },
        "machine": {
            "device": args.device,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "rows": rows,
        "pictures": figures,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transforms.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{summary['command']}: models trained in {train_seconds} s on {args.device}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(table(rows))
    for figure in figures:
        print(f"wrote {figure}")
    return summary


if __name__ == "__main__":
    main()
