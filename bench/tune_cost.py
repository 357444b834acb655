"""Cost of synthaug.tune with its defaults on the embedded digits (1,347 train images, 16x16, 10 classes).

Usage:
    .venv/bin/synthaug train cgan --data digits --out runs/digits-cgan --epochs 30 --sample-every 0
    .venv/bin/python bench/tune_cost.py runs/digits-cgan [SEEDS]

Prints wall and CPU time of one `tune` call, its evidence table and the chosen mix.
"""

import logging
import sys
import time

import torch

import synthaug
from synthaug.data.real import load_digits_data
from synthaug.tuning import tune

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
bundle = sys.argv[1]
seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
data = load_digits_data()
gen = synthaug.load(bundle)
print("threads", torch.get_num_threads(), "train", len(data.train), flush=True)
start = time.perf_counter()
result = tune(data.train.as_dataset(), gen, seeds=seeds, progress=False)
print(
    f"tune: {time.perf_counter() - start:.1f} s wall, {time.process_time():.1f} s process CPU, "
    f"{len(result.table)} candidates x {seeds} seeds",
    flush=True,
)
print(result.summary())
print(result.dataset.summary())
