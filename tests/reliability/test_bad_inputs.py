"""Every public entry point given bad input: one table, one row per (entry point, bad input).

Each row names the entry point as a user calls it, the bad input in words, a call that makes
it, the exception it must raise and a regex its message must match (naming the argument and
what was expected). CLI rows run ``synthaug.cli.main`` in-process: exit status 2 and exactly
one line on stderr, no traceback.

docs/reliability.md shows this table; regenerate it (with the messages seen) by running this
file as a script: ``.venv/bin/python tests/reliability/test_bad_inputs.py``.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

if __name__ == "__main__":  # run as a script: find conftest.py like pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import TinyUserNet, build_dae, build_generator, make_pattern_data  # noqa: E402

import synthaug  # noqa: E402
import synthaug.albumentations as SA  # noqa: E402
from synthaug.cli import main  # noqa: E402
from synthaug.data.real import LabelledImages, RealData  # noqa: E402
from synthaug.errors import BundleError  # noqa: E402
from synthaug.filters import Filter, train_filter_classifier  # noqa: E402
from synthaug.metrics import evaluate_generator  # noqa: E402
from synthaug.sharding import export_npz_shard, write_manifest  # noqa: E402
from synthaug.training import CGANTrainer, TrainingConfig  # noqa: E402
from synthaug.transforms import (  # noqa: E402
    BatchSyntheticMix,
    CorruptionMix,
    Denoise,
    SyntheticReplace,
    VAEVariation,
    gaussian_noise,
    vae_variation,
)
from synthaug.viz import save_generator_grid, save_image_grid, save_loss_curves  # noqa: E402

T = torch.tensor
NAN, INF = float("nan"), float("inf")


# -- what the rows work on -------------------------------------------------------------------------


class NoLabels(Dataset):
    """A dataset whose items are bare images: no labels."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.rand(1, 8, 8)


class Labelled(Dataset):
    """Three 1x8x8 float images, all with the label ``label``."""

    def __init__(self, label: Any, image: torch.Tensor | None = None) -> None:
        self.label, self.image = label, image if image is not None else torch.rand(1, 8, 8)

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        return self.image, self.label


class Ctx:
    """Tiny models (8x8, 3 classes), data and bundle directories, built on first use."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = Path(tmp)

    @cached_property
    def gan(self):
        return build_generator("cgan")

    @cached_property
    def rgb_gan(self):
        return build_generator("cgan", channels=3)

    @cached_property
    def cvae(self):
        return build_generator("cvae")

    @cached_property
    def dae(self):
        return build_dae()

    @cached_property
    def wrapped(self):
        return build_generator("wrap")

    @cached_property
    def real(self):
        return make_pattern_data(4).as_dataset()  # 12 items, 1x8x8 float in [0, 1], labels 0..2

    @cached_property
    def mixed(self):
        return synthaug.mix(self.real, self.gan, "ratio", ratio=0.5, progress=False)  # 18 items

    @cached_property
    def dataset(self):
        return synthaug.SyntheticDataset(self.gan, 6, image_type="tensor", chunk_size=2, cache_chunks=2)

    @cached_property
    def real_data(self):
        return RealData("pattern", make_pattern_data(4), make_pattern_data(2, seed=1), ["left", "right", "top"])

    def path(self, name: str) -> str:
        """A path in the temporary directory (created lazily for the bundles below)."""
        return str(self.tmp / name)

    @cached_property
    def bundle(self) -> str:
        build_generator("cgan", class_names=["left", "right", "top"]).save_pretrained(self.tmp / "cgan")
        return self.path("cgan")

    @cached_property
    def dae_bundle(self) -> str:
        build_dae().save_pretrained(self.tmp / "dae")
        return self.path("dae")

    @cached_property
    def broken_bundle(self) -> str:
        (self.tmp / "broken").mkdir()
        (self.tmp / "broken" / "config.json").write_text("{not json")
        return self.path("broken")

    @cached_property
    def checkpoint_dir_run(self) -> str:
        """A run folder whose checkpoint.pt is a directory (resuming must refuse, not start afresh)."""
        run = self.tmp / "run-with-checkpoint-dir"
        (run / "checkpoint.pt").mkdir(parents=True)
        return str(run)

    @cached_property
    def a_file(self) -> str:
        (self.tmp / "a_file.txt").write_text("not a bundle")
        return self.path("a_file.txt")


def images(*shape: int, fill: float | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A seeded tensor of ``shape`` (uniform in [0, 1), or ``fill``) of ``dtype``."""
    if fill is not None:
        return torch.full(shape, fill, dtype=dtype)
    return torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(dtype)


def hw(*shape: int, dtype: Any = np.uint8, fill: float = 0) -> np.ndarray:
    return np.full(shape, fill, dtype=dtype)


