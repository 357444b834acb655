"""Synthetic labels follow class *names*: a generator that lists the real classes in another order
must not label its dogs "cat" (mix, the guard, SyntheticReplace, BatchSyntheticMix)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import synthaug
from synthaug.data.classes import ClassAlignedGenerator, ClassOrderWarning, align_classes, class_names_of
from synthaug.transforms import BatchSyntheticMix, SyntheticReplace

SIZE = 8


class LabelPainter(nn.Module):
    """Paints the conditioning label into the image: pixel value = (label + 1) / 4, so images tell their class."""

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return ((labels.float() + 1) / 4).view(-1, 1, 1, 1).expand(len(labels), 1, SIZE, SIZE).clone()


def painter(class_names=None, num_classes=2):
    return synthaug.wrap(
        LabelPainter(), num_classes, (1, SIZE, SIZE), latent_dim=4, output_range=(0, 1), class_names=class_names
    )


def generator_class_of(image) -> int:
    """The generator's own class index painted into a synthetic image."""
    value = float(torch.as_tensor(np.asarray(image), dtype=torch.float32).float().mean())
    value = value / 255 if value > 1 else value
    return round(value * 4) - 1


class Folder(Dataset):
    """An ImageFolder look-alike: classes, class_to_idx, targets, float tensor images."""

    def __init__(self, classes, per_class=(6, 6)):
        self.classes = list(classes)
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.targets = [c for c, n in enumerate(per_class) for _ in range(n)]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return torch.zeros(1, SIZE, SIZE), self.targets[i]


class Unnamed(Dataset):
    """Labelled items with no class names (a TensorDataset, a user's own Dataset)."""

    targets = [0, 0, 0, 1, 1, 1]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return torch.zeros(1, SIZE, SIZE), self.targets[i]


def synthetic_items(mixed):
    return [mixed[i] for i in range(len(mixed)) if mixed.is_synthetic(i)]


def test_mix_matches_classes_by_name_when_orders_differ():
    real = Folder(["cat", "dog"])
    gen = painter(["dog", "cat"])
    mixed = synthaug.mix(real, gen, {"cat": 3, "dog": 5})
    items = synthetic_items(mixed)
    assert len(items) == 8
    for image, label in items:
        # the label names the class the generator was asked for
        assert real.classes[label] == gen.class_names[generator_class_of(image)]
    assert sorted(label for _, label in items) == [0] * 3 + [1] * 5
    assert mixed.synthetic_counts == [3, 5]


@pytest.mark.parametrize("strategy, options", [("ratio", {"ratio": 1.0}), ("balance", {}), ("replace", {"p": 1.0})])
def test_every_strategy_labels_by_name(strategy, options):
    real = Folder(["cat", "dog"], per_class=(4, 7))
    gen = painter(["dog", "cat"])
    items = synthetic_items(synthaug.mix(real, gen, strategy, **options))
    assert items and all(real.classes[label] == gen.class_names[generator_class_of(image)] for image, label in items)


def test_same_order_needs_no_mapping_and_stays_the_same_generator():
    gen = painter(["cat", "dog"])
    assert align_classes(gen, Folder(["cat", "dog"])) is gen
    mixed = synthaug.mix(Folder(["cat", "dog"]), gen, "ratio", ratio=1.0)
    assert mixed.generator is gen
    assert all(label == generator_class_of(image) for image, label in synthetic_items(mixed))


def test_names_that_differ_as_sets_are_refused_with_both_lists():
    with pytest.raises(ValueError, match=r"\['cat', 'dog'\].*\['dog', 'bird'\]"):
        synthaug.mix(Folder(["cat", "dog"]), painter(["dog", "bird"]), "ratio", ratio=1.0)


def test_a_different_class_count_is_refused():
    with pytest.raises(ValueError, match="has 3 classes but the generator has 2"):
        synthaug.mix(Folder(["a", "b", "c"], per_class=(2, 2, 2)), painter(["a", "b"]), "ratio", ratio=1.0)


@pytest.mark.parametrize("real_names, gen_names", [(None, ["cat", "dog"]), (["cat", "dog"], None)])
def test_only_one_side_named_warns_once(real_names, gen_names):
    real = Folder(real_names) if real_names else Unnamed()
    with pytest.warns(ClassOrderWarning) as record:
        mixed = synthaug.mix(real, painter(gen_names), "ratio", ratio=1.0)
        mixed[len(mixed) - 1]
    assert len([w for w in record if issubclass(w.category, ClassOrderWarning)]) == 1
    assert "class indices are taken to mean the same classes" in str(record[0].message)


def test_neither_side_named_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassOrderWarning)
        synthaug.mix(Unnamed(), painter(None), "ratio", ratio=1.0)


