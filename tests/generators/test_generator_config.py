"""Constructor configs are validated before anything is allocated; the registry names what it knows."""

from __future__ import annotations

import time

import pytest

import synthaug
from synthaug.generators import get_generator_class, register_generator
from synthaug.generators.base import MAX_PARAMETERS

REGISTERED = synthaug.available_generators()
TINY = dict(num_classes=3, channels=1, image_size=8, latent_dim=8, width=8)


@pytest.fixture(params=REGISTERED)
def cls(request):
    return get_generator_class(request.param)


def test_valid_config_is_recorded(cls):
    model = cls(**TINY, class_names=["a", "b", "c"])
    assert model.config["num_classes"] == 3
    assert model.config["latent_dim"] == 8 and model.latent_dim == 8
    assert model.config["class_names"] == ["a", "b", "c"]
    assert set(model.config) == set(cls.config_fields)


def test_defaults_fill_the_config(cls):
    model = cls(num_classes=2, image_size=8, width=4, latent_dim=4)
    assert model.config["channels"] == 1
    assert model.image_shape == (1, 8, 8)


@pytest.mark.parametrize(
    "override, error, key",
    [
        ({"colour": 3}, ValueError, "colour"),
        ({"latent_dim": "8"}, TypeError, "latent_dim"),
        ({"latent_dim": 8.0}, TypeError, "latent_dim"),
        ({"channels": True}, TypeError, "channels"),
        ({"width": None}, TypeError, "width"),
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"channels": 5}, ValueError, "channels"),
        ({"image_size": 10}, ValueError, "image_size"),
        ({"image_size": 4}, ValueError, "image_size"),
        ({"class_names": ["a", "b"]}, ValueError, "class_names"),
        ({"class_names": ["a", "a", "b"]}, ValueError, "class_names"),
        ({"class_names": "abc"}, TypeError, "class_names"),
        ({"class_names": [1, 2, 3]}, TypeError, "class_names"),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else "-".join(f"{k}={v[k]!r}" for k in v),
)
def test_bad_config_is_refused_naming_the_key(cls, override, error, key):
    with pytest.raises(error, match=key):
        cls(**{**TINY, **override})


def test_image_size_error_says_multiple_of_4(cls):
    with pytest.raises(ValueError, match="multiple of 4"):
        cls(**{**TINY, "image_size": 10})


@pytest.mark.parametrize(
    "override",
    [
        {"latent_dim": 10**9},  # outside the field's range
        {"width": 1024, "latent_dim": 4096, "image_size": 256},  # each in range, together far too big
    ],
    ids=["latent-1e9", "huge-combination"],
)
def test_absurd_sizes_are_refused_quickly_without_allocating(cls, override):
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        cls(**{**TINY, **override})
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    assert "latent_dim" in message or f"{MAX_PARAMETERS:,}" in message


def test_parameter_estimate_is_the_right_order_of_magnitude(cls):
    model = cls(num_classes=10, channels=1, image_size=16, latent_dim=16, width=16)
    actual = sum(p.numel() for p in model.parameters())
    estimate = cls.estimate_parameters(model.config)
    assert actual / 2 <= estimate <= actual * 2


def test_unknown_model_type_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        get_generator_class("diffusion")
    message = str(info.value)
    assert "diffusion" in message
    for name in REGISTERED:
        assert name in message


def test_registering_a_taken_name_is_refused():
    class Other(synthaug.ConditionalGenerator):
        pass

    with pytest.raises(ValueError, match="cgan"):
        register_generator("cgan")(Other)
    assert get_generator_class("cgan") is synthaug.ConditionalGAN
    assert Other.model_type == ""


def test_re_registering_the_same_class_is_harmless():
    assert register_generator("cgan")(synthaug.ConditionalGAN) is synthaug.ConditionalGAN
    assert get_generator_class("cgan") is synthaug.ConditionalGAN
