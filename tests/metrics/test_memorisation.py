"""The memorisation check flags copies of training images and leaves new images alone."""

from __future__ import annotations

import pytest
import torch

from synthaug.metrics.memorisation import EXACT_COPY_RMS, memorisation_check, nearest_rms_distances


@pytest.fixture(scope="module")
def splits(pattern_factory):
    """Train, held-out test and fresh 'generated' images: three independent draws of the pattern data."""
    return pattern_factory(40, seed=10), pattern_factory(40, seed=11), pattern_factory(30, seed=12)


def test_fresh_samples_are_not_flagged(splits):
    train, test, fresh = splits
    result = memorisation_check(fresh.images, train.images, test.images)
    assert result["exact_copies"] == 0 and not result["flagged"]
    assert result["near_copy_share"] < 0.05
    assert result["median_synthetic_to_train"] == pytest.approx(result["median_test_to_train"], rel=0.25)


def test_exact_copies_are_flagged_and_located(splits):
    train, test, fresh = splits
    synthetic = torch.cat([fresh.images[:60], train.images[[5, 17, 99]]])
    result = memorisation_check(synthetic, train.images, test.images)
    assert result["exact_copies"] == 3 and result["flagged"]
    assert result["near_copies"] >= 3
    assert {(pair["synthetic"], pair["train"]) for pair in result["closest"][:3]} == {(60, 5), (61, 17), (62, 99)}
    assert all(pair["distance"] < 1e-6 for pair in result["closest"][:3])


def test_copies_saved_as_8_bit_images_still_count_as_exact(splits):
    train, test, _ = splits
    quantised = train.images[:10].mul(255).round().div(255)
    result = memorisation_check(quantised, train.images, test.images)
    assert result["exact_copies"] == 10 and result["flagged"]


def test_lightly_perturbed_copies_are_near_copies_not_exact(splits):
    train, test, _ = splits
    noise = 0.01 * torch.randn(train.images[:30].shape, generator=torch.Generator().manual_seed(0))
    result = memorisation_check(train.images[:30] + noise, train.images, test.images)
    assert result["exact_copies"] == 0
    assert result["near_copy_share"] == 1.0 and result["flagged"]


def test_per_class_shares_follow_the_synthetic_labels(splits):
    train, test, fresh = splits
    synthetic = torch.cat([train.images[train.labels == 0][:10], fresh.images[fresh.labels == 1][:10]])
    labels = torch.tensor([0] * 10 + [1] * 10)
    per_class = memorisation_check(synthetic, train.images, test.images, labels, 3)["per_class"]
    assert per_class[0] == {"near_copy_share": 1.0, "exact_copies": 10}
    assert per_class[1]["exact_copies"] == 0 and per_class[1]["near_copy_share"] < 0.2
    assert per_class[2]["exact_copies"] == 0 and per_class[2]["near_copy_share"] != per_class[2]["near_copy_share"]


def test_distances_are_rms_per_pixel():
    references = torch.zeros(2, 1, 4, 4)
    references[1] = 1.0
    distances, index = nearest_rms_distances(torch.full((1, 1, 4, 4), 0.25), references)
    assert index.tolist() == [0] and distances[0] == pytest.approx(0.25)
    assert EXACT_COPY_RMS == pytest.approx(0.5 / 255)


def test_the_reference_set_is_capped_with_a_seed(splits):
    train, test, fresh = splits
    a = memorisation_check(fresh.images, train.images, test.images, max_reference=50, seed=1)
    b = memorisation_check(fresh.images, train.images, test.images, max_reference=50, seed=1)
    assert a["num_reference"] == 50 and a == b


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"percentile": 0}, "percentile"),
        ({"max_reference": 0}, "max_reference"),
        ({"labels": torch.zeros(3, dtype=torch.long)}, "one label"),
    ],
)
def test_bad_input_is_refused(splits, kwargs, match):
    train, test, fresh = splits
    with pytest.raises(ValueError, match=match):
        memorisation_check(fresh.images, train.images, test.images, **kwargs)
    with pytest.raises(ValueError, match="same image shape"):
        nearest_rms_distances(fresh.images, torch.zeros(2, 1, 4, 4))
