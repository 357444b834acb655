"""One conformance check list, run over every dataset synthaug builds (the torchvision way):
length, item types, transform and target_transform called, repr, pickle round trip,
determinism for a seed, difference across seeds and epochs, items safe to modify."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, DataLoader, TensorDataset

import synthaug
from synthaug.data.labels import read_labels


def _real(pattern_factory):
    data = pattern_factory(4, seed=3)
    return TensorDataset(data.images, data.labels)


def _builders():
    def synthetic(image_type):
        return lambda gen, real, seed, **kw: synthaug.SyntheticDataset(
            gen, 10, seed=seed, image_type=image_type, chunk_size=4, **kw
        )

    def mixed(strategy, **options):
        return lambda gen, real, seed, **kw: synthaug.mix(real, gen, strategy, seed=seed, **options, **kw)

    return {
        "synthetic pil": synthetic("pil"),
        "synthetic tensor": synthetic("tensor"),
        "synthetic numpy": synthetic("numpy"),
        "mix ratio": mixed("ratio", ratio=1.0),
        "mix balance": mixed("balance", target=7),
        "mix dict": mixed({0: 2, 2: 3}),
        "mix replace": mixed("replace", p=0.5),
    }


BUILDERS = _builders()


@pytest.fixture(params=BUILDERS)
def build(request, generator_factory, pattern_factory):
    gen = generator_factory("cgan")
    real = _real(pattern_factory)
    return lambda seed=0, **kw: BUILDERS[request.param](gen, real, seed, **kw)


def pixels(item) -> np.ndarray:
    image = item[0]
    if isinstance(image, torch.Tensor):
        return image.numpy().copy()
    return np.array(image)


def test_length_and_item_types(build):
    ds = build()
    assert len(ds) > 0
    for i in (0, len(ds) - 1, -1):
        image, label = ds[i]
        assert isinstance(image, (Image.Image, torch.Tensor, np.ndarray))
        assert int(label) in (0, 1, 2)
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(TypeError):
        ds["0"]
    assert read_labels(ds).tolist() == [int(ds[i][1]) for i in range(len(ds))]


def test_transforms_are_called(build):
    calls = {"image": 0, "target": 0}

    def transform(image):
        calls["image"] += 1
        return "transformed"

    def target_transform(label):
        calls["target"] += 1
        return -1

    ds = build(transform=transform, target_transform=target_transform)
    assert ds[0] == ("transformed", -1) and calls == {"image": 1, "target": 1}


def test_repr_names_the_dataset(build):
    text = repr(build())
    assert "Dataset" in text and "Seed: 0" in text


def test_pickle_round_trip_keeps_items(build):
    ds = build()
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == len(ds)
    assert all(np.array_equal(pixels(clone[i]), pixels(ds[i])) for i in range(len(ds)))


def test_same_seed_same_items_other_seed_or_epoch_other_items(build):
    def synthetic_only(ds):
        is_synthetic = getattr(ds, "is_synthetic", lambda i: True)
        return np.stack([pixels(ds[i]) for i in range(len(ds)) if is_synthetic(i)])

    a, b = build(seed=1), build(seed=1)
    assert np.array_equal(synthetic_only(a), synthetic_only(b))
    other = build(seed=2)
    first = synthetic_only(a)
    assert not (first.shape == synthetic_only(other).shape and np.array_equal(first, synthetic_only(other)))
    a.set_epoch(1)
    later = synthetic_only(a)
    assert not (first.shape == later.shape and np.array_equal(first, later))


def test_modifying_a_synthetic_item_does_not_change_the_dataset(build):
    ds = build()  # (real items are the real dataset's business: TensorDataset returns views)
    is_synthetic = getattr(ds, "is_synthetic", lambda i: True)
    for i in [i for i in range(len(ds)) if is_synthetic(i)][:2]:
        image = ds[i][0]
        before = pixels(ds[i]).copy()
        if isinstance(image, Image.Image):
            image.paste(0, (0, 0, image.width, image.height))
        else:
            image[...] = 0
        assert np.array_equal(pixels(ds[i]), before)


def test_same_items_with_and_without_workers(build):
    ds = build()
    as_batches = lambda workers: [  # noqa: E731
        b for b in DataLoader(ds, batch_size=4, num_workers=workers, collate_fn=lambda items: items)
    ]
    serial, parallel = as_batches(0), as_batches(2)
    assert all(np.array_equal(pixels(x), pixels(y)) for bx, by in zip(serial, parallel) for x, y in zip(bx, by))


class OwnRNGTransform:
    """A random transform that carries its own RNG, as albumentations pipelines and users' code do."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def __call__(self, image):
        return float(self.rng.random())


def _draws_with_two_workers(ds) -> list[float]:
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=lambda items: [x for x, _ in items])
    return [x for batch in loader for x in batch]


def test_random_transforms_differ_across_dataloader_workers(build):
    """Workers are copies of one process: without reseeding, each would draw the same "random" views."""
    draws = _draws_with_two_workers(build(transform=OwnRNGTransform()))
    assert len(draws) >= 8 and len(set(draws)) == len(draws)


def test_exported_dataset_transforms_differ_across_dataloader_workers(generator_factory, tmp_path):
    gen = generator_factory("cgan")
    path = synthaug.export.export_npz(gen, tmp_path / "synth.npz", num_samples=12, progress=False)
    draws = _draws_with_two_workers(synthaug.ExportedDataset(path, transform=OwnRNGTransform()))
    assert len(draws) == 12 and len(set(draws)) == 12


@pytest.mark.parametrize("seed", [0, None])
def test_mix_with_an_albumentations_pipeline_augments_each_item_differently_in_each_worker(generator_factory, seed):
    """The issue's report: mix(..., transform=A.Compose(..., seed=0)) read by 2 workers repeated the
    augmentations (half the views were duplicates); albumentations reseeds an unseeded Compose itself."""
    A = pytest.importorskip("albumentations")
    gen = generator_factory("cgan")
    images = np.full((16, 8, 8, 1), 128, dtype=np.uint8)  # identical images: only the augmentation differs

    class Real(torch.utils.data.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return images[i], i % 3

    pipeline = A.Compose([A.GaussNoise(std_range=(0.2, 0.4), p=1.0)], seed=seed)
    mixed = synthaug.mix(Real(), gen, "ratio", ratio=0.5, transform=lambda image: pipeline(image=image)["image"])
    loader = DataLoader(mixed, batch_size=4, num_workers=2, collate_fn=lambda items: [x for x, _ in items])
    views = [view.tobytes() for batch in loader for view in batch]
    real_views = [view for i, view in enumerate(views) if not mixed.is_synthetic(i)]
    assert len(real_views) == 16 and len(set(real_views)) == 16


def test_read_labels_follows_subset_and_concat(pattern_factory):
    real = _real(pattern_factory)
    both = ConcatDataset([real, torch.utils.data.Subset(real, [11, 0])])
    assert read_labels(both).tolist() == real.tensors[1].tolist() + [2, 0]
