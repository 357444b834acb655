"""Multi-process training and sharded sampling, timed as users run them: 1 process vs torchrun.

Usage:
    .venv/bin/python bench/scaling.py [--processes 2] [--device cpu] [--out bench/results]

Trains the same cGAN (digits at 16x16, global batch 64, 10 epochs, seed 0) with
``python -m synthaug train`` and with ``torchrun --nproc_per_node=N -m synthaug train``,
then samples 100,000 images with ``synthaug sample`` into one .npz and into N shards under
torchrun. Reports wall-clock seconds (process start-up included, as a user sees it), the
training steps per second from the run's own clock (metrics.jsonl, start-up excluded),
and each run's last logged losses. On CPU each process gets ``cores / N`` threads, so the
comparison is the same cores used two ways. Writes OUT/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [
    "--data",
    "digits",
    "--batch-size",
    "64",
    "--epochs",
    "10",
    "--seed",
    "0",
    "--sample-every",
    "0",
    "--no-progress",
]


def launch(args: list[str], processes: int, threads: int) -> float:
    """Run ``synthaug ARGS`` (under torchrun when ``processes`` > 1); wall-clock seconds."""
    runner = (
        [sys.executable, "-m", "synthaug"]
        if processes == 1
        else [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            "-m",
            "synthaug",
        ]
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([*runner, *args], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    n = args.processes
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for processes in (1, n):
            run = tmp / f"cgan-{processes}"
            wall = launch(
                ["train", "cgan", "--out", str(run), "--device", args.device, *TRAIN],
                processes,
                max(1, cores // processes),
            )
            history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            last = history[-1]
            rows.append(
                {
                    "what": "train cgan",
                    "processes": processes,
                    "wall_s": round(wall, 1),
                    "steps": last["step"],
                    "steps_per_s": round(last["step"] / last["seconds"], 1),
                    "img_per_s": round(64 * last["step"] / last["seconds"]),
                    "last_losses": {k: v for k, v in last.items() if k.startswith("loss")},
                }
            )
        bundle = tmp / "cgan-1"
        for processes in (1, n):
            out = tmp / (f"sample-{processes}.npz" if processes == 1 else f"shards-{processes}")
            wall = launch(
                [
                    "sample",
                    str(bundle),
                    "--out",
                    str(out),
                    "--num-samples",
                    "100000",
                    "--device",
                    args.device,
                    "--no-progress",
                ],
                processes,
                max(1, cores // processes),
            )
            rows.append(
                {
                    "what": "sample 100,000 cgan",
                    "processes": processes,
                    "wall_s": round(wall, 1),
                    "img_per_s": round(100000 / wall),
                }
            )
    result = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu, {cores} cores",
        "torch": torch.__version__,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"device: {result['device']}\n\n| what | processes | wall s | steps/s | img/s | last losses |\n|---|---|---|---|---|---|"
    )
    for r in rows:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in r.get("last_losses", {}).items())
        print(
            f"| {r['what']} | {r['processes']} | {r['wall_s']} | {r.get('steps_per_s', '')} | {r['img_per_s']:,} | {losses} |"
        )


if __name__ == "__main__":
    main()
