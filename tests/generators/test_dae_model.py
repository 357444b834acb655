"""DenoisingAutoencoder: shapes and ranges, denoise's contract, config validation, the bundle round trip."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

import synthaug
from synthaug import BundleError, DenoisingAutoencoder
from synthaug.generators.base import MAX_PARAMETERS, count_parameters


def rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(params=[1, 3], ids=["gray", "rgb"])
def dae(request, dae_factory):
    return dae_factory(channels=request.param)


def images_for(model: DenoisingAutoencoder, n: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *model.image_shape, generator=rng(seed))


# -- the network --------------------------------------------------------------------------------


@pytest.mark.parametrize("image_size", [8, 12, 16, 28, 32])
def test_any_multiple_of_4_keeps_the_shape(image_size):
    model = DenoisingAutoencoder(channels=1, image_size=image_size, width=4)
    x = torch.rand(2, 1, image_size, image_size, generator=rng(0))
    assert model(x).shape == x.shape
    assert model.image_shape == (1, image_size, image_size)


def test_denoise_shape_dtype_range_and_no_grad(dae):
    x = images_for(dae)
    out = dae.denoise(x)
    assert out.shape == x.shape and out.dtype == torch.float32 and out.device == x.device
    assert not out.requires_grad and out.grad_fn is None
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_denoise_keeps_the_input_dtype_and_leaves_the_input_alone(dae):
    x = images_for(dae).double()
    before = x.clone()
    out = dae.denoise(x)
    assert out.dtype == torch.float64
    assert torch.equal(x, before)
    assert torch.allclose(out.float(), dae.denoise(x.float()), atol=1e-6)


def test_forward_is_differentiable(dae):
    x = images_for(dae)
    dae(x).mean().backward()
    assert all(p.grad is not None for p in dae.parameters())


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_denoise_leaves_every_submodule_in_its_mode(dae, mode):
    dae.train(mode == "train")
    dae.inc.eval()  # a mixed state must survive too
    before = [m.training for m in dae.modules()]
    dae.denoise(images_for(dae))
    assert [m.training for m in dae.modules()] == before


def test_each_image_is_denoised_independently_of_its_batch(dae):
    x = images_for(dae, n=6)
    assert torch.allclose(dae.denoise(x)[:2], dae.denoise(x[:2]), atol=1e-6)


@pytest.mark.parametrize(
    "images, error, match",
    [
        ([[0.5]], TypeError, "images"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), TypeError, "floating"),
        (torch.rand(1, 8, 8), ValueError, "shape"),
        (torch.rand(2, 1, 12, 12), ValueError, r"\[B, 1, 8, 8\]"),
        (torch.rand(2, 3, 8, 8), ValueError, "shape"),
        (torch.rand(2, 1, 8, 8) * 255, ValueError, r"\[0, 1\]"),
        (torch.rand(2, 1, 8, 8) - 0.5, ValueError, r"\[0, 1\]"),
        (torch.full((2, 1, 8, 8), float("nan")), ValueError, r"\[0, 1\]"),
    ],
    ids=["list", "uint8", "3d", "wrong-size", "wrong-channels", "0-255", "negative", "nan"],
)
def test_bad_images_are_refused_naming_the_argument(dae_factory, images, error, match):
    with pytest.raises(error, match=match) as info:
        dae_factory().denoise(images)
    assert "images" in str(info.value)


def test_pickle_round_trip(dae):
    clone = pickle.loads(pickle.dumps(dae))
    x = images_for(dae)
    assert torch.equal(clone.denoise(x), dae.denoise(x))


def test_repr_shows_the_config(dae_factory):
    text = repr(dae_factory(channels=3))
    assert "DenoisingAutoencoder" in text and "channels=3, image_size=8, width=8" in text


# -- config -------------------------------------------------------------------------------------


def test_defaults_and_parameter_estimate_is_exact():
    model = DenoisingAutoencoder()
    assert model.config == {"channels": 1, "image_size": 28, "width": 32}
    for config in [model.config, {"channels": 3, "image_size": 16, "width": 5}]:
        assert DenoisingAutoencoder.estimate_parameters(config) == count_parameters(DenoisingAutoencoder(**config))


@pytest.mark.parametrize(
    "override, error, key",
    [
        ({"num_classes": 3}, ValueError, "num_classes"),
        ({"latent_dim": 8}, ValueError, "latent_dim"),
        ({"image_size": 10}, ValueError, "multiple of 4"),
        ({"image_size": 4}, ValueError, "image_size"),
        ({"channels": True}, TypeError, "channels"),
        ({"channels": 5}, ValueError, "channels"),
        ({"width": 0}, ValueError, "width"),
        ({"width": 8.0}, TypeError, "width"),
    ],
    ids=lambda v: "-".join(f"{k}={v[k]!r}" for k in v) if isinstance(v, dict) else str(v),
)
def test_bad_config_is_refused_naming_the_key(override, error, key):
    with pytest.raises(error, match=key):
        DenoisingAutoencoder(**{"channels": 1, "image_size": 8, "width": 8, **override})


def test_huge_width_is_refused_before_allocating():
    with pytest.raises(ValueError, match=f"{MAX_PARAMETERS:,}"):
        DenoisingAutoencoder(channels=4, image_size=256, width=1024)


# -- registry and bundles -----------------------------------------------------------------------


def test_registered_as_a_model_but_not_a_generator():
    assert "dae" in synthaug.available_models()
    assert "dae" not in synthaug.available_generators()
    assert synthaug.generators.get_model_class("dae") is DenoisingAutoencoder
    assert DenoisingAutoencoder.model_type == "dae"
    assert isinstance(DenoisingAutoencoder(image_size=8, width=4), synthaug.ConfigurableModule)
    assert not isinstance(DenoisingAutoencoder(image_size=8, width=4), synthaug.GeneratorProtocol)


def test_bundle_round_trip_through_synthaug_load(dae, tmp_path):
    dae.train()
    dae.save_pretrained(tmp_path / "bundle")
    document = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert document["model_type"] == "dae" and document["config"] == dae.config
    loaded = synthaug.load(tmp_path / "bundle")
    assert type(loaded) is DenoisingAutoencoder
    assert loaded.config == dae.config
    assert not loaded.training
    x = images_for(dae)
    assert torch.equal(loaded.denoise(x), dae.denoise(x))
    assert torch.equal(DenoisingAutoencoder.from_pretrained(tmp_path / "bundle").denoise(x), dae.denoise(x))


def test_from_pretrained_checks_the_class(dae_factory, generator_factory, tmp_path):
    dae_factory().save_pretrained(tmp_path / "dae")
    generator_factory("cgan").save_pretrained(tmp_path / "cgan")
    with pytest.raises(TypeError, match="DenoisingAutoencoder"):
        synthaug.ConditionalGAN.from_pretrained(tmp_path / "dae")
    with pytest.raises(TypeError, match="ConditionalGAN"):
        DenoisingAutoencoder.from_pretrained(tmp_path / "cgan")


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c.update(num_classes=3), "num_classes"),
        (lambda c: c.update(image_size=10), "image_size"),
        (lambda c: c.update(width="8"), "width"),
        (lambda c: c.update(width=1024, channels=4, image_size=256), "parameters"),
    ],
    ids=["foreign-key", "image_size-10", "width-str", "huge"],
)
def test_bad_bundle_config_is_refused_naming_file_and_key(dae_factory, tmp_path, edit, expected):
    dae_factory().save_pretrained(tmp_path)
    document = json.loads((tmp_path / "config.json").read_text())
    edit(document["config"])
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(BundleError) as info:
        synthaug.load(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value) and expected in str(info.value)


def test_weights_of_another_width_are_refused(dae_factory, tmp_path):
    dae_factory().save_pretrained(tmp_path / "narrow")
    dae_factory(width=16).save_pretrained(tmp_path / "wide")
    (tmp_path / "narrow" / "model.safetensors").write_bytes((tmp_path / "wide" / "model.safetensors").read_bytes())
    with pytest.raises(BundleError, match="model.safetensors"):
        synthaug.load(tmp_path / "narrow")


def test_load_leaves_the_global_rng_alone(dae_factory, tmp_path):
    dae_factory().save_pretrained(tmp_path)
    state = torch.random.get_rng_state()
    synthaug.load(tmp_path)
    assert torch.equal(torch.random.get_rng_state(), state)
