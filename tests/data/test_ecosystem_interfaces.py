"""Issue 15, section 2, for the datasets: one name for the model, ``generator=`` as a torch.Generator,
mix strategies that need no hidden defaults (with imbalanced-learn's words), MixedDataset as a
VisionDataset, and class names wherever a class is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import build_generator
from torch.utils.data import TensorDataset
from torchvision.datasets import VisionDataset

import synthaug
from synthaug import MixedDataset, SyntheticDataset

NAMES = ["Coat", "Bag", "Hat"]


@pytest.fixture(scope="module")
def gen():
    return build_generator("cgan", class_names=NAMES)


def real_data(counts=(6, 3, 1)) -> TensorDataset:
    """Float tensor items with named classes (so mix matches them to the generator's by name)."""
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    dataset = TensorDataset(torch.rand(len(labels), 1, 8, 8, generator=torch.Generator().manual_seed(0)), labels)
    dataset.classes = list(NAMES)  # type: ignore[attr-defined]
    return dataset


def no_deprecation():
    """A context in which a DeprecationWarning fails the test."""
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("error", DeprecationWarning)
    return context


# -- the model argument and generator= ---------------------------------------------------------


def test_synthetic_dataset_takes_a_torch_generator_next_to_the_model(gen):
    ds = SyntheticDataset(gen, 4, generator=torch.Generator().manual_seed(1), image_type="tensor")
    again = SyntheticDataset(gen, 4, generator=torch.Generator().manual_seed(1), image_type="tensor")
    other = SyntheticDataset(gen, 4, generator=torch.Generator().manual_seed(2), image_type="tensor")
    assert ds.model is gen and len(ds) == 4
    assert ds.seed == again.seed != other.seed  # the seed is drawn from the generator once
    assert torch.equal(ds[0][0], again[0][0]) and not torch.equal(ds[0][0], other[0][0])


def test_a_dataset_built_from_a_generator_ignores_its_later_state(gen):
    rng = torch.Generator().manual_seed(3)
    ds = SyntheticDataset(gen, 4, generator=rng, image_type="tensor")
    first = ds[1][0]
    torch.rand(100, generator=rng)  # the caller keeps drawing: the dataset's items stay
    assert torch.equal(ds[1][0], first)


def test_the_old_model_keyword_warns_and_still_works(gen):
    with pytest.warns(DeprecationWarning, match=r"SyntheticDataset\(generator=<model>\) is deprecated.*model="):
        old = SyntheticDataset(generator=gen, num_samples=3, image_type="tensor")
    assert old.model is gen and old.generator is gen  # the old attribute name still reads the model
    new = SyntheticDataset(model=gen, num_samples=3, image_type="tensor")
    assert torch.equal(old[2][0], new[2][0])
    with pytest.warns(DeprecationWarning, match=r"mix\(generator=<model>\)"):
        mixed = synthaug.mix(real_data(), generator=gen, strategy="balance")
    assert mixed.model is gen


def test_the_bench_calls_give_no_warning(gen):
    context = no_deprecation()
    try:
        SyntheticDataset(gen, class_counts={0: 2, 2: 1}, seed=3, image_type="tensor")
        synthaug.mix(real_data(), gen, "ratio", seed=1, ratio=0.5, synthetic_weight=0.3, progress=False)
    finally:
        context.__exit__(None, None, None)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda g: SyntheticDataset(g, 3, seed=1, generator=torch.Generator()), ValueError, "seed or generator"),
        (lambda g: SyntheticDataset(g, 3, generator=7), TypeError, "generator must be a torch.Generator"),
        (lambda g: SyntheticDataset(g, 3, generator=g), TypeError, "got the model twice"),
        (lambda g: SyntheticDataset(None, 3), TypeError, r"model: the generator must provide .* got NoneType"),
        (lambda g: synthaug.mix(real_data(), g, "balance", 1, generator=torch.Generator()), ValueError, "not both"),
    ],
)
def test_bad_model_and_generator_arguments(gen, call, error, match):
    with pytest.raises(error, match=match):
        call(gen)


# -- strategies ----------------------------------------------------------------------------------


