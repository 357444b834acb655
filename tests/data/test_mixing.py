"""synthaug.mix: exact per-class counts for every strategy, item forms matching the real data,
labels read without decoding images, epochs, and clear errors for bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

import synthaug
from synthaug import MixedDataset

REAL_COUNTS = [6, 3, 1]  # a tiny imbalanced real set


class ImageList(Dataset):
    """A real dataset of any item form, optionally without ``targets`` (labels only via items)."""

    def __init__(self, form: str = "pil", counts=REAL_COUNTS, channels: int = 1, size: int = 8, targets: bool = True):
        self.labels_ = np.repeat(np.arange(len(counts)), counts)
        rng = np.random.default_rng(0)
        self.pixels = rng.integers(0, 256, (len(self.labels_), size, size, channels), dtype=np.uint8)
        self.form = form
        self.reads = 0
        if targets:
            self.targets = self.labels_.tolist()

    def __len__(self):
        return len(self.labels_)

    def __getitem__(self, i):
        self.reads += 1
        hwc = self.pixels[i]
        if self.form == "pil":
            image = Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)
        elif self.form == "numpy":
            image = hwc.copy()
        elif self.form == "uint8 tensor":
            image = torch.from_numpy(hwc).permute(2, 0, 1).contiguous()
        else:
            image = torch.from_numpy(hwc).permute(2, 0, 1).float() / 255
        return image, int(self.labels_[i])


@pytest.fixture
def gen(generator_factory):
    return generator_factory("cgan", class_names=["left", "right", "top"])


def per_class(mixed: MixedDataset) -> tuple[list[int], list[int]]:
    real = [0, 0, 0]
    synthetic = [0, 0, 0]
    for i in range(len(mixed)):
        label = int(mixed[i][1])
        (synthetic if mixed.is_synthetic(i) else real)[label] += 1
    return real, synthetic


@pytest.mark.parametrize(
    "strategy, kwargs, expected",
    [
        ("ratio", {"ratio": 1.0}, [6, 3, 1]),
        ("ratio", {"ratio": 0.5}, [3, 2, 0]),  # 5 items split 3 : 1.5 : 0.5 by largest remainder
        ("ratio", {"ratio": 0}, [0, 0, 0]),
        ("balance", {}, [0, 3, 5]),
        ("balance", {"target": 4}, [0, 1, 3]),
        ({"right": 2, 2: 7}, {}, [0, 2, 7]),
        (lambda counts: {c: 10 - n for c, n in counts.items()}, {}, [4, 7, 9]),
    ],
)
def test_additive_strategies_give_exact_counts(gen, strategy, kwargs, expected):
    mixed = synthaug.mix(ImageList(), gen, strategy, **kwargs)
    assert mixed.synthetic_counts == expected and mixed.real_counts == REAL_COUNTS
    assert per_class(mixed) == (REAL_COUNTS, expected)
    assert len(mixed) == sum(REAL_COUNTS) + sum(expected)
    assert "real" in mixed.summary() and str(sum(expected)) in repr(mixed)


def test_lecture_ratio_of_one_sixth(gen):
    real = ImageList(counts=[20, 20, 20])
    mixed = synthaug.mix(real, gen, "ratio", ratio=1 / 6)
    assert sum(mixed.synthetic_counts) == 10


def test_replace_keeps_length_and_labels(gen):
    real = ImageList(counts=[40, 40, 40])
    mixed = synthaug.mix(real, gen, "replace", p=0.3, seed=1)
    assert len(mixed) == 120
    assert [int(mixed[i][1]) for i in range(120)] == real.labels_.tolist()
    replaced = sum(mixed.is_synthetic(i) for i in range(120))
    assert replaced == sum(mixed.synthetic_counts) and 20 <= replaced <= 52  # p=0.3 of 120, generous bounds
    assert [r + s for r, s in zip(mixed.real_counts, mixed.synthetic_counts)] == [40, 40, 40]
    kept = [i for i in range(120) if not mixed.is_synthetic(i)]
    assert all(np.array_equal(np.asarray(mixed[i][0]), np.asarray(real[i][0])) for i in kept[:10])
    assert synthaug.mix(real, gen, "replace", p=0.0).synthetic_counts == [0, 0, 0]
    assert synthaug.mix(real, gen, "replace", p=1.0).real_counts == [0, 0, 0]


def test_replace_draws_new_items_each_epoch_reproducibly(gen):
    real = ImageList(counts=[30, 30, 30])
    mixed = synthaug.mix(real, gen, "replace", p=0.5)
    epoch0 = [mixed.is_synthetic(i) for i in range(90)]
    mixed.set_epoch(1)
    epoch1 = [mixed.is_synthetic(i) for i in range(90)]
    assert epoch0 != epoch1
    again = synthaug.mix(real, gen, "replace", p=0.5)
    again.set_epoch(1)
    assert [again.is_synthetic(i) for i in range(90)] == epoch1


@pytest.mark.parametrize("form", ["pil", "numpy", "uint8 tensor", "float tensor"])
@pytest.mark.parametrize("channels", [1, 3])
def test_synthetic_items_take_the_real_items_form(generator_factory, form, channels):
    gen = generator_factory("cgan", channels=channels)
    real = ImageList(form, channels=channels)
    mixed = synthaug.mix(real, gen, "balance")
    real_image, real_label = mixed[0]
    fake_image, fake_label = mixed[len(mixed) - 1]
    assert mixed.is_synthetic(len(mixed) - 1) and not mixed.is_synthetic(0)
    assert type(fake_image) is type(real_image) and type(fake_label) is type(real_label)
    if isinstance(real_image, Image.Image):
        assert fake_image.mode == real_image.mode and fake_image.size == real_image.size
    else:
        assert fake_image.shape == real_image.shape and fake_image.dtype == real_image.dtype


def test_image_type_overrides_detection(gen):
    mixed = synthaug.mix(ImageList("pil"), gen, "balance", image_type="numpy")
    image = mixed[len(mixed) - 1][0]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (8, 8, 1)


def test_tensor_labels_collate_with_synthetic_ones(gen, pattern_data):
    real = TensorDataset(pattern_data.images[:30], pattern_data.labels[:30])
    mixed = synthaug.mix(real, gen, "ratio", ratio=1.0)
    images, labels = next(
        iter(DataLoader(mixed, batch_size=len(mixed), shuffle=True, generator=torch.Generator().manual_seed(0)))
    )
    assert images.shape == (60, 1, 8, 8) and labels.dtype == pattern_data.labels.dtype


def test_labels_come_from_targets_without_decoding_images(gen):
    real = ImageList()
    synthaug.mix(real, gen, "balance")
    assert real.reads == 1  # one item, to learn the item form
    subset = Subset(real, [0, 1, 6, 9])
    real.reads = 0
    mixed = synthaug.mix(subset, gen, "balance")
    assert real.reads == 1 and mixed.real_counts == [2, 1, 1]


def test_labels_fall_back_to_reading_items(gen):
    real = ImageList(targets=False)
    mixed = synthaug.mix(real, gen, "balance", progress=False)
    assert mixed.real_counts == REAL_COUNTS and real.reads >= len(real)


def test_transform_applies_to_real_and_synthetic(gen):
    seen = []
    mixed = synthaug.mix(ImageList(), gen, "balance", transform=lambda im: seen.append(type(im)) or np.asarray(im))
    for i in range(len(mixed)):
        assert isinstance(mixed[i][0], np.ndarray)
    assert seen and all(t is Image.Image for t in seen)


def test_same_seed_same_items_other_seed_other_items(gen):
    def synthetic_pixels(seed):
        mixed = synthaug.mix(ImageList(), gen, "balance", seed=seed)
        return np.stack([np.asarray(mixed[i][0]) for i in range(10, len(mixed))])

    assert np.array_equal(synthetic_pixels(0), synthetic_pixels(0))
    assert not np.array_equal(synthetic_pixels(0), synthetic_pixels(1))


def test_mixed_dataset_pickles(gen):
    mixed = synthaug.mix(ImageList(), gen, "replace", p=0.5)
    clone = pickle.loads(pickle.dumps(mixed))
    assert all(np.array_equal(np.asarray(clone[i][0]), np.asarray(mixed[i][0])) for i in range(len(mixed)))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(strategy="ratio", ratio=-0.1), ValueError, "ratio must be a finite number >= 0"),
        (dict(strategy="ratio"), ValueError, "needs ratio"),
        (dict(strategy="ratio", ratio="1"), TypeError, "ratio must be a finite number >= 0, got str"),
        (dict(strategy="replace", p=1.5), ValueError, r"p must be a number in \[0, 1\]"),
        (dict(strategy="replace", p=-0.1), ValueError, r"p must be a number in \[0, 1\]"),
        (dict(strategy="replace"), ValueError, "needs p"),
        (dict(strategy="balance", p=0.3), ValueError, "only for strategy='replace'"),
        (dict(strategy="balance", target=0), ValueError, "target"),
        (dict(strategy="smote"), ValueError, "strategy must be one of"),
        (dict(strategy={"cat": 3}), ValueError, "unknown class 'cat'"),
        (dict(strategy={5: 3}), ValueError, "unknown class 5"),
        (dict(strategy={0: -2}), ValueError, "must be a non-negative int, got -2"),
        (dict(strategy={0: 1.5}), TypeError, "must be a non-negative int, got float"),
        (dict(strategy=lambda counts: [1, 2, 3]), TypeError, "must return a dict"),
        (dict(strategy="balance", image_type="jpeg"), ValueError, "image_type"),
        (dict(strategy="balance", seed=-1), ValueError, "seed"),
    ],
)
def test_bad_arguments_are_named(gen, kwargs, error, words):
    with pytest.raises(error, match=words):
        synthaug.mix(ImageList(), gen, **kwargs)


def test_shape_and_class_mismatches_are_refused(generator_factory, gen):
    with pytest.raises(ValueError, match="1x8x8 images but the real items are"):
        synthaug.mix(ImageList(channels=3), gen, "balance")
    with pytest.raises(ValueError, match="1x8x8 images but the real items are"):
        synthaug.mix(ImageList(size=16), gen, "balance")
    with pytest.raises(ValueError, match="label 3, but the generator has only 3 classes"):
        synthaug.mix(ImageList(counts=[1, 1, 1, 1]), gen, "balance")
    real = ImageList()
    real.classes = ["a", "b"]
    with pytest.raises(ValueError, match="2 classes but the generator has 3"):
        synthaug.mix(real, gen, "balance")


def test_real_data_without_labels_is_refused(gen):
    class NoLabels(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return torch.zeros(1, 8, 8)

    with pytest.raises(TypeError, match=r"\(image, label\) pairs"):
        synthaug.mix(NoLabels(), gen, "balance")
    with pytest.raises(ValueError, match="empty"):
        synthaug.mix(Subset(ImageList(), []), gen, "balance")
    with pytest.raises(TypeError, match="GeneratorProtocol"):
        synthaug.mix(ImageList(), object(), "balance")


def test_normalised_real_items_get_a_hint(gen, pattern_data):
    real = TensorDataset((pattern_data.images[:6] - 0.5) / 0.25, pattern_data.labels[:6])
    with pytest.raises(ValueError, match="Normalize after mixing"):
        synthaug.mix(real, gen, "balance")
