"""SyntheticDataset: torchvision's dataset checks (length, item types, transforms, repr, errors)
plus determinism for a seed whatever the access order, cache state or number of workers."""

from __future__ import annotations

import pickle

import albumentations as A
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

import synthaug
from synthaug import SyntheticDataset

FAMILIES = [*synthaug.available_generators(), "wrap"]


@pytest.fixture(params=FAMILIES)
def gen(request, generator_factory):
    return generator_factory(request.param)


@pytest.fixture
def cgan(generator_factory):
    return generator_factory("cgan")


@pytest.fixture
def named_cgan(generator_factory):
    return generator_factory("cgan", class_names=["left", "right", "top"])


def as_array(item) -> np.ndarray:
    image = item[0] if isinstance(item, tuple) else item
    if isinstance(image, Image.Image):
        return np.asarray(image)
    if isinstance(image, torch.Tensor):
        return image.numpy()
    return np.asarray(image)


def all_items(ds) -> list[tuple[np.ndarray, int]]:
    return [(as_array(ds[i]), ds[i][1]) for i in range(len(ds))]


def items_equal(a, b) -> bool:
    return len(a) == len(b) and all(la == lb and np.array_equal(xa, xb) for (xa, la), (xb, lb) in zip(a, b))


class DuckGenerator:
    """Not an nn.Module: anything with the protocol's attributes and sample() works."""

    num_classes = 2
    image_shape = (1, 4, 4)
    class_names = None

    def sample(self, labels, generator=None):
        noise = torch.rand(len(labels), 1, 4, 4, generator=generator)
        return (labels.float().view(-1, 1, 1, 1) + noise) / 2


# -- length and class counts ------------------------------------------------------------------


@pytest.mark.parametrize("num_samples, counts", [(9, [3, 3, 3]), (10, [4, 3, 3]), (11, [4, 4, 3]), (1, [1, 0, 0])])
def test_equal_split_gives_the_remainder_to_the_first_classes(cgan, num_samples, counts):
    ds = SyntheticDataset(cgan, num_samples)
    assert len(ds) == num_samples
    assert ds.class_counts == counts
    assert torch.bincount(ds.targets, minlength=3).tolist() == counts


def test_class_counts_by_index(cgan):
    ds = SyntheticDataset(cgan, None, class_counts={0: 2, 2: 5})
    assert len(ds) == 7
    assert ds.class_counts == [2, 0, 5]
    assert ds.targets.tolist() == [0, 0, 2, 2, 2, 2, 2]


def test_class_counts_by_name(named_cgan):
    ds = SyntheticDataset(named_cgan, 6, class_counts={"top": 4, "left": 2})
    assert ds.class_counts == [2, 0, 4]
    assert ds.classes == ["left", "right", "top"]


def test_classes_default_to_index_strings(cgan):
    assert SyntheticDataset(cgan, 3).classes == ["0", "1", "2"]


def test_labels_match_targets_and_label_of(gen):
    ds = SyntheticDataset(gen, None, class_counts={0: 3, 1: 1, 2: 4}, chunk_size=3)
    targets = ds.targets
    assert targets.dtype == torch.int64 and len(targets) == len(ds)
    for i in range(len(ds)):
        _, label = ds[i]
        assert isinstance(label, int)
        assert label == int(targets[i]) == ds.label_of(i)


def test_label_of_refuses_indices_outside_the_dataset(cgan):
    """label_of(len(ds)) must not invent a class: today it returns num_classes (3 of 0..2)."""
    ds = SyntheticDataset(cgan, 6)
    assert ds.label_of(5) == 2
    with pytest.raises(IndexError):
        ds.label_of(6)


@pytest.mark.parametrize(
    "num_samples, class_counts, error, match",
    [
        (5, {0: 2, 1: 2}, ValueError, "sum"),
        (None, {0: 2, 5: 1}, ValueError, "unknown class"),
        (None, {"left": 2}, ValueError, "unknown class"),  # the generator has no class names
        (None, {True: 2}, ValueError, "unknown class"),
        (None, {0: -1, 1: 2}, ValueError, "class_counts"),
        (None, {0: 2.5}, TypeError, "class_counts"),
        (None, {0: "2"}, TypeError, "class_counts"),
        (None, {0: 0, 1: 0}, ValueError, "at least one"),
        (None, [1, 2, 3], TypeError, "class_counts"),
        (None, None, ValueError, "num_samples"),
    ],
)
def test_bad_class_counts(cgan, num_samples, class_counts, error, match):
    with pytest.raises(error, match=match):
        SyntheticDataset(cgan, num_samples, class_counts=class_counts)


def test_unknown_class_name_with_named_generator(named_cgan):
    with pytest.raises(ValueError, match="bottom"):
        SyntheticDataset(named_cgan, None, class_counts={"bottom": 1})