def test_mix_without_a_strategy_asks_for_one(gen):
    with pytest.raises(ValueError, match="mix needs a strategy"):
        synthaug.mix(real_data(), gen)


@pytest.mark.parametrize(
    "options, strategy", [({"ratio": 0.5}, "ratio"), ({"target": 6}, "balance"), ({"p": 0.5}, "replace")]
)
def test_an_option_names_its_strategy(gen, options, strategy):
    context = no_deprecation()
    try:
        mixed = synthaug.mix(real_data(), gen, **options)
    finally:
        context.__exit__(None, None, None)
    assert mixed.strategy == strategy


def test_options_of_two_strategies_are_refused(gen):
    with pytest.raises(ValueError, match="belong to different strategies"):
        synthaug.mix(real_data(), gen, ratio=0.5, p=0.3)


@pytest.mark.parametrize(
    "strategy, options, match",
    [
        ("balance", {"ratio": 0.5}, r"ratio is only for strategy='ratio', got strategy='balance' \(it takes target=\)"),
        ("ratio", {"target": 4}, r"target is only for strategy='balance', got strategy='ratio'"),
        ("replace", {"ratio": 0.5}, r"ratio is only for strategy='ratio'"),
        ({"Bag": 2}, {"ratio": 0.5}, r"got strategy='dict' \(it takes none of ratio, target, p\)"),
        ("not majority", {"target": 4}, r"target is only for strategy='balance', got strategy='not majority'"),
        (0.5, {"p": 0.2}, r"p is only for strategy='replace', got strategy='0.5'"),
        (lambda counts: {0: 1}, {"ratio": 1.0}, r"got strategy='callable'"),
    ],
)
def test_options_a_strategy_does_not_take_are_errors(gen, strategy, options, match):
    with pytest.raises(ValueError, match=match):
        synthaug.mix(real_data(), gen, strategy, **options)


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("not majority", [0, 3, 5]),  # imbalanced-learn's words, its over-sampling meaning
        ("all", [0, 3, 5]),
        ("minority", [0, 0, 5]),
        ("not minority", [0, 3, 0]),
        (0.5, [0, 0, 2]),  # every class up to 0.5 x the majority count (3)
        (1.0, [0, 3, 5]),
    ],
)
def test_imbalanced_learn_sampling_strategies(gen, strategy, expected):
    mixed = synthaug.mix(real_data(), gen, strategy)
    assert mixed.synthetic_counts == expected and mixed.real_counts == [6, 3, 1]


def test_imbalanced_learn_words_count_only_the_classes_present(gen):
    mixed = synthaug.mix(real_data((4, 0, 2)), gen, "minority")
    assert mixed.synthetic_counts == [0, 0, 2]  # the empty class is not the minority


@pytest.mark.parametrize(
    "strategy, error", [(1.5, ValueError), (0.0, ValueError), (5, TypeError), ("auto-ish", ValueError)]
)
def test_bad_strategies_list_the_known_ones(gen, strategy, error):
    with pytest.raises(error, match=r"strategy must be one of \(.*'not majority'.*\), a float in \(0, 1\]"):
        synthaug.mix(real_data(), gen, strategy)


def test_tuned_is_the_guard_and_auto_is_its_deprecated_name(gen, monkeypatch):
    import synthaug.tuning as tuning

    calls = []

    class Result:
        dataset = "tuned!"

    def fake_tune(real, model, **options):
        calls.append(options)
        return Result()

    monkeypatch.setattr(tuning, "tune", fake_tune)
    context = no_deprecation()
    try:
        assert synthaug.mix(real_data(), gen, "tuned", seed=4, progress=False) == "tuned!"
    finally:
        context.__exit__(None, None, None)
    assert calls[0]["seed"] == 4
    with pytest.warns(DeprecationWarning, match=r"strategy='auto' is deprecated; use strategy='tuned'"):
        assert synthaug.mix(real_data(), gen, "auto", progress=False) == "tuned!"
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="strategy='auto' chooses ratio itself"):
        synthaug.mix(real_data(), gen, "auto", ratio=0.1)
    with pytest.raises(ValueError, match="strategy='tuned' chooses p itself"):
        synthaug.mix(real_data(), gen, "tuned", p=0.1)


