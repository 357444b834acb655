"""End-to-end speed of `fit()`: the wall clock of a whole cGAN training run, beside the plain anchor loop.

Usage:
    .venv/bin/python bench/fit_speed.py [--device cpu] [--sizes 1000,60000] [--steps 300]
        [--batches 64] [--out bench/results] [--tag NAME] [--no-anchor] [--smoke]

For each training-set size (Fashion-MNIST's training images: a seeded random subset of
1,000, and all 60,000) the script times `CGANTrainer(ConditionalGAN(...), run_dir,
batch_size=B).fit(data)` exactly as a user runs it, from building the model to `fit`
returning: fit's defaults throughout (DiffAugment "auto", so on below 10,000 images; the
EMA generator; checkpoints, sample grids, loss curves and the bundle written as `fit`
writes them), with only the length of the run fixed: `steps=N` when the trainer accepts
it (checked with `inspect`), else the fewest whole epochs that reach N steps. The tqdm bar
is off (progress=False); everything else is the default. Loading the data is not timed
(it is reported separately).

fit img/s = images seen (steps x batch) / wall seconds (model and trainer setup, the data
checks, every step, checkpoint and sample-grid writes, the final bundle). The ratio is fit
img/s over the training img/s of ../shared/bench/plain_cgan_anchor.py (the loop a user
would write, no augmentation, no files) at the same batch size and precision, run in the
same invocation before and after the fit runs (the mean of the two is used). The time
spent in checkpoints and sample grids is reported beside it.

Writes OUT/fit_speed.json (fit_speed-TAG.json with --tag; fit_speed-smoke.json with --smoke)
and prints a markdown table for docs/benchmarks.md. Defaults take about 5 minutes on 2 CPU
cores. `--smoke` is a few steps on small data (random images if Fashion-MNIST is not
installed) with a single anchor run, to check that the script works; its figures mean nothing.
Fashion-MNIST: `apt-get install dataset-fashion-mnist` (read from /usr/share/datasets/fashion-mnist).
These machines are noisy: only ratios measured in one run mean anything.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import synthaug
from synthaug.data.real import LabelledImages, load_real_data
from synthaug.training import CGANTrainer

ROOT = Path(__file__).resolve().parents[1]
ANCHOR = ROOT.parent / "shared" / "bench" / "plain_cgan_anchor.py"


def run_anchor(device: str, out: Path) -> dict:
    """The anchor's figures ({} when the script is not there)."""
    if not ANCHOR.is_file():
        print(f"anchor {ANCHOR} not found: no ratios", file=sys.stderr)
        return {}
    subprocess.run([sys.executable, str(ANCHOR), device, str(out)], check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "plain_cgan_anchor.json").read_text())


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def accepts_steps(trainer_cls: type) -> bool:
    """Whether the trainer takes ``steps=`` (as an argument of its own or a field of its config)."""
    if "steps" in inspect.signature(trainer_cls.__init__).parameters:
        return True
    module = sys.modules[trainer_cls.__module__]
    configs = {
        getattr(trainer_cls, "config_class", None),
        getattr(module, "TrainingConfig", None),
        getattr(sys.modules.get("synthaug.training.base"), "TrainingConfig", None),
    }
    return any(c is not None and "steps" in inspect.signature(c).parameters for c in configs)


def run_length(trainer_cls: type, steps: int, num_images: int, batch: int) -> dict[str, int]:
    """The keyword that makes a run of (at least) ``steps`` steps."""
    if accepts_steps(trainer_cls):
        return {"steps": steps}
    # Whole epochs only: fit drops each epoch's ragged tail.
    per_epoch = num_images // min(batch, num_images)
    return {"epochs": max(1, math.ceil(steps / per_epoch))}


def build_trainer(run_dir: Path, batch: int, device: str, length: dict[str, int]) -> CGANTrainer:
    model = synthaug.ConditionalGAN(num_classes=10, channels=1, image_size=28)
    options: dict[str, Any] = {"device": device, "batch_size": batch, "progress": False, **length}
    try:
        return CGANTrainer(model, run_dir, **options)
    except (TypeError, ValueError) as e:
        # "exactly one of epochs/steps": if epochs keeps a non-None default, say it is not used.
        if "steps" in length and "epochs" in str(e):
            return CGANTrainer(model, run_dir, **options, epochs=None)
        raise


class Timer:
    """Wraps a bound method of one object and adds up the seconds spent in it."""

    def __init__(self, owner: Any, name: str, device: str):
        self.seconds, self.calls = 0.0, 0
        method = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            sync(device)
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                sync(device)
                self.seconds += time.perf_counter() - start
                self.calls += 1

        setattr(owner, name, timed)  # an instance attribute: the class is untouched


