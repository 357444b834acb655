"""Corruptions: one conformance check over every registered corruption, then each one's meaning, then the mix."""

from __future__ import annotations

import pickle

import pytest
import torch

from synthaug.transforms import (
    CORRUPTIONS,
    CorruptionMix,
    available_corruptions,
    blur,
    cutout,
    gaussian_noise,
    get_corruption,
    salt_and_pepper,
)

BUILTIN = ["blur", "cutout", "gaussian", "salt_and_pepper"]
# The severity argument of each built-in corruption and the upper end of its range.
SEVERITY = {
    "gaussian": ("sigma", 1.0),
    "salt_and_pepper": ("amount", 1.0),
    "cutout": ("size", 1.0),
    "blur": ("sigma", 5.0),
}


def rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 6, channels: int = 3, size: int = 8, seed: int = 0) -> torch.Tensor:
    """Random images in [0.1, 0.9]: every corruption visibly changes them."""
    return 0.1 + 0.8 * torch.rand(n, channels, size, size, generator=rng(seed))


@pytest.fixture(params=BUILTIN)
def name(request) -> str:
    return request.param


def test_registry_holds_the_builtin_corruptions():
    assert available_corruptions() == BUILTIN
    assert get_corruption("gaussian") is gaussian_noise and CORRUPTIONS["blur"] is blur
    with pytest.raises(
        ValueError, match="unknown corruption 'speckle'; known: blur, cutout, gaussian, salt_and_pepper"
    ):
        get_corruption("speckle")


# -- conformance: every registered corruption -------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_range_and_input_untouched(name, dtype):
    x = images().to(dtype)
    before = x.clone()
    out = get_corruption(name)(x, generator=rng(0))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(x, before)


def test_changes_the_images(name):
    x = images()
    out = get_corruption(name)(x, generator=rng(0))
    changed = (out - x).abs().flatten(1).amax(dim=1)
    assert (changed > 0.01).all(), changed


def test_same_seed_same_result_other_seed_other_result(name):
    fn, x = get_corruption(name), images()
    assert torch.equal(fn(x, generator=rng(3)), fn(x, generator=rng(3)))
    assert not torch.equal(fn(x, generator=rng(3)), fn(x, generator=rng(4)))


def test_leaves_the_global_rng_alone(name):
    state = torch.random.get_rng_state()
    get_corruption(name)(images(), generator=rng(0))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_grayscale_and_non_square_images(name):
    x = 0.1 + 0.8 * torch.rand(2, 1, 8, 12, generator=rng(1))
    assert get_corruption(name)(x, generator=rng(0)).shape == (2, 1, 8, 12)


@pytest.mark.parametrize(
    "bad",
    [0, -0.1, "high", 10.0, (0.3, 0.1), (0.1, 0.2, 0.3), True, float("nan"), None],
    ids=["zero", "negative", "above-max", "max+", "reversed", "triple", "bool", "nan", "none"],
)
def test_bad_severity_is_refused_naming_the_argument(name, bad):
    argument, maximum = SEVERITY[name]
    bad = maximum * 2 if bad == "high" else bad
    with pytest.raises(ValueError, match=argument):
        get_corruption(name)(images(), **{argument: bad}, generator=rng(0))


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ([[0.5]], TypeError, "images"),
        (torch.ones(1, 1, 8, 8, dtype=torch.uint8), TypeError, "floating"),
        (torch.rand(1, 8, 8), ValueError, r"\[B, C, H, W\]"),
    ],
    ids=["list", "uint8", "3d"],
)
def test_bad_images_are_refused(name, bad, error, match):
    with pytest.raises(error, match=match):
        get_corruption(name)(bad, generator=rng(0))


def test_generator_must_be_a_torch_generator(name):
    with pytest.raises(TypeError, match="generator"):
        get_corruption(name)(images(), generator=0)


# -- what each corruption does ----------------------------------------------------------------


def test_gaussian_noise_has_the_requested_spread():
    x = torch.full((4, 1, 32, 32), 0.5)
    diff = gaussian_noise(x, sigma=0.1, generator=rng(0)) - x
    assert abs(float(diff.std()) - 0.1) < 0.01 and abs(float(diff.mean())) < 0.01


def test_salt_and_pepper_hits_the_requested_fraction_in_all_channels():
    x = torch.full((4, 3, 32, 32), 0.5)
    out = salt_and_pepper(x, amount=0.2, generator=rng(0))
    hit = out != 0.5
    assert abs(float(hit.float().mean()) - 0.2) < 0.03
    assert torch.equal(hit[:, 0], hit[:, 1]) and torch.equal(out[:, 0], out[:, 2])  # whole pixels
    assert set(out[hit].unique().tolist()) == {0.0, 1.0}


def test_cutout_masks_one_rectangle_of_the_requested_size():
    out = cutout(torch.zeros(5, 2, 8, 8), size=0.5, generator=rng(0))
    for image in out[:, 0]:
        rows, cols = (image == 0.5).nonzero(as_tuple=True)
        assert len(rows) == 16 and rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3
    assert torch.equal(out[:, 0], out[:, 1])
    assert cutout(torch.zeros(1, 1, 8, 8), size=0.5, fill=0.0, generator=rng(0)).max() == 0.0


@pytest.mark.parametrize("fill", [-0.1, 1.5, "grey", True])
def test_cutout_fill_is_checked(fill):
    with pytest.raises(ValueError, match="fill"):
        cutout(images(), fill=fill, generator=rng(0))


