"""Soak: read a million synthetic items through a DataLoader; memory must stay flat. Then 20 loads in threads.

Usage:
    .venv/bin/python bench/soak.py [--items 1000000] [--workers 2] [--batch-size 256] [--interval 5]
                                   [--bundle DIR] [--out bench/results]

1. A small cGAN bundle (10 classes, 1x16x16, width 16, its seeded initialisation: weights
   do not change the compute) is saved to a temporary directory and loaded back, or
   ``--bundle`` is loaded.
2. ``SyntheticDataset(gen, ITEMS, image_type="tensor", cache_chunks=64)`` is read once, in
   ``ChunkShuffleSampler(buffer_chunks=32)`` order (the documented order for sets larger
   than the cache), through ``DataLoader(batch_size=256, num_workers=2)``. A thread
   samples every ``--interval`` seconds the memory of the main process and its worker
   processes, from /proc: RSS summed (shared pages counted in every process) and PSS
   summed (shared pages split between them: the memory the soak really holds), and the
   items delivered since the previous sample.
3. 20 threads call ``synthaug.load(bundle)`` at the same moment and sample 40 images with
   ``torch.Generator().manual_seed(0)``: every state_dict and every sample must equal a
   plain load's.

Memory is flat when the total PSS at the end is within max(16 MB, 5%) of the first
sample taken once 10% of the items, and at least the 64 x 256 items that fill every
worker's chunk cache, were read (the caches and the allocator's pools are warm by then). Writes OUT/soak.json and prints start/end/peak memory, drift and throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.utils.data import DataLoader

import synthaug
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]


def _kb(path: Path, field: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its child processes (the DataLoader workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # Field 4 of /proc/PID/stat is the parent's id (after the parenthesised command name).
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return [pid, *sorted(children)]


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) summed over ``pids`` in MB; processes that exited meanwhile count 0."""
    rss = pss = 0
    for pid in pids:
        try:
            rss += _kb(Path(f"/proc/{pid}/status"), "VmRSS")
            pss += _kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss")
        except OSError:
            continue
    return rss / 1024, pss / 1024


def small_bundle(directory: Path) -> Path:
    with seeded(0):
        synthaug.ConditionalGAN(num_classes=10, channels=1, image_size=16, width=16).save_pretrained(directory)
    return directory


def parallel_load_check(bundle: Path, threads: int = 20) -> dict:
    """``threads`` simultaneous ``synthaug.load(bundle)`` calls: same weights and samples as a plain load?"""
    reference = synthaug.load(bundle)
    labels = torch.arange(reference.num_classes).repeat(4)
    want = reference.sample(labels, generator=torch.Generator().manual_seed(0))
    barrier = threading.Barrier(threads)

    def load_and_sample(_: int):
        barrier.wait()  # every thread calls load() at the same moment
        model = synthaug.load(bundle)
        return model.state_dict(), model.sample(labels, generator=torch.Generator().manual_seed(0))

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(load_and_sample, range(threads)))
    seconds = time.perf_counter() - start
    expected = reference.state_dict()
    same_state = all(
        state.keys() == expected.keys() and all(torch.equal(state[k], expected[k]) for k in expected)
        for state, _ in results
    )
    same_samples = all(torch.equal(images, want) for _, images in results)
    return {
        "threads": threads,
        "loads": len(results),
        "identical_state_dicts": same_state,
        "identical_samples": same_samples,
        "seconds": round(seconds, 3),
    }


class Sampler(threading.Thread):
    """Every ``interval`` s: seconds, items delivered so far, RSS and PSS of the process tree."""

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval, self.items, self.rows = interval, 0, []
        self.stopped = threading.Event()
        self.start_time = time.perf_counter()

    def sample(self) -> None:
        pids = process_tree(os.getpid())
        rss, pss = memory_mb(pids)
        self.rows.append(
            {
                "seconds": round(time.perf_counter() - self.start_time, 2),
                "items": self.items,
                "processes": len(pids),
                "rss_mb": round(rss, 1),
                "pss_mb": round(pss, 1),
            }
        )

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()


