"""The yardstick classifier: learns easy patterns in a few dozen steps; accuracy is a share."""

from __future__ import annotations

import pytest
import torch

from synthaug.data.real import LabelledImages
from synthaug.metrics import SmallCNN, accuracy, train_classifier
from synthaug.utils.seeding import seeded


@pytest.fixture(scope="module")
def trained(pattern_data):
    return train_classifier(pattern_data.as_dataset(), 3, (1, 8, 8), steps=40, batch_size=32, seed=0, progress=False)


def test_learns_distinct_patterns(trained, pattern_test_data):
    assert isinstance(trained, SmallCNN)
    assert not trained.training
    assert accuracy(trained, pattern_test_data) > 0.9
    with seeded(0):
        untrained = SmallCNN(3, 1, 8)
    assert accuracy(untrained, pattern_test_data) < 0.7  # the task is not solved by initialisation


def test_accuracy_is_a_share(trained, pattern_test_data):
    value = accuracy(trained, pattern_test_data, batch_size=7)  # ragged last batch
    assert isinstance(value, float)
    assert 0.0 <= value <= 1.0
    assert value == accuracy(trained, pattern_test_data)


def test_accuracy_counts_exactly(trained, pattern_test_data):
    with torch.no_grad():
        predicted = trained(pattern_test_data.images).argmax(1)
    flipped = pattern_test_data.labels.clone()
    flipped[:10] = (predicted[:10] + 1) % 3  # make exactly these 10 wrong
    flipped[10:] = predicted[10:]
    value = accuracy(trained, LabelledImages(pattern_test_data.images, flipped))
    assert value == pytest.approx(1 - 10 / len(flipped))


def test_training_is_deterministic_for_a_seed(pattern_data, pattern_test_data):
    def logits(seed):
        model = train_classifier(
            pattern_data.as_dataset(), 3, (1, 8, 8), steps=3, batch_size=16, seed=seed, progress=False
        )
        with torch.no_grad():
            return model(pattern_test_data.images)

    state = torch.random.get_rng_state()
    a, b, c = logits(0), logits(0), logits(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_more_steps_than_one_pass(pattern_factory):
    small = pattern_factory(4)  # 12 images, smaller than a batch: the loader is re-iterated
    model = train_classifier(small.as_dataset(), 3, (1, 8, 8), steps=5, batch_size=64, progress=False)
    assert 0.0 <= accuracy(model, small) <= 1.0


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_bad_steps(steps, pattern_data):
    with pytest.raises(ValueError, match="steps"):
        train_classifier(pattern_data.as_dataset(), 3, (1, 8, 8), steps=steps, progress=False)


def test_rgb_and_larger_images():
    model = SmallCNN(num_classes=4, channels=3, image_size=16, width=4)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4)