def shards(c: Ctx, name: str, indices: range = range(2), corrupt: int | None = None, **kwargs: Any) -> Path:
    """Shards ``indices`` of a 2-shard, 4-item export of ``c.gan`` in ``c.tmp/name``; shard ``corrupt`` gets a flipped byte."""
    for i in indices:
        export_npz_shard(c.gan, c.path(name), i, 2, **{"num_samples": 4, "progress": False, "force": True, **kwargs})
    if corrupt is not None:
        path = c.tmp / name / f"shard-{corrupt:05d}-of-00002.npz"
        data = path.read_bytes()
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    return c.tmp / name


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    entry: str  # the entry point as users call it
    bad: str  # the bad input, in words
    call: Callable[[Ctx], Any]  # makes the bad call (CLI rows: the argv list)
    error: type[BaseException]  # SystemExit for CLI rows (status 2)
    match: str  # regex searched in the message (CLI rows: the stderr line)

    @property
    def id(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", f"{self.entry} {self.bad}").strip("-")


def cli(command: str, bad: str, argv: Callable[[Ctx], list[str]], match: str) -> Row:
    return Row(f"synthaug {command}".strip(), bad, argv, SystemExit, match)


E = "gen.sample(labels)"
SD = "SyntheticDataset(gen, num_samples, class_counts=...)"
MIX = "synthaug.mix(real, gen, strategy, ...)"
SR = "SyntheticReplace(gen, p)(image, label)"
BM = "BatchSyntheticMix(gen, p)(images, labels)"
DN = "Denoise(dae)(image)"
VV = "VAEVariation(cvae)(image, label)"
SAD = "synthaug.albumentations.Denoise(dae)(image=...)"
SAV = "synthaug.albumentations.VAEVariation(cvae)(image=..., label=...)"
SHARD = "export_npz_shard(gen, out_dir, shard_index, num_shards, ...)"
EXP = "ExportedDataset(path)"
OK_IMAGE = lambda: images(1, 8, 8)  # noqa: E731

ROWS: list[Row] = [
    # gen.sample -------------------------------------------------------------------------------
    Row(
        E,
        "labels 5 with 3 classes",
        lambda c: c.gan.sample(T([0, 5])),
        ValueError,
        r"labels must be in \[0, 2\], got values \[5\]",
    ),
    Row(E, "labels -1", lambda c: c.gan.sample(T([-1])), ValueError, r"labels must be in \[0, 2\], got values \[-1\]"),
    Row(
        E,
        "float labels",
        lambda c: c.gan.sample(T([0.0, 1.0])),
        TypeError,
        r"labels must have an integer dtype \(torch.long\), got torch.float32",
    ),
    Row(
        E, "bool labels", lambda c: c.gan.sample(T([True])), TypeError, r"labels must have an integer dtype.*torch.bool"
    ),
    Row(
        E,
        "2-D labels [1, 2]",
        lambda c: c.gan.sample(T([[0, 1]])),
        ValueError,
        r"labels must be 1-D \[batch\], got shape \(1, 2\)",
    ),
    Row(
        E,
        "labels as an unknown class name",
        lambda c: c.gan.sample(["zebra"]),
        ValueError,
        r"labels\[0\] has unknown class 'zebra'; expected 0..2",
    ),
    Row(
        E,
        "labels as a numpy array",
        lambda c: c.gan.sample(np.array([0, 1])),
        TypeError,
        r"labels must be a torch.Tensor .* got ndarray",
    ),
    Row(
        E,
        "generator=0 (not a torch.Generator)",
        lambda c: c.gan.sample(T([0]), generator=0),
        TypeError,
        r"generator must be a torch.Generator or None, got int",
    ),
    Row(
        E,
        "truncation=0",
        lambda c: c.gan.sample(T([0]), truncation=0),
        ValueError,
        r"truncation must be a float in \(0, 2\], got 0",
    ),
    Row(
        E,
        "truncation='1' (a string)",
        lambda c: c.gan.sample(T([0]), truncation="1"),
        ValueError,
        r"truncation must be a float in \(0, 2\], got str '1'",
    ),
    Row(
        E,
        "truncation=nan",
        lambda c: c.gan.sample(T([0]), truncation=NAN),
        ValueError,
        r"truncation must be .* got nan",
    ),
    Row(
        "cvae.sample(labels)",
        "labels 3 with 3 classes",
        lambda c: c.cvae.sample(T([3])),
        ValueError,
        r"labels must be in \[0, 2\], got values \[3\]",
    ),
    Row(
        "wrap(...).sample(labels)",
        "labels 3 with 3 classes",
        lambda c: c.wrapped.sample(T([3])),
        ValueError,
        r"labels must be in \[0, 2\], got values \[3\]",
    ),
    # SyntheticDataset ---------------------------------------------------------------------------
    Row(
        SD,
        "num_samples=0",
        lambda c: synthaug.SyntheticDataset(c.gan, 0),
        ValueError,
        r"num_samples must be a positive int, got 0",
    ),
    Row(
        SD,
        "transform=5 (not callable)",
        lambda c: synthaug.SyntheticDataset(c.gan, 6, transform=5),
        TypeError,
        r"transform must be a callable or None, got int 5",
    ),
    Row(
        SD,
        "target_transform='int' (a string)",
        lambda c: synthaug.SyntheticDataset(c.gan, 6, target_transform="int"),
        TypeError,
        r"target_transform must be a callable or None, got str 'int'",
    ),
    Row(
        "SyntheticDataset.labels_of(indices)",
        "index 100 in a dataset of 6",
        lambda c: c.dataset.labels_of([100]),
        IndexError,
        r"indices \[100\] are out of range for a dataset of 6 samples",
    ),
    Row(
        "SyntheticDataset.labels_of(indices)",
        "index -7 in a dataset of 6",
        lambda c: c.dataset.labels_of([0, -7]),
        IndexError,
        r"indices \[-7\] are out of range for a dataset of 6 samples",
    ),
    Row(
        "SyntheticDataset.labels_of(indices)",
        "float indices",
        lambda c: c.dataset.labels_of([0.5]),
        TypeError,
        r"indices must be integers, got dtype float64",
    ),
    Row(
        "SyntheticDataset.batches(...)",
        "shuffle='yes' (not a bool)",
        lambda c: c.dataset.batches(shuffle="yes"),
        TypeError,
        r"shuffle must be a bool \(True or False\), got str 'yes'",
    ),
    Row(
        "SyntheticDataset.batches(...)",
        "drop_last=1 (not a bool)",
        lambda c: c.dataset.batches(drop_last=1),
        TypeError,
        r"drop_last must be a bool \(True or False\), got int 1",
    ),
    Row(
        "SyntheticDataset.batches(...)",
        "device='gpu7'",
        lambda c: c.dataset.batches(device="gpu7"),
        ValueError,
        r"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu7'",
    ),
    Row(
        "SyntheticDataset.batches(...)",
        "device='cuda:99'",
        lambda c: c.dataset.batches(device="cuda:99"),
        ValueError,
        r"device='cuda:99': (CUDA is not available on this machine|this machine has \d+ CUDA device)",
    ),
    Row(
        SD,
        "num_samples=-5",
        lambda c: synthaug.SyntheticDataset(c.gan, -5),
        ValueError,
        r"num_samples must be a positive int, got -5",
    ),
    Row(
        SD,
        "num_samples=2.5",
        lambda c: synthaug.SyntheticDataset(c.gan, 2.5),
        TypeError,
        r"num_samples must be a positive int, got float 2\.5",
    ),
    Row(
        SD,
        "num_samples='10'",
        lambda c: synthaug.SyntheticDataset(c.gan, "10"),
        TypeError,
        r"num_samples must be a positive int, got str '10'",
    ),
    Row(
        SD,
        "num_samples=True",
        lambda c: synthaug.SyntheticDataset(c.gan, True),
        TypeError,
        r"num_samples must be a positive int, got bool True",
    ),
    Row(
        SD,
        "num_samples=10**13 (huge)",
        lambda c: synthaug.SyntheticDataset(c.gan, 10**13),
        ValueError,
        r"num_samples must be at most 1,000,000,000,000, got 10000000000000",
    ),
    Row(
        SD,
        "num_samples and class_counts both None",
        lambda c: synthaug.SyntheticDataset(c.gan),
        ValueError,
        r"num_samples is required when class_counts is None",
    ),
    Row(
        SD,
        "class_counts={7: 3} (unknown class)",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={7: 3}),
        ValueError,
        r"class_counts has unknown class 7; expected 0..2",
    ),
    Row(
        SD,
        "class_counts={'cat': 3} (unknown name)",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={"cat": 3}),
        ValueError,
        r"class_counts has unknown class 'cat'",
    ),
    Row(
        SD,
        "class_counts={0: -3}",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={0: -3}),
        ValueError,
        r"class_counts\[0\] must be a non-negative int, got -3",
    ),
    Row(
        SD,
        "class_counts={0: 1.5}",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={0: 1.5}),
        TypeError,
        r"class_counts\[0\] must be a non-negative int, got float 1\.5",
    ),
    Row(
        SD,
        "class_counts={0: 0} (nothing asked)",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={0: 0}),
        ValueError,
        r"class_counts must ask for at least one sample",
    ),
    Row(
        SD,
        "class_counts=[1, 2, 3] (a list)",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts=[1, 2, 3]),
        TypeError,
        r"class_counts must be None, a dict \{class: count\} or a labelled dataset, got list",
    ),
    Row(
        SD,
        "class_counts={0: 10**13} (huge)",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts={0: 10**13}),
        ValueError,
        r"class_counts=\{0: 10000000000000\} asks for 10,000,000,000,000 samples in all; expected at most",
    ),
    Row(
        SD,
        "num_samples=5 with class_counts summing to 3",
        lambda c: synthaug.SyntheticDataset(c.gan, 5, class_counts={0: 3}),
        ValueError,
        r"num_samples \(5\) must equal the sum of class_counts \(3\)",
    ),
    Row(
        SD,
        "class_counts a dataset without labels",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts=NoLabels()),
        TypeError,
        r"class_counts items must be \(image, label\) pairs; item 0 is a Tensor",
    ),
    Row(
        SD,
        "class_counts a dataset with label 7",
        lambda c: synthaug.SyntheticDataset(c.gan, class_counts=Labelled(7)),
        ValueError,
        r"class_counts has label 7, but the generator has only 3 classes",
    ),
    Row(
        SD,
        "seed=-1",
        lambda c: synthaug.SyntheticDataset(c.gan, 3, seed=-1),
        ValueError,
        r"seed must be a non-negative int, got -1",
    ),
    Row(
        SD,
        "image_type='jpg'",
        lambda c: synthaug.SyntheticDataset(c.gan, 3, image_type="jpg"),
        ValueError,
        r"image_type must be one of \('pil', 'tensor', 'numpy'\), got 'jpg'",
    ),
    Row(
        SD,
        "truncation=3",
        lambda c: synthaug.SyntheticDataset(c.gan, 3, truncation=3),
        ValueError,
        r"truncation must be a float in \(0, 2\], got 3",
    ),
    Row(
        SD,
        "chunk_size=0",
        lambda c: synthaug.SyntheticDataset(c.gan, 3, chunk_size=0),
        ValueError,
        r"chunk_size must be a positive int, got 0",
    ),
    Row(
        SD,
        "generator=None",
        lambda c: synthaug.SyntheticDataset(None, 3),
        TypeError,
        r"generator must provide num_classes, image_shape, class_names and sample.* got NoneType",
    ),
    Row(
        SD,
        "filter=5",
        lambda c: synthaug.SyntheticDataset(c.gan, 3, filter=5),
        TypeError,
        r"filter must be a synthaug.filters.Filter, got int",
    ),
    Row(
        "SyntheticDataset[index]",
        "index 100 of 6",
        lambda c: c.dataset[100],
        IndexError,
        r"index 100 is out of range for a dataset of 6 items",
    ),
    Row("SyntheticDataset[index]", "index 'a'", lambda c: c.dataset["a"], TypeError, r"index must be an int, got str"),
    Row(
        "SyntheticDataset.set_epoch(epoch)",
        "epoch=-1",
        lambda c: c.dataset.set_epoch(-1),
        ValueError,
        r"epoch must be a non-negative int, got -1",
    ),
    Row(
        "ChunkShuffleSampler(dataset)",
        "a list, not a SyntheticDataset",
        lambda c: synthaug.ChunkShuffleSampler([1]),
        TypeError,
        r"dataset must be a SyntheticDataset, got list",
    ),
    Row(
        "ChunkShuffleSampler(dataset)",
        "buffer_chunks above the cache",
        lambda c: synthaug.ChunkShuffleSampler(c.dataset, buffer_chunks=5),
        ValueError,
        r"buffer_chunks \(5\) must be at most the dataset's cache_chunks \(2\)",
    ),
    # sharded export and reading it back -------------------------------------------------------------
    Row(
        SHARD,
        "shard_index=3 of num_shards=3",
        lambda c: export_npz_shard(c.gan, c.path("s"), 3, 3, num_samples=4, progress=False),
        ValueError,
        r"shard_index must be < num_shards \(3\), got 3",
    ),
    Row(
        SHARD,
        "shard_index=-1",
        lambda c: export_npz_shard(c.gan, c.path("s"), -1, 3, num_samples=4),
        ValueError,
        r"shard_index must be a non-negative int, got -1",
    ),
    Row(
        SHARD,
        "num_shards=0",
        lambda c: export_npz_shard(c.gan, c.path("s"), 0, 0, num_samples=4),
        ValueError,
        r"num_shards must be a positive int, got 0",
    ),
    Row(
        SHARD,
        "num_shards=2.5",
        lambda c: export_npz_shard(c.gan, c.path("s"), 0, 2.5, num_samples=4),
        TypeError,
        r"num_shards must be a positive int, got float 2\.5",
    ),
    Row(
        SHARD,
        "out_dir an existing file",
        lambda c: export_npz_shard(c.gan, c.a_file, 0, 2, num_samples=4, progress=False),
        ValueError,
        r"out_dir '.*a_file.txt' is a file; expected a directory for the shards",
    ),
    Row(
        SHARD,
        "out_dir holding shards of another seed",
        lambda c: shards(c, "mixed-runs", range(1), seed=1) and shards(c, "mixed-runs", range(1, 2)),
        ValueError,
        r"shard-00000-of-00002.json belongs to a different run \(seed 1 there vs 0 here\)",
    ),
    Row(
        SHARD,
        "out_dir holding shards of a 2-shard run, num_shards=3",
        lambda c: shards(c, "other-k", range(1)) and export_npz_shard(c.gan, c.path("other-k"), 0, 3, num_samples=4),
        ValueError,
        r"shard-00000-of-00002.* belongs to a 2-shard export, not 3 shards",
    ),
    Row(
        "synthaug.sharding.write_manifest(out_dir)",
        "shard 1 of 2 missing",
        lambda c: write_manifest(shards(c, "half", range(1))),
        ValueError,
        r"shard\(s\) \[1\] of 2 are missing",
    ),
    Row(
        "synthaug.sharding.write_manifest(out_dir)",
        "a file",
        lambda c: write_manifest(c.a_file),
        ValueError,
        r"out_dir '.*a_file.txt' is not a directory of shards",
    ),
    Row(
        "synthaug.sharding.write_manifest(out_dir)",
        "a shard whose bytes changed",
        lambda c: write_manifest(shards(c, "changed", corrupt=0)),
        ValueError,
        r"shard-00000-of-00002.npz: sha256 does not match its sidecar",
    ),
    Row(
        EXP,
        "a path that does not exist",
        lambda c: synthaug.ExportedDataset(c.path("no-such-export")),
        ValueError,
        r"path '.*no-such-export' does not exist; expected a sharded export directory or an .npz file",
    ),
    Row(
        EXP,
        "path=None",
        lambda c: synthaug.ExportedDataset(None),
        TypeError,
        r"path must be a directory or .npz path \(str or Path\), got NoneType None",
    ),
    Row(
        EXP,
        "a directory without manifest.json (shards missing)",
        lambda c: synthaug.ExportedDataset(shards(c, "incomplete", range(1))),
        ValueError,
        r"incomplete: no manifest.json; the export is incomplete \(1 shard sidecar\(s\) found\)",
    ),
    Row(
        EXP,
        "a corrupted shard",
        lambda c: synthaug.ExportedDataset(shards(c, "corrupted", corrupt=1)),
        ValueError,
        r"shard-00001-of-00002.npz: sha256 does not match manifest.json",
    ),
    Row(
        EXP,
        "a text file, not an .npz",
        lambda c: synthaug.ExportedDataset(c.a_file),
        ValueError,
        r"a_file.txt: not a readable .npz file",
    ),
    Row(
        EXP,
        "image_type='jpg'",
        lambda c: synthaug.ExportedDataset(c.a_file, image_type="jpg"),
        ValueError,
        r"image_type must be one of \('pil', 'tensor', 'numpy'\), got 'jpg'",
    ),
    Row(
        EXP,
        "verify='yes' (not a bool)",
        lambda c: synthaug.ExportedDataset(c.a_file, verify="yes"),
        TypeError,
        r"verify must be a bool \(True or False\), got str 'yes'",
    ),
    Row(
        EXP,
        "transform=5 (not callable)",
        lambda c: synthaug.ExportedDataset(c.a_file, transform=5),
        TypeError,
        r"transform must be a callable or None, got int 5",
    ),
    # mix ------------------------------------------------------------------------------------------
    Row(
        MIX,
        "1-channel generator, 3-channel real data",
        lambda c: synthaug.mix(make_pattern_data(2, channels=3).as_dataset(), c.gan, ratio=0.5),
        ValueError,
        r"the generator makes 1x8x8 images but the real items are .*3x8x8",
    ),
    Row(
        MIX,
        "28x28 generator, 32x32 real data",
        lambda c: synthaug.mix(
            make_pattern_data(2, size=32).as_dataset(), build_generator("cgan", image_size=28), ratio=0.5
        ),
        ValueError,
        r"the generator makes 1x28x28 images but the real items are .*1x32x32",
    ),
    Row(
        MIX,
        "grayscale PIL real items, RGB generator",
        lambda c: synthaug.mix([(Image.new("L", (8, 8)), 0)] * 3, c.rgb_gan, ratio=0.5),
        ValueError,
        r"the generator makes 3x8x8 images but the real items are PIL L",
    ),
    Row(
        MIX,
        "ratio=-0.5",
        lambda c: synthaug.mix(c.real, c.gan, ratio=-0.5),
        ValueError,
        r"ratio must be a finite number >= 0, got -0\.5",
    ),
    Row(
        MIX,
        "ratio=inf",
        lambda c: synthaug.mix(c.real, c.gan, ratio=INF),
        ValueError,
        r"ratio must be a finite number >= 0, got inf",
    ),
    Row(
        MIX,
        "ratio=nan",
        lambda c: synthaug.mix(c.real, c.gan, ratio=NAN),
        ValueError,
        r"ratio must be a finite number >= 0, got nan",
    ),
    Row(
        MIX,
        "ratio='0.5' (a string)",
        lambda c: synthaug.mix(c.real, c.gan, ratio="0.5"),
        TypeError,
        r"ratio must be a finite number >= 0, got str '0\.5'",
    ),
    Row(
        MIX,
        "ratio=1e30 (huge)",
        lambda c: synthaug.mix(c.real, c.gan, ratio=1e30),
        ValueError,
        r"ratio=1e\+30 asks for .* samples in all; expected at most 1,000,000,000,000",
    ),
    Row(
        MIX,
        "strategy='ratio' without ratio",
        lambda c: synthaug.mix(c.real, c.gan),
        ValueError,
        r"strategy='ratio' needs ratio=r",
    ),
    Row(
        MIX,
        "p=1.5 (replace)",
        lambda c: synthaug.mix(c.real, c.gan, "replace", p=1.5),
        ValueError,
        r"p must be a number in \[0, 1\], got 1\.5",
    ),
    Row(
        MIX,
        "p=-0.1 (replace)",
        lambda c: synthaug.mix(c.real, c.gan, "replace", p=-0.1),
        ValueError,
        r"p must be a number in \[0, 1\], got -0\.1",
    ),
    Row(
        MIX,
        "p='x' (replace)",
        lambda c: synthaug.mix(c.real, c.gan, "replace", p="x"),
        TypeError,
        r"p must be a number in \[0, 1\], got str 'x'",
    ),
    Row(
        MIX,
        "strategy='replace' without p",
        lambda c: synthaug.mix(c.real, c.gan, "replace"),
        ValueError,
        r"strategy='replace' needs p",
    ),
    Row(
        MIX,
        "p with strategy='ratio'",
        lambda c: synthaug.mix(c.real, c.gan, "ratio", ratio=0.5, p=0.2),
        ValueError,
        r"p is only for strategy='replace', got strategy='ratio'",
    ),
    Row(
        MIX,
        "strategy='oversample' (unknown)",
        lambda c: synthaug.mix(c.real, c.gan, "oversample"),
        ValueError,
        r"strategy must be one of \('ratio', 'balance', 'replace', 'not majority', 'minority', 'not minority', 'all', 'tuned'\), a float in \(0, 1\], a dict \{class: count\} or a callable, got 'oversample'",
    ),
    Row(
        MIX,
        "strategy=5",
        lambda c: synthaug.mix(c.real, c.gan, 5),
        TypeError,
        r"strategy must be one of \('ratio', 'balance', 'replace', 'not majority', 'minority', 'not minority', 'all', 'tuned'\), a float in \(0, 1\], a dict \{class: count\} or a callable, got int 5",
    ),
    Row(
        MIX,
        "dict strategy with unknown class 9",
        lambda c: synthaug.mix(c.real, c.gan, {9: 3}),
        ValueError,
        r"strategy has unknown class 9; expected 0..2",
    ),
    Row(
        MIX,
        "dict strategy with count -3",
        lambda c: synthaug.mix(c.real, c.gan, {0: -3}),
        ValueError,
        r"strategy\[0\] must be a non-negative int, got -3",
    ),
    Row(
        MIX,
        "dict strategy with count 1.5",
        lambda c: synthaug.mix(c.real, c.gan, {0: 1.5}),
        TypeError,
        r"strategy\[0\] must be a non-negative int, got float 1\.5",
    ),
    Row(
        MIX,
        "callable strategy returning a list",
        lambda c: synthaug.mix(c.real, c.gan, lambda counts: [1, 2]),
        TypeError,
        r"a callable strategy must return a dict \{class: count\}, got list",
    ),
    Row(
        MIX,
        "strategy='auto' with ratio",
        lambda c: synthaug.mix(c.real, c.gan, "auto", ratio=0.5),
        ValueError,
        r"strategy='auto' chooses ratio itself",
    ),
    Row(
        MIX,
        "real dataset without labels",
        lambda c: synthaug.mix(NoLabels(), c.gan, ratio=0.5),
        TypeError,
        r"real dataset items must be \(image, label\) pairs; item 0 is a Tensor",
    ),
    Row(
        MIX,
        "real labels that are strings",
        lambda c: synthaug.mix(Labelled("cat"), c.gan, ratio=0.5, progress=False),
        TypeError,
        r"real item 0 has label 'cat' \(str\); expected an int class index",
    ),
    Row(
        MIX,
        "real label 7 with 3 classes",
        lambda c: synthaug.mix(Labelled(7), c.gan, ratio=0.5, progress=False),
        ValueError,
        r"the real data has label 7, but the generator has only 3 classes",
    ),
    Row(MIX, "empty real dataset", lambda c: synthaug.mix([], c.gan, ratio=0.5), ValueError, r"real dataset is empty"),
    Row(
        MIX,
        "real=None",
        lambda c: synthaug.mix(None, c.gan, ratio=0.5),
        TypeError,
        r"real must be a map-style Dataset of \(image, label\) items, got NoneType",
    ),
    Row(
        MIX,
        "generator=None",
        lambda c: synthaug.mix(c.real, None, ratio=0.5),
        TypeError,
        r"generator must satisfy synthaug.GeneratorProtocol .* got NoneType",
    ),
    Row(
        MIX,
        "seed=-1",
        lambda c: synthaug.mix(c.real, c.gan, ratio=0.5, seed=-1),
        ValueError,
        r"seed must be a non-negative int, got -1",
    ),
    Row(
        MIX,
        "image_type='jpg'",
        lambda c: synthaug.mix(c.real, c.gan, ratio=0.5, image_type="jpg"),
        ValueError,
        r"image_type must be None \(detect from the real data\) or one of .* got 'jpg'",
    ),
    Row(
        MIX,
        "target=0 (balance)",
        lambda c: synthaug.mix(c.real, c.gan, "balance", target=0),
        ValueError,
        r"target must be a positive int .* got 0",
    ),
    Row(
        MIX,
        "target=10**13 (balance, huge)",
        lambda c: synthaug.mix(c.real, c.gan, "balance", target=10**13),
        ValueError,
        r"target=10000000000000 asks for .* samples in all; expected at most",
    ),
    Row(
        MIX,
        "transform=5 (not callable)",
        lambda c: synthaug.mix(c.real, c.gan, ratio=0.5, transform=5),
        TypeError,
        r"transform must be a callable or None, got int 5",
    ),
    Row(
        MIX,
        "normalised real items (values in [-2, 2])",
        lambda c: synthaug.mix(Labelled(0, images(1, 8, 8) * 4 - 2), c.gan, ratio=0.5),
        ValueError,
        r"image tensor is floating point with values in .* expected \[0, 1\].*Normalize after mixing",
    ),
    Row(
        MIX,
        "NaN in a real image",
        lambda c: synthaug.mix(Labelled(0, images(1, 8, 8, fill=NAN)), c.gan, ratio=0.5),
        ValueError,
        r"image tensor contains NaN; expected values in \[0, 1\]",
    ),
    Row(
        MIX,
        "4-channel real images",
        lambda c: synthaug.mix(Labelled(0, images(4, 8, 8)), c.gan, ratio=0.5),
        ValueError,
        r"image tensor of shape \(4, 8, 8\) has 4 channels; expected 1 \(grayscale\) or 3 \(RGB\)",
    ),
    Row(
        "MixedDataset.is_synthetic(index)",
        "index 1000 of 18",
        lambda c: c.mixed.is_synthetic(1000),
        IndexError,
        r"index 1000 is out of range for a dataset of 18 items",
    ),
    Row("MixedDataset[index]", "index 'a'", lambda c: c.mixed["a"], TypeError, r"index must be an int, got str"),
    # SyntheticReplace -----------------------------------------------------------------------------
    Row(
        "SyntheticReplace(gen, p)",
        "p=1.5",
        lambda c: SyntheticReplace(c.gan, p=1.5),
        ValueError,
        r"p must be a probability in \[0, 1\], got 1.5",
    ),
    Row(
        "SyntheticReplace(gen, p)",
        "p=nan",
        lambda c: SyntheticReplace(c.gan, p=NAN),
        ValueError,
        r"p must be a probability in \[0, 1\], got nan",
    ),
    Row(
        "SyntheticReplace(gen, p)",
        "generator=None",
        lambda c: SyntheticReplace(None),
        TypeError,
        r"generator must provide .* got NoneType",
    ),
    Row(
        "SyntheticReplace(gen, p)",
        "seed=-1",
        lambda c: SyntheticReplace(c.gan, seed=-1),
        ValueError,
        r"seed must be None or a non-negative int, got -1",
    ),
    Row(
        SR,
        "16x16 image for an 8x8 model",
        lambda c: SyntheticReplace(c.gan, p=1.0)(images(1, 16, 16), 0),
        ValueError,
        r"image is tensor \[C,H,W\] float32 in \[0, 1\], 1x16x16, but the generator works on images of shape \(1, 8, 8\)",
    ),
    Row(
        SR,
        "4-channel image",
        lambda c: SyntheticReplace(c.gan, p=1.0)(images(4, 8, 8), 0),
        ValueError,
        r"image tensor of shape \(4, 8, 8\) has 4 channels; expected 1 \(grayscale\) or 3 \(RGB\)",
    ),
    Row(
        SR,
        "float image with values up to 3",
        lambda c: SyntheticReplace(c.gan, p=0.0)(images(1, 8, 8) * 3, 0),
        ValueError,
        r"image tensor is floating point with values in \[.*\]; expected \[0, 1\]",
    ),
    Row(
        SR,
        "NaN image (p=0: would pass through)",
        lambda c: SyntheticReplace(c.gan, p=0.0)(images(1, 8, 8, fill=NAN), 0),
        ValueError,
        r"image tensor contains NaN; expected values in \[0, 1\]",
    ),
    Row(
        SR,
        "int64 tensor image",
        lambda c: SyntheticReplace(c.gan)(images(1, 8, 8, dtype=torch.int64), 0),
        ValueError,
        r"image tensor has dtype torch.int64; expected torch.uint8 or a floating dtype",
    ),
    Row(
        SR,
        "grayscale PIL image for an RGB model",
        lambda c: SyntheticReplace(c.rgb_gan)(Image.new("L", (8, 8)), 0),
        ValueError,
        r"image is PIL L uint8 in 0..255, 1x8x8, but the generator works on images of shape \(3, 8, 8\)",
    ),
    Row(
        SR,
        "RGBA PIL image",
        lambda c: SyntheticReplace(c.rgb_gan)(Image.new("RGBA", (8, 8)), 0),
        ValueError,
        r"image is a PIL image of mode 'RGBA'; expected mode 'L' or 'RGB'",
    ),
    Row(
        SR,
        "PIL image of mode I (32-bit)",
        lambda c: SyntheticReplace(c.gan)(Image.new("I", (8, 8)), 0),
        ValueError,
        r"image is a PIL image of mode 'I'; expected mode 'L' or 'RGB'",
    ),
    Row(
        SR,
        "label 5 with 3 classes",
        lambda c: SyntheticReplace(c.gan)(OK_IMAGE(), 5),
        ValueError,
        r"label must be an int class index in \[0, 2\], got 5",
    ),
    Row(
        SR,
        "label 1.0 (a float)",
        lambda c: SyntheticReplace(c.gan)(OK_IMAGE(), 1.0),
        TypeError,
        r"label must be an int class index in \[0, 2\], got float 1\.0",
    ),
    Row(
        SR,
        "no label",
        lambda c: SyntheticReplace(c.gan)(OK_IMAGE()),
        TypeError,
        r"SyntheticReplace takes an \(image, label\) pair, got 1 argument",
    ),
    Row(
        SR,
        "image as a nested list",
        lambda c: SyntheticReplace(c.gan)([[0.5] * 8] * 8, 0),
        TypeError,
        r"image must be a PIL image, a torch.Tensor or a numpy array, got list",
    ),
    # BatchSyntheticMix ----------------------------------------------------------------------------
    Row(
        "BatchSyntheticMix(gen, p)",
        "p=2",
        lambda c: BatchSyntheticMix(c.gan, p=2),
        ValueError,
        r"p must be a probability in \[0, 1\], got 2",
    ),
    Row(
        BM,
        "a 3-D image, not a batch",
        lambda c: BatchSyntheticMix(c.gan)(images(1, 8, 8), T([0])),
        ValueError,
        r"images must have shape \[B, C, H, W\], got \(1, 8, 8\)",
    ),
    Row(
        BM,
        "16x16 batch for an 8x8 model",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 16, 16), T([0, 1])),
        ValueError,
        r"images have shape \(2, 1, 16, 16\), but the generator works on images of shape \[B, 1, 8, 8\]",
    ),
    Row(
        BM,
        "float batch with values up to 2",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 8, 8) * 2, T([0, 1])),
        ValueError,
        r"images are floating point with values in \[.*\]; expected \[0, 1\]",
    ),
    Row(
        BM,
        "NaN batch",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 8, 8, fill=NAN), T([0, 1])),
        ValueError,
        r"images are floating point with values in \[nan, nan\]; expected \[0, 1\]",
    ),
    Row(
        BM,
        "int64 batch",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 8, 8, dtype=torch.int64), T([0, 1])),
        TypeError,
        r"images must be uint8 \(0..255\) or floating in \[0, 1\], got dtype torch.int64",
    ),
    Row(
        BM,
        "1 label for 2 images",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 8, 8), T([0])),
        ValueError,
        r"labels must have one entry per image: 1 labels for 2 images",
    ),
    Row(
        BM,
        "label 5 with 3 classes",
        lambda c: BatchSyntheticMix(c.gan)(images(2, 1, 8, 8), T([0, 5])),
        ValueError,
        r"labels must be in \[0, 2\], got values \[5\]",
    ),
    Row(
        BM,
        "a numpy batch",
        lambda c: BatchSyntheticMix(c.gan)(np.zeros((2, 1, 8, 8), np.float32), T([0, 1])),
        TypeError,
        r"images must be a torch.Tensor \[B, C, H, W\], got ndarray",
    ),
    # Denoise --------------------------------------------------------------------------------------
    Row(
        "Denoise(dae)",
        "a cGAN instead of a DAE",
        lambda c: Denoise(c.gan),
        TypeError,
        r"dae must be a DenoisingAutoencoder or the path of its bundle, got ConditionalGAN",
    ),
    Row(
        "Denoise(dae)",
        "a bundle path that does not exist",
        lambda c: Denoise(c.path("no-such-bundle")),
        BundleError,
        r"bundle path '.*no-such-bundle' does not exist",
    ),
    Row(
        "Denoise(dae)",
        "batch_size=0",
        lambda c: Denoise(c.dae, batch_size=0),
        ValueError,
        r"batch_size must be a positive int, got 0",
    ),
    Row(
        DN,
        "16x16 image for an 8x8 model",
        lambda c: Denoise(c.dae)(images(1, 16, 16)),
        ValueError,
        r"image is tensor .* 1x16x16, but the denoiser works on images of shape \(1, 8, 8\)",
    ),
    Row(
        DN,
        "4-channel image",
        lambda c: Denoise(c.dae)(images(4, 8, 8)),
        ValueError,
        r"image tensor of shape \(4, 8, 8\) has 4 channels",
    ),
    Row(
        DN,
        "float image with values up to 3",
        lambda c: Denoise(c.dae)(images(1, 8, 8) * 3),
        ValueError,
        r"image tensor is floating point with values in \[.*\]; expected \[0, 1\]",
    ),
    Row(
        DN,
        "NaN image",
        lambda c: Denoise(c.dae)(images(1, 8, 8, fill=NAN)),
        ValueError,
        r"image tensor contains NaN; expected values in \[0, 1\]",
    ),
    Row(
        DN,
        "RGB PIL image for a grayscale model",
        lambda c: Denoise(c.dae)(Image.new("RGB", (8, 8))),
        ValueError,
        r"image is PIL RGB uint8 in 0..255, 3x8x8, but the denoiser works on images of shape \(1, 8, 8\)",
    ),
    Row(
        DN,
        "None",
        lambda c: Denoise(c.dae)(None),
        TypeError,
        r"image must be a PIL image, a torch.Tensor or a numpy array, got NoneType",
    ),
    Row(
        DN,
        "16x16 batch",
        lambda c: Denoise(c.dae)(images(2, 1, 16, 16)),
        ValueError,
        r"images have shape \(2, 1, 16, 16\), but the denoiser works on images of shape \[B, 1, 8, 8\]",
    ),
    Row(
        DN,
        "5-D tensor",
        lambda c: Denoise(c.dae)(images(1, 2, 1, 8, 8)),
        ValueError,
        r"image tensor has shape \(1, 2, 1, 8, 8\); expected \[C, H, W\] or \[H, W\]",
    ),
    Row(
        DN,
        "bool numpy image",
        lambda c: Denoise(c.dae)(np.zeros((8, 8), bool)),
        ValueError,
        r"image array has dtype bool; expected uint8 or a floating dtype",
    ),
    Row(
        "dae.denoise(images)",
        "16x16 batch",
        lambda c: c.dae.denoise(images(1, 1, 16, 16)),
        ValueError,
        r"images must have shape \[B, 1, 8, 8\], got \(1, 1, 16, 16\)",
    ),
    Row(
        "dae.denoise(images)",
        "values up to 2",
        lambda c: c.dae.denoise(images(1, 1, 8, 8) * 2),
        ValueError,
        r"images must have values in \[0, 1\], got values in \[.*\]",
    ),
    Row(
        "dae.denoise(images)",
        "uint8 batch (expects float)",
        lambda c: c.dae.denoise(images(1, 1, 8, 8, dtype=torch.uint8)),
        TypeError,
        r"images must have a floating dtype with values in \[0, 1\], got torch.uint8",
    ),
    # VAEVariation / vae_variation -----------------------------------------------------------------
    Row(
        "VAEVariation(cvae, strength)",
        "strength=-1",
        lambda c: VAEVariation(c.cvae, strength=-1),
        ValueError,
        r"strength must be a finite number >= 0 \(posterior standard deviations\), got -1",
    ),
    Row(
        "VAEVariation(cvae, strength)",
        "strength=inf",
        lambda c: VAEVariation(c.cvae, strength=INF),
        ValueError,
        r"strength must be a finite number >= 0 .* got inf",
    ),
    Row(
        "VAEVariation(cvae, strength)",
        "a cGAN instead of a cVAE",
        lambda c: VAEVariation(c.gan),
        TypeError,
        r"cvae must be a ConditionalVAE or the path of its bundle, got ConditionalGAN",
    ),
    Row(
        VV,
        "16x16 image for an 8x8 model",
        lambda c: VAEVariation(c.cvae)(images(1, 16, 16), 0),
        ValueError,
        r"image is tensor .* 1x16x16, but the cVAE works on images of shape \(1, 8, 8\)",
    ),
    Row(
        VV,
        "label 5 with 3 classes",
        lambda c: VAEVariation(c.cvae)(OK_IMAGE(), 5),
        ValueError,
        r"label must be an int class index in \[0, 2\], got 5",
    ),
    Row(
        VV,
        "NaN image (p=0: would pass through)",
        lambda c: VAEVariation(c.cvae, p=0.0)(images(1, 8, 8, fill=NAN), 0),
        ValueError,
        r"image tensor contains NaN",
    ),
    Row(
        VV,
        "batch of 2 with 1 label",
        lambda c: VAEVariation(c.cvae)(images(2, 1, 8, 8), T([0])),
        ValueError,
        r"label must have one entry per image: 1 labels for 2 images",
    ),
    Row(
        "vae_variation(cvae, images, labels)",
        "images as a list",
        lambda c: vae_variation(c.cvae, [[0.5]], T([0])),
        TypeError,
        r"images must be a torch.Tensor \[B, C, H, W\], got list",
    ),
    Row(
        "vae_variation(cvae, images, labels)",
        "uint8 images (expects float)",
        lambda c: vae_variation(c.cvae, images(1, 1, 8, 8, dtype=torch.uint8), T([0])),
        TypeError,
        r"images must have a floating dtype with values in \[0, 1\], got torch.uint8",
    ),
    Row(
        "vae_variation(cvae, images, labels)",
        "values up to 5",
        lambda c: vae_variation(c.cvae, images(1, 1, 8, 8) * 5, T([0])),
        ValueError,
        r"images are floating point with values in \[.*\]; expected \[0, 1\]",
    ),
    Row(
        "vae_variation(cvae, images, labels)",
        "2 images, 1 label",
        lambda c: vae_variation(c.cvae, images(2, 1, 8, 8), T([0])),
        ValueError,
        r"labels must have one entry per image: 1 labels for 2 images",
    ),
    # albumentations -------------------------------------------------------------------------------
    Row(
        SAD,
        "16x16 image for an 8x8 model",
        lambda c: SA.Denoise(c.dae)(image=hw(16, 16, 1)),
        ValueError,
        r"image is ndarray \[H,W,C\] uint8 in 0..255, 1x16x16, but the denoiser works on images of shape \(1, 8, 8\)",
    ),
    Row(
        SAD,
        "4-channel image",
        lambda c: SA.Denoise(c.dae)(image=hw(8, 8, 4)),
        ValueError,
        r"image array of shape \(8, 8, 4\) has 4 channels",
    ),
    Row(
        SAD,
        "float32 image with values 3",
        lambda c: SA.Denoise(c.dae)(image=hw(8, 8, 1, dtype=np.float32, fill=3)),
        ValueError,
        r"image array is floating point with values in \[3, 3\]; expected \[0, 1\]",
    ),
    Row(
        SAD,
        "int64 image",
        lambda c: SA.Denoise(c.dae)(image=hw(8, 8, 1, dtype=np.int64)),
        ValueError,
        r"image array has dtype int64; expected uint8 or a floating dtype",
    ),
    Row(
        SAD,
        "a PIL image",
        lambda c: SA.Denoise(c.dae)(image=Image.new("L", (8, 8))),
        TypeError,
        r"image must be a numpy array \(the albumentations image type\), got Image",
    ),
    Row(
        SAD,
        "a torch tensor",
        lambda c: SA.Denoise(c.dae)(image=images(8, 8, 1)),
        TypeError,
        r"image must be a numpy array .* got Tensor",
    ),
    Row(
        SAD,
        "the image passed positionally",
        lambda c: SA.Denoise(c.dae)(hw(8, 8, 1)),
        TypeError,
        r"Denoise takes its data as named arguments, e.g. t\(image=image\)",
    ),
    Row(
        "synthaug.albumentations.Denoise(dae, p)",
        "p=2",
        lambda c: SA.Denoise(c.dae, p=2),
        ValueError,
        r"p must be a probability in \[0, 1\], got 2",
    ),
    Row(
        SAV,
        "label 5 with 3 classes",
        lambda c: SA.VAEVariation(c.cvae)(image=hw(8, 8, 1), label=5),
        ValueError,
        r"label must be an int class index in \[0, 2\], got 5",
    ),
    Row(
        SAV,
        "no label",
        lambda c: SA.VAEVariation(c.cvae)(image=hw(8, 8, 1)),
        ValueError,
        r"VAEVariation requires \['label'\] missing keys",
    ),
    Row(
        SAV,
        "label 'a'",
        lambda c: SA.VAEVariation(c.cvae)(image=hw(8, 8, 1), label="a"),
        TypeError,
        r"label must be an int class index in \[0, 2\], got str 'a'",
    ),
    Row(
        SAV,
        "images stack of 2 with 1 label",
        lambda c: SA.VAEVariation(c.cvae)(images=hw(2, 8, 8, 1), label=[0]),
        ValueError,
        r"label must be one class index or one per image \(2\), got 1",
    ),
    Row(
        "synthaug.albumentations.VAEVariation(cvae, strength)",
        "strength=-1",
        lambda c: SA.VAEVariation(c.cvae, strength=-1),
        ValueError,
        r"strength must be a finite number >= 0",
    ),
    Row(
        "synthaug.albumentations.VAEVariation(cvae, label_key)",
        "label_key=''",
        lambda c: SA.VAEVariation(c.cvae, label_key=""),
        ValueError,
        r"label_key must be a non-empty string, got ''",
    ),
    # generators: constructors, wrap, load ---------------------------------------------------------
    Row(
        "ConditionalGAN(**config)",
        "num_classes=0",
        lambda c: synthaug.ConditionalGAN(num_classes=0),
        ValueError,
        r"ConditionalGAN config: num_classes must be in \[1, 10000\], got 0",
    ),
    Row(
        "ConditionalGAN(**config)",
        "num_classes='3'",
        lambda c: synthaug.ConditionalGAN(num_classes="3"),
        TypeError,
        r"ConditionalGAN config: num_classes must be an int, got str '3'",
    ),
    Row(
        "ConditionalGAN(**config)",
        "image_size=30",
        lambda c: synthaug.ConditionalGAN(num_classes=3, image_size=30),
        ValueError,
        r"image_size must be a multiple of 4, got 30",
    ),
    Row(
        "ConditionalGAN(**config)",
        "unknown key foo",
        lambda c: synthaug.ConditionalGAN(num_classes=3, foo=1),
        ValueError,
        r"unknown key\(s\) \['foo'\]; expected keys",
    ),
    Row(
        "ConditionalGAN(**config)",
        "a config of 86 billion parameters",
        lambda c: synthaug.ConditionalGAN(num_classes=10000, width=1024, image_size=256),
        ValueError,
        r"would need about .* parameters, more than the limit of 200,000,000",
    ),
    Row(
        "ConditionalGAN(**config)",
        "1 class name for 3 classes",
        lambda c: synthaug.ConditionalGAN(num_classes=3, class_names=["a"]),
        ValueError,
        r"class_names has 1 entries but num_classes is 3",
    ),
    Row(
        "ConditionalVAE(**config)",
        "latent_dim=0",
        lambda c: synthaug.ConditionalVAE(num_classes=3, latent_dim=0),
        ValueError,
        r"latent_dim must be in \[1, 4096\], got 0",
    ),
    Row(
        "DenoisingAutoencoder(**config)",
        "channels=5",
        lambda c: synthaug.DenoisingAutoencoder(channels=5),
        ValueError,
        r"channels must be in \[1, 4\], got 5",
    ),
    Row(
        "synthaug.wrap(module, ...)",
        "module=5 (not callable)",
        lambda c: synthaug.wrap(5, 3, (1, 8, 8), 8),
        TypeError,
        r"module must be callable as module\(z, labels\), got int",
    ),
    Row(
        "synthaug.wrap(module, ...)",
        "image_shape=(8, 8)",
        lambda c: synthaug.wrap(TinyUserNet(), 3, (8, 8), 8),
        ValueError,
        r"image_shape must be three positive ints \(C, H, W\), got \(8, 8\)",
    ),
    Row(
        "synthaug.wrap(module, ...)",
        "image_shape=8",
        lambda c: synthaug.wrap(TinyUserNet(), 3, 8, 8),
        TypeError,
        r"image_shape must be three positive ints \(C, H, W\), got 8",
    ),
    Row(
        "synthaug.wrap(module, ...)",
        "output_range=(1, -1)",
        lambda c: synthaug.wrap(TinyUserNet(), 3, (1, 8, 8), 8, output_range=(1, -1)),
        ValueError,
        r"output_range must be finite with low < high, got \(1, -1\)",
    ),
    Row(
        "synthaug.wrap(module, ...)",
        "output_range=(0, inf)",
        lambda c: synthaug.wrap(TinyUserNet(), 3, (1, 8, 8), 8, output_range=(0, INF)),
        ValueError,
        r"output_range must be finite with low < high, got \(0, inf\)",
    ),
    Row(
        "synthaug.wrap(module, ...).sample(labels)",
        "latent_dim=4 for a module built for 8",
        lambda c: synthaug.wrap(TinyUserNet(), 3, (1, 8, 8), 4).sample(T([0])),
        ValueError,
        r"wrapped module failed on z \[1, 4\] and labels \[1\]: .*check wrap's latent_dim \(4\)",
    ),
    Row(
        "synthaug.wrap(module, ...).sample(labels)",
        "image_shape (1, 16, 16) for a module making 8x8",
        lambda c: synthaug.wrap(TinyUserNet(), 3, (1, 16, 16), 8).sample(T([0])),
        ValueError,
        r"wrapped module returned \(1, 1, 8, 8\), expected a tensor of shape \(1, 1, 16, 16\)",
    ),
    Row(
        "WrappedGenerator.save_pretrained(path)",
        "any path",
        lambda c: c.wrapped.save_pretrained(c.path("w")),
        TypeError,
        r"a wrapped generator cannot be saved as a synthaug bundle",
    ),
    Row(
        "synthaug.load(path)",
        "a path that does not exist",
        lambda c: synthaug.load(c.path("no-such-bundle")),
        BundleError,
        r"bundle path '.*no-such-bundle' does not exist",
    ),
    Row(
        "synthaug.load(path)",
        "a file, not a directory",
        lambda c: synthaug.load(c.a_file),
        BundleError,
        r"bundle path '.*a_file.txt' is a file; expected a directory holding config.json and model.safetensors",
    ),
    Row(
        "synthaug.load(path)",
        "path=None",
        lambda c: synthaug.load(None),
        TypeError,
        r"path must be a bundle directory \(str or os.PathLike\), got NoneType None",
    ),
    Row(
        "synthaug.load(path, device)",
        "device='gpu7'",
        lambda c: synthaug.load(c.bundle, device="gpu7"),
        ValueError,
        r"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu7'",
    ),
    Row(
        "synthaug.load(path, device)",
        "device=0 (an int)",
        lambda c: synthaug.load(c.bundle, device=0),
        TypeError,
        r"device must be a device string such as 'cpu' or 'cuda:0', or a torch.device; got int 0",
    ),
    Row(
        "synthaug.load(path)",
        "config.json that is not JSON",
        lambda c: synthaug.load(c.broken_bundle),
        BundleError,
        r"broken/config.json: not valid JSON",
    ),
    # trainers --------------------------------------------------------------------------------------
    Row(
        "training.TrainingConfig(...)",
        "epochs=0",
        lambda c: TrainingConfig(epochs=0),
        ValueError,
        r"epochs must be a positive int, got 0",
    ),
    Row(
        "training.TrainingConfig(...)",
        "device='gpu7'",
        lambda c: TrainingConfig(device="gpu7"),
        ValueError,
        r"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu7'",
    ),
    Row(
        "training.TrainingConfig(...)",
        "amp='fp16'",
        lambda c: TrainingConfig(amp="fp16"),
        ValueError,
        r"amp must be 'auto', 'bf16' or 'off', got 'fp16'",
    ),
    Row(
        "training.CGANTrainer(model, out_dir)",
        "a denoising autoencoder",
        lambda c: CGANTrainer(c.dae, c.path("t")),
        TypeError,
        r"CGANTrainer trains a ConditionalGAN, got DenoisingAutoencoder",
    ),
    Row(
        "CGANTrainer(...).fit(data, resume=True)",
        "checkpoint.pt is a directory",
        lambda c: CGANTrainer(build_generator("cgan"), c.checkpoint_dir_run, epochs=1, progress=False).fit(
            make_pattern_data(2), resume=True
        ),
        ValueError,
        r"checkpoint.pt: not a regular file \(a directory\?\), cannot resume from it; move it away",
    ),
    # filters --------------------------------------------------------------------------------------
    Row(
        "Filter(classifier, ...)",
        "classifier=5",
        lambda c: Filter(5),
        TypeError,
        r"classifier must be a module or callable images -> logits, got int",
    ),
    Row(
        "Filter(classifier, ...)",
        "min_confidence=2",
        lambda c: Filter(torch.nn.Flatten(), min_confidence=2),
        ValueError,
        r"min_confidence must be a number in \[0, 1\], got 2",
    ),
    Row(
        "Filter(classifier, ...)",
        "max_rounds=-1",
        lambda c: Filter(torch.nn.Flatten(), max_rounds=-1),
        ValueError,
        r"max_rounds must be an int >= 0, got -1",
    ),
    Row(
        "Filter(classifier, ...)",
        "on_shortfall='ignore'",
        lambda c: Filter(torch.nn.Flatten(), on_shortfall="ignore"),
        ValueError,
        r"on_shortfall must be one of \('error', 'warn'\), got 'ignore'",
    ),
    Row(
        "Filter.confidence(images, labels)",
        "a classifier returning an int",
        lambda c: Filter(lambda x: 5).confidence(images(2, 1, 8, 8), T([0, 1])),
        TypeError,
        r"classifier must return a tensor of logits \[B, num_classes\], got int",
    ),
    Row(
        "Filter.confidence(images, labels)",
        "a classifier returning NaN logits",
        lambda c: Filter(lambda x: torch.full((len(x), 3), NAN)).confidence(images(2, 1, 8, 8), T([0, 1])),
        ValueError,
        r"classifier returned NaN or infinite logits",
    ),
    Row(
        "filters.train_filter_classifier(real, num_classes)",
        "num_classes=2 for labels up to 2",
        lambda c: train_filter_classifier(make_pattern_data(2), num_classes=2, progress=False),
        ValueError,
        r"num_classes must be an int above the largest label \(2\), got 2",
    ),
    # viz ------------------------------------------------------------------------------------------
    Row(
        "viz.save_generator_grid(gen, path)",
        "per_class=0",
        lambda c: save_generator_grid(c.gan, c.path("g.png"), per_class=0),
        ValueError,
        r"per_class must be a positive int, got 0",
    ),
    Row(
        "viz.save_generator_grid(gen, path)",
        "generator=None",
        lambda c: save_generator_grid(None, c.path("g.png")),
        TypeError,
        r"generator must provide num_classes.* got NoneType",
    ),
    Row(
        "viz.save_generator_grid(gen, path)",
        "seed='x'",
        lambda c: save_generator_grid(c.gan, c.path("g.png"), seed="x"),
        ValueError,
        r"seed must be a non-negative int, got str 'x'",
    ),
    Row(
        "viz.save_image_grid(images, per_row, path)",
        "images as a list",
        lambda c: save_image_grid([1], 2, c.path("i.png")),
        TypeError,
        r"images must be a torch.Tensor \[N, C, H, W\], got list",
    ),
    Row(
        "viz.save_image_grid(images, per_row, path)",
        "per_row=0",
        lambda c: save_image_grid(images(2, 1, 8, 8), 0, c.path("i.png")),
        ValueError,
        r"per_row must be a positive int, got 0",
    ),
    Row(
        "viz.save_image_grid(images, per_row, path)",
        "no images",
        lambda c: save_image_grid(images(0, 1, 8, 8), 2, c.path("i.png")),
        ValueError,
        r"images must hold at least one image, got shape \(0, 1, 8, 8\)",
    ),
    Row(
        "viz.save_image_grid(images, per_row, path)",
        "2-channel images",
        lambda c: save_image_grid(images(2, 2, 8, 8), 2, c.path("i.png")),
        ValueError,
        r"images must have 1 \(grayscale\), 3 \(RGB\) or 4 \(RGBA\) channels, got shape \(2, 2, 8, 8\)",
    ),
    Row(
        "viz.save_loss_curves(records, path)",
        "a loss without a step",
        lambda c: save_loss_curves([{"loss": 1.0}], c.path("l.png")),
        ValueError,
        r"records must give the step of each loss: record 0 has 'loss' but no 'step'",
    ),
    # corruptions ----------------------------------------------------------------------------------
    Row(
        "transforms.gaussian_noise(images, sigma)",
        "sigma=2",
        lambda c: gaussian_noise(images(1, 1, 8, 8), sigma=2),
        ValueError,
        r"sigma must be a number or a \(low, high\) range within \(0, 1\] with low <= high, got 2",
    ),
    Row(
        "transforms.gaussian_noise(images, sigma)",
        "uint8 images",
        lambda c: gaussian_noise(images(1, 1, 8, 8, dtype=torch.uint8)),
        TypeError,
        r"images must have a floating dtype with values in \[0, 1\], got torch.uint8",
    ),
    Row(
        "CorruptionMix(corruptions)",
        "unknown corruption 'fog'",
        lambda c: CorruptionMix(["fog"]),
        ValueError,
        r"unknown corruption 'fog'; known: blur, cutout, gaussian, salt_and_pepper",
    ),
    Row(
        "CorruptionMix(corruptions)",
        "weight 0",
        lambda c: CorruptionMix({"gaussian": 0}),
        ValueError,
        r"corruptions weight for 'gaussian' must be a finite number > 0, got 0",
    ),
    Row(
        "CorruptionMix(corruptions)",
        "a list holding a list",
        lambda c: CorruptionMix([["blur"]]),
        TypeError,
        r"corruptions must be a list of names \(str\), got \[\['blur'\]\]",
    ),
    # metrics and tune -----------------------------------------------------------------------------
    Row(
        "metrics.evaluate_generator(gen, real)",
        "LabelledImages instead of RealData",
        lambda c: evaluate_generator(c.gan, make_pattern_data(2)),
        TypeError,
        r"real must be a RealData \(see synthaug.data.real.load_real_data\), got LabelledImages",
    ),
    Row(
        "metrics.evaluate_generator(gen, real)",
        "an RGB generator for grayscale data",
        lambda c: evaluate_generator(c.rgb_gan, c.real_data),
        ValueError,
        r"the generator makes \[3, 8, 8\] images but pattern has \[1, 8, 8\]",
    ),
    Row(
        "metrics.evaluate_generator(gen, real)",
        "num_per_class=0",
        lambda c: evaluate_generator(c.gan, c.real_data, num_per_class=0),
        ValueError,
        r"num_per_class must be a positive int, got 0",
    ),
    Row(
        "synthaug.tune(real, gen)",
        "val_fraction=2",
        lambda c: synthaug.tune(c.real, c.gan, val_fraction=2),
        ValueError,
        r"val_fraction must be a number in \(0, 1\), got 2",
    ),
    Row(
        "synthaug.tune(real, gen)",
        "metric='f1'",
        lambda c: synthaug.tune(c.real, c.gan, metric="f1"),
        ValueError,
        r"metric must be one of \('auto', 'accuracy', 'balanced_accuracy'\), got 'f1'",
    ),
    Row(
        "synthaug.tune(real, gen)",
        "train_fn=5",
        lambda c: synthaug.tune(c.real, c.gan, train_fn=5),
        TypeError,
        r"train_fn must be a callable train_fn\(train_dataset, val_dataset\) -> float, got int",
    ),
    Row(
        "synthaug.tune(real, gen)",
        "grid with strategy 'x'",
        lambda c: synthaug.tune(c.real, c.gan, grid=[{"strategy": "x"}], progress=False),
        ValueError,
        r"grid\[0\] = .*strategy must be one of",
    ),
    Row(
        "LabelledImages(images, labels)",
        "images as a list",
        lambda c: LabelledImages([1], T([0])),
        TypeError,
        r"images must be a torch.Tensor, got list",
    ),
    Row(
        "LabelledImages(images, labels)",
        "3 images, 2 labels",
        lambda c: LabelledImages(images(3, 1, 8, 8), T([0, 1])),
        ValueError,
        r"images must be \[N, C, H, W\] with one label each, got \(3, 1, 8, 8\) and 2 labels",
    ),
    # the command line -----------------------------------------------------------------------------
    cli("", "no command", lambda c: [], r"synthaug: error: the following arguments are required: COMMAND"),
    cli("", "unknown command 'generate'", lambda c: ["generate"], r"argument COMMAND: invalid choice: 'generate'"),
    cli(
        "sample",
        "a bundle path that does not exist",
        lambda c: ["sample", c.path("no-such-bundle"), "--out", c.path("o.npz")],
        r"argument bundle: bundle directory '.*no-such-bundle' does not exist",
    ),
    cli(
        "sample",
        "a file as the bundle",
        lambda c: ["sample", c.a_file, "--out", c.path("o.npz")],
        r"argument bundle: '.*a_file.txt' is not a directory",
    ),
    cli(
        "sample",
        "a bundle whose config.json is not JSON",
        lambda c: ["sample", c.broken_bundle, "--out", c.path("o.npz")],
        r"broken/config.json: not valid JSON",
    ),
    cli(
        "sample",
        "a dae bundle",
        lambda c: ["sample", c.dae_bundle, "--out", c.path("o.npz")],
        r"holds a dae model, which does not sample images",
    ),
    cli(
        "sample",
        "--n 0",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--n", "0"],
        r"argument --n/--num-samples: expected a positive integer, got 0",
    ),
    cli(
        "sample",
        "--n 1e3",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--n", "1e3"],
        r"argument --n/--num-samples: expected a positive integer, got '1e3'",
    ),
    cli(
        "sample",
        "--n 10000000000000 (huge)",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--n", "10000000000000", "--no-progress"],
        r"num_samples must be at most 1,000,000,000,000, got 10000000000000",
    ),
    cli(
        "sample",
        "--seed -1",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--seed", "-1"],
        r"argument --seed: expected an integer >= 0, got -1",
    ),
    cli(
        "sample",
        "--truncation 0",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--truncation", "0"],
        r"argument --truncation: expected a positive number, got 0",
    ),
    cli(
        "sample",
        "--truncation 5",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--truncation", "5", "--no-progress"],
        r"truncation must be a float in \(0, 2\], got 5.0",
    ),
    cli(
        "sample",
        "--class-counts zebra=5 (unknown class)",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--class-counts", "zebra=5"],
        r"class_counts has unknown class 'zebra'; expected 0..2 or one of \['left', 'right', 'top'\]",
    ),
    cli(
        "sample",
        "--class-counts 0=-5",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--class-counts", "0=-5"],
        r"argument --class-counts: expected class=count,... with counts >= 0, got '0=-5'",
    ),
    cli(
        "sample",
        "--class-counts 0=0",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--class-counts", "0=0"],
        r"class_counts must ask for at least one sample",
    ),
    cli(
        "sample",
        "--per-class with an .npz output",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--per-class", "3"],
        r"--per-class does not apply to --format npz",
    ),
    cli(
        "sample",
        "--out o.txt (unknown format)",
        lambda c: ["sample", c.bundle, "--out", c.path("o.txt")],
        r"cannot tell the format of --out '.*o.txt'",
    ),
    cli(
        "sample",
        "--format jpeg",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--format", "jpeg"],
        r"argument --format: invalid choice: 'jpeg'",
    ),
    cli(
        "sample",
        "--device gpu7",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--device", "gpu7"],
        r"argument --device: device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu7'",
    ),
    cli(
        "sample",
        "--device cuda:99",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--device", "cuda:99"],
        r"argument --device: device='cuda:99': (CUDA is not available on this machine|this machine has \d+ CUDA device)",
    ),
    cli(
        "sample",
        "--shards 0",
        lambda c: ["sample", c.bundle, "--out", c.path("sh"), "--shards", "0"],
        r"argument --shards: expected a positive integer, got 0",
    ),
    cli(
        "sample",
        "--shard-index -1",
        lambda c: ["sample", c.bundle, "--out", c.path("sh"), "--shards", "2", "--shard-index", "-1"],
        r"argument --shard-index: expected an integer >= 0, got -1",
    ),
    cli(
        "sample",
        "--shard-index without --shards",
        lambda c: ["sample", c.bundle, "--out", c.path("sh"), "--shard-index", "1"],
        r"--shard-index 1 needs --shards K",
    ),
    cli(
        "sample",
        "--shards without --shard-index",
        lambda c: ["sample", c.bundle, "--out", c.path("sh"), "--shards", "2"],
        r"--shards 2 needs --shard-index I \(which shard to write, 0..1\)",
    ),
    cli(
        "sample",
        "--shard-index 2 with --shards 2",
        lambda c: ["sample", c.bundle, "--out", c.path("sh"), "--shards", "2", "--shard-index", "2"],
        r"--shard-index 2 must be < --shards 2",
    ),
    cli(
        "sample",
        "--shards with --format imagefolder",
        lambda c: [
            "sample",
            c.bundle,
            "--out",
            c.path("sh"),
            "--shards",
            "2",
            "--shard-index",
            "0",
            "--format",
            "imagefolder",
        ],
        r"--format imagefolder cannot be sharded: --shards \(and torchrun\) write npz shards",
    ),
    cli(
        "sample",
        "--shards with --out o.png (a grid)",
        lambda c: ["sample", c.bundle, "--out", c.path("o.png"), "--shards", "2", "--shard-index", "0"],
        r"--out '.*o.png' \(a grid\) cannot be sharded",
    ),
    cli(
        "sample",
        "--shards with --out o.npz (a file name)",
        lambda c: ["sample", c.bundle, "--out", c.path("o.npz"), "--shards", "2", "--shard-index", "0"],
        r"--out '.*o.npz' names an .npz file, but shards go into a directory",
    ),
    cli(
        "sample",
        "--shards with --out an existing file",
        lambda c: ["sample", c.bundle, "--out", c.a_file, "--shards", "2", "--shard-index", "0"],
        r"--out '.*a_file.txt' is a file; shards go into a directory",
    ),
    cli(
        "sample",
        "--shards with --per-class",
        lambda c: [
            "sample",
            c.bundle,
            "--out",
            c.path("sh"),
            "--shards",
            "2",
            "--shard-index",
            "0",
            "--per-class",
            "3",
        ],
        r"--per-class does not apply to --format npz",
    ),
    cli(
        "sample",
        "--shards into a directory of another run",
        lambda c: [
            "sample",
            c.bundle,
            "--out",
            str(shards(c, "cli-other-run", range(1), seed=7)),
            "--shards",
            "2",
            "--shard-index",
            "1",
            "--n",
            "4",
            "--no-progress",
        ],
        r"belongs to a different run \(.*seed 7 there vs 0 here",
    ),
    cli(
        "info",
        "a bundle path that does not exist",
        lambda c: ["info", c.path("no-such-bundle")],
        r"argument bundle: bundle directory '.*no-such-bundle' does not exist",
    ),
    cli(
        "train",
        "unknown model 'gan'",
        lambda c: ["train", "gan", "--data", "digits", "--out", c.path("run")],
        r"argument model: invalid choice: 'gan' \(choose from 'cgan', 'cvae', 'dae'\)",
    ),
    cli(
        "train",
        "--data path that does not exist",
        lambda c: ["train", "cgan", "--data", c.path("no-such-folder"), "--out", c.path("run")],
        r"data must be 'digits', 'fashion-mnist' or an ImageFolder directory, got '.*no-such-folder' \(not a directory\)",
    ),
    cli(
        "train",
        "--epochs 0",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.path("run"), "--epochs", "0"],
        r"argument --epochs: expected a positive integer, got 0",
    ),
    cli(
        "train",
        "--lr -1",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.path("run"), "--lr", "-1"],
        r"argument --lr: expected a positive number, got -1",
    ),
    cli(
        "train",
        "--channels 2",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.path("run"), "--channels", "2"],
        r"argument --channels: invalid choice: 2 \(choose from 1, 3\)",
    ),
    cli(
        "train",
        "--device gpu7",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.path("run"), "--device", "gpu7"],
        r"argument --device: device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu7'",
    ),
    cli(
        "train",
        "--out an existing file",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.a_file],
        r"--out '.*a_file.txt' is a file; expected a directory to write into",
    ),
    cli(
        "train",
        "--resume when checkpoint.pt is a directory",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.checkpoint_dir_run, "--resume"],
        r"checkpoint.pt: not a regular file \(a directory\?\), cannot resume from it",
    ),
    cli(
        "train",
        "--corruptions for a cgan",
        lambda c: ["train", "cgan", "--data", "digits", "--out", c.path("run"), "--corruptions", "gaussian"],
        r"--corruptions applies to denoisers \(dae\) only, not cgan",
    ),
    cli(
        "train",
        "--corruptions gaussian:x",
        lambda c: ["train", "dae", "--data", "digits", "--out", c.path("run"), "--corruptions", "gaussian:x"],
        r"argument --corruptions: expected name\[:weight\],... with numeric weights, got 'gaussian:x'",
    ),
    cli(
        "train",
        "--latent-dim for a dae",
        lambda c: ["train", "dae", "--data", "digits", "--out", c.path("run"), "--latent-dim", "4"],
        r"--latent-dim does not apply to dae",
    ),
    cli(
        "evaluate",
        "no bundle",
        lambda c: ["evaluate", "--data", "digits"],
        r"name the bundle to evaluate: synthaug evaluate BUNDLE",
    ),
    cli(
        "evaluate",
        "a generator bundle without --out",
        lambda c: ["evaluate", c.bundle, "--data", "digits"],
        r"--out is required for a generator bundle",
    ),
    cli(
        "evaluate",
        "--num-images for a generator bundle",
        lambda c: ["evaluate", c.bundle, "--data", "digits", "--out", c.path("report"), "--num-images", "3"],
        r"--num-images applies to dae bundles only",
    ),
    cli(
        "evaluate",
        "--data path that does not exist",
        lambda c: ["evaluate", c.bundle, "--data", c.path("no-such-folder"), "--out", c.path("report")],
        r"data must be 'digits', 'fashion-mnist' or an ImageFolder directory, got '.*no-such-folder'",
    ),
    cli(
        "evaluate",
        "--k 0",
        lambda c: ["evaluate", c.bundle, "--data", "digits", "--out", c.path("report"), "--k", "0"],
        r"argument --k: expected a positive integer, got 0",
    ),
    cli(
        "evaluate-dae",
        "a cgan bundle",
        lambda c: ["evaluate-dae", c.bundle, "--data", "digits"],
        r"holds a cgan model, not a dae",
    ),
    cli(
        "evaluate-dae",
        "--num-images 0",
        lambda c: ["evaluate-dae", c.dae_bundle, "--data", "digits", "--num-images", "0"],
        r"argument --num-images: expected a positive integer, got 0",
    ),
    cli(
        "evaluate-dae",
        "--data path that does not exist",
        lambda c: ["evaluate-dae", c.dae_bundle, "--data", c.path("no-such-folder")],
        r"data must be 'digits', 'fashion-mnist' or an ImageFolder directory",
    ),
    cli(
        "evaluate-dae",
        "no --data",
        lambda c: ["evaluate-dae", c.dae_bundle],
        r"the following arguments are required: --data",
    ),
    cli(
        "evaluate-dae",
        "--device gpu7",
        lambda c: ["evaluate-dae", c.dae_bundle, "--data", "digits", "--device", "gpu7"],
        r"argument --device: device must be a torch device",
    ),
    cli(
        "demo",
        "--gan-epochs 0",
        lambda c: ["demo", "--gan-epochs", "0"],
        r"argument --gan-epochs: expected a positive integer, got 0",
    ),
    cli(
        "demo",
        "--out an existing file",
        lambda c: ["demo", "--out", c.a_file],
        r"--out '.*a_file.txt' is a file; expected a directory to write into",
    ),
]