def test_class_names_of_reads_class_to_idx_order():
    folder = Folder(["cat", "dog"])
    folder.class_to_idx = {"dog": 1, "cat": 0}
    assert class_names_of(folder) == ["cat", "dog"]
    assert class_names_of(["b", "a"]) == ["b", "a"]
    assert class_names_of(object()) is None


def test_aligned_generator_maps_labels_on_their_device_and_delegates_the_rest():
    gen = painter(["dog", "cat"])
    aligned = align_classes(gen, ["cat", "dog"])
    assert isinstance(aligned, ClassAlignedGenerator) and isinstance(aligned, synthaug.GeneratorProtocol)
    assert aligned.class_names == ["cat", "dog"] and aligned.image_shape == gen.image_shape
    images = aligned.sample(torch.tensor([0, 1, 0]))
    assert [generator_class_of(im) for im in images] == [1, 0, 1]  # cat is the generator's class 1
    assert align_classes(aligned, ["cat", "dog"]) is aligned
    assert align_classes(aligned, ["dog", "cat"]).order.tolist() == [0, 1]


def test_synthetic_replace_matches_by_name():
    gen = painter(["dog", "cat"])
    replace = SyntheticReplace(gen, p=1.0, seed=0, classes=["cat", "dog"])
    image, label = replace(torch.zeros(1, SIZE, SIZE), 0)  # a real "cat"
    assert label == 0 and gen.class_names[generator_class_of(image)] == "cat"
    replace = SyntheticReplace(gen, p=1.0, seed=0, classes=Folder(["cat", "dog"]))
    assert gen.class_names[generator_class_of(replace(torch.zeros(1, SIZE, SIZE), 1)[0])] == "dog"
    with pytest.raises(ValueError, match="differ"):
        SyntheticReplace(gen, p=1.0, classes=["cat", "bird"])
    with pytest.warns(ClassOrderWarning):
        SyntheticReplace(gen, p=1.0)


def test_batch_synthetic_mix_matches_by_name():
    gen = painter(["dog", "cat"])
    mix = BatchSyntheticMix(gen, p=1.0, seed=0, classes=["cat", "dog"])
    labels = torch.tensor([0, 1, 1, 0])
    images, out_labels = mix(torch.zeros(4, 1, SIZE, SIZE), labels)
    assert out_labels.tolist() == labels.tolist()
    assert [gen.class_names[generator_class_of(im)] for im in images] == ["cat", "dog", "dog", "cat"]
    with pytest.raises(ValueError, match="differ"):
        BatchSyntheticMix(gen, classes=["cat", "bird"])


def test_the_guard_matches_by_name():
    real = Folder(["cat", "dog"], per_class=(10, 10))
    gen = painter(["dog", "cat"])

    def train_fn(train, val):  # prefer synthetic data so the guard picks the mix
        return float(sum(1 for _ in range(len(train)))) / 100

    result = synthaug.tune(
        real,
        gen,
        train_fn=train_fn,
        grid=[{"strategy": "ratio", "ratio": 1.0}],
        seeds=1,
        min_gain=0.0,
        val_noise=False,
        progress=False,
    )
    assert result.best is not None
    items = synthetic_items(result.dataset)
    assert items and all(real.classes[label] == gen.class_names[generator_class_of(im)] for im, label in items)
    with pytest.raises(ValueError, match="differ"):
        synthaug.tune(real, painter(["dog", "bird"]), train_fn=train_fn, progress=False)


def test_real_data_splits_carry_their_class_names_into_datasets():
    from synthaug.data.real import LabelledImages, RealData

    images = torch.zeros(6, 1, SIZE, SIZE)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    real = RealData("pets", LabelledImages(images, labels), LabelledImages(images, labels), ["cat", "dog"])
    dataset = real.train.as_dataset()
    assert dataset.classes == ["cat", "dog"] and dataset.class_to_idx == {"cat": 0, "dog": 1}
    assert LabelledImages(images, labels).as_dataset().classes is None
    # names survive Subset and ConcatDataset, so the usual wrappers still mix by name
    part = torch.utils.data.Subset(dataset, [0, 1, 3])
    both = torch.utils.data.ConcatDataset([dataset, part])
    assert class_names_of(part) == class_names_of(both) == ["cat", "dog"]
    assert class_names_of(torch.utils.data.ConcatDataset([dataset, Unnamed()])) is None
    gen = painter(["dog", "cat"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassOrderWarning)
        mixed = synthaug.mix(part, gen, "ratio", ratio=2.0)
    items = synthetic_items(mixed)
    assert items and all(real.class_names[label] == gen.class_names[generator_class_of(im)] for im, label in items)
