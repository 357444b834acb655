"""Precision / recall / density / coverage on toy distributions with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthaug.metrics.manifold import knn_radii, prdc


def blobs(n_per_mode: int, modes=(0, 1, 2), seed: int = 0, dim: int = 8) -> torch.Tensor:
    """Gaussian blobs (sd 1) centred 20 apart along the first axis, one per mode."""
    rng = torch.Generator().manual_seed(seed)
    parts = []
    for m in modes:
        points = torch.randn(n_per_mode, dim, generator=rng, dtype=torch.float64)
        points[:, 0] += 20.0 * m
        parts.append(points)
    return torch.cat(parts)


def test_identical_sets():
    x = blobs(100)
    scores = prdc(x, x, k=5)
    assert scores["precision"] == scores["recall"] == scores["coverage"] == 1.0
    # Each vector lies in its own ball and in its k neighbours' balls: (k + 1) / k, less the k-th
    # neighbours that floating-point rounding puts just outside the radius: between 1 and 1.2.
    assert 1.0 <= scores["density"] <= 1.2 + 1e-12


def test_two_samples_of_one_distribution_score_near_one():
    scores = prdc(blobs(200, seed=0), blobs(200, seed=1), k=5)
    for key in ("precision", "recall", "coverage"):
        assert scores[key] > 0.85, scores
    assert 0.75 < scores["density"] < 1.25, scores


def test_dropping_modes_lowers_recall_and_coverage_not_precision():
    real = blobs(200, seed=0)
    one_mode = blobs(200, modes=(1,), seed=1)
    scores = prdc(real, one_mode, k=5)
    assert scores["precision"] > 0.85
    assert scores["recall"] < 0.4 and scores["coverage"] < 0.4  # about 1/3 of the real set is covered
    two_modes = prdc(real, blobs(100, modes=(0, 1), seed=1), k=5)
    assert scores["recall"] < two_modes["recall"] < 0.75 and scores["coverage"] < two_modes["coverage"]


def test_samples_off_the_manifold_score_zero_precision_and_density():
    scores = prdc(blobs(100), blobs(100, seed=1) + 100.0, k=5)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_collapsed_samples_are_precise_but_not_diverse():
    real = blobs(100)
    collapsed = real[:1].repeat(50, 1)  # one real point, 50 times
    scores = prdc(real, collapsed, k=5)
    assert scores["precision"] == 1.0 and scores["coverage"] < 0.1 and scores["recall"] < 0.1


def test_knn_radii_leave_each_point_out():
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 5.0]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="more than 5"):
        prdc(blobs(1), blobs(100), k=5)
    with pytest.raises(ValueError, match="same width"):
        prdc(blobs(10), blobs(10, dim=3), k=2)
    with pytest.raises(ValueError, match="k must be"):
        prdc(blobs(10), blobs(10), k=0)
