"""Conditional GAN (Mirza & Osindero 2014) with a projection discriminator (Miyato 2018)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from synthaug.generators.base import ConditionalGenerator, register_to_config
from synthaug.generators.blocks import (
    LEGACY_STAGES,
    ConditionalDecoder,
    DownsamplingTrunk,
    config_stages,
    resolve_stages,
    trunk_features,
)
from synthaug.generators.config import BoolField, conditional_image_fields, stages_field
from synthaug.generators.registry import register_generator


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = w . phi(x) + embed(y) . phi(x)``: real/fake logit conditioned on the label.

    The projection head (an inner product between the label embedding and the image
    features) conditions far more reliably than concatenating the label to the input.
    """

    def __init__(
        self,
        num_classes: int,
        channels: int,
        image_size: int,
        width: int,
        spectral_norm: bool = False,
        stages: int = LEGACY_STAGES,
    ):
        super().__init__()
        self.trunk = DownsamplingTrunk(channels, width, image_size, stages)
        self.linear = nn.Linear(self.trunk.out_features, 1)
        self.embed = nn.Embedding(num_classes, self.trunk.out_features)
        nn.init.normal_(self.embed.weight, std=0.02)
        if spectral_norm:
            # Miyato et al. 2018: bound each layer's Lipschitz constant so D cannot
            # sharpen without limit; the usual companion of a projection head and hinge loss.
            for module in [*self.trunk.modules(), self.linear, self.embed]:
                if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` for images in [-1, 1]."""
        h = self.trunk(images)
        return self.linear(h).squeeze(1) + (self.embed(labels) * h).sum(dim=1)


@register_generator("cgan")
class ConditionalGAN(ConditionalGenerator):
    """A class-conditional DCGAN: generator and discriminator in one module.

    Sampling uses :attr:`generator_ema`, an exponential moving average of the generator's
    weights kept by the trainer (``ema=True``, the default): averaged weights give
    visibly cleaner, more stable samples than the last optimiser step. The discriminator
    is kept in the bundle so training can continue from a saved model.

    Example:
        >>> gan = ConditionalGAN(num_classes=10, channels=1, image_size=28)
        >>> gan.sample(torch.arange(10)).shape  # [10, 1, 28, 28], values in [0, 1]
        torch.Size([10, 1, 28, 28])
    """

    config_fields = {
        **conditional_image_fields(),
        "ema": BoolField(help="sample from an exponential moving average of the generator"),
        "spectral_norm": BoolField(help="spectral normalisation on every discriminator layer"),
        "stages": stages_field(),
    }
    # A config.json written before `stages` existed means the two-stage layout at every size.
    legacy_config = {"stages": LEGACY_STAGES}

    @register_to_config
    def __init__(
        self,
        num_classes: int,
        *,
        channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 128,
        width: int = 64,
        embed_dim: int = 16,
        class_names: list[str] | None = None,
        ema: bool = True,
        spectral_norm: bool = False,
        stages: int | None = None,
    ) -> None:
        """Build the generator, the discriminator and (with ``ema``) the averaged generator.

        Every argument is recorded in :attr:`config` (and so in a saved bundle's
        ``config.json``) after validation; a wrong type raises ``TypeError``, a value out of
        range ``ValueError``, both naming the argument.

        Args:
            num_classes: number of classes, 1 to 10,000.
            channels: image channels, 1 to 4 (1 grayscale, 3 RGB).
            image_size: square image side, a multiple of 4 from 8 to 256 (e.g. 16, 28, 32).
            latent_dim: size of z, 1 to 4096 (128 as in the plain DCGAN loop).
            width: base conv channels, 1 to 1024; parameters grow with its square.
            embed_dim: size of the generator's label embedding, 1 to 1024.
            class_names: optional distinct names, one per class.
            ema: keep an averaged copy of the generator and sample from it.
            spectral_norm: spectral normalisation on the discriminator's layers (off by default).
            stages: up/down-sampling stages of the generator and the discriminator, 1 to 6;
                ``None`` (default) chooses from ``image_size`` (2 up to 32 px, 3 at 64, 4 at
                128: see :func:`~synthaug.generators.blocks.default_stages`) and the config
                records the number chosen.
        """
        super().__init__()
        stages = config_stages({"image_size": image_size, "stages": stages})  # validate_config chose it already
        self.generator = ConditionalDecoder(num_classes, channels, image_size, latent_dim, width, embed_dim, stages)
        self.discriminator = ProjectionDiscriminator(
            num_classes, channels, image_size, width, spectral_norm=spectral_norm, stages=stages
        )
        if ema:
            # Same architecture and parameter names as `generator`; updated by the trainer, never by an optimiser.
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], *, where: str | None = None) -> dict[str, Any]:
        """As :meth:`ConfigurableModule.validate_config`, with ``stages=None`` replaced by the number chosen."""
        result = super().validate_config(config, where=where)
        return resolve_stages(result, where or f"{cls.__name__} config")

    @staticmethod
    def estimate_parameters(config: Mapping[str, Any]) -> int:
        c = config
        stages = config_stages(c)
        dec = ConditionalDecoder.estimate_parameters(
            c["num_classes"], c["channels"], c["image_size"], c["latent_dim"], c["width"], c["embed_dim"], stages
        )
        trunk = DownsamplingTrunk.estimate_parameters(c["channels"], c["width"], c["image_size"], stages)
        head = (c["num_classes"] + 1) * trunk_features(c["width"], c["image_size"], stages)
        return dec * (2 if c.get("ema") else 1) + trunk + head

    def generate_raw(self, z: torch.Tensor, labels: torch.Tensor, use_ema: bool = False) -> torch.Tensor:
        """Generator output in [-1, 1] (the range the discriminator sees).

        ``use_ema=True`` uses the averaged generator when the model keeps one.
        """
        net = self.generator_ema if use_ema and self.config["ema"] else self.generator
        return torch.tanh(net(z, labels))

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1]; from the averaged generator when ``ema`` is on (what ``sample`` uses)."""
        return (self.generate_raw(z, labels, use_ema=True) + 1) / 2
