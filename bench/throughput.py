"""Training and sampling throughput of synthaug's trainers, side by side with the plain anchor loop.

Usage:
    .venv/bin/python bench/throughput.py [--device cpu] [--out bench/results] [--steps 80]
        [--batches 64,256] [--train-images 1000] [--amp auto|bf16|off] [--channels-last | --no-channels-last]
        [--compile] [--tag NAME]

Runs ../shared/bench/plain_cgan_anchor.py (the loop a user would write) in the same call,
then times synthaug's complete training step (CGANTrainer and CVAETrainer, as `fit` runs
them) on 28x28 grayscale batches at batch 64 and 256, and `sample` at batch 1,024. The anchor
is a cGAN: its ratio to the cVAE rows is only context.

"As `fit` runs them": each trainer is built with its defaults and gets the same preparation
as in `fit` (`check_data` and `prepare` on a training set of --train-images images, then
every step under fit's autocast). So the cGAN's DiffAugment ("auto") is on below 10,000
training images (translation + cutout for grayscale) and off from 10,000 up, and its EMA
update is on; each row says whether DiffAugment ran. `--train-images 1000,60000` measures
both regimes.
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
from synthaug.data.real import LabelledImages
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


def diffaugment_of(trainer) -> str | None:
    """The DiffAugment policy a prepared trainer runs, "off", or None for trainers without DiffAugment."""
    if not hasattr(trainer, "augment"):
        return None
    return ",".join(trainer.augment.policy) if trainer.augment is not None else "off"


def train_throughput(
    trainer_cls, model, batch: int, steps: int, device: str, train_images: int, **options
) -> tuple[float, str | None, str]:
    """Images/s of ``training_step`` as ``fit`` runs it, the DiffAugment policy that ran, and the precision."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = trainer_cls(model, tmp, device=device, batch_size=batch, progress=False, **options)
        # Random images stand in for the data (speed does not depend on the pixels); their
        # number is what matters: the cGAN's prepare() turns DiffAugment on below 10,000.
        data = LabelledImages(torch.rand(train_images, 1, 28, 28), torch.randint(0, 10, (train_images,)))
        # fit's preparation (Trainer.fit: check_data, then the prepare hook) ...
        trainer.check_data(data)
        trainer.prepare(data)
        trainer.model.train()
        images, labels = data.images.to(device), data.labels.to(device)
        if trainer.config.use_channels_last:  # fit's layout of the training set (CUDA by default)
            images = images.contiguous(memory_format=torch.channels_last)
        # ... and its autocast around every step (bf16 on CUDA with amp "auto").
        autocast = torch.autocast(trainer.device.type, dtype=torch.bfloat16, enabled=trainer.config.use_bf16)

        def step() -> None:
            index = torch.randint(0, len(labels), (batch,), device=device)
            with autocast:
                trainer.training_step(images[index], labels[index])

        for _ in range(max(3, steps // 10)):  # warm-up: allocator, cuDNN autotuning
            step()
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        precision = "bf16" if trainer.config.use_bf16 else "fp32"
        return batch * steps / (time.perf_counter() - start), diffaugment_of(trainer), precision


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
    parser.add_argument(
        "--train-images",
        default="1000",
        help="training-set sizes the trainers are prepared for, comma-separated (the cGAN's "
        "DiffAugment is on below 10,000); default 1000, the small-data case",
    )
    parser.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto", help="trainer amp option")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--compile",
        nargs="?",
        const=True,
        default=False,
        metavar="MODE",
        help="torch.compile the trained networks (MODE: default, reduce-overhead, max-autotune)",
    )
    parser.add_argument("--tag", default="", help="suffix of the result file (throughput-TAG.json)")
    args = parser.parse_args()
    speed = {"amp": args.amp, "channels_last": args.channels_last, "compile": args.compile}
    args.out.mkdir(parents=True, exist_ok=True)
    device = args.device
    # The anchor runs before and after synthaug's rows; each ratio uses the mean of the
    # two, so slow drift of a shared machine does not favour either side.
    before = run_anchor(device, args.out)
    results = {
        "device": torch.cuda.get_device_name()
        if device.startswith("cuda")
        else f"cpu x{torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "synthaug": synthaug.__version__,
        "options": speed,
        "rows": [],
    }
    # Each trainer with its defaults (the cGAN's DiffAugment "auto" and EMA), prepared as fit prepares it.
    families = {
        "cgan": (synthaug.ConditionalGAN, CGANTrainer, [int(n) for n in args.train_images.split(",")]),
        "cvae": (synthaug.ConditionalVAE, CVAETrainer, [int(args.train_images.split(",")[0])]),  # no data-size switch
    }
    for name, (model_cls, trainer_cls, sizes) in families.items():
        for train_images in sizes:
            for batch in (int(b) for b in args.batches.split(",")):
                model = model_cls(num_classes=10, channels=1, image_size=28)
                ips, policy, precision = train_throughput(
                    trainer_cls, model, batch, args.steps, device, train_images, **speed
                )
                results["rows"].append(
                    {
                        "what": f"train {name}",
                        "batch": batch,
                        "train_images": train_images,
                        "diffaugment": policy,
                        "precision": precision,
                        "img_s": round(ips),
                        "anchor_img_s": None,
                        "ratio": None,
                    }
                )
        model = model_cls(num_classes=10, channels=1, image_size=28).to(device)
        ips = sample_throughput(model, 1024, 10 if device == "cpu" else 50, device)
        results["rows"].append(
            {
                "what": f"sample {name}",
                "batch": 1024,
                "train_images": None,
                "diffaugment": None,
                "img_s": round(ips),
                "anchor_img_s": None,
                "ratio": None,
            }
        )
    after = run_anchor(device, args.out)
    for row in results["rows"]:
        # Training rows against the anchor at the same batch and precision (bf16 rows only exist on CUDA).
        key = (
            f"train_bs{row['batch']}_{row['precision']}_img_s"
            if row["what"].startswith("train")
            else "sample_bs1024_img_s"
        )
        if key in before and key in after:
            row["anchor_img_s"] = round((before[key] + after[key]) / 2)
            row["anchor_before_after"] = [before[key], after[key]]
            row["ratio"] = round(row["img_s"] / row["anchor_img_s"], 2)
    results["anchor"] = {"before": before, "after": after}
    (args.out / (f"throughput-{args.tag}.json" if args.tag else "throughput.json")).write_text(
        json.dumps(results, indent=1) + "\n"
    )
    print(f"device: {results['device']}, torch {results['torch']}\n")
    print(
        "| what | batch | training images | DiffAugment | synthaug img/s | anchor img/s | ratio |\n"
        "|---|---|---|---|---|---|---|"
    )
    for r in results["rows"]:
        print(
            f"| {r['what']} | {r['batch']} | {r['train_images'] or '-'} | {r['diffaugment'] or '-'} | "
            f"{r['img_s']:,} | {r['anchor_img_s'] or 'n/a'} | {r['ratio'] or 'n/a'} |"
        )


if __name__ == "__main__":
    main()
