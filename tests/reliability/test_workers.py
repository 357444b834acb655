"""DataLoader workers: the same items for any num_workers and in any process, no duplicated randomness,
errors that name the failing item, thread-safe loading, and a small soak run."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

import synthaug
from synthaug.data import reseed_transform_rngs
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[2]
# num_workers=4 on a 2-core machine is on purpose here.
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> synthaug.ConditionalGAN:
    with seeded(0):
        return synthaug.ConditionalGAN(num_classes=3, image_size=8, latent_dim=8, width=8)


def read_all(ds, num_workers: int, batch_size: int = 8, **kwargs):
    """Every batch of one pass, concatenated."""
    batches = list(DataLoader(ds, batch_size=batch_size, num_workers=num_workers, **kwargs))
    return tuple(torch.cat(parts) for parts in zip(*batches))


# -- determinism ----------------------------------------------------------------------------------


def test_items_do_not_depend_on_num_workers(gen):
    ds = synthaug.SyntheticDataset(gen, 96, seed=5, chunk_size=16, transform=transforms.ToTensor())
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0)).tolist()  # workers share chunks
    first_epoch = None
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        expected = torch.stack([ds[i][0] for i in order]), ds.targets[order]
        for num_workers in (0, 2, 4):
            images, labels = read_all(ds, num_workers, sampler=order)
            assert torch.equal(images, expected[0]), (epoch, num_workers)
            assert torch.equal(labels, expected[1]), (epoch, num_workers)
        first_epoch = expected[0] if first_epoch is None else first_epoch
    assert not torch.equal(expected[0], first_epoch)  # epoch 1 is a fresh set


HASH_ITEMS = """
import hashlib, sys
import torch
from torch.utils.data import DataLoader
import synthaug

def items_hash(bundle, num_workers):
    ds = synthaug.SyntheticDataset(synthaug.load(bundle), 64, seed=5, chunk_size=16, image_type="numpy")
    digest = hashlib.sha256()
    for images, labels in DataLoader(ds, batch_size=8, num_workers=num_workers):
        digest.update(images.numpy().tobytes())
        digest.update(labels.numpy().tobytes())
    return digest.hexdigest()

