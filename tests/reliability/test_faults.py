"""Faults: kill -9 and resume, a full disk, an export killed midway. Nothing is lost or left half-written."""

from __future__ import annotations

import errno
import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import synthaug
import synthaug.generators.bundle as bundle_module
from synthaug.export import export_imagefolder
from synthaug.training import CGANTrainer
from synthaug.training.base import CHECKPOINT_NAME, METRICS_NAME
from synthaug.utils.atomic import atomic_file, remove_stale_temporaries
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = dict(batch_size=16, log_every=2, sample_every=1, samples_per_class=2, progress=False, seed=3)


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_cgan(seed: int = 0, **overrides) -> synthaug.ConditionalGAN:
    with seeded(seed):
        return synthaug.ConditionalGAN(**{"num_classes": 3, "image_size": 8, "latent_dim": 8, "width": 8, **overrides})


def leftovers(folder: Path) -> list[str]:
    """Hidden or temporary entries anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp")


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def dead_pid() -> int:
    """The id of a process that has exited (and was reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# -- kill -9 and --resume -------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_loses_nothing(tmp_path):
    """bench/kill_resume.py's loop, 3 cycles: the resumed run equals an uninterrupted one.

    Seed 2 kills 0.03 s after training started (before the first checkpoint), then after
    one more checkpoint twice, each time a random fraction of a second later.
    """
    result = load_script("kill_resume").kill_resume(tmp_path, cycles=3, epochs=8, seed=2, timeout=1800)
    assert result["survived"], result["problems"]
    assert result["cycles_killed"] == 3, result["kills"]
    assert result["killed_after_a_checkpoint"] >= 2, result["kills"]
    assert all(kill["checkpoint_loads"] for kill in result["kills"])
    assert result["final_steps"] == 8 * 6  # 48 training images, batch 8


def test_a_killed_writers_temporaries_are_removed_by_the_next_write(tmp_path):
    stale = tmp_path / f".{CHECKPOINT_NAME}.{dead_pid()}.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    with subprocess.Popen(["sleep", "60"]) as alive:
        try:
            in_flight = tmp_path / f".{CHECKPOINT_NAME}.{alive.pid}.wr1t1n.tmp"
            in_flight.write_bytes(b"another process is writing this")
            unrelated = tmp_path / ".notes.txt.123.tmp"
            unrelated.write_bytes(b"not ours")
            with atomic_file(tmp_path / CHECKPOINT_NAME) as tmp:
                tmp.write_bytes(b"whole")
            assert not stale.exists()
            assert in_flight.exists() and unrelated.exists()  # a live writer's file, another file's temporary
        finally:
            alive.kill()
    assert remove_stale_temporaries(tmp_path / CHECKPOINT_NAME) == [in_flight]
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == b"whole"


def test_an_aside_copy_of_the_only_previous_output_is_kept(tmp_path):
    """Killed between its two renames, a replacing export leaves the old tree in ``.NAME.PID.X.old``: never deleted blindly."""
    aside = tmp_path / f".synth.{dead_pid()}.x.old"
    (aside / "synth").mkdir(parents=True)
    assert remove_stale_temporaries(tmp_path / "synth") == []
    assert aside.exists()
    (tmp_path / "synth").mkdir()  # once a new output exists, the aside copy is garbage
    assert remove_stale_temporaries(tmp_path / "synth") == [aside]


@pytest.mark.slow
def test_resume_after_a_crash_cleans_up_and_logs_every_step_once(tmp_path, pattern_factory):
    """A run killed mid-epoch (after logging past its checkpoint, with a temporary on disk) resumes cleanly."""
    data = pattern_factory(16)  # 48 images: 3 steps per epoch
    straight = CGANTrainer(tiny_cgan(), tmp_path / "a", epochs=4, **SETTINGS).fit(data)

    run = tmp_path / "b"
    CGANTrainer(tiny_cgan(), run, epochs=2, **SETTINGS).fit(data)  # the state a kill in epoch 3 leaves:
    with open(run / METRICS_NAME, "a") as log:  # steps of epoch 3 logged after the checkpoint of epoch 2
        log.write(
            json.dumps({"step": 8, "epoch": 3, "seconds": 9.9, "loss_d": 1.0, "loss_g": 1.0}) + '\n{"step": 9, "ep'
        )
    for stale in (
        run / f".{CHECKPOINT_NAME}.{dead_pid()}.abc.tmp",
        run / "samples" / f".epoch_003.png.{dead_pid()}.d.tmp",
    ):
        stale.write_bytes(b"half")

    resumed = CGANTrainer(tiny_cgan(seed=99), run, epochs=4, **SETTINGS).fit(data, resume=True)
    assert resumed.steps == straight.steps == 12
    logged = [(r["step"], r["epoch"]) for r in map(json.loads, (run / METRICS_NAME).read_text().splitlines())]
    assert logged == [(r["step"], r["epoch"]) for r in straight.history]
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"epoch_{e:03d}.png" for e in range(1, 5)]
    assert leftovers(run) == []
    a, b = synthaug.load(tmp_path / "a").state_dict(), synthaug.load(run).state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


