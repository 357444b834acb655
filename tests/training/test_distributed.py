"""Multi-process training with torchrun (gloo on CPU): sharding, rank-0 files, resume, match to one process.

What "match" means here. Two processes with global batch B and one process with batch B
take the same number of optimiser steps on batches of the same size, but not the same
random numbers: each process draws its own noise (seeded by seed, rank and epoch) and
its own shard of each epoch's order. A GAN's training trajectory is chaotic, so the two
runs' weights differ; what must agree is the training itself: the same steps, the loss
curves of the two runs within a tolerance of each other, and loss falling in both. The
2-process run is exact against itself: a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import synthaug
from synthaug.training import CVAETrainer
from synthaug.training.distributed import DistributedRun

ROOT = Path(__file__).resolve().parents[2]
# digits at 8x8 (1,437 training images), tiny networks: each launch takes seconds.
TRAIN = [
    "--data",
    "digits",
    "--image-size",
    "8",
    "--batch-size",
    "32",
    "--seed",
    "1",
    "--sample-every",
    "0",
    "--no-progress",
    "--device",
    "cpu",
]
SIZES = {"cvae": ["--width", "8", "--latent-dim", "4"], "cgan": ["--width", "8", "--latent-dim", "8"]}


def train(family: str, out: Path, epochs: int, processes: int = 1, resume: bool = False) -> list[dict]:
    """``synthaug train`` as users run it: plain, or under ``torchrun --nproc_per_node``."""
    args = ["train", family, "--out", str(out), "--epochs", str(epochs), *TRAIN, *SIZES[family]]
    if resume:
        args.append("--resume")
    launcher = (
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
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*launcher, *args], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def epoch_means(history: list[dict], key: str) -> list[float]:
    """The last logged value of ``key`` in each epoch (records average the steps since the previous one)."""
    last = {r["epoch"]: r[key] for r in history}
    return [last[e] for e in sorted(last)]


# -- without processes: where each rank's data comes from --------------------------------------------


def as_rank(monkeypatch, rank: int, world: int) -> None:
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world))


def test_outside_torchrun_training_is_single_process(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    run = DistributedRun.from_env()
    assert (run.rank, run.world_size, run.enabled, run.is_main) == (0, 1, False, True)
    module = torch.nn.Linear(2, 2)
    assert run.wrap(module) is module
    assert run.device("cuda") == "cuda"


@pytest.mark.parametrize(
    "env, match",
    [
        ({"WORLD_SIZE": "2", "RANK": "2"}, r"RANK=2 and WORLD_SIZE=2: expected 0 <= RANK < WORLD_SIZE"),
        ({"WORLD_SIZE": "two"}, r"environment variable WORLD_SIZE must be an int \(torchrun sets it\), got 'two'"),
        ({"WORLD_SIZE": "2", "RANK": "-1"}, r"environment variable RANK must be >= 0, got -1"),
    ],
)
def test_a_broken_torchrun_environment_is_named(monkeypatch, env, match):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=match):
        DistributedRun.from_env()


def test_the_global_batch_must_split_evenly_across_processes(monkeypatch, generator_factory, tmp_path):
    as_rank(monkeypatch, 0, 3)
    trainer = CVAETrainer(generator_factory("cvae"), tmp_path, batch_size=16, progress=False)
    with pytest.raises(ValueError, match=r"batch_size=16 must be divisible by the number of processes \(3\)"):
        trainer._batches(torch.zeros(48, dtype=torch.long))


@pytest.mark.parametrize("class_balanced", [False, True])
def test_ranks_take_disjoint_shares_of_each_global_batch(
    monkeypatch, generator_factory, pattern_factory, tmp_path, class_balanced
):
    labels = pattern_factory(20).labels  # 60 items, global batch 12: 5 steps
    per_rank = []
    for rank in range(2):
        as_rank(monkeypatch, rank, 2)
        trainer = CVAETrainer(
            generator_factory("cvae"), tmp_path, batch_size=12, seed=4, progress=False, class_balanced=class_balanced
        )
        per_rank.append([trainer._batches(labels, epoch) for epoch in (1, 2)])
    for epoch in range(2):
        a, b = per_rank[0][epoch], per_rank[1][epoch]
        assert len(a) == len(b) == 5 and all(len(x) == len(y) == 6 for x, y in zip(a, b))
        if not class_balanced:  # a permutation: the ranks' items never overlap within the epoch
            everything = torch.cat(a + b)
            assert len(set(everything.tolist())) == len(everything) == 60
    assert not torch.equal(torch.cat(per_rank[0][0]), torch.cat(per_rank[0][1]))  # a new order each epoch
    if class_balanced:  # still balanced: every class drawn about equally often
        drawn = torch.bincount(labels[torch.cat(per_rank[0][0] + per_rank[1][0])], minlength=3)
        assert drawn.min() >= 10, drawn


# -- real processes: torchrun -m synthaug train ---------------------------------------------------


@pytest.fixture(scope="module")
def cvae_runs(tmp_path_factory):
    """One process and two processes, same global batch and seed, 4 epochs; and a 2-process run resumed at epoch 2."""
    root = tmp_path_factory.mktemp("ddp")
    single = train("cvae", root / "single", epochs=4)
    double = train("cvae", root / "double", epochs=4, processes=2)
    train("cvae", root / "resumed", epochs=2, processes=2)
    resumed = train("cvae", root / "resumed", epochs=4, processes=2, resume=True)
    return root, single, double, resumed


@pytest.mark.slow
def test_two_processes_train_and_write_one_normal_bundle(cvae_runs):
    root, _, double, _ = cvae_runs
    losses = epoch_means(double, "loss")
    assert losses[-1] < 0.8 * losses[0], losses  # training works across processes
    model = synthaug.load(root / "double")
    images = model.sample(torch.arange(10), generator=torch.Generator().manual_seed(0))
    assert images.shape == (10, 1, 8, 8) and torch.isfinite(images).all()
    # rank 0 alone wrote the run files: one record per logged step, no interleaved duplicates
    steps = [r["step"] for r in double]
    assert steps == sorted(set(steps))
    assert sorted(p.name for p in (root / "double").iterdir() if p.suffix != ".png") == [
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "model.safetensors",
        "samples",
        "training_config.json",
    ]


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(cvae_runs):
    _, single, double, _ = cvae_runs
    assert [r["step"] for r in single] == [r["step"] for r in double]  # the same optimiser steps
    for key in ("loss", "loss_recon"):
        one, two = epoch_means(single, key), epoch_means(double, key)
        for a, b in zip(one, two):
            assert abs(a - b) <= 0.05 * a, (key, one, two)


@pytest.mark.slow
def test_a_resumed_two_process_run_equals_an_uninterrupted_one(cvae_runs):
    root, _, double, resumed = cvae_runs
    assert [r["step"] for r in resumed] == [r["step"] for r in double]
    a, b = synthaug.load(root / "double").state_dict(), synthaug.load(root / "resumed").state_dict()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key


@pytest.mark.slow
def test_a_gan_trains_under_torchrun_within_tolerance_of_one_process(tmp_path):
    single = train("cgan", tmp_path / "single", epochs=2)
    double = train("cgan", tmp_path / "double", epochs=2, processes=2)
    assert [r["step"] for r in single] == [r["step"] for r in double]
    for key in ("loss_d", "loss_g"):
        one, two = epoch_means(single, key), epoch_means(double, key)
        assert all(abs(a - b) <= 0.25 for a, b in zip(one, two)), (key, one, two)
    gan = synthaug.load(tmp_path / "double")
    assert torch.isfinite(gan.sample(torch.arange(10), generator=torch.Generator().manual_seed(0))).all()