def soak(gen, items: int, workers: int, batch_size: int, interval: float) -> dict:
    ds = synthaug.SyntheticDataset(gen, num_samples=items, image_type="tensor", cache_chunks=64)
    loader = DataLoader(
        ds, batch_size=batch_size, sampler=synthaug.ChunkShuffleSampler(ds, buffer_chunks=32), num_workers=workers
    )
    sampler = Sampler(interval)
    sampler.sample()  # before the workers start
    sampler.start()
    checksum = 0.0
    for images, labels in loader:
        sampler.items += len(labels)
        checksum += float(images[:, :, 0, 0].sum())  # touch every batch
    sampler.stopped.set()
    sampler.join()
    sampler.sample()  # after the workers exited
    rows = sampler.rows
    during = [r for r in rows[1:-1] if r["processes"] > 1] or rows  # samples while the workers ran
    # Warm: every worker's chunk cache is full (each worker reads from every chunk of a group) and 10% is read.
    warm_items = max(items / 10, ds.cache_chunks * ds.chunk_size)
    warm = next((r for r in during if r["items"] >= warm_items), during[-1])
    rates = []
    for previous, row in zip(rows, rows[1:-1]):
        if row["seconds"] > previous["seconds"] and row["items"] > previous["items"]:
            rates.append((row["items"] - previous["items"]) / (row["seconds"] - previous["seconds"]))
    drift = during[-1]["pss_mb"] - warm["pss_mb"]
    return {
        "items": sampler.items,
        "seconds": rows[-1]["seconds"],
        "items_per_s": round(sampler.items / rows[-1]["seconds"]),
        "samples": len(rows),
        "before_workers": rows[0],
        "after_workers": rows[-1],
        "start": during[0],
        "warm": warm,
        "end": during[-1],
        "peak_rss_mb": max(r["rss_mb"] for r in during),
        "peak_pss_mb": max(r["pss_mb"] for r in during),
        "pss_drift_after_warm_mb": round(drift, 1),
        "flat": abs(drift) <= max(16.0, 0.05 * warm["pss_mb"]),
        "items_per_s_intervals": {
            "first": round(rates[0]) if rates else None,
            "last": round(rates[-1]) if rates else None,
            "min": round(min(rates)) if rates else None,
            "median": round(statistics.median(rates)) if rates else None,
            "max": round(max(rates)) if rates else None,
        },
        "checksum": checksum,
        "series": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000, help="items to read (default 1,000,000)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default 2)")
    parser.add_argument("--batch-size", type=int, default=256, help="batch size (default 256)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between memory samples (default 5)")
    parser.add_argument("--threads", type=int, default=20, help="parallel load() calls (default 20)")
    parser.add_argument("--bundle", type=Path, default=None, help="a generator bundle (default: a small seeded cGAN)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        bundle = args.bundle or small_bundle(Path(workdir) / "cgan")
        gen = synthaug.load(bundle)
        result = soak(gen, args.items, args.workers, args.batch_size, args.interval)
        result["parallel_load"] = parallel_load_check(bundle, args.threads)
    command = f"python bench/soak.py --items {args.items} --workers {args.workers} --batch-size {args.batch_size}"
    result = {
        "command": command,
        "generator": str(args.bundle)
        if args.bundle
        else "ConditionalGAN(10 classes, 1x16x16, width 16), seeded initialisation",
        "dataset": "SyntheticDataset(image_type='tensor', cache_chunks=64), ChunkShuffleSampler(buffer_chunks=32)",
        "workers": args.workers,
        "batch_size": args.batch_size,
        "device": f"cpu, torch {torch.__version__}, {os.cpu_count()} cores",
        **result,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    start, warm, end = result["start"], result["warm"], result["end"]
    rates, load = result["items_per_s_intervals"], result["parallel_load"]
    print(
        f"{result['items']:,} items, {args.workers} workers, batch {args.batch_size}: {result['seconds']:.1f} s, "
        f"{result['items_per_s']:,} items/s overall"
    )
    print(
        f"memory of main + workers ({end['processes']} processes), MB: RSS start {start['rss_mb']}, end {end['rss_mb']}, peak {result['peak_rss_mb']}; "
        f"PSS start {start['pss_mb']}, warm {warm['pss_mb']}, end {end['pss_mb']}, peak {result['peak_pss_mb']}; "
        f"drift after warm-up: {result['pss_drift_after_warm_mb']:+.1f} MB ({'flat' if result['flat'] else 'NOT FLAT'})"
    )
    print(
        f"items/s per {args.interval:g} s interval: first {rates['first']}, last {rates['last']}, min {rates['min']}, "
        f"median {rates['median']}, max {rates['max']}"
    )
    print(
        f"{load['threads']} parallel load() calls: identical state_dicts {load['identical_state_dicts']}, identical "
        f"samples {load['identical_samples']} ({load['seconds']} s)"
    )
    print(f"wrote {args.out / 'soak.json'}")
    sys.exit(0 if result["flat"] and load["identical_state_dicts"] and load["identical_samples"] else 1)


if __name__ == "__main__":
    main()