def time_fit(data: LabelledImages, batch: int, steps: int, device: str, work: Path) -> dict[str, Any]:
    """One whole ``fit`` run, timed from building the model to ``fit`` returning."""
    run_dir = Path(tempfile.mkdtemp(prefix="fit_speed_", dir=work))
    try:
        length = run_length(CGANTrainer, steps, len(data), batch)
        sync(device)
        start = time.perf_counter()
        trainer = build_trainer(run_dir, batch, device, length)
        checkpoints = Timer(trainer, "save_checkpoint", device)
        grids = Timer(trainer, "save_progress_images", device)
        result = trainer.fit(data)
        sync(device)
        wall = time.perf_counter() - start
        images_seen = result.steps * trainer.config.batch_size
        augment = getattr(trainer, "augment", None)
        return {
            "train_images": len(data),
            "batch": batch,
            "run_length": length,
            "steps": result.steps,
            "images_seen": images_seen,
            "diffaugment": ",".join(augment.policy) if augment is not None else "off",
            "precision": "bf16" if trainer.config.use_bf16 else "fp32",
            "wall_s": round(wall, 2),
            "fit_img_s": round(images_seen / wall, 1),
            "loop_s": round(result.seconds, 2),  # fit's own clock: the epochs, without setup and final writes
            "checkpoint_s": round(checkpoints.seconds, 2),
            "checkpoints": checkpoints.calls,
            "grid_s": round(grids.seconds, 2),
            "grids": grids.calls,
            "run_dir_mb": round(sum(f.stat().st_size for f in run_dir.rglob("*") if f.is_file()) / 2**20, 1),
        }
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def training_set(smoke: bool) -> tuple[LabelledImages, str, float]:
    """Fashion-MNIST's 60,000 training images (in smoke mode: random images if it is not installed)."""
    start = time.perf_counter()
    try:
        train = load_real_data("fashion-mnist").train
        name = "fashion-mnist"
    except FileNotFoundError as e:
        if not smoke:
            sys.exit(f"fit_speed: Fashion-MNIST is needed and was not found.\n{e}")
        print("smoke: Fashion-MNIST not installed, using random images", file=sys.stderr)
        train = LabelledImages(torch.rand(2048, 1, 28, 28), torch.randint(0, 10, (2048,)))
        name = "random (smoke)"
    return train, name, time.perf_counter() - start


def subset(data: LabelledImages, size: int, seed: int = 0) -> LabelledImages:
    """A seeded random subset of ``size`` images (all of them when there are not more)."""
    if size >= len(data):
        return data
    index = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:size].sort().values
    return LabelledImages(data.images[index].clone(), data.labels[index].clone())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default=None, help="training-set sizes, comma-separated (default 1000,60000)")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps per run (default 300: 20 epochs of 1,000)"
    )
    parser.add_argument(
        "--batches", default="64", help="batch sizes, comma-separated (the anchor has 64 and 256 on CPU)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--tag", default="", help="suffix of the result file (fit_speed-TAG.json)")
    parser.add_argument("--no-anchor", action="store_true", help="skip the anchor (no ratios)")
    parser.add_argument(
        "--smoke", action="store_true", help="a few steps on small data, one anchor run: checks the script"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("256,512" if args.smoke else "1000,60000")).split(",")]
    steps = args.steps or (3 if args.smoke else 300)
    batches = [int(b) for b in args.batches.split(",")]
    if min(sizes) < 1 or steps < 1 or min(batches) < 1:
        parser.error("sizes, steps and batches must be positive")
    args.out.mkdir(parents=True, exist_ok=True)
    device = args.device

    train, data_name, load_s = training_set(args.smoke)
    print(
        f"data: {data_name}, {len(train):,} training images (loaded in {load_s:.1f}s); "
        f"run length: {'steps=' if accepts_steps(CGANTrainer) else 'whole epochs covering '}{steps} steps",
        flush=True,
    )
    before = {} if args.no_anchor else run_anchor(device, args.out)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name()
        if device.startswith("cuda")
        else f"cpu x{torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "synthaug": synthaug.__version__,
        "data": data_name,
        "data_load_s": round(load_s, 2),
        "smoke": args.smoke,
        "rows": [],
    }
    for size in sizes:
        data = subset(train, size)
        for batch in batches:
            row = time_fit(data, batch, steps, device, args.out)
            results["rows"].append(row)
            print(
                f"{row['train_images']:,} images, batch {batch}, DiffAugment {row['diffaugment']}: {row['steps']} steps "
                f"in {row['wall_s']}s = {row['fit_img_s']:,} img/s (checkpoints {row['checkpoint_s']}s, "
                f"grids {row['grid_s']}s)",
                flush=True,
            )
    # Smoke: one anchor run is enough to exercise the ratios.
    after = {} if args.no_anchor else (before if args.smoke else run_anchor(device, args.out))
    for row in results["rows"]:
        key = f"train_bs{row['batch']}_{row['precision']}_img_s"
        row["anchor_img_s"] = row["ratio"] = None
        if key in before and key in after:
            row["anchor_before_after"] = [before[key], after[key]]
            row["anchor_img_s"] = round((before[key] + after[key]) / 2)
            row["ratio"] = round(row["fit_img_s"] / row["anchor_img_s"], 2)
    results["anchor"] = {"before": before, "after": after}
    name = (
        "fit_speed-smoke.json"
        if args.smoke and not args.tag
        else f"fit_speed-{args.tag}.json"
        if args.tag
        else "fit_speed.json"
    )
    (args.out / name).write_text(json.dumps(results, indent=1) + "\n")

    command = "bench/fit_speed.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    print(
        f"\ndevice: {results['device']}, torch {results['torch']}, data: {data_name}; `.venv/bin/python {command}`; "
        f"wrote {args.out / name}\n"
    )
    print(
        "| training images | DiffAugment | batch | steps | wall s | fit img/s | anchor img/s | ratio "
        "| checkpoints (s) | sample grids (s) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for r in results["rows"]:
        print(
            f"| {r['train_images']:,} | {r['diffaugment']} | {r['batch']} | {r['steps']:,} | {r['wall_s']:.1f} | "
            f"{r['fit_img_s']:,.0f} | {r['anchor_img_s'] or 'n/a'} | {r['ratio'] or 'n/a'} | "
            f"{r['checkpoints']} ({r['checkpoint_s']:.1f}) | {r['grids']} ({r['grid_s']:.1f}) |"
        )


if __name__ == "__main__":
    main()
