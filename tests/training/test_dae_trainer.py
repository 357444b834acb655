"""DAETrainer: it learns to denoise, writes the same run directory as the other trainers, resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.training import CGANTrainer, DAETrainer, get_trainer_class
from synthaug.transforms import CorruptionMix, gaussian_noise

SETTINGS = dict(batch_size=16, log_every=2, sample_every=0, progress=False, seed=3)


class Interrupted(Exception):
    pass


def test_registered_as_dae():
    assert get_trainer_class("dae") is DAETrainer
    assert DAETrainer.model_class is synthaug.DenoisingAutoencoder


def test_training_reduces_the_error_on_held_out_data(trained_dae_run, pattern_test_data):
    dae = synthaug.load(trained_dae_run.out_dir)
    clean = pattern_test_data.images
    noisy = gaussian_noise(clean, sigma=0.2, generator=torch.Generator().manual_seed(11))
    mse_noisy = float(((noisy - clean) ** 2).mean())
    mse_denoised = float(((dae.denoise(noisy) - clean) ** 2).mean())
    assert mse_denoised < 0.3 * mse_noisy, (mse_noisy, mse_denoised)


def test_loss_goes_down_and_is_logged(trained_dae_run):
    records = [json.loads(line) for line in (trained_dae_run.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert records == trained_dae_run.history
    assert {"step", "epoch", "seconds", "loss", "mse_corrupted"} <= set(records[0])
    assert set(trained_dae_run.final_losses) == {"loss"}
    assert records[-1]["loss"] < 0.2 * records[0]["loss"]
    assert records[-1]["loss"] < records[-1]["mse_corrupted"]


def test_run_directory(trained_dae_run):
    out = trained_dae_run.out_dir
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "loss_curves.png", "checkpoint.pt"):
        assert (out / name).is_file(), name
    grids = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert grids == ["epoch_010.png", "epoch_020.png"]
    with Image.open(out / "samples" / grids[0]) as image:
        assert image.format == "PNG" and image.size[0] > 0
    assert isinstance(synthaug.load(out), synthaug.DenoisingAutoencoder)


def test_labels_are_not_used_but_images_are_checked(dae_factory, pattern_factory, tmp_path):
    data = pattern_factory(4)
    odd_labels = LabelledImages(data.images, torch.arange(len(data)) * 1000)  # no num_classes to hold them to
    DAETrainer(dae_factory(), tmp_path / "ok", epochs=1, **SETTINGS).fit(odd_labels)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DAETrainer(dae_factory(), tmp_path / "bad", epochs=1, **SETTINGS).fit(
            LabelledImages(data.images * 255, data.labels)
        )
    with pytest.raises(ValueError, match="shape"):
        DAETrainer(dae_factory(image_size=12), tmp_path / "bad", epochs=1, **SETTINGS).fit(data)
    assert not (tmp_path / "bad").exists()


def test_trainers_refuse_each_others_models(dae_factory, generator_factory, tmp_path):
    with pytest.raises(TypeError, match="DenoisingAutoencoder"):
        DAETrainer(generator_factory("cgan"), tmp_path)
    with pytest.raises(TypeError, match="ConditionalGAN"):
        CGANTrainer(dae_factory(), tmp_path)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(corruptions={"speckle": 1}), ValueError, "speckle"),
        (dict(corruptions=5), TypeError, "corruptions"),
        (dict(preview_images=torch.rand(4, 1, 12, 12)), ValueError, "preview_images"),
        (dict(preview_images=torch.rand(0, 1, 8, 8)), ValueError, "preview_images"),
    ],
    ids=["unknown-corruption", "corruptions-int", "preview-shape", "preview-empty"],
)
def test_options_are_checked(dae_factory, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        DAETrainer(dae_factory(), tmp_path, **kwargs)


def test_corruptions_accepts_a_mix_and_preview_images_are_used(dae_factory, pattern_factory, tmp_path):
    mix = CorruptionMix(["blur"], params={"blur": {"sigma": 0.7}})
    trainer = DAETrainer(
        dae_factory(),
        tmp_path,
        epochs=1,
        corruptions=mix,
        preview_images=pattern_factory(1).images,
        **{**SETTINGS, "sample_every": 1},
    )
    assert trainer.corruptions is mix
    trainer.fit(pattern_factory(4))
    clean, corrupted = trainer._preview
    assert len(clean) == 3 and torch.equal(clean, pattern_factory(1).images)
    assert (tmp_path / "samples" / "epoch_001.png").is_file()


def test_same_seed_same_weights_and_global_rng_untouched(dae_factory, pattern_factory, tmp_path):
    data = pattern_factory(8)

    def train(seed: int, out: str):
        model = dae_factory()
        DAETrainer(model, tmp_path / out, epochs=2, **{**SETTINGS, "seed": seed}).fit(data)
        return model.state_dict()

    state = torch.random.get_rng_state()
    a, b, c = train(0, "a"), train(0, "b"), train(1, "c")
    assert torch.equal(torch.random.get_rng_state(), state), "training touched the global RNG"
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_resumed_run_equals_uninterrupted_run(dae_factory, pattern_factory, tmp_path):
    data = pattern_factory(16)  # 48 images: 3 steps per epoch at batch 16
    straight = DAETrainer(dae_factory(), tmp_path / "a", epochs=3, **SETTINGS).fit(data)

    class Crashing(DAETrainer):
        def training_step(self, images, labels):
            if self.global_step == 4:  # the second step of epoch 2: the checkpoint holds epoch 1
                raise Interrupted("simulated crash")
            return super().training_step(images, labels)

    Crashing.__name__ = "DAETrainer"  # checkpoints record the trainer's name
    with pytest.raises(Interrupted):
        Crashing(dae_factory(), tmp_path / "b", epochs=3, **SETTINGS).fit(data)
    resumed = DAETrainer(dae_factory(seed=99), tmp_path / "b", epochs=3, **SETTINGS).fit(data, resume=True)

    assert resumed.steps == straight.steps == 9
    a, b = synthaug.load(tmp_path / "a").state_dict(), synthaug.load(tmp_path / "b").state_dict()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert [r["step"] for r in resumed.history] == [r["step"] for r in straight.history]
