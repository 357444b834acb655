"""cGAN training features: DiffAugment, GAN losses, the EMA generator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import synthaug
from synthaug.training import CGANTrainer
from synthaug.training.diffaugment import AUGMENTATIONS, DiffAugment
from synthaug.training.ema import update_ema
from synthaug.training.losses import GAN_LOSSES, get_gan_loss


def images(channels=1, n=6, seed=0):
    return torch.rand(n, channels, 8, 8, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_augmentation_keeps_shape_is_seeded_and_differentiable(name, channels):
    x = images(channels).requires_grad_(True)
    augment = DiffAugment([name])
    a = augment(x, generator=torch.Generator().manual_seed(1))
    b = augment(x, generator=torch.Generator().manual_seed(1))
    c = augment(x, generator=torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_pixels_without_inventing_values():
    x = images(1, n=32)
    out = AUGMENTATIONS["translation"](x, torch.Generator().manual_seed(0))
    for original, shifted in zip(x, out):
        values = set(original.flatten().tolist()) | {0.0}
        assert set(shifted.flatten().tolist()) <= values
    assert not torch.equal(out, x)  # with 32 images at least one is shifted


def test_cutout_zeroes_about_a_quarter_of_the_image_at_most():
    x = torch.ones(64, 1, 8, 8)
    out = AUGMENTATIONS["cutout"](x, torch.Generator().manual_seed(0))
    zeroed = (out == 0).flatten(1).sum(1)
    assert (zeroed <= 16).all() and (zeroed > 0).any()  # a 4x4 square, possibly cut by the border


@pytest.mark.parametrize("policy", ["", "rotate", ["translation", "nope"]])
def test_unknown_policy_is_refused(policy):
    with pytest.raises(ValueError, match="policy"):
        DiffAugment(policy)


def test_policy_string_and_repr():
    augment = DiffAugment("translation, cutout")
    assert augment.policy == ["translation", "cutout"]
    assert "translation,cutout" in repr(augment)


def test_gan_losses():
    real, fake = torch.tensor([2.0, 1.5]), torch.tensor([-3.0, -1.0])
    hinge = get_gan_loss("hinge")
    assert hinge.discriminator(real, fake) == 0  # margins already met
    assert hinge.generator(fake) == 2.0
    bce = get_gan_loss("bce")
    expected = F.binary_cross_entropy_with_logits(real, torch.ones(2)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros(2)
    )
    assert torch.allclose(bce.discriminator(real, fake), expected)
    assert torch.allclose(bce.generator(fake), F.binary_cross_entropy_with_logits(fake, torch.ones(2)))
    assert set(GAN_LOSSES) == {"bce", "hinge"}
    with pytest.raises(ValueError, match="bce"):
        get_gan_loss("wasserstein")


def test_update_ema_warms_up_and_copies_buffers():
    average, current = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        average.weight.fill_(0.0)
        current.weight.fill_(1.0)
        current.running_mean.fill_(5.0)
    update_ema(average, current, decay=0.999, step=0)  # warm-up decay min(0.999, 1/10) = 0.1
    assert torch.allclose(average.weight, torch.full((2,), 0.9))
    assert torch.equal(average.running_mean, current.running_mean)
    with pytest.raises(ValueError, match="decay"):
        update_ema(average, current, decay=1.0, step=0)


def test_ema_generator_differs_from_raw_and_is_what_sample_uses(trained_cgan_run):
    gan = synthaug.load(trained_cgan_run[0].out_dir)
    raw = dict(gan.generator.named_parameters())
    ema = dict(gan.generator_ema.named_parameters())
    assert raw.keys() == ema.keys()
    assert any(not torch.equal(raw[k], ema[k]) for k in raw)
    labels = torch.tensor([0, 1, 2, 0])
    sampled = gan.sample(labels, generator=torch.Generator().manual_seed(3))
    z = torch.randn(4, gan.latent_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        by_ema = (torch.tanh(gan.generator_ema(z, labels)) + 1) / 2
        by_raw = (torch.tanh(gan.generator(z, labels)) + 1) / 2
    assert torch.allclose(sampled, by_ema)
    assert not torch.allclose(sampled, by_raw)


def test_ema_can_be_switched_off_and_round_trips(generator_factory, tmp_path):
    gan = generator_factory("cgan", ema=False)
    assert not hasattr(gan, "generator_ema")
    gan.save_pretrained(tmp_path / "b")
    loaded = synthaug.load(tmp_path / "b")
    assert loaded.config["ema"] is False
    labels = torch.tensor([0, 1])
    assert torch.equal(
        gan.sample(labels, generator=torch.Generator().manual_seed(0)),
        loaded.sample(labels, generator=torch.Generator().manual_seed(0)),
    )


def test_diffaugment_auto_turns_on_for_small_data(generator_factory, pattern_data, tmp_path):
    trainer = CGANTrainer(generator_factory("cgan"), tmp_path, progress=False)
    trainer.prepare(pattern_data)
    assert trainer.augment is not None and trainer.augment.policy == ["translation", "cutout"]
    rgb = CGANTrainer(generator_factory("cgan", channels=3), tmp_path, progress=False)
    rgb.prepare(pattern_data)
    assert "color" in rgb.augment.policy
    off = CGANTrainer(generator_factory("cgan"), tmp_path, diffaugment=None, progress=False)
    off.prepare(pattern_data)
    assert off.augment is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "nope"}, "loss"),
        ({"ema_decay": 1.5}, "ema_decay"),
        ({"diffaugment": "spin"}, "policy"),
    ],
)
def test_trainer_refuses_bad_options(generator_factory, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CGANTrainer(generator_factory("cgan"), tmp_path, **kwargs)


def test_hinge_loss_trains(generator_factory, pattern_factory, tmp_path):
    data = pattern_factory(16)
    result = CGANTrainer(
        generator_factory("cgan"),
        tmp_path,
        loss="hinge",
        epochs=3,
        batch_size=16,
        log_every=3,
        sample_every=0,
        progress=False,
    ).fit(data)
    assert result.steps == 9
    assert all(torch.isfinite(torch.tensor(r["loss_d"])) for r in result.history)


def test_spectral_norm_bounds_discriminator_layers_and_round_trips(generator_factory, pattern_factory, tmp_path):
    gan = generator_factory("cgan", spectral_norm=True)
    assert any("parametrizations.weight.original" in k for k in gan.state_dict())
    CGANTrainer(gan, tmp_path, loss="hinge", epochs=4, batch_size=16, sample_every=0, progress=False).fit(
        pattern_factory(16)
    )
    loaded = synthaug.load(tmp_path)
    assert loaded.config["spectral_norm"] is True
    conv = loaded.discriminator.trunk.net[0]
    # Spectral norm keeps the (reshaped) weight's largest singular value near 1.
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert 0.5 < float(sigma) < 1.5
    images, labels = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    gan.eval()
    assert torch.allclose(gan.discriminator(images, labels), loaded.discriminator(images, labels), atol=1e-6)
