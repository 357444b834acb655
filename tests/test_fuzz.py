"""Property tests: any input to the main entry points either works or raises ValueError/TypeError."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synthaug
from synthaug.data.counts import MAX_SAMPLES

NUM_CLASSES = 3  # the tiny generators of conftest.py

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

label_values = st.lists(st.integers(min_value=-5, max_value=2 * NUM_CLASSES), min_size=0, max_size=6)
label_dtypes = st.sampled_from([torch.int64, torch.int32, torch.uint8, torch.float32, torch.bool])


@pytest.fixture(scope="module")
def gan(generator_factory):
    return generator_factory("cgan", seed=0)


@FAST
@given(values=label_values, dtype=label_dtypes, two_d=st.booleans())
def test_sample_labels(gan, values, dtype, two_d):
    if dtype == torch.uint8:
        values = [abs(v) for v in values]
    labels = torch.tensor(values, dtype=dtype)
    if two_d:
        labels = labels.view(1, -1)
    valid = dtype in (torch.int64, torch.int32, torch.uint8) and not two_d and all(0 <= v < NUM_CLASSES for v in values)
    try:
        images = gan.sample(labels, generator=torch.Generator().manual_seed(0))
    except (ValueError, TypeError):
        assert not valid
        return
    assert valid
    assert images.shape == (len(values), 1, 8, 8)
    assert torch.isfinite(images).all() and ((images >= 0) & (images <= 1)).all()


@FAST
@given(
    values=st.lists(st.integers(-(2**40), 2**40) | st.integers(-1, NUM_CLASSES), max_size=4),
    container=st.sampled_from(["list", "tuple", "numpy", "tensor", "int"]),
)
def test_sample_label_containers(gan, values, container):
    """Tensors, lists and tuples of class indices sample; arrays and bare ints are a TypeError;
    a class out of range (huge, negative) is a ValueError."""
    labels = {
        "list": list(values),
        "tuple": tuple(values),
        "numpy": np.array(values, dtype=np.int64),
        "tensor": torch.tensor(values, dtype=torch.long),
        "int": values[0] if values else 0,
    }[container]
    accepted = container in ("tensor", "list", "tuple")
    valid = accepted and all(0 <= v < NUM_CLASSES for v in values)
    try:
        images = gan.sample(labels, generator=torch.Generator().manual_seed(0))
    except TypeError:
        assert not accepted
        return
    except ValueError:
        assert accepted and not valid
        return
    assert valid and images.shape == (len(values), 1, 8, 8) and torch.isfinite(images).all()


counts = st.dictionaries(
    keys=st.one_of(st.integers(-2, NUM_CLASSES + 1), st.text(max_size=3), st.booleans()),
    values=st.one_of(
        st.integers(-3, 20),
        st.floats(allow_nan=True),
        st.none(),
        st.integers(MAX_SAMPLES - 2, MAX_SAMPLES + 2),
        st.just(10**30),
    ),
    max_size=4,
)
num_samples = st.one_of(
    st.none(),
    st.integers(-2, 40),
    st.integers(MAX_SAMPLES - 2, MAX_SAMPLES + 2),
    st.just(2**63),
    st.just(10**30),
    st.floats(allow_nan=True),
    st.sampled_from(["10", True]),
)


@FAST
@given(class_counts=counts, num_samples=num_samples)
def test_synthetic_dataset_class_counts(gan, class_counts, num_samples):
    try:
        ds = synthaug.SyntheticDataset(gan, num_samples, class_counts=class_counts, image_type="tensor")
    except (ValueError, TypeError):
        return
    assert len(ds) == sum(ds.class_counts) > 0
    assert len(ds) <= MAX_SAMPLES
    assert all(isinstance(c, int) and c >= 0 for c in ds.class_counts)
    image, label = ds[len(ds) - 1]
    assert 0 <= label < NUM_CLASSES and ds.class_counts[label] > 0
    assert torch.isfinite(image).all()