assert len({row.id for row in ROWS}) == len(ROWS), "row ids must be unique"


# -- the test --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Ctx:
    return Ctx(tmp_path_factory.mktemp("bad_inputs"))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_gets_a_clear_error(ctx, row, capsys):
    if row.error is SystemExit:
        argv = row.call(ctx)
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(argv)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert info.value.code == 2, err
        assert "Traceback" not in err
        assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
        assert re.search(row.match, lines[0]), (row.match, lines[0])
        return
    with pytest.raises(row.error) as info:
        row.call(ctx)
    assert isinstance(info.value, (ValueError, TypeError, IndexError)), type(info.value)
    assert re.search(row.match, str(info.value)), (row.match, str(info.value))


def test_the_table_covers_every_required_kind_of_bad_input():
    """The rows the issue asks for by name are present (guards against trimming the table)."""
    text = "\n".join(f"{row.entry} {row.bad}" for row in ROWS)
    for needle in [
        "labels 5 with 3 classes",
        "float labels",
        "2-D labels",
        "num_samples=0",
        "num_samples=2.5",
        "num_samples=10**13",
        "class_counts={7: 3}",
        "class_counts={0: -3}",
        "class_counts={0: 1.5}",
        "1-channel generator, 3-channel real data",
        "28x28 generator, 32x32 real data",
        "ratio=-0.5",
        "p=1.5",
        "real dataset without labels",
        "16x16 image for an 8x8 model",
        "4-channel image",
        "float image with values up to 3",
        "uint8 batch (expects float)",
        "grayscale PIL image for an RGB model",
        "--data path that does not exist",
        "a bundle path that does not exist",
        "transform=5",
        "strength=-1",
        "unknown corruption",
        "dict strategy with unknown class",
        "strategy='oversample'",
        "seed=-1",
        "truncation=0",
        "image_type='jpg'",
    ]:
        assert needle in text, needle


# -- the docs table --------------------------------------------------------------------------------


def observe(ctx: Ctx, row: Row) -> str:
    """What the row's call does now, as one line: ``Type: message`` or ``exit 2: stderr line``."""
    if row.error is SystemExit:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                main(row.call(ctx))
        except SystemExit as e:
            return f"exit {e.code}: {err.getvalue().strip()}"
        return "exit 0 (no error)"
    try:
        row.call(ctx)
    except Exception as e:  # noqa: BLE001  (reporting whatever happens)
        return f"{type(e).__name__}: {e}"
    return "no error"


def markdown_table(ctx: Ctx, width: int = 150) -> str:
    def cell(text: str) -> str:
        text = text.replace(str(ctx.tmp) + "/", "").replace(" (see 'synthaug", "\0").split("\0")[0]
        text = text if len(text) <= width else text[: width - 1] + "…"
        return text.replace("|", "\\|")

    lines = ["| entry point | bad input | error |", "|---|---|---|"]
    for row in ROWS:
        lines.append(f"| `{cell(row.entry)}` | {cell(row.bad)} | `{cell(observe(ctx, row))}` |")
    return "\n".join(lines)


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        print(markdown_table(Ctx(Path(tmp))))
    print(f"\n{len(ROWS)} rows")
