"""The cVAE's per-class latent Gaussian mixture: fitting, sampling, bundles, errors."""

from __future__ import annotations

import pytest
import torch

import synthaug
from synthaug.training.latent_gmm import encode_means, fit_latent_gmm


def draw(model, labels, seed=0):
    return model.sample(labels, generator=torch.Generator().manual_seed(seed))


def test_trainer_fits_a_mixture_that_becomes_the_default_sampler(trained_cvae_run):
    vae = synthaug.load(trained_cvae_run.out_dir)
    assert vae.config["gmm_components"] == 10
    assert vae.latent_sampler == "gmm"
    assert vae.gmm_weights.shape == (3, 10) and vae.gmm_means.shape == (3, 10, vae.latent_dim)
    assert torch.allclose(vae.gmm_weights.sum(1), torch.ones(3))


def test_gmm_round_trips_through_save_and_load(trained_cvae_run, tmp_path):
    vae = synthaug.load(trained_cvae_run.out_dir)
    vae.save_pretrained(tmp_path / "again")
    again = synthaug.load(tmp_path / "again")
    labels = torch.tensor([0, 1, 2, 2, 1])
    assert torch.equal(draw(vae, labels), draw(again, labels))
    for name in ("gmm_weights", "gmm_means", "gmm_variances"):
        assert torch.equal(getattr(vae, name), getattr(again, name))


def test_gmm_latents_follow_the_class_mixture(trained_cvae_run, pattern_data):
    vae = synthaug.load(trained_cvae_run.out_dir)
    labels = torch.full((400,), 1)
    z = vae.sample_latent(labels, generator=torch.Generator().manual_seed(0))
    encoded = encode_means(vae, pattern_data)[pattern_data.labels == 1]
    # Mixture samples sit where class 1's images encode, far closer than prior samples do.
    prior = torch.randn(400, vae.latent_dim, generator=torch.Generator().manual_seed(0))
    assert (z.mean(0) - encoded.mean(0)).norm() < 0.5 * (prior.mean(0) - encoded.mean(0)).norm() + 0.05
    assert (z.std(0) - encoded.std(0)).abs().mean() < (prior.std(0) - encoded.std(0)).abs().mean()


def test_switching_sampler_changes_samples_and_is_validated(trained_cvae_run, generator_factory):
    vae = synthaug.load(trained_cvae_run.out_dir)
    labels = torch.tensor([0, 1, 2])
    gmm = draw(vae, labels)
    vae.latent_sampler = "prior"
    assert not torch.equal(gmm, draw(vae, labels))
    with pytest.raises(ValueError, match="latent_sampler"):
        vae.latent_sampler = "flow"
    untrained = generator_factory("cvae")
    assert untrained.latent_sampler == "prior"
    with pytest.raises(ValueError, match="set_latent_gmm"):
        untrained.latent_sampler = "gmm"


def test_fit_handles_tiny_and_missing_classes(generator_factory, pattern_factory):
    vae = generator_factory("cvae")
    data = pattern_factory(3)
    keep = data.labels != 2  # class 2 has no images at all
    from synthaug.data.real import LabelledImages

    used = fit_latent_gmm(vae, LabelledImages(data.images[keep], data.labels[keep]), components=5, seed=0)
    assert used == {0: 3, 1: 3, 2: 0}
    assert vae.gmm_weights[2].tolist() == [1.0, 0, 0, 0, 0]  # class 2 falls back to N(0, I)
    assert torch.equal(vae.gmm_means[2, 0], torch.zeros(vae.latent_dim))
    assert draw(vae, torch.tensor([2, 2])).shape == (2, 1, 8, 8)


@pytest.mark.parametrize("components", [0, 65, 2.5, True])
def test_fit_refuses_bad_component_counts(generator_factory, pattern_data, components):
    with pytest.raises(ValueError, match="components"):
        fit_latent_gmm(generator_factory("cvae"), pattern_data, components=components)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda w, m, v: (w[:2], m, v), "weights"),
        (lambda w, m, v: (w, m[:, :, :3], v), "means"),
        (lambda w, m, v: (w * 2, m, v), "sum"),
        (lambda w, m, v: (w, m, -v), "positive"),
        (lambda w, m, v: (w, m * float("nan"), v), "finite"),
    ],
)
def test_set_latent_gmm_validates(generator_factory, change, match):
    vae = generator_factory("cvae")
    w, m, v = torch.full((3, 2), 0.5), torch.zeros(3, 2, vae.latent_dim), torch.ones(3, 2, vae.latent_dim)
    with pytest.raises(ValueError, match=match):
        vae.set_latent_gmm(*change(w, m, v))


def test_trainer_can_skip_the_mixture(generator_factory, pattern_factory, tmp_path):
    from synthaug.training import CVAETrainer

    CVAETrainer(
        generator_factory("cvae"), tmp_path, gmm_components=0, epochs=1, batch_size=16, progress=False, sample_every=0
    ).fit(pattern_factory(8))
    assert synthaug.load(tmp_path).latent_sampler == "prior"
    with pytest.raises(ValueError, match="gmm_components"):
        CVAETrainer(generator_factory("cvae"), tmp_path, gmm_components=-1)
