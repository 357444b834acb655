"""Training configs: one dataclass per family, steps vs epochs, checkpoint intervals, mid-epoch resume, the run file."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields

import pytest
import torch

import synthaug
from synthaug.training import (
    CGANTrainer,
    CGANTrainingConfig,
    CVAETrainer,
    CVAETrainingConfig,
    DAETrainer,
    DAETrainingConfig,
    RunConfig,
    TrainingConfig,
    available_trainers,
    get_trainer_class,
    load_run_config,
)
from synthaug.training.base import CHECKPOINT_NAME, TRAINING_CONFIG_NAME
from synthaug.training.config import checkpoint_interval
from synthaug.transforms.corruptions import CorruptionMix

TRAINERS = {"cgan": CGANTrainer, "cvae": CVAETrainer, "dae": DAETrainer}
# 48 images at batch 16: 3 steps per epoch.
SETTINGS = dict(batch_size=16, log_every=2, sample_every=0, progress=False, seed=3)


class Interrupted(Exception):
    pass


def model_for(family, generator_factory, dae_factory, seed=0):
    return dae_factory(seed=seed) if family == "dae" else generator_factory(family, seed=seed)


def crashing(trainer_cls, at_step: int):
    class Crashing(trainer_cls):
        def training_step(self, images, labels):
            if self.global_step == at_step:
                raise Interrupted(f"simulated crash at step {at_step}")
            return super().training_step(images, labels)

    Crashing.__name__ = trainer_cls.__name__  # checkpoints record the trainer's name
    return Crashing


def recording(trainer_cls):
    """A trainer class that records the step of every checkpoint it writes."""

    class Recording(trainer_cls):
        def save_checkpoint(self, epoch, history, position=None):
            self.checkpoint_steps.append(self.global_step)
            super().save_checkpoint(epoch, history, position)

    Recording.__name__ = trainer_cls.__name__
    Recording.checkpoint_steps = []
    return Recording


def weights(run_dir):
    return synthaug.load(run_dir).state_dict()


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


# -- the config classes -------------------------------------------------------------------------


def test_each_trainer_has_a_config_class_with_the_shared_fields():
    shared = [f.name for f in fields(TrainingConfig)]
    assert shared[:2] == ["epochs", "batch_size"]  # 0.1's order: positional use keeps working
    classes = {"cgan": CGANTrainingConfig, "cvae": CVAETrainingConfig, "dae": DAETrainingConfig}
    assert set(available_trainers()) == set(classes)
    for family, config_class in classes.items():
        assert get_trainer_class(family).config_class is config_class
        assert [f.name for f in fields(config_class)][: len(shared)] == shared


@pytest.mark.parametrize("family", ["cgan", "cvae", "dae"])
def test_trainer_keyword_arguments_are_the_family_fields(family):
    """The family's own options are explicit keyword arguments; the shared ones go through **overrides."""
    trainer_cls = TRAINERS[family]
    params = inspect.signature(trainer_cls).parameters
    keyword = [name for name, p in params.items() if p.kind is p.KEYWORD_ONLY and name != "preview_images"]
    own = [f.name for f in fields(trainer_cls.config_class) if f.name not in TrainingConfig.field_names()]
    assert keyword == own
    assert any(p.kind is p.VAR_KEYWORD for p in params.values())


def test_keyword_arguments_override_the_config_and_defaults_do_not(generator_factory, tmp_path):
    gan = generator_factory("cgan")
    config = CGANTrainingConfig(loss="hinge", diffaugment=None, epochs=3)
    trainer = CGANTrainer(gan, tmp_path, config)
    assert (trainer.config.loss, trainer.config.diffaugment, trainer.config.epochs) == ("hinge", None, 3)
    assert trainer.augment is None and trainer.loss.name == "hinge"
    trainer = CGANTrainer(gan, tmp_path, config, loss="bce", batch_size=8)
    assert (trainer.config.loss, trainer.config.batch_size, trainer.config.epochs) == ("bce", 8, 3)
    # The shared config works for every family; the family options take their defaults.
    assert CVAETrainer(generator_factory("cvae"), tmp_path, TrainingConfig(epochs=2)).config.kl_warmup_steps == 200
    with pytest.raises(TypeError, match="CVAETrainingConfig"):
        CVAETrainer(generator_factory("cvae"), tmp_path, config)
    with pytest.raises(TypeError, match="no option 'los'.*did you mean 'loss'"):
        CGANTrainer(gan, tmp_path, los="hinge")


