"""One conformance check run over every registered generator family and a wrapped user module.

A new family registered with ``@register_generator`` is picked up here automatically.
"""

from __future__ import annotations

import pickle

import pytest
import torch

import synthaug

FAMILIES = [*synthaug.available_generators(), "wrap"]
REGISTERED = synthaug.available_generators()


def seeded_rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def module_modes(module: torch.nn.Module) -> list[bool]:
    return [m.training for m in module.modules()]


@pytest.fixture(params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture(params=[1, 3], ids=["gray", "rgb"])
def channels(request) -> int:
    return request.param


@pytest.fixture
def gen(generator_factory, family, channels):
    return generator_factory(family, channels=channels)


LABELS = torch.tensor([0, 1, 2, 2, 1, 0, 0])


def test_registry_lists_the_builtin_families():
    assert {"cgan", "cvae"} <= set(REGISTERED)
    assert REGISTERED == sorted(REGISTERED)


def test_satisfies_the_protocol(gen, channels):
    assert isinstance(gen, synthaug.GeneratorProtocol)
    assert gen.num_classes == 3
    assert tuple(gen.image_shape) == (channels, 8, 8)
    assert gen.class_names is None


def test_sample_shape_dtype_range_and_no_grad(gen, channels):
    images = gen.sample(LABELS, generator=seeded_rng(0))
    assert isinstance(images, torch.Tensor)
    assert images.shape == (len(LABELS), channels, 8, 8)
    assert images.dtype == torch.float32
    assert not images.requires_grad
    assert images.grad_fn is None
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert torch.isfinite(images).all()


@pytest.mark.parametrize("label_dtype", [torch.int64, torch.int32, torch.uint8])
def test_sample_accepts_integer_label_dtypes(gen, label_dtype):
    expected = gen.sample(LABELS, generator=seeded_rng(0))
    got = gen.sample(LABELS.to(label_dtype), generator=seeded_rng(0))
    assert torch.equal(got, expected)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_sample_leaves_every_submodule_in_its_mode(gen, mode):
    gen.train(mode == "train")
    before = module_modes(gen)
    gen.sample(LABELS, generator=seeded_rng(0))
    assert module_modes(gen) == before


def test_sample_ignores_training_mode(gen):
    """BatchNorm/Dropout must behave as in eval, whatever mode the caller left the model in."""
    gen.eval()
    in_eval = gen.sample(LABELS, generator=seeded_rng(3))
    gen.train()
    in_train = gen.sample(LABELS, generator=seeded_rng(3))
    assert torch.equal(in_eval, in_train)


def test_same_seed_same_images(gen):
    first = gen.sample(LABELS, generator=seeded_rng(7))
    second = gen.sample(LABELS, generator=seeded_rng(7))
    assert torch.equal(first, second)


def test_different_seeds_different_images(gen):
    first = gen.sample(LABELS, generator=seeded_rng(7))
    second = gen.sample(LABELS, generator=seeded_rng(8))
    assert not torch.equal(first, second)
    assert (first - second).abs().max() > 1e-4


def test_sampling_with_a_generator_leaves_global_rng_alone(gen):
    state = torch.random.get_rng_state()
    gen.sample(LABELS, generator=seeded_rng(0))
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize(
    "labels, error",
    [
        (torch.tensor([0, 3]), ValueError),  # 3 classes: 3 is out of range
        (torch.tensor([-1, 0]), ValueError),
        (torch.tensor([0.0, 1.0]), TypeError),
        (torch.tensor([True, False]), TypeError),
        (torch.tensor([[0, 1], [1, 2]]), ValueError),
        (torch.tensor(1), ValueError),
        (["zebra"], ValueError),  # lists may hold indices or class names, not unknown ones
        (None, TypeError),
    ],
    ids=["too-large", "negative", "float", "bool", "2d", "0d", "unknown-name", "none"],
)
def test_bad_labels_are_refused_naming_the_argument(gen, labels, error):
    with pytest.raises(error, match="labels"):
        gen.sample(labels, generator=seeded_rng(0))


def test_out_of_range_error_shows_the_bad_values(gen):
    with pytest.raises(ValueError, match=r"\[0, 2\].*\[5\]"):
        gen.sample(torch.tensor([0, 5, 1]))


@pytest.mark.parametrize("truncation", [0, 0.0, -0.5, 2.5, float("nan"), float("inf"), True, "1"])
def test_truncation_outside_0_2_is_refused(gen, truncation):
    with pytest.raises(ValueError, match="truncation"):
        gen.sample(LABELS, generator=seeded_rng(0), truncation=truncation)


@pytest.mark.parametrize("truncation", [0.5, 2])
def test_truncation_inside_0_2_changes_the_draw(gen, truncation):
    plain = gen.sample(LABELS, generator=seeded_rng(0))
    scaled = gen.sample(LABELS, generator=seeded_rng(0), truncation=truncation)
    assert scaled.shape == plain.shape
    assert float(scaled.min()) >= 0.0 and float(scaled.max()) <= 1.0
    assert not torch.equal(plain, scaled)


def test_generator_argument_must_be_a_torch_generator(gen):
    with pytest.raises(TypeError, match="generator"):
        gen.sample(LABELS, generator=0)


def test_pickle_round_trip(gen):
    clone = pickle.loads(pickle.dumps(gen))
    assert type(clone) is type(gen)
    assert clone.num_classes == gen.num_classes and tuple(clone.image_shape) == tuple(gen.image_shape)
    assert torch.equal(clone.sample(LABELS, generator=seeded_rng(4)), gen.sample(LABELS, generator=seeded_rng(4)))


def test_save_pretrained_load_round_trip(gen, family, tmp_path):
    if family == "wrap":
        with pytest.raises(TypeError, match="cannot be saved"):
            gen.save_pretrained(tmp_path / "bundle")
        assert not (tmp_path / "bundle").exists()
        return
    gen.save_pretrained(tmp_path / "bundle")
    loaded = synthaug.load(tmp_path / "bundle")
    assert type(loaded) is type(gen)
    assert loaded.config == gen.config
    assert not loaded.training  # load returns an eval-mode model
    assert torch.equal(loaded.sample(LABELS, generator=seeded_rng(5)), gen.sample(LABELS, generator=seeded_rng(5)))
    for (name, a), (_, b) in zip(sorted(gen.state_dict().items()), sorted(loaded.state_dict().items())):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("family", REGISTERED)
def test_from_pretrained_on_the_class(gen, family, tmp_path):
    gen.save_pretrained(tmp_path)
    loaded = type(gen).from_pretrained(tmp_path)
    assert torch.equal(loaded.sample(LABELS, generator=seeded_rng(1)), gen.sample(LABELS, generator=seeded_rng(1)))
    others = [synthaug.generators.get_generator_class(f) for f in REGISTERED if f != family]
    for other in others:
        with pytest.raises(TypeError, match=type(gen).__name__):
            other.from_pretrained(tmp_path)


def test_class_names_round_trip(generator_factory, family, tmp_path):
    gen = generator_factory(family, class_names=["left", "right", "top"])
    assert gen.class_names == ["left", "right", "top"]
    if family != "wrap":
        gen.save_pretrained(tmp_path)
        assert synthaug.load(tmp_path).class_names == ["left", "right", "top"]


def test_repr_mentions_the_configuration(gen):
    text = repr(gen)
    assert type(gen).__name__ in text
    assert "num_classes=3" in text