def test_blur_smooths_edges_keeps_flat_images_and_is_deterministic_for_a_fixed_sigma():
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0
    out = blur(step, sigma=1.0)  # no generator needed for a fixed sigma
    assert 0 < float(out[0, 0, 0, 3]) < 0.5 < float(out[0, 0, 0, 4]) < 1
    assert torch.allclose(out.sum(dim=-1), step.sum(dim=-1), atol=1e-5)  # mass is kept, edges replicated
    flat = torch.full((2, 3, 8, 8), 0.3)
    assert torch.allclose(blur(flat, sigma=(0.5, 3.0), generator=rng(0)), flat, atol=1e-6)
    assert torch.equal(blur(step, sigma=1.0, generator=rng(0)), blur(step, sigma=1.0, generator=rng(1)))


def test_a_severity_range_gives_each_image_its_own_strength():
    x = torch.full((64, 1, 16, 16), 0.5)
    spread = (gaussian_noise(x, sigma=(0.05, 0.3), generator=rng(0)) - x).flatten(1).std(dim=1)
    assert float(spread.min()) < 0.1 and float(spread.max()) > 0.25


# -- the mix ----------------------------------------------------------------------------------


def test_default_mix_is_the_equal_mix_of_all_four():
    mix = CorruptionMix()
    assert mix.names == ["gaussian", "salt_and_pepper", "cutout", "blur"]
    assert mix.weights == {name: 0.25 for name in mix.names}
    assert repr(mix) == "CorruptionMix(gaussian=0.25, salt_and_pepper=0.25, cutout=0.25, blur=0.25)"


def test_mix_accepts_dicts_lists_and_one_name():
    assert CorruptionMix({"gaussian": 3, "blur": 1}).weights == {"gaussian": 0.75, "blur": 0.25}
    assert CorruptionMix(["cutout", "blur"]).weights == {"cutout": 0.5, "blur": 0.5}
    assert CorruptionMix("blur").names == ["blur"]
    mix = CorruptionMix(["gaussian"], params={"gaussian": {"sigma": 0.2}})
    assert repr(mix) == "CorruptionMix(gaussian=1 {'sigma': 0.2})"


@pytest.mark.parametrize(
    "corruptions, params, error, match",
    [
        ({"speckle": 1}, None, ValueError, "known: blur, cutout, gaussian, salt_and_pepper"),
        ({"blur": 0}, None, ValueError, "weight"),
        ({"blur": -1}, None, ValueError, "weight"),
        ({"blur": float("nan")}, None, ValueError, "weight"),
        ({"blur": "1"}, None, ValueError, "weight"),
        ({}, None, ValueError, "at least one"),
        (["blur", "blur"], None, ValueError, "distinct"),
        (5, None, TypeError, "corruptions"),
        (["blur"], {"gaussian": {"sigma": 0.1}}, ValueError, "not in the mix"),
        (["blur"], {"blur": {"radius": 2}}, ValueError, "radius"),
        (["blur"], {"blur": {"sigma": 9}}, ValueError, r"params\['blur'\]: sigma"),
        (["cutout"], {"cutout": {"fill": 2}}, ValueError, "fill"),
        (["cutout"], {"cutout": 0.5}, TypeError, "params"),
        (["cutout"], [("cutout", {})], TypeError, "params"),
    ],
    ids=[
        "unknown",
        "zero-weight",
        "negative-weight",
        "nan-weight",
        "str-weight",
        "empty",
        "duplicate",
        "int",
        "params-not-in-mix",
        "params-unknown-arg",
        "params-bad-severity",
        "params-bad-fill",
        "params-not-dict",
        "params-list",
    ],
)
def test_bad_mix_is_refused_when_built(corruptions, params, error, match):
    with pytest.raises(error, match=match):
        CorruptionMix(corruptions, params=params)


def test_mix_is_deterministic_for_a_seed_and_leaves_the_input_alone():
    mix, x = CorruptionMix(), images(n=16)
    before = x.clone()
    first = mix(x, generator=rng(0))
    assert torch.equal(first, mix(x, generator=rng(0)))
    assert not torch.equal(first, mix(x, generator=rng(1)))
    assert torch.equal(x, before)
    assert first.shape == x.shape and float(first.min()) >= 0 and float(first.max()) <= 1


def test_mix_picks_by_weight():
    choice = CorruptionMix({"gaussian": 3, "blur": 1}).choose(4000, rng(0))
    assert abs(float((choice == 0).float().mean()) - 0.75) < 0.03


def test_mix_applies_its_params_to_each_image():
    x = images(n=8)
    mix = CorruptionMix(["blur"], params={"blur": {"sigma": 0.8}})
    assert torch.allclose(mix(x, generator=rng(0)), blur(x, sigma=0.8), atol=1e-6)
    assert torch.allclose(mix.apply("blur", x), blur(x, sigma=0.8), atol=1e-6)
    with pytest.raises(ValueError, match="not in this mix"):
        mix.apply("gaussian", x)


def test_mix_pickles():
    mix = CorruptionMix({"gaussian": 2, "cutout": 1}, params={"cutout": {"fill": 0.0}})
    clone = pickle.loads(pickle.dumps(mix))
    assert clone == mix and repr(clone) == repr(mix)
    x = images()
    assert torch.equal(clone(x, generator=rng(2)), mix(x, generator=rng(2)))
