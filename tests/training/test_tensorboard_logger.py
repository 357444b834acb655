"""logger="tensorboard": every metrics.jsonl record and sample grid also as TensorBoard events, beside metrics.jsonl."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from synthaug.cli import main
from synthaug.training import CGANTrainer, CGANTrainingConfig, CVAETrainer, DAETrainer, RunConfig, TrainingConfig
from synthaug.training.distributed import DistributedRun
from synthaug.training.loggers import TENSORBOARD_DIR, RunLogger, TensorBoardLogger, open_run_logger, require_logger

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

TRAINERS = {"cgan": CGANTrainer, "cvae": CVAETrainer, "dae": DAETrainer}
# 24 images at batch 8: 3 steps per epoch; logged at steps 2, 3 (epoch end), 4, 6, ...
SETTINGS = dict(batch_size=8, log_every=2, sample_every=1, progress=False, seed=0, logger="tensorboard")


class Interrupted(Exception):
    pass


def model_for(family, generator_factory, dae_factory):
    return dae_factory() if family == "dae" else generator_factory(family)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def events(run: Path):
    accumulator = event_accumulator.EventAccumulator(
        str(run / TENSORBOARD_DIR), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0}
    )
    accumulator.Reload()
    return accumulator


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    accumulator = events(run)
    return {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}


def assert_scalars_match_metrics(run: Path) -> None:
    """Each value of each metrics.jsonl record (but its step) is a scalar of that name at that step, and nothing else."""
    records = metrics(run)
    logged = scalars(run)
    keys = {key for record in records for key in record if key != "step"}
    assert set(logged) == keys
    for key in keys:
        expected = [(r["step"], r[key]) for r in records if key in r]
        assert [step for step, _ in logged[key]] == [step for step, _ in expected], key
        assert [value for _, value in logged[key]] == pytest.approx([v for _, v in expected], rel=1e-6), key


@pytest.mark.parametrize("family", ["cgan", "cvae", "dae"])
def test_scalars_and_sample_grids_go_to_tensorboard(family, generator_factory, dae_factory, pattern_factory, tmp_path):
    run = tmp_path / "run"
    trainer = TRAINERS[family](model_for(family, generator_factory, dae_factory), run, epochs=2, **SETTINGS)
    result = trainer.fit(pattern_factory(8))
    assert [r["step"] for r in metrics(run)] == [2, 3, 4, 6]
    assert list((run / TENSORBOARD_DIR).glob("events.out.tfevents.*"))
    assert_scalars_match_metrics(run)
    assert {key for key in scalars(run) if key.startswith("loss")} == set(result.final_losses)
    # One grid per saved samples/epoch_NNN.png, at the step it was drawn (the end of each epoch).
    accumulator = events(run)
    assert accumulator.Tags()["images"] == ["samples"]
    assert [e.step for e in accumulator.Images("samples")] == [3, 6]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert json.loads((run / "training_config.json").read_text())["training"]["logger"] == "tensorboard"
    assert trainer._run_log.__class__ is RunLogger  # closed and dropped when fit returned


def test_a_run_that_samples_only_at_the_end_logs_that_grid(generator_factory, pattern_factory, tmp_path):
    CGANTrainer(generator_factory("cgan"), tmp_path, steps=4, **{**SETTINGS, "sample_every": 0}).fit(pattern_factory(8))
    assert [e.step for e in events(tmp_path).Images("samples")] == [4]


def test_a_resumed_run_logs_each_step_once(generator_factory, pattern_factory, tmp_path):
    class Crashing(CGANTrainer):
        def training_step(self, images, labels):
            if self.global_step == 4:  # after logging step 4, past the checkpoint at step 3
                raise Interrupted("simulated crash")
            return super().training_step(images, labels)

    Crashing.__name__ = "CGANTrainer"
    data = pattern_factory(8)
    with pytest.raises(Interrupted):
        Crashing(generator_factory("cgan"), tmp_path, epochs=2, **SETTINGS).fit(data)
    assert [step for step, _ in scalars(tmp_path)["loss_d"]] == [2, 3, 4]
    CGANTrainer(generator_factory("cgan"), tmp_path, epochs=2, **SETTINGS).fit(data, resume=True)
    # metrics.jsonl was cut back to the checkpoint's history (2, 3); the events after it are hidden likewise.
    assert [r["step"] for r in metrics(tmp_path)] == [2, 3, 4, 6]
    assert_scalars_match_metrics(tmp_path)


def test_the_writer_is_closed_when_fit_fails(monkeypatch, generator_factory, pattern_factory, tmp_path):
    closed = []
    close = TensorBoardLogger.close
    monkeypatch.setattr(TensorBoardLogger, "close", lambda self: (closed.append(self), close(self)))

    class Failing(CGANTrainer):
        def training_step(self, images, labels):
            if self.global_step == 2:
                raise Interrupted("simulated failure")
            return super().training_step(images, labels)

    trainer = Failing(generator_factory("cgan"), tmp_path, epochs=2, **SETTINGS)
    with pytest.raises(Interrupted):
        trainer.fit(pattern_factory(8))
    assert len(closed) == 1
    assert type(trainer._run_log) is RunLogger
    assert [step for step, _ in scalars(tmp_path)["loss_d"]] == [2]  # what was logged is on disk


def test_only_the_main_process_writes_events(generator_factory, pattern_factory, tmp_path):
    trainer = CGANTrainer(generator_factory("cgan"), tmp_path / "run", epochs=1, **SETTINGS)
    trainer.dist = DistributedRun(rank=1, world_size=1)  # what rank 1 of a torchrun job sees
    trainer.fit(pattern_factory(8))
    assert not (tmp_path / "run" / TENSORBOARD_DIR).exists()


def test_the_default_logger_writes_no_events(generator_factory, pattern_factory, tmp_path):
    assert TrainingConfig().logger == "none"
    CGANTrainer(generator_factory("cgan"), tmp_path, epochs=1, **{**SETTINGS, "logger": "none"}).fit(pattern_factory(8))
    assert (tmp_path / "metrics.jsonl").is_file()
    assert not (tmp_path / TENSORBOARD_DIR).exists()


@pytest.mark.parametrize("value", ["wandb", "TensorBoard", "", None, True])
def test_a_bad_logger_is_a_value_error_naming_the_choices(value, generator_factory, tmp_path):
    message = rf"logger must be one of \('none', 'tensorboard'\), got {value!r}"
    with pytest.raises(ValueError, match=message):
        TrainingConfig(logger=value)
    with pytest.raises(ValueError, match=message):
        CGANTrainer(generator_factory("cgan"), tmp_path, logger=value)
    with pytest.raises(ValueError, match="training: logger must be one of"):
        RunConfig.from_dict({"model_type": "cgan", "training": {"logger": value}})
    with pytest.raises(ValueError, match=message):
        open_run_logger(value, tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_logger_round_trips_through_the_run_config():
    config = CGANTrainingConfig(logger="tensorboard")
    run = RunConfig("cgan", config, {})
    assert RunConfig.from_dict(json.loads(run.to_json())).training.logger == "tensorboard"


def block_tensorboard(monkeypatch) -> None:
    for name in [n for n in sys.modules if n == "tensorboard" or n.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)


def test_missing_tensorboard_names_the_extra_before_training(monkeypatch, generator_factory, tmp_path):
    block_tensorboard(monkeypatch)
    extra = r'pip install "synthaug\[tensorboard\]"'
    with pytest.raises(
        ModuleNotFoundError, match=rf"^logger='tensorboard' .*needs the optional dependency 'tensorboard'.*{extra}$"
    ):
        require_logger("tensorboard")
    with pytest.raises(ModuleNotFoundError, match=extra):
        CGANTrainer(generator_factory("cgan"), tmp_path / "run", logger="tensorboard")
    assert not (tmp_path / "run").exists()
    require_logger("none")  # needs nothing
    CGANTrainer(generator_factory("cgan"), tmp_path / "run")  # nor does the default


# -- synthaug train --logger ---------------------------------------------------------------------

TRAIN = ["train", "cgan", "--data", "digits", "--image-size", "8", "--width", "8", "--latent-dim", "8"]
TINY_RUN = ["--steps", "2", "--log-every", "1", "--batch-size", "16", "--device", "cpu", "--no-progress"]


def test_the_train_command_logs_to_tensorboard(tmp_path, capsys):
    assert main([*TRAIN, *TINY_RUN, "--logger", "tensorboard", "--out", str(tmp_path / "run")]) == 0
    assert_scalars_match_metrics(tmp_path / "run")
    assert [r["step"] for r in metrics(tmp_path / "run")] == [1, 2]
    recorded = json.loads((tmp_path / "run" / "training_config.json").read_text())
    assert recorded["training"]["logger"] == "tensorboard"


def run_main(argv) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


def test_the_train_command_without_tensorboard_fails_before_loading_data(monkeypatch, tmp_path, capsys):
    block_tensorboard(monkeypatch)
    out = tmp_path / "run"
    assert run_main([*TRAIN, *TINY_RUN, "--logger", "tensorboard", "--out", out]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("synthaug train: error: ")
    assert 'pip install "synthaug[tensorboard]"' in lines[0]
    assert "data:" not in captured.out  # nothing was loaded
    assert not out.exists()


def test_the_train_command_refuses_an_unknown_logger(tmp_path, capsys):
    assert run_main([*TRAIN, *TINY_RUN, "--logger", "wandb", "--out", tmp_path / "run"]) == 2
    assert "--logger: invalid choice: 'wandb'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