if __name__ == "__main__":
    print(items_hash(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.slow
def test_two_processes_make_the_same_items(gen, tmp_path):
    bundle, script = tmp_path / "bundle", tmp_path / "items_hash.py"
    gen.save_pretrained(bundle)
    script.write_text(HASH_ITEMS)
    runs = [
        subprocess.Popen([sys.executable, str(script), str(bundle), str(workers)], stdout=subprocess.PIPE, text=True)
        for workers in (0, 2)
    ]
    hashes = [run.communicate(timeout=900)[0].strip() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    spec = importlib.util.spec_from_file_location("items_hash", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hashes == [module.items_hash(bundle, 0)] * 2


# -- randomness in user transforms ----------------------------------------------------------------


class GlobalDraws:
    """Draws from the global RNGs, which PyTorch reseeds in every worker."""

    def __call__(self, image):
        return torch.tensor([np.random.rand(), random.random(), torch.rand(()).item()], dtype=torch.float64)


class OwnGenerators:
    """Carries its own generators: copied into every worker with the same state unless reseeded."""

    def __init__(self):
        self.numpy = np.random.default_rng(0)
        self.legacy = np.random.RandomState(0)
        self.python = random.Random(0)
        self.torch = torch.Generator().manual_seed(0)

    def __call__(self, image):
        return torch.tensor(
            [
                self.numpy.random(),
                self.legacy.rand(),
                self.python.random(),
                torch.rand((), generator=self.torch).item(),
            ],
            dtype=torch.float64,
        )


class AlbumentationsNoise:
    """An albumentations pipeline (its own random state) applied to a constant image; returns the noise."""

    def __init__(self, seed=None):
        self.aug = A.Compose([A.GaussNoise(std_range=(0.2, 0.4), p=1.0), A.HorizontalFlip(p=0.5)], seed=seed)

    def __call__(self, image):
        return torch.from_numpy(self.aug(image=np.full((8, 8, 1), 128, np.uint8))["image"].astype(np.float64).ravel())


_AUG = A.Compose([A.GaussNoise(std_range=(0.2, 0.4), p=1.0)])


def albumentations_lambda(image):  # the docs' pattern: a function using a module-level pipeline
    return torch.from_numpy(_AUG(image=np.full((8, 8, 1), 128, np.uint8))["image"].astype(np.float64).ravel())


TRANSFORMS = {
    "global-rngs": GlobalDraws,
    "own-generators": OwnGenerators,
    "albumentations": AlbumentationsNoise,
    "albumentations-seeded": lambda: AlbumentationsNoise(seed=137),
    "albumentations-in-a-function": lambda: albumentations_lambda,
    "inside-torchvision-compose": lambda: transforms.Compose([AlbumentationsNoise()]),
}


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_workers_never_repeat_each_others_random_draws(gen, kind):
    ds = synthaug.SyntheticDataset(gen, 48, image_type="numpy", transform=TRANSFORMS[kind]())
    for num_workers in (0, 2, 4):
        draws, _ = read_all(ds, num_workers, batch_size=4)
        rows = {row.numpy().tobytes() for row in draws}
        assert len(rows) == len(ds), f"{kind}, num_workers={num_workers}: {len(ds) - len(rows)} repeated draws"


def test_reseeded_transforms_are_reproducible_with_a_seeded_loader(gen):
    ds = synthaug.SyntheticDataset(gen, 24, image_type="numpy", transform=AlbumentationsNoise(seed=137))
    runs = [read_all(ds, 2, batch_size=4, generator=torch.Generator().manual_seed(1))[0] for _ in range(2)]
    other = read_all(ds, 2, batch_size=4, generator=torch.Generator().manual_seed(2))[0]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], other)


def test_reseed_finds_generators_wherever_a_transform_keeps_them():
    own = OwnGenerators()
    assert reseed_transform_rngs(own, 1) == 4
    assert reseed_transform_rngs(transforms.Compose([AlbumentationsNoise(), lambda x: x]), 1) == 1
    assert reseed_transform_rngs(albumentations_lambda, 1) == 1
    assert reseed_transform_rngs(transforms.ToTensor(), 1) == 0
    a, b = OwnGenerators(), OwnGenerators()
    reseed_transform_rngs(a, 1)
    reseed_transform_rngs(b, 1)
    assert torch.equal(a(None), b(None))  # the same seed, the same streams
    reseed_transform_rngs(b, 2)
    assert not torch.equal(a(None), b(None))
    draws = a(None).tolist()
    assert len(set(draws)) == len(draws)  # each generator got its own stream


# -- errors in workers ----------------------------------------------------------------------------


class CursedLabel:
    def __call__(self, label):
        if label == 2:
            raise ValueError(f"label {label} is cursed")
        return label


class ExplodesOnClass1(nn.Module):
    """A user network ``(z, labels) -> images`` that fails for class 1."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 64)

    def forward(self, z, labels):
        if (labels == 1).any():
            raise RuntimeError("generator exploded")
        return torch.tanh(self.linear(z)).view(-1, 1, 8, 8)


# With workers, the failed DataLoader's shutdown stalls about 10 s (torch's worker join timeout).
@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_a_failing_transform_names_the_item_and_seed(gen, num_workers):
    ds = synthaug.SyntheticDataset(gen, 30, seed=7, target_transform=CursedLabel(), transform=transforms.ToTensor())
    with pytest.raises(ValueError) as info:
        read_all(ds, num_workers, batch_size=5)
    message = str(info.value)
    assert "SyntheticDataset item 20 (seed 7, epoch 0" in message  # items 20-29 are class 2
    assert "label 2 is cursed" in message
    if num_workers:
        assert "DataLoader worker process" in message


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_a_failing_generator_names_the_item_seed_and_chunk(num_workers):
    gen = synthaug.wrap(ExplodesOnClass1(), num_classes=3, image_shape=(1, 8, 8), latent_dim=8)
    ds = synthaug.SyntheticDataset(gen, 30, seed=11, chunk_size=4, image_type="tensor")
    with pytest.raises(Exception) as info:  # noqa: PT011 - whatever type the wrapper gives it
        read_all(ds, num_workers, batch_size=4)
    message = str(info.value)
    assert "SyntheticDataset item 8 (seed 11, epoch 0, chunk 2)" in message  # chunk 2 = items 8-11, classes 0 and 1
    assert "generator exploded" in message


def test_index_errors_are_not_wrapped(gen):
    ds = synthaug.SyntheticDataset(gen, 6)
    with pytest.raises(IndexError, match="out of range"):
        ds[6]
    assert len(list(iter(ds))) == 6  # the old-style iteration protocol stops on a plain IndexError


# -- loading in threads, soak ---------------------------------------------------------------------


@pytest.mark.slow
def test_twenty_parallel_loads_return_identical_generators(gen, tmp_path):
    gen.save_pretrained(tmp_path / "bundle")
    result = load_script("soak").parallel_load_check(tmp_path / "bundle", threads=20)
    assert result["loads"] == 20
    assert result["identical_state_dicts"] and result["identical_samples"], result


@pytest.mark.slow
def test_soak_script_runs_at_a_small_size(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "bench" / "soak.py"),
        "--items",
        "2000",
        "--interval",
        "0.2",
        "--threads",
        "4",
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads((tmp_path / "soak.json").read_text())
    assert report["items"] == 2000
    assert report["start"]["rss_mb"] > 0 and report["end"]["pss_mb"] > 0 and report["peak_rss_mb"] > 0
    assert report["parallel_load"]["identical_state_dicts"] and report["parallel_load"]["identical_samples"]
    assert "parallel load() calls" in result.stdout