def test_diffaugment_off_spellings():
    assert CGANTrainingConfig(diffaugment="off").diffaugment is None
    assert CGANTrainingConfig(diffaugment=False).diffaugment is None  # what YAML 1.1 makes of an unquoted off
    assert CGANTrainingConfig(diffaugment=("translation", "cutout")).diffaugment == ["translation", "cutout"]


def test_dae_config_records_a_corruption_mix(dae_factory, tmp_path):
    mix = CorruptionMix({"gaussian": 3, "blur": 1}, params={"gaussian": {"sigma": (0.05, 0.2)}})
    trainer = DAETrainer(dae_factory(), tmp_path, corruptions=mix)
    assert trainer.corruptions is mix
    assert trainer.config.corruptions == {"gaussian": 0.75, "blur": 0.25}
    assert trainer.config.corruption_params == {"gaussian": {"sigma": (0.05, 0.2)}}
    document = trainer.run_config().to_dict()
    assert document["training"]["corruption_params"] == {"gaussian": {"sigma": [0.05, 0.2]}}
    again = DAETrainingConfig(**document["training"]).corruption_mix()  # (the range comes back as a list)
    assert again.weights == mix.weights and again.params == {"gaussian": {"sigma": [0.05, 0.2]}}
    with pytest.raises(ValueError, match="speckle"):
        DAETrainingConfig(corruptions=["speckle"])


# -- steps as an alternative to epochs -----------------------------------------------------------


def test_steps_or_epochs_not_both(generator_factory, tmp_path):
    with pytest.raises(ValueError, match=r"either epochs or steps, not both \(got epochs=2, steps=5\)"):
        TrainingConfig(epochs=2, steps=5)
    with pytest.raises(ValueError, match="epochs or steps"):
        CGANTrainer(generator_factory("cgan"), tmp_path, epochs=2, steps=5)
    assert (TrainingConfig().epochs, TrainingConfig().steps) == (None, None)  # the default budget, see below
    assert (TrainingConfig(steps=5).epochs, TrainingConfig(steps=5).steps) == (None, 5)
    # An override of one replaces the other.
    assert (TrainingConfig.from_options(TrainingConfig(epochs=4), steps=7).epochs,) == (None,)
    assert TrainingConfig.from_options(TrainingConfig(steps=7), epochs=4).steps is None
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="steps must be a positive int"):
            TrainingConfig(steps=bad)


