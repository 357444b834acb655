"""Sharded npz export (synthaug.sharding, ``synthaug sample --shards``, torchrun) and reading exports back.

The contract: K shards written by any processes, in any order, are disjoint, deterministic,
and concatenated in order equal the single-process ``export_npz`` byte for byte; the
manifest appears once all are written; shards of different runs are never mixed; and
``ExportedDataset`` reads the set (or a single .npz) back with the items of
``SyntheticDataset``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import synthaug
import synthaug.cli as cli
from synthaug.data import SyntheticDataset
from synthaug.export import ExportedDataset, export_npz, export_npz_shard, shard_name, shard_range, write_manifest
from synthaug.training.distributed import DistributedRun

NAMES = ["left", "right", "top"]
N = 11  # not divisible by 2 or 3


@pytest.fixture(scope="module")
def gen(generator_factory):
    return generator_factory("cgan", class_names=NAMES)


@pytest.fixture(scope="module")
def bundle(gen, tmp_path_factory) -> Path:
    return gen.save_pretrained(tmp_path_factory.mktemp("sharded") / "cgan")


def read(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files}


def write_all(gen, out: Path, num_shards: int, order=None, **kwargs) -> list[Path]:
    kwargs = {"num_samples": N, "progress": False, **kwargs}
    return [export_npz_shard(gen, out, i, num_shards, **kwargs) for i in (order or range(num_shards))]


def concatenated(out: Path, num_shards: int) -> dict[str, np.ndarray]:
    parts = [read(out / shard_name(i, num_shards)) for i in range(num_shards)]
    joined = {key: np.concatenate([p[key] for p in parts]) for key in ("images", "labels", "indices")}
    for p in parts:
        assert p["class_names"].tolist() == parts[0]["class_names"].tolist()
    return {**joined, "class_names": parts[0]["class_names"]}


# -- the shards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_shards, kwargs",
    [
        (1, {}),
        (2, {"seed": 3, "truncation": 0.7}),
        (3, {"class_counts": {"top": 6, 0: 5}, "num_samples": None}),
    ],
)
def test_union_of_shards_equals_the_single_export_byte_for_byte(gen, tmp_path, num_shards, kwargs):
    # Written out of order, as independent processes would finish.
    write_all(gen, tmp_path / "shards", num_shards, order=list(range(num_shards))[::-1], **kwargs)
    single = read(export_npz(gen, tmp_path / "single.npz", **{"num_samples": N, "progress": False, **kwargs}))
    union = concatenated(tmp_path / "shards", num_shards)
    for key in ("images", "labels", "class_names"):
        assert union[key].dtype == single[key].dtype and union[key].shape == single[key].shape, key
        assert union[key].tobytes() == single[key].tobytes(), key
    assert union["indices"].tolist() == list(range(len(single["labels"])))


def test_shard_ranges_split_like_array_split():
    for n, k in [(11, 3), (10, 5), (2, 4), (1, 1), (7, 7)]:
        expected = [(len(part) and int(part[0]), len(part)) for part in np.array_split(np.arange(n), k)]
        ranges = [shard_range(n, k, i) for i in range(k)]
        assert [stop - start for start, stop in ranges] == [size for _, size in expected]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_shards_are_disjoint_and_a_rewritten_shard_is_the_same_bytes(gen, tmp_path):
    write_all(gen, tmp_path / "a", 3)
    export_npz_shard(gen, tmp_path / "b", 1, 3, num_samples=N, progress=False)
    for suffix in ("npz", "json"):
        name = shard_name(1, 3, suffix)
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    indices = [set(read(tmp_path / "a" / shard_name(i, 3))["indices"].tolist()) for i in range(3)]
    assert sum(len(s) for s in indices) == N and set().union(*indices) == set(range(N))
    assert [len(s) for s in indices] == [4, 4, 3]
    # Rewriting needs force, and then gives the same bytes.
    before = (tmp_path / "a" / shard_name(1, 3)).read_bytes()
    with pytest.raises(FileExistsError, match="shard-00001-of-00003.npz"):
        export_npz_shard(gen, tmp_path / "a", 1, 3, num_samples=N, progress=False)
    export_npz_shard(gen, tmp_path / "a", 1, 3, num_samples=N, progress=False, force=True)
    assert (tmp_path / "a" / shard_name(1, 3)).read_bytes() == before
    assert not [p.name for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]  # no temporaries left


def test_manifest_appears_with_the_last_shard_and_records_counts_and_checksums(gen, tmp_path):
    out = tmp_path / "shards"
    export_npz_shard(gen, out, 2, 3, num_samples=N, seed=5, progress=False)
    export_npz_shard(gen, out, 0, 3, num_samples=N, seed=5, progress=False)
    assert not (out / "manifest.json").exists()
    export_npz_shard(gen, out, 1, 3, num_samples=N, seed=5, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    run = manifest["run"]
    assert (run["num_samples"], run["num_shards"], run["seed"], run["truncation"]) == (N, 3, 5, 1.0)
    assert run["class_counts"] == [4, 4, 3] and run["class_names"] == NAMES and run["image_shape"] == [8, 8, 1]
    assert run["model_type"] == "cgan" and len(run["generator_sha256"]) == 64
    totals = np.zeros(3, dtype=int)
    for i, entry in enumerate(manifest["shards"]):
        path = out / entry["file"]
        assert entry["file"] == shard_name(i, 3) and entry["index"] == i
        assert (entry["start"], entry["stop"]) == shard_range(N, 3, i) and entry["count"] == entry["stop"] - entry[
            "start"
        ]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["bytes"] == path.stat().st_size
        assert entry["class_counts"] == np.bincount(read(path)["labels"], minlength=3).tolist()
        totals += entry["class_counts"]
    assert totals.tolist() == run["class_counts"]
    # Rebuilt from the sidecars: the same bytes.
    text = (out / "manifest.json").read_bytes()
    (out / "manifest.json").unlink()
    assert write_manifest(out) == out / "manifest.json"
    assert (out / "manifest.json").read_bytes() == text


def test_write_manifest_refuses_missing_shards(gen, tmp_path):
    export_npz_shard(gen, tmp_path, 0, 3, num_samples=N, progress=False)
    with pytest.raises(ValueError, match=r"shard\(s\) \[1, 2\] of 3 are missing"):
        write_manifest(tmp_path)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"seed": 1}, r"different run \(seed 0 there vs 1 here"),
        ({"num_samples": 12}, r"different run .*num_samples 11 there vs 12 here"),
        ({"truncation": 0.5}, r"different run .*truncation"),
        ({"num_shards": 2}, r"belongs to a 3-shard export, not 2 shards"),
        ({"other_weights": True}, r"different run .*generator_sha256"),
    ],
)
def test_shards_of_a_different_run_are_refused(gen, generator_factory, tmp_path, change, match):
    export_npz_shard(gen, tmp_path, 0, 3, num_samples=N, progress=False)
    args = {"num_samples": N, "seed": 0, "num_shards": 3, "progress": False, "force": True}
    other = generator_factory("cgan", seed=1, class_names=NAMES) if change.pop("other_weights", False) else gen
    args.update(change)
    num_shards = args.pop("num_shards")
    with pytest.raises(ValueError, match=match):  # force does not help: the directory would mix two sets
        export_npz_shard(other, tmp_path, 1, num_shards, **args)
    assert sorted(p.name for p in tmp_path.iterdir()) == [shard_name(0, 3, "json"), shard_name(0, 3)]


# -- reading back ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shards(gen, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("read") / "shards"
    write_all(gen, out, 3, seed=2)
    return out


def test_exported_items_equal_synthetic_items(gen, shards, tmp_path):
    expected = SyntheticDataset(gen, N, seed=2, image_type="numpy")
    single = export_npz(gen, tmp_path / "single.npz", num_samples=N, seed=2, progress=False)
    for source in (shards, shards / "manifest.json", single):
        ds = ExportedDataset(source, image_type="numpy")
        assert len(ds) == N and ds.classes == NAMES
        assert ds.targets.tolist() == expected.targets.tolist()
        for i in [0, 3, 4, 8, 10, -1]:
            image, label = ds[i]
            want, want_label = expected[i]
            assert image.dtype == np.uint8 and np.array_equal(image, want) and label == want_label
    with pytest.warns(DeprecationWarning, match="from_export is deprecated"):
        pil = SyntheticDataset.from_export(shards)
    assert isinstance(pil, ExportedDataset) and isinstance(pil[0][0], Image.Image) and pil[0][0].mode == "L"
    assert np.array_equal(np.asarray(pil[5][0]), expected[5][0][..., 0])
    tensor, _ = ExportedDataset(shards, image_type="tensor")[5]
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 8, 8)
    assert torch.equal(tensor, torch.from_numpy(expected[5][0]).permute(2, 0, 1).float() / 255)
    called = ExportedDataset(shards, transform=lambda im: ("t", im.size), target_transform=lambda y: y + 10)
    assert called[0] == (("t", (8, 8)), 10)
    assert "3 shard(s)" in repr(called) and "Number of datapoints: 11" in repr(called)


def test_exported_dataset_in_a_dataloader_with_two_workers(shards):
    ds = ExportedDataset(shards, image_type="tensor")
    loader = DataLoader(ds, batch_size=4, shuffle=False, num_workers=2)
    images, labels = zip(*loader)
    assert torch.equal(torch.cat(labels), ds.targets)
    assert torch.equal(torch.cat(images), torch.stack([ds[i][0] for i in range(len(ds))]))


def copy_of(shards: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    out.mkdir()
    for path in shards.iterdir():
        (out / path.name).write_bytes(path.read_bytes())
    return out


def test_a_corrupted_shard_is_refused(shards, tmp_path):
    out = copy_of(shards, tmp_path)
    path = out / shard_name(1, 3)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"shard-00001-of-00003.npz: sha256 does not match manifest.json"):
        ExportedDataset(out)
    with pytest.raises(ValueError, match="shard-00001-of-00003.npz"):  # unchecked, it fails on open or on reading
        ExportedDataset(out, verify=False)[5]


def test_missing_extra_and_mislabelled_shards_are_refused(shards, tmp_path):
    out = copy_of(shards, tmp_path)
    (out / shard_name(2, 3)).rename(tmp_path / "moved.npz")
    with pytest.raises(ValueError, match=r"shard-00002-of-00003.npz: missing"):
        ExportedDataset(out)
    (tmp_path / "moved.npz").rename(out / shard_name(2, 3))
    (out / shard_name(0, 2)).write_bytes(b"stray")
    with pytest.raises(ValueError, match=r"\['shard-00000-of-00002.npz'\] are not in manifest.json"):
        ExportedDataset(out)
    (out / shard_name(0, 2)).unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][1]["start"] -= 1  # overlaps shard 0
    manifest["shards"][1]["count"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"overlapping or gapped"):
        ExportedDataset(out)


def test_wrong_dtypes_are_refused_and_nothing_is_unpickled(shards, tmp_path):
    out = copy_of(shards, tmp_path)
    path = out / shard_name(0, 3)
    arrays = read(path)
    with open(path, "wb") as f:
        np.savez(f, **{**arrays, "images": arrays["images"].astype(np.float32)})
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0].update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), bytes=path.stat().st_size)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        ValueError,
        match=r"shard-00000-of-00003.npz: array 'images' is float32 \[4, 8, 8, 1\], "
        r"expected uint8 \[4, 8, 8, 1\]",
    ):
        ExportedDataset(out)
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        images=np.zeros((1, 8, 8, 1), np.uint8),
        labels=np.zeros(1, np.int64),
        class_names=np.array([{"a": 1}], dtype=object),
    )
    with pytest.raises(ValueError, match=r"pickled.npz: array 'class_names' is object"):
        ExportedDataset(pickled)


# -- the command line -----------------------------------------------------------------------------


def run_main(argv: list) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


def test_cli_shards_equal_the_cli_single_export(bundle, tmp_path, capsys):
    base = ["sample", bundle, "--n", N, "--seed", 4, "--no-progress"]
    assert run_main([*base, "--out", tmp_path / "single.npz"]) == 0
    assert run_main([*base, "--out", tmp_path / "shards", "--shards", 2, "--shard-index", 1]) == 0
    out = capsys.readouterr().out
    assert "wrote shard 1 of 2 (items [6, 11): 5 images" in out and "manifest" not in out
    assert run_main([*base, "--out", tmp_path / "shards", "--shards", 2, "--shard-index", 0]) == 0
    assert "all 2 shards present" in capsys.readouterr().out
    single, union = read(tmp_path / "single.npz"), concatenated(tmp_path / "shards", 2)
    assert union["images"].tobytes() == single["images"].tobytes() and np.array_equal(union["labels"], single["labels"])
    # An existing shard needs --force; other formats cannot be sharded.
    assert run_main([*base, "--out", tmp_path / "shards", "--shards", 2, "--shard-index", 0]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert run_main([*base, "--out", tmp_path / "shards", "--shards", 2, "--shard-index", 0, "--force"]) == 0


def torchrun_env(monkeypatch, world_size: int, rank: int) -> None:
    monkeypatch.setenv("WORLD_SIZE", str(world_size))
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))


def test_cli_under_simulated_torchrun_writes_one_shard_per_rank(bundle, gen, tmp_path, monkeypatch, capsys):
    for rank in (2, 0, 1):
        torchrun_env(monkeypatch, 3, rank)
        assert run_main(["sample", bundle, "--out", tmp_path / "shards", "--n", 10, "--seed", 1]) == 0
        assert f"wrote shard {rank} of 3" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    assert [entry["count"] for entry in manifest["shards"]] == [4, 3, 3]
    single = read(export_npz(gen, tmp_path / "single.npz", num_samples=10, seed=1, progress=False))
    assert concatenated(tmp_path / "shards", 3)["images"].tobytes() == single["images"].tobytes()
    # One process (WORLD_SIZE 1) is a plain export; a .png --out cannot be sharded.
    torchrun_env(monkeypatch, 1, 0)
    assert run_main(["sample", bundle, "--out", tmp_path / "plain.npz", "--n", 4]) == 0
    torchrun_env(monkeypatch, 2, 0)
    assert run_main(["sample", bundle, "--out", tmp_path / "g.png"]) == 2
    assert "cannot be sharded" in capsys.readouterr().err


@pytest.mark.parametrize(
    "env, match",
    [
        (
            {"WORLD_SIZE": "two", "RANK": "0"},
            "environment variable WORLD_SIZE must be an int (torchrun sets it), got 'two'",
        ),
        ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2 and WORLD_SIZE=2: expected 0 <= RANK < WORLD_SIZE"),
        ({"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "-1"}, "environment variable LOCAL_RANK must be >= 0, got -1"),
    ],
)
def test_a_bad_torchrun_environment_is_a_one_line_error(bundle, tmp_path, monkeypatch, capsys, env, match):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_main(["sample", bundle, "--out", tmp_path / "shards", "--n", 4]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and match in err


def test_cuda_under_torchrun_means_the_local_rank():
    launch = DistributedRun(rank=3, local_rank=1, world_size=4)
    assert launch.device("cuda") == "cuda:1"
    assert launch.device("cuda:0") == "cuda:0"  # an explicit index is kept
    assert launch.device("cpu") == "cpu"
    assert DistributedRun().device("cuda") == "cuda"


@pytest.mark.slow
def test_a_real_torchrun_writes_the_shards_and_the_manifest(bundle, gen, tmp_path):
    out = tmp_path / "shards"
    # --num-samples, not --n: torchrun's own parser would take --n for an abbreviation of its options.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "synthaug",
            "sample",
            str(bundle),
            "--out",
            str(out),
            "--num-samples",
            "40",
            "--seed",
            "2",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wrote shard 0 of 2" in result.stdout and "wrote shard 1 of 2" in result.stdout
    ds = ExportedDataset(out, image_type="numpy")
    assert [entry["count"] for entry in ds.manifest["shards"]] == [20, 20]
    single = read(export_npz(gen, tmp_path / "single.npz", num_samples=40, seed=2, progress=False))
    assert concatenated(out, 2)["images"].tobytes() == single["images"].tobytes()
    assert ds.targets.tolist() == single["labels"].tolist()
    assert synthaug.ExportedDataset is ExportedDataset
