"""Generator metrics in a real-data classifier's feature space."""

from __future__ import annotations

import math

import pytest
import torch

from synthaug.metrics.classifier import train_classifier
from synthaug.metrics.fidelity import (
    ClassifierFeatures,
    frechet_distance,
    intra_class_diversity,
    label_fidelity,
    predict,
)


@pytest.fixture(scope="module")
def classifier(pattern_factory):
    data = pattern_factory(32, seed=5)
    return train_classifier(data.as_dataset(), 3, (1, 8, 8), steps=40, batch_size=32, progress=False)


def test_label_fidelity_of_real_images_is_high_and_of_wrong_labels_low(classifier, pattern_test_data):
    predicted, features = predict(classifier, pattern_test_data.images)
    assert features.shape == (len(pattern_test_data), 128)
    overall, per_class = label_fidelity(predicted, pattern_test_data.labels, 3)
    assert overall > 0.9 and all(p > 0.8 for p in per_class)
    shuffled = (pattern_test_data.labels + 1) % 3  # every label wrong
    assert label_fidelity(predicted, shuffled, 3)[0] < 0.1
    assert math.isnan(label_fidelity(predicted, torch.zeros_like(shuffled), 4)[1][3])


def test_frechet_distance_is_zero_for_same_set_and_grows_with_shift(classifier, pattern_data, pattern_test_data):
    real = pattern_data.images
    assert abs(frechet_distance(classifier, real, real)) < 1e-6
    near = frechet_distance(classifier, real, pattern_test_data.images)
    far = frechet_distance(classifier, real, (pattern_test_data.images * 0.2).clamp(0, 1))
    assert 0 <= near < far
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(classifier, real[:1], real)


def test_intra_class_diversity_detects_collapse(classifier, pattern_data):
    _, features = predict(classifier, pattern_data.images)
    labels = pattern_data.labels
    same = intra_class_diversity(features, labels, features, labels, 3)
    assert all(abs(d - 1) < 1e-6 for d in same)
    collapsed = torch.cat([pattern_data.images[labels == c][:1].expand(10, -1, -1, -1) for c in range(3)])
    _, collapsed_features = predict(classifier, collapsed)
    diversity = intra_class_diversity(collapsed_features, torch.arange(3).repeat_interleave(10), features, labels, 3)
    assert all(d < 0.01 for d in diversity)


def test_feature_extractor_reports_its_width(classifier):
    extractor = ClassifierFeatures(classifier)
    assert extractor.num_features == 128
    assert extractor(torch.rand(2, 1, 8, 8)).shape == (2, 128)