@pytest.mark.parametrize(
    "num_samples, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError), ("10", TypeError)]
)
def test_bad_num_samples(cgan, num_samples, error):
    with pytest.raises(error, match="num_samples"):
        SyntheticDataset(cgan, num_samples)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(image_type="jpeg"), ValueError, "image_type"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed=1.5), ValueError, "seed"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
        (dict(cache_chunks=0), ValueError, "cache_chunks"),
    ],
)
def test_bad_options(cgan, kwargs, error, match):
    with pytest.raises(error, match=match):
        SyntheticDataset(cgan, 4, **kwargs)


@pytest.mark.parametrize("not_a_generator", [object(), torch.nn.Linear(2, 2), "cgan", None])
def test_non_generator_is_refused(not_a_generator):
    with pytest.raises(TypeError, match="generator"):
        SyntheticDataset(not_a_generator, 4)


def test_duck_typed_generator_works():
    ds = SyntheticDataset(DuckGenerator(), 6, image_type="tensor")
    image, label = ds[5]
    assert image.shape == (1, 4, 4) and label == 1
    assert float(image.min()) >= 0.5  # label 1: (1 + U[0, 1)) / 2


# -- item types and transforms ----------------------------------------------------------------


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_pil_items(generator_factory, channels, mode):
    ds = SyntheticDataset(generator_factory("cgan", channels=channels), 4)
    image, label = ds[0]
    assert isinstance(image, Image.Image)
    assert image.mode == mode
    assert image.size == (8, 8)
    assert isinstance(label, int)


@pytest.mark.parametrize("channels", [1, 3])
def test_tensor_items(generator_factory, channels):
    ds = SyntheticDataset(generator_factory("cvae", channels=channels), 4, image_type="tensor")
    image, _ = ds[1]
    assert isinstance(image, torch.Tensor)
    assert image.shape == (channels, 8, 8) and image.dtype == torch.float32
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert not image.requires_grad


@pytest.mark.parametrize("channels", [1, 3])
def test_numpy_items(generator_factory, channels):
    ds = SyntheticDataset(generator_factory("cgan", channels=channels), 4, image_type="numpy")
    image, _ = ds[2]
    assert isinstance(image, np.ndarray)
    assert image.shape == (8, 8, channels) and image.dtype == np.uint8


def test_item_types_show_the_same_image(gen):
    tensor = SyntheticDataset(gen, 5, image_type="tensor")[3][0]
    pil = np.asarray(SyntheticDataset(gen, 5, image_type="pil")[3][0])
    array = SyntheticDataset(gen, 5, image_type="numpy")[3][0]
    expected = tensor.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(array, expected)
    assert np.array_equal(pil, expected[..., 0])


def test_modifying_an_item_does_not_change_the_dataset(cgan):
    for image_type in ("tensor", "numpy"):
        ds = SyntheticDataset(cgan, 4, image_type=image_type)
        first = as_array(ds[0]).copy()
        item = ds[0][0]
        item[...] = 0
        assert np.array_equal(as_array(ds[0]), first)


def test_transform_and_target_transform_are_applied(cgan):
    seen = []

    def transform(image):
        seen.append(type(image))
        return transforms.functional.pil_to_tensor(image)

    ds = SyntheticDataset(cgan, 6, transform=transform, target_transform=lambda y: f"class-{y}")
    image, target = ds[4]
    assert len(seen) == 1 and issubclass(seen[0], Image.Image)
    assert isinstance(image, torch.Tensor) and image.dtype == torch.uint8 and image.shape == (1, 8, 8)
    assert target == f"class-{ds.label_of(4)}"


def test_torchvision_pipeline(cgan):
    ds = SyntheticDataset(cgan, 6, transform=transforms.Compose([transforms.Resize(16), transforms.ToTensor()]))
    image, _ = ds[0]
    assert image.shape == (1, 16, 16) and image.dtype == torch.float32


def test_albumentations_pipeline_on_numpy_items(cgan):
    pipeline = A.Compose([A.HorizontalFlip(p=1.0)])
    plain = SyntheticDataset(cgan, 6, image_type="numpy")
    flipped = SyntheticDataset(cgan, 6, image_type="numpy", transform=lambda image: pipeline(image=image)["image"])
    for i in range(len(plain)):
        image, label = flipped[i]
        assert image.shape == (8, 8, 1) and image.dtype == np.uint8
        assert np.array_equal(image, plain[i][0][:, ::-1])
        assert label == plain[i][1]


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_same_items(gen):
    a = all_items(SyntheticDataset(gen, 10, seed=3, chunk_size=4, image_type="tensor"))
    b = all_items(SyntheticDataset(gen, 10, seed=3, chunk_size=4, image_type="tensor"))
    assert items_equal(a, b)