def test_tune_refuses_the_tuned_strategy_in_its_grid(gen):
    with pytest.raises(ValueError, match="cannot be tuned"):
        synthaug.tune(real_data(), gen, lambda t, v: 0.0, grid=[{"strategy": "tuned"}])


# -- MixedDataset is a VisionDataset --------------------------------------------------------------


def test_mixed_dataset_has_what_torchvision_datasets_have(gen):
    mixed = synthaug.mix(real_data(), gen, "balance")
    assert isinstance(mixed, VisionDataset) and isinstance(mixed, MixedDataset)
    assert mixed.classes == NAMES and mixed.class_to_idx == {"Coat": 0, "Bag": 1, "Hat": 2}
    assert isinstance(mixed.targets, torch.Tensor) and mixed.targets.dtype == torch.long
    assert mixed.targets.tolist() == [int(mixed[i][1]) for i in range(len(mixed))]
    assert "| Bag |" in mixed.summary()
    replaced = synthaug.mix(real_data(), gen, "replace", p=0.5)
    assert replaced.targets.tolist() == real_data().tensors[1].tolist()


def test_mixed_classes_follow_the_real_data_order(gen):
    real = real_data()
    real.classes = ["Hat", "Coat", "Bag"]
    mixed = synthaug.mix(real, gen, "balance")
    assert mixed.classes == ["Hat", "Coat", "Bag"] and mixed.class_to_idx["Hat"] == 0


def test_synthetic_dataset_has_class_to_idx(gen):
    ds = SyntheticDataset(gen, 3)
    assert ds.class_to_idx == {name: i for i, name in enumerate(NAMES)}
    unnamed = SyntheticDataset(build_generator("cgan"), 3)
    assert unnamed.classes == ["0", "1", "2"] and unnamed.class_to_idx == {"0": 0, "1": 1, "2": 2}


# -- class names ----------------------------------------------------------------------------------


def test_class_counts_and_mix_dicts_take_names(gen):
    ds = SyntheticDataset(gen, class_counts={"Hat": 2, "Coat": 1})
    assert ds.class_counts == [1, 0, 2] and ds.targets.tolist() == [0, 2, 2]
    assert synthaug.mix(real_data(), gen, {"Bag": 2}).synthetic_counts == [0, 2, 0]


def test_unknown_class_names_list_the_known_ones(gen):
    with pytest.raises(ValueError, match=r"unknown class 'Shoe'; expected .* \['Coat', 'Bag', 'Hat'\]"):
        SyntheticDataset(gen, class_counts={"Shoe": 2})
    with pytest.raises(ValueError, match=r"labels\[1\] has unknown class 'Shoe'; .*\['Coat', 'Bag', 'Hat'\]"):
        gen.sample(["Coat", "Shoe"])


def test_sample_takes_class_names_and_indices(gen):
    rng = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    by_name = gen.sample(["Coat", "Hat", "Hat"], generator=rng())
    by_index = gen.sample(torch.tensor([0, 2, 2]), generator=rng())
    assert torch.equal(by_name, by_index)
    assert torch.equal(gen.sample([0, "Hat", 2], generator=rng()), by_index)
    with pytest.raises(TypeError, match="or a list of class indices or names, got str 'Coat'"):
        gen.sample("Coat")
    with pytest.raises(ValueError, match=r"unknown class 'Coat'; expected 0..2$"):
        build_generator("cgan").sample(["Coat"])


def test_validation_check_class():
    from synthaug.validation import check_class

    assert check_class("c", "Bag", 3, NAMES) == 1
    assert check_class("c", np.int64(2), 3, NAMES) == 2
    assert check_class("c", torch.tensor(1), 3) == 1
    with pytest.raises(TypeError, match="c has unknown class float 1.0"):
        check_class("c", 1.0, 3, NAMES)
    with pytest.raises(ValueError, match=r"c has unknown class 3; expected 0..2$"):
        check_class("c", 3, 3)
