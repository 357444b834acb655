"""Kill -9 a training run at random points, resume it every time, and check that nothing was lost.

Usage:
    .venv/bin/python bench/kill_resume.py [--cycles 20] [--epochs 3*CYCLES] [--seed 0] [--out bench/results]

A tiny cGAN (8x8 grayscale, 3 classes, width 8, 48 training images, batch 8: 6 steps per
epoch, a sample grid every epoch) is trained through the command line,
``python -m synthaug train cgan --data FOLDER --out RUN --resume ...``. Each cycle starts
the run (``--resume``: from the last checkpoint, or from scratch when there is none),
waits until the process has started training and written a seeded random number (0-2) of
new checkpoints, waits a further random 0-0.3 s, and sends SIGKILL. After the cycles the
run is resumed to the end. An uninterrupted run with the same arguments is the reference.

Nothing is lost when the resumed run ends with
* exit status 0, a bundle that ``synthaug.load`` reads, and weights equal to the
  reference's (to 1e-6);
* ``metrics.jsonl`` logging the same (step, epoch) pairs as the reference: strictly
  increasing steps, none duplicated, none missing;
* a ``checkpoint.pt`` that loads with ``weights_only=True`` at the final step, and one
  sample grid per epoch;
* no temporary or hidden file left anywhere in the run directory.
After every kill the checkpoint on disk (if any) must load as well.

Writes OUT/kill_resume.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import synthaug

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("left", "right", "top")


def write_data(root: Path, per_class: int = 16, size: int = 8) -> Path:
    """A tiny ImageFolder: three easily told apart grayscale patterns plus seeded noise.

    16 per class: ``synthaug train`` trains on every image of a folder (no hidden split),
    so 48 images make the 6 steps per epoch of batch 8 that the checks count on.
    """
    rng = np.random.default_rng(0)
    half = size // 2
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = np.full((size, size), 25.0)
            if c == 0:
                image[:, :half] = 230
            elif c == 1:
                image[:, half:] = 230
            else:
                image[:half, :] = 230
            pixels = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root


def train_command(data: Path, out: Path, epochs: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "synthaug",
        "train",
        "cgan",
        "--data",
        str(data),
        "--out",
        str(out),
        "--image-size",
        "8",
        "--channels",
        "1",
        "--width",
        "8",
        "--latent-dim",
        "8",
        "--epochs",
        str(epochs),
        "--batch-size",
        "8",
        "--lr",
        "0.001",
        "--seed",
        "0",
        "--device",
        "cpu",
        "--sample-every",
        "1",
        "--no-progress",
        "--resume",
    ]


def start(command: list[str], log: Path) -> subprocess.Popen:
    # One thread in every run: the reference and the resumed run must compute the same bits.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def logged(run: Path) -> list[tuple[int, int]]:
    """(step, epoch) of every complete line of the run's metrics log."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [(r["step"], r["epoch"]) for r in map(json.loads, lines)]


def checkpoint_state(run: Path) -> dict | None:
    path = run / "checkpoint.pt"
    return torch.load(path, weights_only=True) if path.exists() else None


