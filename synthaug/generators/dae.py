"""A convolutional denoising autoencoder (Vincent et al. 2008) shaped as a tiny U-Net.

Not a generator (no classes, no ``sample``): it maps corrupted images back to clean
ones. It shares the generators' bundle format, so ``synthaug.load`` rebuilds it.
Trained by :class:`synthaug.training.DAETrainer` on images corrupted by
:mod:`synthaug.transforms.corruptions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from synthaug.generators.base import (
    ConfigurableModule,
    check_model_images,
    preserving_modes,
    reconstruction_error,
    register_to_config,
)
from synthaug.generators.config import IntField
from synthaug.generators.registry import register_model


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    # padding 1 keeps the size for 3x3/stride 1 and halves it exactly for 4x4/stride 2.
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=1), nn.ReLU(inplace=True))


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1), nn.ReLU(inplace=True))


@register_model("dae")
class DenoisingAutoencoder(ConfigurableModule):
    """Maps corrupted images ``[B, C, H, W]`` in [0, 1] to clean estimates in [0, 1].

    Encoder: a 3x3 conv at full resolution, then two stride-2 convs down to a quarter of
    the side. Decoder: two transposed convs back up, each joined (concatenated) with the
    encoder map of the same size, as in a U-Net, and a 3x3 conv to image channels with a
    sigmoid. The skips carry fine detail past the bottleneck, so the bottleneck only has
    to learn what to remove. No BatchNorm: each image is denoised independently of the
    others in its batch, so results do not depend on batch size.

    Example:
        >>> dae = DenoisingAutoencoder(channels=1, image_size=16, width=16)
        >>> noisy = torch.rand(4, 1, 16, 16)
        >>> dae.denoise(noisy).shape            # no grad, eval mode, values in [0, 1]
        torch.Size([4, 1, 16, 16])
    """

    config_fields = {
        "channels": IntField(1, 4, help="image channels: 1 grayscale, 3 RGB"),
        "image_size": IntField(8, 256, multiple_of=4, help="square image side, a multiple of 4"),
        "width": IntField(1, 1024, help="base number of conv channels"),
    }

    @register_to_config
    def __init__(self, *, channels: int = 1, image_size: int = 28, width: int = 32) -> None:
        """Build the encoder and decoder convolutions.

        Every argument is recorded in :attr:`config` (and so in a saved bundle's
        ``config.json``) after validation; a wrong type raises ``TypeError``, a value out of
        range ``ValueError``, both naming the argument.

        Args:
            channels: image channels, 1 to 4 (1 grayscale, 3 RGB).
            image_size: square image side, a multiple of 4 from 8 to 256 (8, 16, 28, 32, ...).
            width: base conv channels, 1 to 1024 (default 32); parameters grow with its square.
        """
        super().__init__()
        c, w = channels, width
        self.inc = _conv(c, w, 3)  # [B, w, H, W]
        self.down1 = _conv(w, 2 * w, 4, stride=2)  # [B, 2w, H/2, W/2]
        self.down2 = _conv(2 * w, 2 * w, 4, stride=2)  # [B, 2w, H/4, W/4]
        self.up2 = _up(2 * w, 2 * w)  # [B, 2w, H/2, W/2], joined with down1
        self.up1 = _up(4 * w, w)  # [B, w, H, W], joined with inc
        self.out = nn.Conv2d(2 * w, c, 3, padding=1)

    @staticmethod
    def estimate_parameters(config: Mapping[str, Any]) -> int:
        c, w = config["channels"], config["width"]
        weights = c * w * 9 + w * 2 * w * 16 + 2 * w * 2 * w * 16 + 2 * w * 2 * w * 16 + 4 * w * w * 16 + 2 * w * c * 9
        biases = w + 2 * w + 2 * w + 2 * w + w + c
        return weights + biases

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable denoising (what training uses): ``[B, C, H, W]`` in [0, 1] -> same shape in [0, 1]."""
        h0 = self.inc(images * 2 - 1)  # centred inputs train faster than [0, 1]
        h1 = self.down1(h0)
        h = self.up2(self.down2(h1))
        h = self.up1(torch.cat([h, h1], dim=1))
        return torch.sigmoid(self.out(torch.cat([h, h0], dim=1)))

    def check_images(self, images: Any, *, name: str = "images") -> torch.Tensor:
        """Validate a batch this model can denoise (type, dtype, shape, values in [0, 1]); returns it unchanged."""
        return check_model_images(images, self.image_shape, name=name)

    @torch.no_grad()
    def denoise(self, images: torch.Tensor) -> torch.Tensor:
        """Clean estimates of ``images``, computed without gradients and in eval mode.

        Args:
            images: float tensor ``[B, C, H, W]`` in [0, 1] matching ``image_shape``, on any device.

        Returns:
            A new tensor of the same shape, dtype and device, in [0, 1]. Every submodule's
            train/eval mode is as before the call.

        Example:
            >>> dae = synthaug.load("runs/digits-dae")
            >>> clean = dae.denoise(noisy)          # noisy: [B, 1, 16, 16] in [0, 1]
        """
        self.check_images(images)
        with preserving_modes(self):
            out = self(images.to(device=self.device, dtype=next(self.parameters()).dtype))
        return out.to(device=images.device, dtype=images.dtype)

    @torch.no_grad()
    def denoise_and_score(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(denoise(images), score(images))`` from one model call (what the gated ``Denoise`` uses)."""
        out = self.denoise(images)
        return out, reconstruction_error(out, images)

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image reconstruction error: how much the denoiser changes each image.

        The mean over channels and pixels of ``(denoise(x) - x) ** 2``. A clean image like
        the training data comes back nearly unchanged (a low score); noise, specks, holes
        and other damage the model learnt to remove are changed, so they score high. Use it
        to flag corrupted inputs (see :func:`synthaug.metrics.reconstruction_score`) or to
        gate :class:`~synthaug.transforms.Denoise`.

        Args:
            images: float tensor ``[B, C, H, W]`` in [0, 1] matching ``image_shape``, on any device.

        Returns:
            A float32 tensor ``[B]`` on the images' device, >= 0.

        Example:
            >>> dae.score(torch.stack([clean, noisy]))   # the noisy copy scores higher
        """
        return self.denoise_and_score(images)[1]
