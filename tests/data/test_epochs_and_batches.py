"""SyntheticDataset epochs, cache bounds, warm-up, the chunk-shuffle sampler and batch mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from synthaug import ChunkShuffleSampler, SyntheticBatches, SyntheticDataset


@pytest.fixture
def cgan(generator_factory):
    return generator_factory("cgan")


def images_of(ds, indices) -> torch.Tensor:
    return torch.stack([ds[i][0] for i in indices])


def test_epoch_changes_samples_reproducibly(cgan):
    ds = SyntheticDataset(cgan, 12, image_type="tensor", chunk_size=5)
    epoch0 = images_of(ds, range(12))
    ds.set_epoch(1)
    epoch1 = images_of(ds, range(12))
    assert not torch.allclose(epoch0, epoch1)
    ds.set_epoch(0)
    assert torch.equal(images_of(ds, range(12)), epoch0)
    other = SyntheticDataset(cgan, 12, image_type="tensor", chunk_size=5)
    other.set_epoch(1)
    assert torch.equal(images_of(other, range(12)), epoch1)
    assert [ds[i][1] for i in range(12)] == [other[i][1] for i in range(12)]  # labels do not move


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_set_epoch_rejects_bad_values(cgan, bad):
    with pytest.raises(ValueError, match="epoch"):
        SyntheticDataset(cgan, 4).set_epoch(bad)


def test_epoch_reaches_dataloader_workers(cgan):
    ds = SyntheticDataset(cgan, 8, image_type="tensor", chunk_size=4)
    loader = DataLoader(ds, batch_size=8, num_workers=2)
    ds.set_epoch(3)
    from_workers = next(iter(loader))[0]
    fresh = SyntheticDataset(cgan, 8, image_type="tensor", chunk_size=4)
    fresh.set_epoch(3)
    assert torch.equal(from_workers, images_of(fresh, range(8)))


def test_default_cache_holds_a_fashion_mnist_sized_set(generator_factory):
    gen = generator_factory("cgan")
    gen_shape = gen.image_shape
    ds = SyntheticDataset(gen, 60_000)
    per_item = np.prod(gen_shape)
    assert ds.cache_chunks * ds.chunk_size * per_item <= 256 * 2**20
    assert ds.cache_chunks >= ds.num_chunks  # 8x8 images: everything fits


def test_ten_million_virtual_items_cost_nothing_until_read(cgan):
    ds = SyntheticDataset(cgan, 10_000_000, image_type="tensor", cache_chunks=2, chunk_size=64)
    assert len(ds) == 10_000_000 and ds[9_999_999][1] == 2
    for i in range(0, 64 * 5, 7):
        ds[i]
    assert len(ds._cache) <= 2


def test_warm_fills_the_cache_and_items_match(cgan):
    ds = SyntheticDataset(cgan, 20, image_type="tensor", chunk_size=6)
    ds.warm(progress=False)
    assert len(ds._cache) == ds.num_chunks == 4
    cold = SyntheticDataset(cgan, 20, image_type="tensor", chunk_size=6)
    assert torch.equal(images_of(ds, range(20)), images_of(cold, range(20)))


def test_chunk_shuffle_sampler_is_a_permutation_grouped_by_chunk(cgan):
    ds = SyntheticDataset(cgan, 100, chunk_size=10, cache_chunks=3)
    order = list(ChunkShuffleSampler(ds, buffer_chunks=3, seed=1))
    assert sorted(order) == list(range(100)) and order != list(range(100))
    first_group_chunks = {i // 10 for i in order[:30]}
    assert len(first_group_chunks) == 3
    assert order == list(ChunkShuffleSampler(ds, buffer_chunks=3, seed=1))
    ds.set_epoch(1)
    assert order != list(ChunkShuffleSampler(ds, buffer_chunks=3, seed=1))


def test_chunk_shuffle_sampler_generates_each_chunk_once(cgan, monkeypatch):
    ds = SyntheticDataset(cgan, 60, chunk_size=10, cache_chunks=2, image_type="tensor")
    calls = []
    original = ds._generate_chunk
    monkeypatch.setattr(ds, "_generate_chunk", lambda chunk: calls.append(chunk) or original(chunk))
    for i in ChunkShuffleSampler(ds, buffer_chunks=2):
        ds[i]
    assert sorted(calls) == list(range(6))


def test_chunk_shuffle_sampler_refuses_a_buffer_larger_than_the_cache(cgan):
    with pytest.raises(ValueError, match="cache_chunks"):
        ChunkShuffleSampler(SyntheticDataset(cgan, 50, cache_chunks=2), buffer_chunks=3)


def test_batches_honour_counts_and_are_deterministic(cgan):
    ds = SyntheticDataset(cgan, None, class_counts={0: 5, 1: 2, 2: 6})
    batches = ds.batches(batch_size=4, shuffle=True)
    assert isinstance(batches, SyntheticBatches) and len(batches) == 4
    first = list(batches)
    labels = torch.cat([y for _, y in first])
    assert torch.bincount(labels, minlength=3).tolist() == [5, 2, 6]
    assert [len(y) for _, y in first] == [4, 4, 4, 1]
    images = torch.cat([x for x, _ in first])
    assert images.shape == (13, 1, 8, 8) and images.dtype == torch.float32 and 0 <= images.min() <= images.max() <= 1
    again = list(ds.batches(batch_size=4, shuffle=True))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    ds.set_epoch(1)
    later = list(batches)
    assert not torch.equal(torch.cat([y for _, y in later]), labels)
    assert len(ds.batches(batch_size=4, drop_last=True)) == 3
    assert torch.equal(torch.cat([y for _, y in ds.batches(batch_size=5, shuffle=False)]), ds.targets)


def test_batches_generate_each_batch_in_one_call(cgan, monkeypatch):
    calls = []
    original = cgan.sample
    monkeypatch.setattr(cgan, "sample", lambda labels, **kw: calls.append(len(labels)) or original(labels, **kw))
    list(SyntheticDataset(cgan, 10).batches(batch_size=4))
    assert calls == [4, 4, 2]


def test_batches_reject_bad_arguments(cgan):
    ds = SyntheticDataset(cgan, 10)
    with pytest.raises(ValueError, match="batch_size"):
        ds.batches(batch_size=0)
    with pytest.raises(TypeError, match="SyntheticDataset"):
        SyntheticBatches([1, 2, 3])