def test_different_seed_different_images(gen):
    a = SyntheticDataset(gen, 6, seed=0, image_type="tensor")
    b = SyntheticDataset(gen, 6, seed=1, image_type="tensor")
    for i in range(len(a)):
        assert not torch.equal(a[i][0], b[i][0])
        assert a[i][1] == b[i][1]


def test_items_differ_within_a_class(cgan):
    ds = SyntheticDataset(cgan, 12, image_type="tensor", chunk_size=2)
    class_zero = [ds[i][0] for i in range(4)]  # indices 0-3 are class 0, across two chunks
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.equal(class_zero[i], class_zero[j])


@pytest.mark.parametrize("image_type", ["tensor", "pil", "numpy"])
def test_access_order_and_cache_do_not_change_items(gen, image_type):
    forward_ds = SyntheticDataset(gen, 11, seed=5, chunk_size=3, image_type=image_type)
    forward = all_items(forward_ds)
    backward_ds = SyntheticDataset(gen, 11, seed=5, chunk_size=3, cache_chunks=1, image_type=image_type)
    backward = [(as_array(backward_ds[i]), backward_ds[i][1]) for i in reversed(range(11))][::-1]
    assert items_equal(forward, backward)
    # Jumping around with a one-chunk cache regenerates chunks: still the same items.
    for i in (10, 0, 7, 1, 10, 4):
        assert np.array_equal(as_array(backward_ds[i]), forward[i][0])


def test_negative_index(cgan):
    ds = SyntheticDataset(cgan, 7, image_type="tensor")
    assert torch.equal(ds[-1][0], ds[6][0]) and ds[-1][1] == ds[6][1]
    assert torch.equal(ds[-7][0], ds[0][0])
    assert torch.equal(ds[np.int64(2)][0], ds[2][0])


@pytest.mark.parametrize("index", [7, 100, -8])
def test_index_out_of_range(cgan, index):
    ds = SyntheticDataset(cgan, 7)
    with pytest.raises(IndexError):
        ds[index]


@pytest.mark.parametrize("index", [1.0, "0", True])
def test_non_int_index(cgan, index):
    with pytest.raises(TypeError, match="index"):
        SyntheticDataset(cgan, 7)[index]


def test_global_rng_is_untouched(gen):
    ds = SyntheticDataset(gen, 9, chunk_size=4)
    torch.manual_seed(99)
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    for i in (0, 5, 8, 3):
        ds[i]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_truncation_is_forwarded(cgan):
    plain = SyntheticDataset(cgan, 3, image_type="tensor")[0][0]
    cooled = SyntheticDataset(cgan, 3, image_type="tensor", truncation=0.5)[0][0]
    assert not torch.equal(plain, cooled)


def test_pickle_round_trip(gen):
    ds = SyntheticDataset(gen, 8, seed=2, chunk_size=3, image_type="tensor")
    before = all_items(ds)
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == len(ds) and clone.class_counts == ds.class_counts
    assert items_equal(all_items(clone), before)


def test_pickle_does_not_carry_the_cache(cgan):
    ds = SyntheticDataset(cgan, 600, chunk_size=300, image_type="tensor")
    empty = len(pickle.dumps(ds))
    ds[0], ds[599]
    assert len(pickle.dumps(ds)) == empty


def test_repr(named_cgan):
    text = repr(SyntheticDataset(named_cgan, 10, seed=4))
    assert "SyntheticDataset" in text
    assert "Number of datapoints: 10" in text
    assert "ConditionalGAN" in text and "Seed: 4" in text


def loader_batches(ds, num_workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    loader = DataLoader(ds, batch_size=5, shuffle=False, num_workers=num_workers)
    images, labels = zip(*loader)
    return torch.cat(images), torch.cat(labels)


@pytest.mark.parametrize("image_type", ["tensor", "pil"])
def test_same_items_whatever_num_workers(cgan, image_type):
    def dataset():
        transform = transforms.ToTensor() if image_type == "pil" else None
        return SyntheticDataset(cgan, 23, seed=1, chunk_size=4, image_type=image_type, transform=transform)

    single = loader_batches(dataset(), num_workers=0)
    multi = loader_batches(dataset(), num_workers=2)
    assert single[0].shape == (23, 1, 8, 8)
    assert torch.equal(single[1], dataset().targets)
    assert torch.equal(single[1], multi[1])
    assert torch.equal(single[0], multi[0]), f"max difference {(single[0] - multi[0]).abs().max()}"


def test_concat_with_real_data_collates(cgan, pattern_data):
    real = pattern_data.as_dataset()
    synth = SyntheticDataset(cgan, 10, image_type="tensor")
    mixed = torch.utils.data.ConcatDataset([real, synth])
    images, labels = next(iter(DataLoader(mixed, batch_size=len(mixed))))
    assert images.shape == (len(real) + 10, 1, 8, 8)
    assert labels.dtype == torch.int64