# -- a full disk ----------------------------------------------------------------------------------


def half_then_full(real):
    """A stand-in for ``real(obj, path, ...)`` that writes half of the file and then finds the disk full."""

    def write(obj, path, *args, **kwargs):
        real(obj, path, *args, **kwargs)
        data = Path(path).read_bytes()
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    return write


@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, pattern_factory, monkeypatch):
    data = pattern_factory(16)
    straight = CGANTrainer(tiny_cgan(), tmp_path / "a", epochs=3, **SETTINGS).fit(data)
    run = tmp_path / "b"
    real_save, calls = torch.save, []

    def full_on_second_checkpoint(obj, path, *args, **kwargs):
        calls.append(path)
        (half_then_full(real_save) if len(calls) == 2 else real_save)(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_on_second_checkpoint)
    with pytest.raises(OSError, match="No space"):
        CGANTrainer(tiny_cgan(), run, epochs=3, **SETTINGS).fit(data)
    monkeypatch.setattr(torch, "save", real_save)
    state = torch.load(run / CHECKPOINT_NAME, weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 3)  # the checkpoint before the full disk, whole
    assert leftovers(run) == []

    resumed = CGANTrainer(tiny_cgan(), run, epochs=3, **SETTINGS).fit(data, resume=True)
    assert [r["step"] for r in resumed.history] == [r["step"] for r in straight.history]
    a, b = synthaug.load(tmp_path / "a").state_dict(), synthaug.load(run).state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def config_write_fails(real_write_text):
    def write_text(self, text, *args, **kwargs):
        if "config.json" in self.name:
            real_write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_text(self, text, *args, **kwargs)

    return write_text


@pytest.mark.parametrize("fails_at", ["weights", "config", "fsync"])
def test_disk_full_while_saving_a_bundle_keeps_the_previous_bundle(tmp_path, monkeypatch, fails_at):
    """The old bundle stays loadable whichever write hits the full disk (before: a full disk at the config write
    left new weights under the old config, a checksum mismatch that made the bundle unloadable)."""
    old, new = tiny_cgan(seed=1), tiny_cgan(seed=2)
    old.save_pretrained(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("config.json", "model.safetensors")}
    if fails_at == "weights":
        monkeypatch.setattr(bundle_module, "save_file", half_then_full(bundle_module.save_file))
    elif fails_at == "config":
        monkeypatch.setattr(Path, "write_text", config_write_fails(Path.write_text))
    else:
        monkeypatch.setattr(bundle_module, "fsync_file", no_space)
    with pytest.raises(OSError, match="No space"):
        new.save_pretrained(tmp_path)
    monkeypatch.undo()
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert leftovers(tmp_path) == []
    rng = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    labels = torch.tensor([0, 1, 2])
    assert torch.equal(synthaug.load(tmp_path).sample(labels, generator=rng()), old.sample(labels, generator=rng()))


# -- an export killed midway ----------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_export_killed_midway_leaves_the_previous_output(tmp_path):
    bundle, out = tmp_path / "bundle", tmp_path / "synth"
    gen = tiny_cgan(class_names=["left", "right", "top"])
    gen.save_pretrained(bundle)
    export_imagefolder(gen, out, num_samples=6, progress=False)
    previous = tree(out)

    command = [
        sys.executable,
        "-m",
        "synthaug",
        "sample",
        str(bundle),
        "--out",
        str(out),
        "--format",
        "imagefolder",
        "--n",
        "200000",
        "--force",
        "--no-progress",
    ]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        deadline = time.monotonic() + 600
        while process.poll() is None and len(list(tmp_path.glob(".synth.*.tmp/*/*.png"))) < 200:
            assert time.monotonic() < deadline, "the export wrote nothing"
            time.sleep(0.01)
        assert process.poll() is None, process.stderr.read()
        process.send_signal(signal.SIGKILL)
    assert tree(out) == previous  # whole and unchanged, never half-written
    assert [p.name for p in tmp_path.glob(".synth.*.tmp")]  # what SIGKILL leaves: a hidden temporary

    export_imagefolder(gen, out, num_samples=6, seed=1, force=True, progress=False)  # the next export of synth
    assert leftovers(tmp_path) == []
    assert tree(out).keys() == previous.keys() and tree(out) != previous
