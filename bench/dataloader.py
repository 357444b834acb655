"""SyntheticDataset inside a DataLoader, beside an in-memory TensorDataset; memory of a huge virtual set.

Usage:
    .venv/bin/python bench/dataloader.py [--items 60000] [--out bench/results]

1. Epoch time over ``--items`` items (batch 128, shuffle, num_workers 0 and 2) of a
   ``SyntheticDataset`` (the default 28x28 cGAN, ``image_type="tensor"``; ``--bundle`` for
   a trained one, else its seeded initialisation: weights do not change the compute) and
   of a ``TensorDataset`` of the same size, shape and dtype, in the same run. Rows: the first epoch (cache cold: generation included) and a
   warm epoch (num_workers 0: the cache filled by the first epoch; num_workers 2:
   ``warm()`` in the main process before the loader forks its workers).
2. Peak RSS of a 10,000,000-item virtual dataset (default ``image_type="pil"``) read for
   100,000 items in ``ChunkShuffleSampler(buffer_chunks=32)`` order, with the default
   cache (up to 256 MiB) and with ``cache_chunks=64`` (twice the sampler's buffer: all
   it needs), each in a fresh subprocess: peak minus the RSS after imports and model
   construction.
Writes OUT/dataloader.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

import synthaug
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]


def default_cgan(bundle: str | None = None) -> synthaug.ConditionalGAN:
    """A trained bundle when given, else the default 28x28 cGAN at its seeded initialisation."""
    if bundle:
        return synthaug.load(bundle)
    with seeded(0):
        return synthaug.ConditionalGAN(num_classes=10, channels=1, image_size=28)


def epoch_seconds(dataset, workers: int) -> float:
    loader = DataLoader(
        dataset, batch_size=128, shuffle=True, num_workers=workers, generator=torch.Generator().manual_seed(0)
    )
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def rss_mb(field: str = "VmRSS") -> float:
    """Current (``VmRSS``) or peak (``VmHWM``) resident memory of this process in MB.

    VmHWM, unlike ``getrusage``'s ru_maxrss, starts afresh at exec: a child started from
    a big parent does not inherit the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(items: int, bundle: str | None, cache_chunks: int | None) -> None:
    """Runs in a fresh interpreter: prints JSON with baseline, peak and end RSS in MB."""
    gen = default_cgan(bundle)
    ds = synthaug.SyntheticDataset(gen, num_samples=10_000_000, cache_chunks=cache_chunks)
    baseline = rss_mb()
    start = time.perf_counter()
    for n, index in enumerate(synthaug.ChunkShuffleSampler(ds, buffer_chunks=32)):
        ds[index]
        if n + 1 == items:
            break
    seconds = time.perf_counter() - start
    peak = rss_mb("VmHWM")
    print(
        json.dumps(
            {
                "baseline_mb": round(baseline, 1),
                "peak_mb": round(peak, 1),
                "end_mb": round(rss_mb(), 1),
                "peak_above_baseline_mb": round(peak - baseline, 1),
                "items": items,
                "items_per_s": round(items / seconds),
                "cache_chunks": ds.cache_chunks,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=60_000, help="dataset size for the epoch timings")
    parser.add_argument("--virtual-items", type=int, default=100_000, help="items read from the 10M virtual set")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--bundle", default=None, help="a trained 28x28 cGAN bundle (default: the seeded initialisation)"
    )
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache-chunks", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.virtual_items, args.bundle, args.cache_chunks)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    gen = default_cgan(args.bundle)
    labels = torch.arange(10).repeat_interleave(args.items // 10)
    real = TensorDataset(torch.rand(len(labels), 1, 28, 28), labels)
    rows = []
    for workers in (0, 2):
        tensor_s = min(epoch_seconds(real, workers) for _ in range(2))
        synthetic = synthaug.SyntheticDataset(gen, num_samples=len(labels), image_type="tensor")
        first_s = epoch_seconds(synthetic, workers)
        if workers:
            synthetic = synthaug.SyntheticDataset(gen, num_samples=len(labels), image_type="tensor")
            t0 = time.perf_counter()
            synthetic.warm(progress=False)
            warm_up_s = time.perf_counter() - t0
        else:
            warm_up_s = 0.0
        warm_s = min(epoch_seconds(synthetic, workers) for _ in range(2))
        rows.append(
            {
                "num_workers": workers,
                "tensor_dataset_s": round(tensor_s, 3),
                "synthetic_first_epoch_s": round(first_s, 3),
                "synthetic_warm_epoch_s": round(warm_s, 3),
                "warm_up_s": round(warm_up_s, 2),
                "first_epoch_ratio": round(first_s / tensor_s, 2),
                "warm_ratio": round(warm_s / tensor_s, 3),
            }
        )
    memory = []
    for cache_chunks in (None, 64):
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", "--virtual-items", str(args.virtual_items)]
            + (["--bundle", args.bundle] if args.bundle else [])
            + (["--cache-chunks", str(cache_chunks)] if cache_chunks else []),
            check=True,
            capture_output=True,
            text=True,
        )
        memory.append(json.loads(child.stdout.strip().splitlines()[-1]))
    result = {
        "command": "python bench/dataloader.py" + (f" --bundle {args.bundle}" if args.bundle else ""),
        "generator": args.bundle or "default ConditionalGAN(10 classes, 1x28x28), seeded initialisation",
        "items": len(labels),
        "batch_size": 128,
        "device": f"cpu x{torch.get_num_threads()} threads, torch {torch.__version__}",
        "epochs": rows,
        "virtual_10M": memory,
    }
    (args.out / "dataloader.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(labels):,} items of 1x28x28 float32, batch 128, shuffle; {result['device']}\n")
    print(
        "| num_workers | TensorDataset s/epoch | SyntheticDataset first epoch s | warm epoch s | "
        "first-epoch ratio | warm ratio |\n|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['num_workers']} | {r['tensor_dataset_s']:.2f} | {r['synthetic_first_epoch_s']:.2f} | "
            f"{r['synthetic_warm_epoch_s']:.2f} | {r['first_epoch_ratio']:.2f} | {r['warm_ratio']:.2f} |"
        )
    print(f"\n10,000,000-item virtual dataset, {args.virtual_items:,} items read in ChunkShuffleSampler order\n")
    print(
        "| cache_chunks | RSS baseline MB | peak MB | peak above baseline MB | end MB | items/s |\n|---|---|---|---|---|---|"
    )
    for m in memory:
        print(
            f"| {m['cache_chunks']} | {m['baseline_mb']} | {m['peak_mb']} | {m['peak_above_baseline_mb']} | "
            f"{m['end_mb']} | {m['items_per_s']:,} |"
        )


if __name__ == "__main__":
    main()
