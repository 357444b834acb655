"""Training and sampling throughput of synthaug's trainers, side by side with the plain anchor loop.

Usage:
    .venv/bin/python bench/throughput.py [--device cpu] [--out bench/results] [--steps 80]
        [--batches 64,256] [--amp auto|bf16|off] [--channels-last | --no-channels-last] [--compile] [--tag NAME]

Runs ../shared/bench/plain_cgan_anchor.py (the loop a user would write) in the same call,
then times synthaug's complete training step (CGANTrainer with DiffAugment and EMA on, and
CVAETrainer, as `fit` runs them) on 28x28 grayscale batches at batch 64 and 256, and
`sample` at batch 1,024. The anchor is a cGAN: its ratio to the cVAE rows is only context.
Writes OUT/throughput.json (OUT/throughput-TAG.json with --tag) and prints a markdown table with the ratios to the anchor.
These machines are noisy: only ratios measured in one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import synthaug
from synthaug.training import CGANTrainer, CVAETrainer

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "bench" / "plain_cgan_anchor.py"


def run_anchor(device: str, out: Path) -> dict:
    if not ANCHOR.is_file():
        return {}
    subprocess.run([sys.executable, str(ANCHOR), device, str(out)], check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "plain_cgan_anchor.json").read_text())


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_throughput(trainer_cls, model, batch: int, steps: int, device: str, **options) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_cls(model, tmp, device=device, batch_size=batch, progress=False, **options)
        images = torch.rand(4096, 1, 28, 28, device=device)
        labels = torch.randint(0, 10, (4096,), device=device)
        for _ in range(max(3, steps // 10)):  # warm-up: allocator, cuDNN autotuning
            index = torch.randint(0, len(labels), (batch,), device=device)
            trainer.training_step(images[index], labels[index])
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            index = torch.randint(0, len(labels), (batch,), device=device)
            trainer.training_step(images[index], labels[index])
        sync(device)
        return batch * steps / (time.perf_counter() - start)


def sample_throughput(model, batch: int, reps: int, device: str) -> float:
    rng = torch.Generator(device=device).manual_seed(0)
    labels = torch.arange(batch, device=device) % model.num_classes
    for _ in range(2):
        model.sample(labels, generator=rng)
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        model.sample(labels, generator=rng)
    sync(device)
    return batch * reps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--steps", type=int, default=80, help="timed training steps per row")
    parser.add_argument("--batches", default="64,256", help="training batch sizes, comma-separated")
    parser.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto", help="trainer amp option")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", nargs="?", const=True, default=False, metavar="MODE",
                        help="torch.compile the trained networks (MODE: default, reduce-overhead, max-autotune)")
    parser.add_argument("--tag", default="", help="suffix of the result file (throughput-TAG.json)")
    args = parser.parse_args()
    speed = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    args.out.mkdir(parents=True, exist_ok=True)
    device = args.device
    # The anchor runs before and after synthaug's rows; each ratio uses the mean of the
    # two, so slow drift of a shared machine does not favour either side.
    before = run_anchor(device, args.out)
    results = {"device": torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu x{torch.get_num_threads()} threads",
               "torch": torch.__version__, "synthaug": synthaug.__version__, "options": speed, "rows": []}
    # The cGAN step as a small-data user runs it: DiffAugment (the grayscale policy) and EMA on.
    families = {
        "cgan": (synthaug.ConditionalGAN, CGANTrainer, {"diffaugment": "translation,cutout"}),
        "cvae": (synthaug.ConditionalVAE, CVAETrainer, {}),
    }
    for name, (model_cls, trainer_cls, options) in families.items():
        for batch in (int(b) for b in args.batches.split(",")):
            model = model_cls(num_classes=10, channels=1, image_size=28)
            ips = train_throughput(trainer_cls, model, batch, args.steps, device, **options, **speed)
            results["rows"].append({"what": f"train {name}", "batch": batch, "img_s": round(ips),
                                    "anchor_img_s": None, "ratio": None})
        model = model_cls(num_classes=10, channels=1, image_size=28).to(device)
        ips = sample_throughput(model, 1024, 10 if device == "cpu" else 50, device)
        results["rows"].append({"what": f"sample {name}", "batch": 1024, "img_s": round(ips),
                                "anchor_img_s": None, "ratio": None})
    after = run_anchor(device, args.out)
    for row in results["rows"]:
        key = f"train_bs{row['batch']}_fp32_img_s" if row["what"].startswith("train") else "sample_bs1024_img_s"
        if key in before and key in after:
            row["anchor_img_s"] = round((before[key] + after[key]) / 2)
            row["anchor_before_after"] = [before[key], after[key]]
            row["ratio"] = round(row["img_s"] / row["anchor_img_s"], 2)
    results["anchor"] = {"before": before, "after": after}
    (args.out / (f"throughput-{args.tag}.json" if args.tag else "throughput.json")).write_text(json.dumps(results, indent=1) + "\n")
    print(f"device: {results['device']}, torch {results['torch']}\n")
    print("| what | batch | synthaug img/s | anchor img/s | ratio |\n|---|---|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['what']} | {r['batch']} | {r['img_s']:,} | {r['anchor_img_s'] or 'n/a'} | {r['ratio'] or 'n/a'} |")


if __name__ == "__main__":
    main()
