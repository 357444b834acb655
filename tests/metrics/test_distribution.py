"""Fréchet distance and KID on toy feature sets with known answers."""

from __future__ import annotations

import pytest
import torch

from synthaug.metrics.distribution import (
    KID_SUBSET_SIZE,
    frechet_distance_from_features,
    kernel_distance_from_features,
    kid_subset_size,
)
from synthaug.metrics.fidelity import frechet_distance, kernel_distance


def gaussian(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_frechet_distance_of_identical_sets_is_zero():
    x = gaussian(300)
    assert abs(frechet_distance_from_features(x, x)) < 1e-6


def test_frechet_distance_of_a_shifted_copy_is_the_squared_shift():
    # Same covariance, means apart by s in every one of F dimensions: FD = F * s^2 exactly.
    x = gaussian(300)
    for shift in (0.5, 1.0, 2.0):
        assert frechet_distance_from_features(x, x + shift) == pytest.approx(16 * shift**2, rel=1e-4)


def test_fd_and_kid_grow_monotonically_with_the_shift():
    real, fake = gaussian(400, seed=0), gaussian(400, seed=1)
    shifts = (0.0, 0.25, 0.5, 1.0, 2.0)
    fd = [frechet_distance_from_features(real, fake + s) for s in shifts]
    kid = [kernel_distance_from_features(real, fake + s, subsets=20, seed=0).mean for s in shifts]
    assert fd == sorted(fd) and len(set(fd)) == len(fd), fd
    assert kid == sorted(kid) and len(set(kid)) == len(kid), kid
    assert abs(kid[0]) < 0.1 * kid[-1]  # same distribution: ~0 next to a real difference


def test_kid_of_two_samples_of_one_distribution_is_near_zero():
    kid = kernel_distance_from_features(gaussian(500, seed=0), gaussian(500, seed=1), subsets=10)
    far = kernel_distance_from_features(gaussian(500, seed=0), gaussian(500, seed=1) + 1, subsets=10)
    assert abs(kid.mean) < 0.02 * far.mean


def test_kid_handles_sets_smaller_than_the_default_subset_size():
    assert KID_SUBSET_SIZE == 1000
    real, fake = gaussian(50, seed=0), gaussian(30, seed=1) + 1
    kid = kernel_distance_from_features(real, fake, subsets=10)
    assert kid.subset_size == 30 == kid_subset_size(50, 30)
    assert kid.mean > 0 and kid.std > 0  # 30 of 50 real vectors per subset: subsets differ
    whole = kernel_distance_from_features(real[:30], fake, subsets=10)
    assert whole.subset_size == 30 and whole.std == 0.0  # both sets whole: one value
    assert kernel_distance_from_features(real, fake, subset_size=5000, subsets=3).subset_size == 30
    assert kernel_distance_from_features(real, fake, subset_size=10, subsets=3).subset_size == 10


def test_kid_is_seeded_and_leaves_the_global_rng_alone():
    real, fake = gaussian(200, seed=0), gaussian(200, seed=1)
    state = torch.get_rng_state()
    a = kernel_distance_from_features(real, fake, subset_size=50, subsets=5, seed=1)
    b = kernel_distance_from_features(real, fake, subset_size=50, subsets=5, seed=1)
    c = kernel_distance_from_features(real, fake, subset_size=50, subsets=5, seed=2)
    assert a == b and a != c
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: frechet_distance_from_features(gaussian(1), gaussian(5)), "at least 2"),
        (lambda: kernel_distance_from_features(gaussian(5), gaussian(1)), "at least 2"),
        (lambda: frechet_distance_from_features(gaussian(5, dim=3), gaussian(5)), "same width"),
        (lambda: kernel_distance_from_features(gaussian(5)[0], gaussian(5)), r"\[N, F\]"),
        (lambda: kernel_distance_from_features(gaussian(5), gaussian(5), subset_size=1), "subset_size"),
        (lambda: kernel_distance_from_features(gaussian(5), gaussian(5), subsets=0), "subsets"),
    ],
    ids=["fd-one", "kid-one", "width", "rank", "subset-1", "subsets-0"],
)
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_image_level_kid_uses_the_classifier_features(pattern_factory, pattern_data, pattern_test_data):
    from synthaug.metrics.classifier import train_classifier

    classifier = train_classifier(pattern_factory(16, seed=5).as_dataset(), 3, (1, 8, 8), steps=10, progress=False)
    real, near = pattern_data.images, pattern_test_data.images
    far = (near * 0.2).clamp(0, 1)
    kid_near = kernel_distance(classifier, real, near, subsets=5)
    kid_far = kernel_distance(classifier, real, far, subsets=5)
    assert kid_near.subset_size == len(near) and kid_near.mean < kid_far.mean
    assert abs(frechet_distance(classifier, real, real)) < 1e-6
