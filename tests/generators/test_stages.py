"""Architectures that scale with the image size, and the 28x28 layout that must never change."""

from __future__ import annotations

import json

import pytest
import torch

import synthaug
from synthaug import ConditionalGAN, ConditionalVAE
from synthaug.generators.base import count_parameters
from synthaug.generators.blocks import default_stages

# The state-dict shapes of today's default 28x28x1 cGAN (10 classes): published benchmark
# bundles load into exactly these.
CGAN_28 = {
    "generator.embed.weight": (10, 16),
    "generator.project.0.weight": (6272, 144),
    "generator.project.1.weight": (6272,),
    "generator.upsample.0.weight": (128, 64, 4, 4),
    "generator.upsample.1.weight": (64,),
    "generator.upsample.3.weight": (64, 1, 4, 4),
    "generator.upsample.3.bias": (1,),
    "discriminator.trunk.net.0.weight": (64, 1, 4, 4),
    "discriminator.trunk.net.2.weight": (128, 64, 4, 4),
    "discriminator.linear.weight": (1, 6272),
    "discriminator.embed.weight": (10, 6272),
}


@pytest.mark.parametrize("size, stages", [(8, 2), (16, 2), (28, 2), (32, 2), (36, 2), (48, 3), (64, 3), (128, 4)])
def test_default_stages_follow_the_size(size, stages):
    assert default_stages(size) == stages


def test_the_default_28x28_cgan_is_todays_architecture():
    gan = ConditionalGAN(10)
    shapes = {k: tuple(v.shape) for k, v in gan.state_dict().items()}
    assert {k: shapes[k] for k in CGAN_28} == CGAN_28
    assert gan.config["stages"] == 2
    assert count_parameters(gan) == 2_297_475  # generator + EMA copy + discriminator, as in the benchmarks


@pytest.mark.parametrize("family", ["cgan", "cvae"])
def test_a_config_without_stages_means_the_old_layout_at_any_size(family, tmp_path):
    """A 64x64 bundle saved before `stages` existed had two stages; it must load as two."""
    cls = synthaug.generators.get_generator_class(family)
    old = cls(num_classes=2, channels=3, image_size=64, width=4, latent_dim=4, stages=2)
    old.save_pretrained(tmp_path / "old")
    config_path = tmp_path / "old" / "config.json"
    document = json.loads(config_path.read_text())
    del document["config"]["stages"]
    config_path.write_text(json.dumps(document))
    loaded = synthaug.load(tmp_path / "old")
    assert loaded.config["stages"] == 2
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), old.state_dict().values()))
    assert cls(num_classes=2, channels=3, image_size=64, width=4, latent_dim=4).config["stages"] == 3


@pytest.mark.parametrize("size", [16, 28, 32, 64, 128])
def test_generator_and_discriminator_stay_balanced(size):
    gan = ConditionalGAN(10, channels=3, image_size=size)
    generator, discriminator = count_parameters(gan.generator), count_parameters(gan.discriminator)
    assert generator / discriminator < 7  # at 64 px the two-stage layout had 4.9 M vs 0.49 M (10x)
    assert abs(ConditionalGAN.estimate_parameters(gan.config) - count_parameters(gan)) < 0.02 * count_parameters(gan)


@pytest.mark.parametrize("family", ["cgan", "cvae"])
@pytest.mark.parametrize("size", [48, 64])
def test_deeper_models_sample_and_discriminate_at_their_size(family, size):
    cls = synthaug.generators.get_generator_class(family)
    model = cls(num_classes=2, channels=3, image_size=size, width=4, latent_dim=4)
    assert model.config["stages"] == 3
    images = model.sample(torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, size, size)
    if family == "cgan":
        assert model.discriminator(images * 2 - 1, torch.tensor([0, 1])).shape == (2,)
    else:
        assert model.encode(images, torch.tensor([0, 1]))[0].shape == (2, 4)


def test_stages_that_do_not_divide_the_size_are_refused():
    with pytest.raises(ValueError, match=r"stages=3 needs image_size divisible by 2\*\*3"):
        ConditionalGAN(2, image_size=28, stages=3)
    with pytest.raises(ValueError, match="stages must be in"):
        ConditionalVAE(2, image_size=28, stages=0)
