"""Denoising benchmark: a DAE trained on the embedded digits, evaluated per corruption on held-out digits.

Usage:
    .venv/bin/python bench/dae.py [--epochs 100] [--width 32] [--seed 0] [--device cpu] [--out bench/results]

Trains ``DenoisingAutoencoder(channels=1, image_size=16, width=32)`` with ``DAETrainer``
on the 1,347-image training split of scikit-learn's digits (16x16), every image corrupted
by one of gaussian / salt_and_pepper / cutout / blur (equal mix, default severities).
Then, for each corruption alone, the 450 held-out test images are corrupted (seeded),
denoised, and PSNR / SSIM of corrupted and denoised against clean are measured.
Writes OUT/dae.json (settings, timings, the report) and prints a markdown table.
About 80 seconds on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import synthaug
from synthaug.data.real import load_digits_data
from synthaug.metrics.denoising import denoising_report, report_table
from synthaug.training import DAETrainer
from synthaug.utils.seeding import seeded

COMMAND = "python bench/dae.py"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)

    data = load_digits_data(image_size=16, seed=args.seed)
    with seeded(args.seed):
        dae = synthaug.DenoisingAutoencoder(channels=1, image_size=16, width=args.width)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = DAETrainer(
            dae,
            run_dir,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            device=args.device,
            sample_every=0,
            progress=False,
            preview_images=data.test.images,
        )
        result = trainer.fit(data.train)
    start = time.perf_counter()
    report = denoising_report(dae, data.test.images, seed=args.seed)
    eval_seconds = time.perf_counter() - start

    summary = {
        "command": " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "data": {"name": "digits", "image_size": 16, "train": len(data.train), "test": len(data.test)},
        "model": dae.config,
        "parameters": sum(p.numel() for p in dae.parameters()),
        "training": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "steps": result.steps,
            "seed": args.seed,
            "corruptions": trainer.corruptions.weights,
            "final_loss": result.final_losses.get("loss"),
            "seconds": round(result.seconds, 1),
        },
        "eval_seconds": round(eval_seconds, 2),
        "machine": {
            "device": args.device,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "report": report,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dae.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"{summary['command']}: {result.steps} steps in {result.seconds:.0f}s on {args.device}, "
        f"{len(data.test)} held-out 16x16 digits\n"
    )
    print(report_table(report))
    return summary


if __name__ == "__main__":
    main()