@pytest.mark.parametrize("family", ["cgan", "cvae"])
def test_the_default_budget_gives_small_data_enough_steps(family, generator_factory, tmp_path):
    """Neither epochs nor steps: 20 epochs, but at least the family's floor of steps."""
    trainer = TRAINERS[family](generator_factory(family), tmp_path, batch_size=64)
    floor = trainer.min_default_steps
    assert floor >= 1000
    assert trainer.total_steps(1_000) == floor  # 20 epochs of 1,000 images would be 300 steps
    assert trainer.total_steps(60_000) == 20 * (60_000 // 64) > floor
    assert TRAINERS[family](generator_factory(family), tmp_path, epochs=2).total_steps(1_000) == 2 * (1_000 // 64)
    assert TRAINERS[family](generator_factory(family), tmp_path, steps=7).total_steps(1_000) == 7
    # The denoiser keeps plain epochs: its default is 20 of them.
    assert DAETrainer(synthaug.DenoisingAutoencoder(image_size=8, width=8), tmp_path).total_steps(1_000) == 20 * 15


def test_a_run_of_steps_ends_mid_epoch(generator_factory, pattern_factory, tmp_path):
    result = CVAETrainer(generator_factory("cvae"), tmp_path, steps=7, **{**SETTINGS, "sample_every": 1}).fit(
        pattern_factory(16)
    )
    assert result.steps == 7
    assert [(r["step"], r["epoch"]) for r in result.history] == [(2, 1), (3, 1), (4, 2), (6, 2), (7, 3)]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert (state["epoch"], state["epoch_step"], state["step"]) == (2, 1, 7)  # the last checkpoint is at the end


def test_more_steps_continue_a_finished_run_exactly(generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(16)
    CGANTrainer(generator_factory("cgan"), tmp_path / "a", steps=10, **SETTINGS).fit(data)
    CGANTrainer(generator_factory("cgan"), tmp_path / "b", steps=7, **SETTINGS).fit(data)  # ends 1 step into epoch 3
    resumed = CGANTrainer(generator_factory("cgan", seed=9), tmp_path / "b", steps=10, **SETTINGS).fit(
        data, resume=True
    )
    assert resumed.steps == 10
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))


# -- checkpoints on an interval -------------------------------------------------------------------


@pytest.mark.parametrize(
    "every, expected",
    [
        (2, [2, 4, 6, 8, 9]),
        (4, [4, 8, 9]),
        ("epoch", [3, 6, 9]),
        ("1h", [9]),
    ],
)
def test_checkpoint_every(every, expected, generator_factory, pattern_factory, tmp_path):
    trainer_cls = recording(CVAETrainer)
    trainer_cls(generator_factory("cvae"), tmp_path, epochs=3, checkpoint_every=every, **SETTINGS).fit(
        pattern_factory(16)
    )
    assert trainer_cls.checkpoint_steps == expected


def test_checkpoint_every_auto_writes_the_first_epoch_and_the_end(generator_factory, pattern_factory, tmp_path):
    trainer_cls = recording(CVAETrainer)
    trainer_cls(generator_factory("cvae"), tmp_path, epochs=4, **SETTINGS).fit(pattern_factory(16))
    steps = trainer_cls.checkpoint_steps
    assert steps[0] == 3 and steps[-1] == 12 and set(steps) <= {3, 6, 9, 12}  # epoch ends only


@pytest.mark.parametrize("value", [0, -5, 1.5, True, "0s", "fast", "-3s", None, "500"])
def test_bad_checkpoint_every_is_refused(value):
    with pytest.raises(ValueError, match="checkpoint_every must be"):
        TrainingConfig(checkpoint_every=value)


def test_checkpoint_interval_units():
    assert checkpoint_interval(500) == ("steps", 500)
    assert checkpoint_interval("300s") == ("seconds", 300)
    assert checkpoint_interval("10m") == ("seconds", 600)
    assert checkpoint_interval("1.5h") == ("seconds", 5400)
    assert checkpoint_interval("epoch")[0] == "epoch" and checkpoint_interval("auto")[0] == "auto"


@pytest.mark.parametrize("family", ["cgan", "cvae", "dae"])
def test_resume_from_a_mid_epoch_checkpoint_is_exact(family, generator_factory, dae_factory, pattern_factory, tmp_path):
    """Checkpoints every 2 steps of 3-step epochs; killed in step 6: the checkpoint is 1 step into epoch 2."""
    data = pattern_factory(16)
    settings = dict(SETTINGS, epochs=4, checkpoint_every=2, log_every=5, class_balanced=family == "cvae")
    trainer_cls = TRAINERS[family]
    straight = trainer_cls(model_for(family, generator_factory, dae_factory), tmp_path / "a", **settings).fit(data)

    with pytest.raises(Interrupted):
        crashing(trainer_cls, at_step=5)(
            model_for(family, generator_factory, dae_factory), tmp_path / "b", **settings
        ).fit(data)
    state = torch.load(tmp_path / "b" / CHECKPOINT_NAME, weights_only=True)
    assert (state["epoch"], state["epoch_step"], state["step"]) == (1, 1, 4)
    assert state["log_count"] == 1 and state["log_sums"]  # step 4's losses, logged with step 5's
    resumed = trainer_cls(model_for(family, generator_factory, dae_factory, seed=99), tmp_path / "b", **settings).fit(
        data, resume=True
    )

    assert resumed.steps == straight.steps == 12
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert without_seconds(resumed.history) == without_seconds(straight.history)  # the same losses, logged alike


def test_a_mid_epoch_checkpoint_refuses_other_data(generator_factory, pattern_factory, tmp_path):
    settings = dict(SETTINGS, epochs=4, checkpoint_every=2)
    with pytest.raises(Interrupted):
        crashing(CVAETrainer, at_step=5)(generator_factory("cvae"), tmp_path, **settings).fit(pattern_factory(16))
    with pytest.raises(ValueError, match="does not fit 2 steps per epoch: resume with the data and batch size"):
        CVAETrainer(generator_factory("cvae"), tmp_path, **settings).fit(pattern_factory(11), resume=True)


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda s: s.update(epoch_step="1"), "'epoch_step'"),
        (lambda s: s.update(epoch_rng=[1, 2]), "'epoch_rng'"),
        (lambda s: s.update(log_sums={"loss": 1.0}), "'log_sums'"),
        (lambda s: s.update(seconds=float("nan")), "'seconds'"),
    ],
)
def test_bad_mid_epoch_fields_are_refused(edit, says, generator_factory, pattern_factory, tmp_path):
    settings = dict(SETTINGS, epochs=2, checkpoint_every=2)
    with pytest.raises(Interrupted):
        crashing(CVAETrainer, at_step=3)(generator_factory("cvae"), tmp_path, **settings).fit(pattern_factory(16))
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    edit(state)
    torch.save(state, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match=says):
        CVAETrainer(generator_factory("cvae"), tmp_path, **settings).load_checkpoint()


