"""Network pieces shared by the model families: a conditional upsampling decoder and a
downsampling conv trunk, with a number of resolution stages that follows the image size.

Each stage halves (trunk) or doubles (decoder) the side and doubles (halves) the
channels, as in DCGAN. Two stages (a quarter of the side, ``2 * width`` channels) was the
only layout before stages became a config field; :func:`default_stages` still picks two
at every size up to 32, so 16, 28 and 32 px models are unchanged, and adds stages above
that so the decoder's dense layer (which grows with the square of the smallest side)
stays about as large as at 32 px and the discriminator/encoder grows with the decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

LEGACY_STAGES = 2
"""The layout of every model built before ``stages`` existed: what a config without the key means."""
MAX_BASE_SIDE = 8
""":func:`default_stages` adds stages until the smallest feature map is at most this many pixels wide."""
MAX_STAGES = 6
MAX_CHANNEL_MULTIPLIER = 8
"""The widest feature map has at most ``8 * width`` channels (DCGAN's ``ngf * 8``)."""


def default_stages(image_size: int) -> int:
    """The stages a model of side ``image_size`` gets when ``stages`` is not given.

    Two, plus one for every halving still needed to bring the smallest feature map to at
    most :data:`MAX_BASE_SIDE` pixels, as long as the side stays divisible: 16, 28, 32 px
    get 2 (as always), 64 px 3, 128 px 4; 36 px (9 after two halvings, odd) keeps 2.
    """
    stages = LEGACY_STAGES
    while stages < MAX_STAGES and image_size // 2**stages > MAX_BASE_SIDE and image_size % 2 ** (stages + 1) == 0:
        stages += 1
    return stages


def check_stages(image_size: int, stages: int, where: str = "config") -> None:
    """Refuse ``stages`` that do not divide ``image_size`` into whole feature maps."""
    if image_size % 2**stages or image_size // 2**stages < 1:
        raise ValueError(
            f"{where}: stages={stages} needs image_size divisible by 2**{stages} = {2**stages}, got image_size="
            f"{image_size}; use stages <= {_most_stages(image_size)} or leave stages unset (None) to choose from the size"
        )


def _most_stages(image_size: int) -> int:
    stages = 0
    while image_size % 2 ** (stages + 1) == 0 and stages < MAX_STAGES:
        stages += 1
    return stages


def stage_channels(width: int, stages: int) -> list[int]:
    """Channels of the feature maps from full resolution down: ``[width, 2 * width, ...]``, capped at ``8 * width``."""
    return [width * min(2**k, MAX_CHANNEL_MULTIPLIER) for k in range(stages)]


def trunk_features(width: int, image_size: int, stages: int) -> int:
    """Length of a :class:`DownsamplingTrunk`'s output (and of the decoder's projection)."""
    return stage_channels(width, stages)[-1] * (image_size // 2**stages) ** 2


class ConditionalDecoder(nn.Module):
    """``(z, y) -> logits [B, C, H, W]``: the DCGAN-style generator body from the lecture.

    The label embedding is joined to the latent, a dense layer makes a feature map at
    ``image_size / 2**stages`` with the widest channel count, and ``stages`` transposed
    convs double it back to full size (halving the channels, the last one to image
    channels). With ``stages=2``: ``2*width`` channels at a quarter of the size, then
    ``width``, then the image. The caller picks the output squashing (tanh for a GAN,
    sigmoid for a VAE).
    """

    def __init__(
        self,
        num_classes: int,
        channels: int,
        image_size: int,
        latent_dim: int,
        width: int,
        embed_dim: int,
        stages: int = LEGACY_STAGES,
    ):
        super().__init__()
        self.base = image_size // 2**stages
        widths = stage_channels(width, stages)
        self.width = width
        self.base_channels = widths[-1]  # channels of the projected map
        self.embed = nn.Embedding(num_classes, embed_dim)
        features = self.base_channels * self.base * self.base
        self.project = nn.Sequential(
            nn.Linear(latent_dim + embed_dim, features, bias=False),
            nn.BatchNorm1d(features),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for wider, narrower in zip(widths[:0:-1], widths[-2::-1]):
            layers += [
                nn.ConvTranspose2d(wider, narrower, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(narrower),
                nn.ReLU(inplace=True),
            ]
        # Straight to image channels at full size, as in DCGAN: a further conv at full
        # resolution costs more CPU time than it buys at these sizes.
        layers.append(nn.ConvTranspose2d(widths[0], channels, 4, stride=2, padding=1))
        self.upsample = nn.Sequential(*layers)

    @staticmethod
    def estimate_parameters(
        num_classes: int,
        channels: int,
        image_size: int,
        latent_dim: int,
        width: int,
        embed_dim: int,
        stages: int = LEGACY_STAGES,
    ) -> int:
        widths = stage_channels(width, stages)
        dense = (latent_dim + embed_dim) * trunk_features(width, image_size, stages)
        convs = sum(a * b * 16 for a, b in zip(widths[1:], widths[:-1])) + widths[0] * channels * 16
        return dense + convs + num_classes * embed_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.embed(labels)], dim=1))
        return self.upsample(h.view(-1, self.base_channels, self.base, self.base))


class DownsamplingTrunk(nn.Module):
    """``x [B, C, H, W] -> features [B, channels * (H / 2**stages) * (W / 2**stages)]``: stride-2 conv blocks.

    Used as the GAN discriminator body (LeakyReLU, no BatchNorm so the batch of fakes and
    the batch of reals do not leak statistics into each other) and as the VAE encoder.
    With ``stages=2``: ``width`` then ``2*width`` channels, a quarter of the side.
    """

    def __init__(self, in_channels: int, width: int, image_size: int, stages: int = LEGACY_STAGES):
        super().__init__()
        self.out_features = trunk_features(width, image_size, stages)
        widths = stage_channels(width, stages)
        layers: list[nn.Module] = []
        for before, after in zip([in_channels, *widths[:-1]], widths):
            layers += [nn.Conv2d(before, after, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        self.net = nn.Sequential(*layers, nn.Flatten())

    @staticmethod
    def estimate_parameters(in_channels: int, width: int, image_size: int, stages: int = LEGACY_STAGES) -> int:
        widths = stage_channels(width, stages)
        return sum(a * b * 16 for a, b in zip([in_channels, *widths[:-1]], widths))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def resolve_stages(config: dict, where: str) -> dict:
    """``config`` with ``stages`` chosen from ``image_size`` when it is ``None``, and checked against it.

    A validated model config records the number, so a saved bundle keeps its layout even if
    :func:`default_stages` changes. A config without the key (a subclass whose ``__init__``
    predates ``stages``) is returned as it is: the model then chooses from the size.
    """
    if "stages" not in config:
        return config
    if config["stages"] is None:
        config["stages"] = default_stages(config["image_size"])
    check_stages(config["image_size"], config["stages"], where)
    return config


def config_stages(config: Mapping[str, Any]) -> int:
    """The stages a (possibly not yet resolved) config builds, for parameter estimates."""
    stages = config.get("stages")
    return default_stages(config["image_size"]) if stages is None else stages
