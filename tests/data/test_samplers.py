"""ProportionSampler and mix(..., synthetic_share=): exact per-class real : synthetic draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import synthaug
from synthaug.data import ProportionSampler
from synthaug.data.real import LabelledImages

LONG_TAIL = [40, 12, 4]  # real items per class


@pytest.fixture
def long_tail(pattern_factory) -> LabelledImages:
    data = pattern_factory(40, seed=3)
    keep = torch.cat([torch.nonzero(data.labels == c).flatten()[:n] for c, n in enumerate(LONG_TAIL)])
    return LabelledImages(data.images[keep], data.labels[keep])


@pytest.fixture
def topped_up(long_tail, generator_factory):
    return synthaug.mix(long_tail.as_dataset(), generator_factory("cgan"), "balance", synthetic_share=0.3)


def drawn(sampler, dataset) -> dict[int, tuple[int, int]]:
    """Per class, (real, synthetic) draws of one pass over ``sampler``."""
    index = np.array(list(sampler))
    labels = dataset.targets.numpy()[index]
    synthetic = dataset.synthetic_mask()[index]
    return {c: (int(((labels == c) & ~synthetic).sum()), int(((labels == c) & synthetic).sum())) for c in range(3)}


def test_each_class_gets_its_quota_with_the_requested_synthetic_share(topped_up):
    sampler = topped_up.sampler(num_samples=300)
    assert len(sampler) == 300
    counts = drawn(sampler, topped_up)
    # 100 draws per class; the majority class has no synthetic items, the others 30 of 100.
    assert counts == {0: (100, 0), 1: (70, 30), 2: (70, 30)}
    assert sampler.plan() == counts


def test_without_the_sampler_share_the_rare_class_is_mostly_synthetic(topped_up):
    # The problem the sampler solves: counted as items, class 2 is 36 synthetic to 4 real.
    assert topped_up.real_counts[2] == 4 and topped_up.synthetic_counts[2] == 36


def test_rare_real_items_are_each_drawn_equally_often(topped_up):
    index = np.array(list(topped_up.sampler(num_samples=300)))
    rare_real = np.flatnonzero((topped_up.targets.numpy() == 2) & ~topped_up.synthetic_mask())
    visits = np.array([(index == i).sum() for i in rare_real])
    assert visits.sum() == 70 and visits.max() - visits.min() <= 1


def test_class_proportions_can_stay_those_of_the_real_data(topped_up):
    counts = drawn(topped_up.sampler(num_samples=560, class_balanced=False), topped_up)
    totals = [r + s for r, s in counts.values()]
    assert totals == [400, 120, 40]  # 40 : 12 : 4 of 560
    assert counts[1][1] == 36 and counts[2][1] == 12  # 30% of each topped-up class


def test_synthetic_items_switch_on_at_the_requested_epoch(topped_up):
    sampler = topped_up.sampler(num_samples=90, synthetic_from_epoch=2)
    sampler.set_epoch(1)
    assert sampler.share_now() == 0.0
    assert all(s == 0 for _, s in drawn(sampler, topped_up).values())
    sampler.set_epoch(2)
    assert drawn(sampler, topped_up)[2] == (21, 9)


def test_the_order_is_a_function_of_seed_and_epoch(topped_up):
    a, b = topped_up.sampler(num_samples=60, seed=5), topped_up.sampler(num_samples=60, seed=5)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(topped_up.sampler(num_samples=60, seed=6)) != first


def test_the_loader_reads_batches_through_the_sampler(topped_up):
    loader = DataLoader(topped_up, batch_size=30, sampler=topped_up.sampler(num_samples=90))
    labels = torch.cat([batch[1] for batch in loader])
    assert len(labels) == 90 and torch.bincount(labels).tolist() == [30, 30, 30]


def test_the_share_given_to_sampler_overrides_mix(topped_up):
    assert drawn(topped_up.sampler(num_samples=30, synthetic_share=1.0), topped_up)[2] == (0, 10)


def test_replace_strategy_masks_follow_the_epoch(long_tail, generator_factory):
    mixed = synthaug.mix(long_tail.as_dataset(), generator_factory("cgan"), "replace", p=0.5, synthetic_share=0.5)
    mask = mixed.synthetic_mask()
    assert mask.tolist() == [mixed.is_synthetic(i) for i in range(len(mixed))]
    assert 0 < mask.sum() < len(mixed)


def test_sampler_needs_a_share(long_tail, generator_factory):
    mixed = synthaug.mix(long_tail.as_dataset(), generator_factory("cgan"), "balance")
    with pytest.raises(ValueError, match="needs a synthetic share"):
        mixed.sampler()


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_mix_refuses_a_share_outside_0_1(long_tail, generator_factory, share):
    with pytest.raises(ValueError, match="synthetic_share must be a number in"):
        synthaug.mix(long_tail.as_dataset(), generator_factory("cgan"), "balance", synthetic_share=share)


class Unmarked:
    """A dataset with labels but no way to tell synthetic items from real ones."""

    targets = torch.tensor([0, 1, 2])

    def __len__(self) -> int:
        return 3


def test_a_dataset_that_cannot_tell_synthetic_items_is_refused():
    with pytest.raises(TypeError, match="tell real from synthetic"):
        list(ProportionSampler(Unmarked()))


def test_bad_arguments_name_themselves(topped_up):
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        ProportionSampler(topped_up, num_samples=0)
    with pytest.raises(TypeError, match="class_balanced must be a bool"):
        ProportionSampler(topped_up, class_balanced=1)
    with pytest.raises(TypeError, match="dataset must have targets"):
        ProportionSampler([(torch.zeros(1), 0)])