def leftovers(run: Path) -> list[str]:
    """Temporary or hidden entries anywhere under ``run`` (atomic writes leave none when they finish)."""
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def _wait(process: subprocess.Popen, until, timeout: float) -> bool:
    """Poll ``until()`` every 5 ms while ``process`` runs; False if it exited first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if until():
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run made no progress in {timeout:.0f} s")
        time.sleep(0.005)
    return False


def kill_cycle(command: list[str], run: Path, log: Path, rng: random.Random, timeout: float) -> dict:
    """Start the run, kill -9 it at a random point once it is training; describe where it died."""
    new_checkpoints, delay = rng.choice([0, 1, 1, 2]), rng.uniform(0.0, 0.3)
    metrics_inode, checkpoint_inode = _inode(run / "metrics.jsonl"), _inode(run / "checkpoint.pt")
    began = time.monotonic()
    process = start(command, log)
    # fit() rewrites metrics.jsonl (a new file) before the first step: training has started.
    training = _wait(process, lambda: _inode(run / "metrics.jsonl") not in (None, metrics_inode), timeout)
    seen = [checkpoint_inode]

    def checkpoints_written() -> bool:
        inode = _inode(run / "checkpoint.pt")
        if inode not in (None, seen[-1]):
            seen.append(inode)
        return len(seen) - 1 >= new_checkpoints

    if training and _wait(process, checkpoints_written, timeout):
        time.sleep(delay)
    killed = process.poll() is None
    if killed:
        process.send_signal(signal.SIGKILL)
    process.wait()
    try:
        state, loads = checkpoint_state(run), True  # the checkpoint must load after every kill
    except Exception:  # noqa: BLE001 - a checkpoint that does not load is the finding
        state, loads = None, False
    return {
        "killed": killed,
        "exit_status": process.returncode,
        "seconds_after_start": round(time.monotonic() - began, 2),
        "checkpoint_loads": loads,
        "checkpoint_epoch": state["epoch"] if state else None,
        "checkpoint_step": state["step"] if state else None,
        "last_logged_step": (logged(run) or [(None, None)])[-1][0],
        "temporaries_left": len(leftovers(run)),
    }


def compare(run: Path, reference: Path, exit_status: int) -> list[str]:
    """What the interrupted-and-resumed ``run`` lost or got wrong against the uninterrupted ``reference``."""
    problems = []
    if exit_status != 0:
        return [f"the final resume exited with status {exit_status}"]
    try:
        got, want = synthaug.load(run).state_dict(), synthaug.load(reference).state_dict()
        worst = max((got[k].float() - want[k].float()).abs().max().item() for k in want)
        if worst > 1e-6:
            problems.append(f"weights differ from the uninterrupted run by up to {worst:.3g}")
    except Exception as e:  # noqa: BLE001 - any failure to load is a finding
        problems.append(f"bundle does not load: {e}")
    steps = [step for step, _ in logged(run)]
    if steps != sorted(set(steps)):
        problems.append(f"metrics.jsonl steps are not strictly increasing: {steps}")
    if logged(run) != logged(reference):
        missing = sorted(set(logged(reference)) - set(logged(run)))
        extra = sorted(set(logged(run)) - set(logged(reference)))
        problems.append(f"metrics.jsonl differs from the uninterrupted run: missing {missing}, extra {extra}")
    state = checkpoint_state(run)
    if state is None or state["step"] != (steps or [None])[-1]:
        problems.append("checkpoint.pt is missing or not at the final step")
    grids = sorted(p.name for p in (run / "samples").glob("*.png"))
    if grids != sorted(p.name for p in (reference / "samples").glob("*.png")):
        problems.append(f"sample grids differ from the uninterrupted run's: {grids}")
    if leftovers(run):
        problems.append(f"temporary files left: {leftovers(run)}")
    return problems


def kill_resume(workdir: Path, cycles: int, epochs: int, seed: int = 0, timeout: float = 600.0) -> dict:
    """Run the whole experiment in ``workdir``; returns the JSON-ready result."""
    data = write_data(workdir / "data")
    run, reference = workdir / "run", workdir / "reference"
    log = workdir / "train.log"
    began = time.monotonic()
    straight = start(train_command(data, reference, epochs), workdir / "reference.log")  # in parallel
    rng = random.Random(seed)
    kills = []
    for _ in range(cycles):
        kills.append(kill_cycle(train_command(data, run, epochs), run, log, rng, timeout))
        if not kills[-1]["killed"]:  # the run finished before its kill: nothing left to interrupt
            break
    final = start(train_command(data, run, epochs), log)
    final_status = final.wait(timeout)
    straight.wait(timeout)
    problems = [] if straight.returncode == 0 else [f"the reference run exited with status {straight.returncode}"]
    problems += [
        f"after kill {k}, checkpoint.pt did not load" for k, kill in enumerate(kills, 1) if not kill["checkpoint_loads"]
    ]
    problems += compare(run, reference, final_status)
    return {
        "command": " ".join(["python", "-m", "synthaug", *train_command(data, run, epochs)[3:]]),
        "cycles_requested": cycles,
        "epochs": epochs,
        "seed": seed,
        "cycles_killed": sum(k["killed"] for k in kills),
        "killed_after_a_checkpoint": sum(k["killed"] and k["checkpoint_epoch"] is not None for k in kills),
        "killed_with_temporaries_on_disk": sum(k["killed"] and k["temporaries_left"] > 0 for k in kills),
        # Lines logged after the checkpoint: what a resume would log twice if it did not rewrite the log.
        "killed_with_log_past_checkpoint": sum(
            k["killed"] and (k["last_logged_step"] or 0) > (k["checkpoint_step"] or 0) for k in kills
        ),
        "final_steps": (logged(run) or [(None, None)])[-1][0],
        "survived": not problems,
        "problems": problems,
        "kills": kills,
        "seconds": round(time.monotonic() - began, 1),
        "device": f"cpu, torch {torch.__version__}, {os.cpu_count()} cores",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20, help="kill -9 / resume cycles (default 20)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of the run (default 3 x cycles, at least 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill points (default 0)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--keep", type=Path, default=None, help="work in this directory and keep it (default: a temporary one)"
    )
    args = parser.parse_args()
    epochs = args.epochs or max(8, 3 * args.cycles)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = kill_resume(args.keep, args.cycles, epochs, args.seed)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            result = kill_resume(Path(workdir), args.cycles, epochs, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kill_resume.json").write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"kill -9 / --resume: {result['cycles_killed']} of {result['cycles_requested']} cycles killed a running "
        f"training ({result['killed_after_a_checkpoint']} after at least one checkpoint, "
        f"{result['killed_with_log_past_checkpoint']} with steps logged past the checkpoint, "
        f"{result['killed_with_temporaries_on_disk']} with a temporary file left behind), then resumed to step "
        f"{result['final_steps']} over {epochs} epochs in {result['seconds']} s"
    )
    print(
        "nothing lost: bundle loads, weights equal to the uninterrupted run, metrics log with no duplicated or "
        "missing step, every sample grid, no temporary files"
        if result["survived"]
        else "LOST: " + "; ".join(result["problems"])
    )
    print(f"wrote {args.out / 'kill_resume.json'}")
    sys.exit(0 if result["survived"] else 1)


if __name__ == "__main__":
    main()
