"""Network pieces shared by the model families: a conditional upsampling decoder and a
downsampling conv trunk. Both work for any image size divisible by 4 (8, 16, 28, 32...).
"""

from __future__ import annotations

import torch
from torch import nn


class ConditionalDecoder(nn.Module):
    """``(z, y) -> logits [B, C, H, W]``: the DCGAN-style generator body from the lecture.

    The label embedding is joined to the latent, a dense layer makes a ``2*width``-channel
    map at a quarter of the image size, and two transposed convs double it twice.
    The caller picks the output squashing (tanh for a GAN, sigmoid for a VAE).
    """

    def __init__(self, num_classes: int, channels: int, image_size: int, latent_dim: int, width: int, embed_dim: int):
        super().__init__()
        self.base = image_size // 4
        self.width = width
        self.embed = nn.Embedding(num_classes, embed_dim)
        features = 2 * width * self.base * self.base
        self.project = nn.Sequential(
            nn.Linear(latent_dim + embed_dim, features, bias=False),
            nn.BatchNorm1d(features),
            nn.ReLU(inplace=True),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            # Straight to image channels at full size, as in DCGAN: a further conv at full
            # resolution costs more CPU time than it buys at these sizes.
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),
        )

    @staticmethod
    def estimate_parameters(
        num_classes: int, channels: int, image_size: int, latent_dim: int, width: int, embed_dim: int
    ) -> int:
        base = image_size // 4
        dense = (latent_dim + embed_dim) * 2 * width * base * base
        convs = 2 * width * width * 16 + width * channels * 16
        return dense + convs + num_classes * embed_dim

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, self.embed(labels)], dim=1))
        return self.upsample(h.view(-1, 2 * self.width, self.base, self.base))


class DownsamplingTrunk(nn.Module):
    """``x [B, C, H, W] -> features [B, 2*width*(H/4)*(W/4)]``: two stride-2 conv blocks.

    Used as the GAN discriminator body (LeakyReLU, no BatchNorm so the batch of fakes and
    the batch of reals do not leak statistics into each other) and as the VAE encoder.
    """

    def __init__(self, in_channels: int, width: int, image_size: int):
        super().__init__()
        self.out_features = 2 * width * (image_size // 4) ** 2
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
        )

    @staticmethod
    def estimate_parameters(in_channels: int, width: int, image_size: int) -> int:
        return in_channels * width * 16 + 2 * width * width * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
