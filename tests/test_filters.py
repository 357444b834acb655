"""Quality filtering: accepted samples carry the classifier's agreement, rejected ones are redrawn
deterministically, and a class that cannot be filled gets the documented error."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import synthaug
from synthaug import SyntheticDataset
from synthaug.filters import Filter, FilterShortfall, train_filter_classifier


class Constant(nn.Module):
    """Always predicts ``favourite`` with probability ~1: every other class is rejected."""

    def __init__(self, favourite: int, num_classes: int = 3):
        super().__init__()
        self.favourite = favourite
        self.num_classes = num_classes

    def forward(self, images):
        logits = torch.zeros(len(images), self.num_classes)
        logits[:, self.favourite] = 20.0
        return logits


class Brightness(nn.Module):
    """Class 0 when the image is brighter than ``threshold`` on average, else class 1 (class 2 never)."""

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def forward(self, images):
        bright = images.float().mean(dim=(1, 2, 3)) > self.threshold
        logits = torch.full((len(images), 3), -20.0)
        logits[bright, 0] = 20.0
        logits[~bright, 1] = 20.0
        return logits


@pytest.fixture
def cgan(generator_factory):
    return generator_factory("cgan")


def test_shortfall_error_names_class_and_rate(generator_factory):
    gen = generator_factory("cgan", class_names=["left", "right", "top"])
    ds = SyntheticDataset(gen, None, class_counts={0: 4, 2: 4}, filter=Filter(Constant(0), max_rounds=3))
    with pytest.raises(FilterShortfall, match=r"class 'top': acceptance rate 0\.0% \(0 of 16 draws\)"):
        ds[0]
    assert issubclass(FilterShortfall, ValueError)


def test_shortfall_can_warn_and_keep_draws(cgan):
    filt = Filter(Constant(0), max_rounds=2, on_shortfall="warn")
    ds = SyntheticDataset(cgan, None, class_counts={0: 3, 1: 3}, filter=filt, image_type="tensor")
    with pytest.warns(UserWarning, match="acceptance rate"):
        image, label = ds[5]
    assert image.shape == (1, 8, 8) and label == 1
    rates = filt.acceptance_rates()
    assert rates[0] == 1.0 and rates[1] == 0.0
    assert "| 1 | 9 | 0 | 0.0% |" in filt.report()


def test_accepted_samples_satisfy_the_classifier_and_are_deterministic(cgan):
    unfiltered = SyntheticDataset(cgan, 60, image_type="tensor", chunk_size=20)
    brightness = torch.stack([unfiltered[i][0].mean() for i in range(60)])
    threshold = float(brightness.median())  # about half of all draws are "bright"
    classifier = Brightness(threshold)

    def filtered():
        return SyntheticDataset(
            cgan,
            None,
            class_counts={0: 30, 1: 30},
            image_type="tensor",
            chunk_size=20,
            filter=Filter(classifier, min_confidence=0.9, max_rounds=20),
        )

    ds = filtered()
    images = torch.stack([ds[i][0] for i in range(60)])
    labels = torch.tensor([ds[i][1] for i in range(60)])
    assert torch.equal(classifier(images).argmax(1), labels)  # every kept sample agrees with its label
    rates = ds.filter.acceptance_rates()
    assert 0.05 < rates[0] < 0.95 and 0.05 < rates[1] < 0.95
    again = filtered()
    assert torch.equal(torch.stack([again[i][0] for i in range(60)]), images)


def test_filter_keeps_everything_a_permissive_classifier_accepts(cgan):
    plain = SyntheticDataset(cgan, 12, image_type="tensor")
    kept = SyntheticDataset(cgan, 12, image_type="tensor", filter=Filter(Constant(0), min_confidence=0.0))
    assert all(torch.equal(plain[i][0], kept[i][0]) for i in range(12))


def test_filtered_dataset_pickles_and_reprs(cgan):
    ds = SyntheticDataset(cgan, 6, filter=Filter(Constant(0), min_confidence=0.0))
    assert "Filter(classifier=Constant, min_confidence=0.0" in repr(ds)
    clone = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(np.asarray(clone[0][0]), np.asarray(ds[0][0]))


def test_filter_in_batch_mode(cgan):
    ds = SyntheticDataset(cgan, None, class_counts={0: 4}, filter=Filter(Constant(0)))
    images, labels = next(iter(ds.batches(batch_size=4)))
    assert images.shape == (4, 1, 8, 8) and labels.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(classifier=3), TypeError, "classifier"),
        (dict(min_confidence=1.5), ValueError, "min_confidence"),
        (dict(min_confidence=-0.1), ValueError, "min_confidence"),
        (dict(max_rounds=-1), ValueError, "max_rounds"),
        (dict(on_shortfall="ignore"), ValueError, "on_shortfall"),
    ],
)
def test_bad_filter_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        Filter(**{"classifier": Constant(0), **kwargs})


def test_classifier_with_too_few_outputs_is_named(cgan):
    ds = SyntheticDataset(cgan, 6, filter=Filter(Constant(0, num_classes=2)))
    with pytest.raises(ValueError, match="2 outputs"):
        ds[5]


def test_trained_filter_classifier_learns_the_real_classes(pattern_data, pattern_test_data):
    classifier = train_filter_classifier(pattern_data.as_dataset(), steps=60, progress=False)
    predicted = classifier(pattern_test_data.images).argmax(1)
    assert (predicted == pattern_test_data.labels).float().mean() > 0.9
    assert not classifier.training


def test_filter_raises_label_fidelity_of_a_weak_generator(trained_cgan_run, pattern_data):
    gen = synthaug.load(trained_cgan_run[0].out_dir)
    classifier = train_filter_classifier(pattern_data.as_dataset(), steps=60, progress=False)

    def fidelity(ds):
        images = torch.stack([ds[i][0] for i in range(len(ds))])
        return float((classifier(images).argmax(1) == ds.targets).float().mean())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filtered = SyntheticDataset(
            gen, 90, image_type="tensor", filter=Filter(classifier, min_confidence=0.9, on_shortfall="warn")
        )
        assert fidelity(filtered) >= fidelity(SyntheticDataset(gen, 90, image_type="tensor"))
        assert fidelity(filtered) > 0.95
