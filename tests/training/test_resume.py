"""Checkpoints: resume equals uninterrupted training, safe loading, the divergence guard."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch

import synthaug
from synthaug.training import CGANTrainer, CVAETrainer, TrainingConfig
from synthaug.training.base import CHECKPOINT_NAME, TrainingDiverged

TRAINERS = {"cgan": CGANTrainer, "cvae": CVAETrainer}
SETTINGS = dict(batch_size=16, log_every=2, sample_every=0, progress=False, seed=3)


class Interrupted(Exception):
    pass


def crashing(trainer_cls, at_step: int):
    """A trainer class that dies (like a killed process) when it reaches ``at_step``."""

    class Crashing(trainer_cls):
        def training_step(self, images, labels):
            if self.global_step == at_step:
                raise Interrupted(f"simulated crash at step {at_step}")
            return super().training_step(images, labels)

    Crashing.__name__ = trainer_cls.__name__  # checkpoints record the trainer's name
    return Crashing


def steps_logged(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("family", ["cgan", "cvae"])
def test_resumed_run_equals_uninterrupted_run(family, generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(16)  # 48 images: 3 steps per epoch at batch 16
    trainer_cls = TRAINERS[family]
    straight = trainer_cls(generator_factory(family), tmp_path / "a", epochs=4, **SETTINGS).fit(data)

    with pytest.raises(Interrupted):  # dies in the middle of epoch 3
        crashing(trainer_cls, at_step=7)(generator_factory(family), tmp_path / "b", epochs=4, **SETTINGS).fit(data)
    # A fresh process would rebuild the model from scratch and continue from the checkpoint.
    resumed = trainer_cls(generator_factory(family, seed=99), tmp_path / "b", epochs=4, **SETTINGS).fit(
        data, resume=True
    )

    assert resumed.steps == straight.steps == 12
    a, b = synthaug.load(tmp_path / "a").state_dict(), synthaug.load(tmp_path / "b").state_dict()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    assert steps_logged(tmp_path / "b") == steps_logged(tmp_path / "a")  # none duplicated, none missing
    assert [r["step"] for r in resumed.history] == [r["step"] for r in straight.history]


def test_resume_without_checkpoint_starts_from_scratch(generator_factory, pattern_factory, tmp_path):
    result = CVAETrainer(generator_factory("cvae"), tmp_path, epochs=1, **SETTINGS).fit(
        pattern_factory(16), resume=True
    )
    assert result.steps == 3


def test_checkpoint_loading_never_unpickles_code(generator_factory, pattern_factory, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    run = tmp_path / "run"
    run.mkdir()
    (run / CHECKPOINT_NAME).write_bytes(pickle.dumps({"trainer": "CVAETrainer", "x": Payload()}))
    trainer = CVAETrainer(generator_factory("cvae"), run, epochs=1, **SETTINGS)
    with pytest.raises(ValueError, match=CHECKPOINT_NAME):
        trainer.fit(pattern_factory(16), resume=True)
    assert not marker.exists()


def test_checkpoint_from_another_trainer_is_refused(generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(16)
    CVAETrainer(generator_factory("cvae"), tmp_path, epochs=1, **SETTINGS).fit(data)
    with pytest.raises(ValueError, match="CVAETrainer"):
        CGANTrainer(generator_factory("cgan"), tmp_path, epochs=2, **SETTINGS).fit(data, resume=True)


def test_divergence_stops_training_and_keeps_the_last_good_checkpoint(generator_factory, pattern_factory, tmp_path):
    class Diverging(CVAETrainer):
        def training_step(self, images, labels):
            losses = super().training_step(images, labels)
            if self.global_step >= 4:  # from the second step of epoch 2 on
                losses["loss"] = losses["loss"] * float("nan")
            return losses

    Diverging.__name__ = "CVAETrainer"
    with pytest.raises(TrainingDiverged, match="step 6") as info:
        Diverging(generator_factory("cvae"), tmp_path, epochs=3, **SETTINGS).fit(pattern_factory(16))
    assert "--lr" in str(info.value)
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state["epoch"] == 1 and state["step"] == 3
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_nan_data_is_refused_before_training(generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(4)
    data.images[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        CVAETrainer(generator_factory("cvae"), tmp_path, **SETTINGS).fit(data)


def test_failed_checkpoint_write_keeps_the_previous_one(generator_factory, pattern_factory, tmp_path, monkeypatch):
    data = pattern_factory(16)
    trainer = CVAETrainer(generator_factory("cvae"), tmp_path, epochs=1, **SETTINGS)
    trainer.fit(data)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()

    def failing_save(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        trainer.save_checkpoint(2, [])
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_device_auto_resolves():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert TrainingConfig(device="auto").device == expected


def test_class_balanced_batches_even_out_a_long_tail(generator_factory, tmp_path):
    labels = torch.cat([torch.zeros(180, dtype=torch.long), torch.ones(15, dtype=torch.long), torch.full((5,), 2)])
    seen = {}
    for balanced in (False, True):
        trainer = CVAETrainer(
            generator_factory("cvae"), tmp_path, class_balanced=balanced, batch_size=20, progress=False
        )
        drawn = torch.cat([labels[b] for _ in range(20) for b in trainer._batches(labels)])
        seen[balanced] = torch.bincount(drawn, minlength=3).float() / len(drawn)
    assert seen[False][2] < 0.05  # the rare class is 2.5% of the data
    assert (seen[True] - 1 / 3).abs().max() < 0.05
    with pytest.raises(TypeError, match="class_balanced"):
        TrainingConfig(class_balanced="yes")


def test_an_epoch_end_checkpoint_of_format_1_still_resumes_exactly(generator_factory, pattern_factory, tmp_path):
    """Format 2 added mid-epoch fields; a 0.1 checkpoint (format 1, epoch boundaries only) still loads."""
    data = pattern_factory(16)
    straight = CGANTrainer(generator_factory("cgan"), tmp_path / "a", epochs=3, **SETTINGS).fit(data)
    CGANTrainer(generator_factory("cgan"), tmp_path / "b", epochs=2, checkpoint_every="epoch", **SETTINGS).fit(data)
    path = tmp_path / "b" / CHECKPOINT_NAME
    state = torch.load(path, weights_only=True)
    assert state["format_version"] == 2
    state = {k: v for k, v in state.items() if k not in ("epoch_step", "epoch_rng", "log_sums", "log_count")}
    torch.save({**state, "format_version": 1}, path)
    resumed = CGANTrainer(generator_factory("cgan", seed=99), tmp_path / "b", epochs=3, **SETTINGS).fit(
        data, resume=True
    )
    assert resumed.steps == straight.steps
    a, b = synthaug.load(tmp_path / "a").state_dict(), synthaug.load(tmp_path / "b").state_dict()
    assert all(torch.allclose(a[key].float(), b[key].float(), atol=1e-6) for key in a)