# -- training_config.json -----------------------------------------------------------------------


def test_fit_writes_the_run_config(generator_factory, pattern_factory, tmp_path):
    gan = generator_factory("cgan")
    trainer = CGANTrainer(gan, tmp_path, steps=4, loss="hinge", **SETTINGS)
    trainer.fit(pattern_factory(16))
    document = json.loads((tmp_path / TRAINING_CONFIG_NAME).read_text())
    assert document["model_type"] == "cgan" and document["trainer"] == "CGANTrainer"
    assert document["model"] == json.loads(json.dumps(gan.config))
    assert document["data"] is None  # fit from Python: the data source is unknown
    assert document["training"]["loss"] == "hinge" and document["training"]["steps"] == 4
    run = load_run_config(tmp_path / TRAINING_CONFIG_NAME)
    assert run.training == trainer.config and isinstance(run.training, CGANTrainingConfig)
    assert run.to_dict() == document
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_run_config_refuses_unknown_keys_and_bad_values(tmp_path):
    def load(document, suffix=".json"):
        path = tmp_path / f"run{suffix}"
        path.write_text(json.dumps(document))
        return load_run_config(path)

    assert load({"model_type": "cvae", "training": {"beta": 0.5}}).training == CVAETrainingConfig(beta=0.5)
    cases = [
        ({"model_type": "cgan", "trainig": {}}, r"unknown key 'trainig' \(did you mean 'training'\?\)"),
        ({"model_type": "cgan", "training": {"lrr": 0.1}}, r"training: unknown cgan training option 'lrr'"),
        ({"model_type": "cvae", "training": {"loss": "hinge"}}, r"unknown cvae training option 'loss'"),
        ({"model_type": "cgan", "model": {"widht": 8}}, r"model: unknown cgan model option 'widht'"),
        ({"model_type": "cgan", "data": {"source": "digits", "size": 8}}, r"data: unknown data key 'size'"),
        ({"model_type": "cgan", "training": {"epochs": 0}}, r"training: epochs must be a positive int, got 0"),
        ({"model_type": "cgan", "training": {"epochs": 2, "steps": 3}}, r"either epochs or steps, not both"),
        ({"model_type": "gan"}, r"model_type must be one of cgan, cvae, dae, got 'gan'"),
        ({"training": {}}, r"'model_type' is missing"),
        ({"model_type": "cgan", "format_version": 9, "synthaug_version": "9.0"}, r"needs synthaug>=9.0"),
        ({"model_type": "cgan", "training": [1]}, r"training must be a mapping"),
        ([1, 2], r"expected a mapping"),
    ]
    for document, says in cases:
        with pytest.raises(ValueError, match=says) as info:
            load(document)
        assert str(tmp_path / "run.json") in str(info.value)
    (tmp_path / "dup.json").write_text('{"model_type": "cgan", "model_type": "cvae"}')
    with pytest.raises(ValueError, match="duplicate key 'model_type'"):
        load_run_config(tmp_path / "dup.json")
    (tmp_path / "broken.json").write_text('{"model_type": ')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_run_config(tmp_path / "broken.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_run_config(tmp_path / "missing.yaml")


def test_yaml_reads_numbers_and_words_as_written(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "model_type: cgan\ndata: digits\ntraining:\n  lr: 2e-4\n  amp: off\n  diffaugment: off\n"
        "  checkpoint_every: 300s\n  steps: 500\n"
    )
    run = load_run_config(path)
    assert isinstance(run, RunConfig) and run.data == {"source": "digits"}
    training = run.training
    assert (training.lr, training.amp, training.diffaugment, training.checkpoint_every, training.steps) == (
        2e-4,
        "off",
        None,
        "300s",
        500,
    )
    path.write_text("model_type: cgan\ntraining:\n  class_balanced: yes\n")  # YAML 1.1's yes is not a bool here
    with pytest.raises(ValueError, match="class_balanced must be a bool"):
        load_run_config(path)
    path.write_text("model_type: cgan\ntraining:\n  epochs: 2\n  epochs: 3\n")
    with pytest.raises(ValueError, match="duplicate key 'epochs'"):
        load_run_config(path)
    path.write_text("model_type: [cgan\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_run_config(path)
