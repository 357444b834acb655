"""Reconstruction scores: the DAE's and cVAE's ``score``, ``reconstruction_score`` and ``detection_auroc``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import build_dae, build_generator, make_pattern_data

import synthaug
from synthaug.metrics import detection_auroc, reconstruction_score
from synthaug.transforms import gaussian_noise, salt_and_pepper


@pytest.fixture(scope="module")
def clean_and_corrupted():
    clean = make_pattern_data(10, seed=3).images  # [30, 1, 8, 8], unseen by the trained models
    rng = torch.Generator().manual_seed(0)
    return clean, {
        "gaussian": gaussian_noise(clean, sigma=0.3, generator=rng),
        "salt_and_pepper": salt_and_pepper(clean, amount=0.2, generator=rng),
    }


def test_dae_scores_rank_a_corrupted_copy_above_its_clean_original(trained_dae_run, clean_and_corrupted):
    dae = synthaug.load(trained_dae_run.out_dir)
    clean, corrupted = clean_and_corrupted
    clean_scores = dae.score(clean)
    assert clean_scores.shape == (len(clean),) and clean_scores.dtype == torch.float32
    assert (clean_scores >= 0).all()
    for name, images in corrupted.items():
        scores = dae.score(images)
        assert (scores > clean_scores).float().mean() >= 0.9, name  # image by image, paired
        assert detection_auroc(clean_scores, scores) > 0.9, name


@pytest.fixture(scope="module")
def trained_cvae(tmp_path_factory, pattern_data):
    """A tiny cVAE trained long enough (300 steps) to reconstruct the pattern classes."""
    from synthaug.training import CVAETrainer

    vae = build_generator("cvae", seed=0)
    out = tmp_path_factory.mktemp("cvae_score")
    CVAETrainer(vae, out, steps=300, batch_size=32, lr=3e-3, seed=0, sample_every=0, progress=False).fit(pattern_data)
    return vae


def test_cvae_scores_rank_a_corrupted_copy_above_its_clean_original(trained_cvae, clean_and_corrupted):
    vae = trained_cvae
    clean, corrupted = clean_and_corrupted
    clean_scores = vae.score(clean)
    for name, images in corrupted.items():
        assert (vae.score(images) > clean_scores).float().mean() >= 0.9, name


def test_dae_score_is_the_mean_squared_change_and_matches_denoise(dae_factory, clean_and_corrupted):
    dae = dae_factory()
    images = clean_and_corrupted[1]["gaussian"]
    denoised, scores = dae.denoise_and_score(images)
    assert torch.equal(denoised, dae.denoise(images))
    assert torch.allclose(scores, ((denoised - images) ** 2).mean(dim=(1, 2, 3)), atol=1e-7)
    assert torch.equal(dae.score(images), scores)


def test_cvae_score_without_labels_is_the_best_class(generator_factory, clean_and_corrupted):
    vae = generator_factory("cvae").train()
    images = clean_and_corrupted[0]
    per_class = torch.stack([vae.score(images, torch.full((len(images),), k)) for k in range(vae.num_classes)])
    assert torch.allclose(vae.score(images), per_class.amin(0))
    assert vae.training  # modes restored
    assert vae.score(images[:0]).shape == (0,)


def test_reconstruction_score_batches_like_one_call(dae_factory, generator_factory, clean_and_corrupted):
    images = clean_and_corrupted[1]["salt_and_pepper"]
    dae, vae = dae_factory(), generator_factory("cvae")
    assert torch.allclose(reconstruction_score(dae, images, batch_size=7), dae.score(images), atol=1e-7)
    labels = torch.arange(len(images)) % vae.num_classes
    assert torch.allclose(reconstruction_score(vae, images, labels, batch_size=4), vae.score(images, labels), atol=1e-6)
    assert reconstruction_score(dae, images[:0]).shape == (0,)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda d, v, x: reconstruction_score(object(), x), TypeError, r"model must have a score\(images\) method"),
        (lambda d, v, x: reconstruction_score(d, x.numpy()), TypeError, r"images must be a torch.Tensor"),
        (lambda d, v, x: reconstruction_score(d, x, torch.zeros(len(x))), TypeError, r"takes no labels"),
        (lambda d, v, x: reconstruction_score(v, x, torch.zeros(3).long()), ValueError, r"labels must have shape"),
        (lambda d, v, x: reconstruction_score(d, x, batch_size=0), ValueError, r"batch_size must be a positive int"),
        (lambda d, v, x: d.score(x * 2), ValueError, r"images must have values in \[0, 1\]"),
        (lambda d, v, x: v.score(x[:, :, :4]), ValueError, r"images must have shape \[B, 1, 8, 8\]"),
        (lambda d, v, x: v.score(x, torch.full((len(x),), 7)), ValueError, r"labels"),
    ],
)
def test_bad_arguments_are_refused(call, error, message, clean_and_corrupted):
    with pytest.raises(error, match=message):
        call(build_dae(), build_generator("cvae"), clean_and_corrupted[0])


def test_detection_auroc():
    assert detection_auroc([0.1, 0.2, 0.3], torch.tensor([0.4, 0.5])) == 1.0
    assert detection_auroc(np.array([0.4, 0.5]), [0.1, 0.2]) == 0.0
    assert detection_auroc([0.1, 0.3], [0.2, 0.4]) == 0.75
    with pytest.raises(ValueError, match="normal must be a non-empty 1-D sequence"):
        detection_auroc([], [0.1])
    with pytest.raises(ValueError, match="flagged must hold finite scores"):
        detection_auroc([0.1], [float("nan")])
