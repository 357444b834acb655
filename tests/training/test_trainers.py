"""Trainers: the run directory they write, that training really learns, determinism, early errors."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.training import CGANTrainer, CVAETrainer, TrainingConfig, available_trainers, get_trainer_class

TRAINERS = {"cgan": CGANTrainer, "cvae": CVAETrainer}


def class_means(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.stack([images[labels == c].mean(0) for c in range(3)])


def read_metrics(run_dir) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(params=["cgan", "cvae"])
def run(request, trained_cgan_run, trained_cvae_run):
    result = trained_cgan_run[0] if request.param == "cgan" else trained_cvae_run
    return request.param, result


def test_every_model_type_has_a_trainer():
    # Every type a bundle can hold (the generators and the denoiser) is trainable, by the same name.
    assert available_trainers() == synthaug.available_models()
    assert set(synthaug.available_generators()) < set(available_trainers())
    for name, cls in TRAINERS.items():
        assert get_trainer_class(name) is cls
    with pytest.raises(ValueError, match="cgan"):
        get_trainer_class("nonsense")


def test_run_directory_files(run):
    family, result = run
    out = result.out_dir
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "loss_curves.png"):
        assert (out / name).is_file(), name
    grids = sorted((out / "samples").glob("*.png"))
    assert grids
    for path in [*grids, out / "loss_curves.png"]:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size[0] > 0 and image.size[1] > 0
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_sample_grids_follow_sample_every(trained_cgan_run, trained_cvae_run):
    # cGAN: sample_every=0 -> one grid at the end; cVAE: 5 epochs, sample_every=2 -> epochs 2 and 4.
    assert [p.name for p in sorted((trained_cgan_run[0].out_dir / "samples").glob("*.png"))] == ["epoch_025.png"]
    assert [p.name for p in sorted((trained_cvae_run.out_dir / "samples").glob("*.png"))] == [
        "epoch_002.png",
        "epoch_004.png",
    ]


def test_metrics_log(run):
    family, result = run
    records = read_metrics(result.out_dir)
    assert records == result.history
    assert len(records) >= 2
    loss_keys = {"cgan": {"loss_d", "loss_g"}, "cvae": {"loss", "loss_recon", "loss_kl"}}[family]
    for record in records:
        assert {"step", "epoch", "seconds"} <= set(record)
        assert loss_keys <= set(record)
        assert all(isinstance(record[k], (int, float)) for k in record)
    steps = [r["step"] for r in records]
    assert all(a < b for a, b in zip(steps, steps[1:]))
    assert steps[-1] == result.steps
    epochs = [r["epoch"] for r in records]
    assert epochs == sorted(epochs)
    seconds = [r["seconds"] for r in records]
    assert seconds == sorted(seconds)
    assert set(result.final_losses) == loss_keys


def test_run_directory_is_a_loadable_bundle(run):
    family, result = run
    model = synthaug.load(result.out_dir)
    assert model.model_type == family
    images = model.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8)


def test_cvae_loss_goes_down(trained_cvae_run):
    records = trained_cvae_run.history
    first, last = records[0], records[-1]
    assert last["loss"] < 0.9 * first["loss"], (first, last)
    assert last["loss_recon"] < 0.9 * first["loss_recon"]


def test_cgan_learns_the_class_conditional_patterns(trained_cgan_run, pattern_data):
    """Per-class means of generated images move (much) closer to the real per-class means."""
    result, before = trained_cgan_run
    after = synthaug.load(result.out_dir)
    real = class_means(pattern_data.images, pattern_data.labels)
    labels = torch.arange(3).repeat_interleave(64)

    def distances(model):
        fake = class_means(model.sample(labels, generator=torch.Generator().manual_seed(1)), labels)
        return torch.cdist(fake.flatten(1), real.flatten(1))  # [generated class, real class]

    d_before, d_after = distances(before), distances(after)
    own_before, own_after = d_before.diagonal(), d_after.diagonal()
    assert (own_after < 0.5 * own_before).all(), (own_before, own_after)
    # Conditioning: each class's samples look most like that class's real data.
    assert d_after.argmin(dim=1).tolist() == [0, 1, 2], d_after


@pytest.mark.parametrize("family", ["cgan", "cvae"])
def test_same_seed_same_weights(family, generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(12)  # 36 images: 2 steps per epoch at batch 16

    def train(seed: int, out: str):
        model = generator_factory(family, seed=0)
        result = TRAINERS[family](
            model, tmp_path / out, epochs=2, batch_size=16, seed=seed, log_every=1, sample_every=0, progress=False
        ).fit(data)
        return model.state_dict(), result.history

    rng_state = torch.random.get_rng_state()
    (weights_a, history_a), (weights_b, history_b) = train(0, "a"), train(0, "b")
    weights_c, _ = train(1, "c")
    assert torch.equal(torch.random.get_rng_state(), rng_state), "training touched the global RNG"
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(history_a) == strip(history_b)
    assert any(not torch.equal(weights_a[n], weights_c[n]) for n in weights_a if weights_a[n].is_floating_point())


def bad_data_cases(good: LabelledImages):
    return {
        "wrong-shape": LabelledImages(torch.rand(6, 1, 12, 12), good.labels[:6]),
        "wrong-channels": LabelledImages(torch.rand(6, 3, 8, 8), good.labels[:6]),
        "above-1": LabelledImages(good.images[:6] * 255, good.labels[:6]),
        "below-0": LabelledImages(good.images[:6] - 0.5, good.labels[:6]),
        "label-too-large": LabelledImages(good.images[:6], torch.tensor([0, 1, 2, 3, 0, 1])),
        "label-negative": LabelledImages(good.images[:6], torch.tensor([0, 1, -1, 2, 0, 1])),
        "label-float": LabelledImages(good.images[:6], torch.tensor([0.0, 1, 2, 0, 1, 2])),
    }


@pytest.mark.parametrize("family", ["cgan", "cvae"])
@pytest.mark.parametrize(
    "case", ["wrong-shape", "wrong-channels", "above-1", "below-0", "label-too-large", "label-negative", "label-float"]
)
def test_bad_data_is_refused_before_training(family, case, generator_factory, pattern_data, tmp_path):
    model = generator_factory(family)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = TRAINERS[family](model, tmp_path / "run", epochs=1, progress=False)
    with pytest.raises(ValueError):
        trainer.fit(bad_data_cases(pattern_data)[case])
    assert not (tmp_path / "run").exists()
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_fit_refuses_what_is_not_a_dataset(generator_factory, tmp_path):
    # Any map-style Dataset of (image, label) items trains (tests/training/test_dataset_input.py);
    # something that is not one is a TypeError naming what was expected, before any file is written.
    trainer = CVAETrainer(generator_factory("cvae"), tmp_path / "run", epochs=1, progress=False)
    with pytest.raises(TypeError, match="map-style Dataset"):
        trainer.fit(42)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=0), "epochs"),
        (dict(epochs=2.0), "epochs"),
        (dict(batch_size=True), "batch_size"),
        (dict(lr=5), "lr"),
        (dict(lr=0), "lr"),
        (dict(lr=-1e-3), "lr"),
        (dict(device="nonsense"), "device"),
        (dict(seed=-1), "seed"),
        (dict(sample_every=-1), "sample_every"),
        (dict(log_every=0), "log_every"),
        (dict(samples_per_class=0), "samples_per_class"),
    ],
)
def test_training_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainingConfig(**kwargs)


def test_trainer_overrides_are_validated_too(generator_factory, tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        CGANTrainer(generator_factory("cgan"), tmp_path, epochs=0)
    with pytest.raises(TypeError):
        CGANTrainer(generator_factory("cgan"), tmp_path, no_such_option=1)


def test_trainer_config_and_overrides_combine(generator_factory, tmp_path):
    trainer = CVAETrainer(generator_factory("cvae"), tmp_path, TrainingConfig(epochs=3, lr=0.01), batch_size=7)
    assert (trainer.config.epochs, trainer.config.batch_size, trainer.lr) == (3, 7, 0.01)
    assert CGANTrainer(generator_factory("cgan"), tmp_path).lr == CGANTrainer.default_lr


@pytest.mark.parametrize("trainer, family", [(CGANTrainer, "cvae"), (CVAETrainer, "cgan"), (CGANTrainer, "wrap")])
def test_trainer_refuses_the_wrong_model(trainer, family, generator_factory, tmp_path):
    with pytest.raises(TypeError, match=trainer.model_class.__name__):
        trainer(generator_factory(family), tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beta=-1), "beta"),
        (dict(beta=True), "beta"),
        (dict(kl_warmup_steps=-1), "kl_warmup_steps"),
        (dict(kl_warmup_steps=1.5), "kl_warmup_steps"),
    ],
)
def test_cvae_trainer_options(kwargs, match, generator_factory, tmp_path):
    with pytest.raises(ValueError, match=match):
        CVAETrainer(generator_factory("cvae"), tmp_path, **kwargs)
