"""Conditional VAE (Sohn et al. 2015): encoder q(z|x,y), decoder p(x|z,y)."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from synthaug.generators.base import ConditionalGenerator, check_labels
from synthaug.generators.blocks import ConditionalDecoder, DownsamplingTrunk
from synthaug.generators.config import conditional_image_fields
from synthaug.generators.registry import register_generator


@register_generator("cvae")
class ConditionalVAE(ConditionalGenerator):
    """A class-conditional convolutional VAE.

    The encoder sees the image with the label broadcast as one-hot planes and outputs
    ``(mu, logvar)``; the decoder (the same body as the GAN generator) maps ``(z, y)`` to
    pixel probabilities. Sampling draws ``z ~ N(0, I)`` and decodes.

    Args: as :class:`~synthaug.ConditionalGAN` (default ``latent_dim=16``, ``width=32``).

    Example:
        >>> vae = ConditionalVAE(num_classes=10, channels=1, image_size=16)
        >>> x, y = torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
        >>> mu, logvar = vae.encode(x, y)   # each [4, 16]
        >>> vae.decode(mu, y).shape         # images in [0, 1]
        torch.Size([4, 1, 16, 16])
    """

    config_fields = conditional_image_fields(latent_dim=16, width=32)

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        c = self.config
        self.encoder = DownsamplingTrunk(c["channels"] + c["num_classes"], c["width"], c["image_size"])
        self.to_moments = nn.Linear(self.encoder.out_features, 2 * c["latent_dim"])
        self.decoder = ConditionalDecoder(
            c["num_classes"], c["channels"], c["image_size"], c["latent_dim"], c["width"], c["embed_dim"]
        )

    @staticmethod
    def estimate_parameters(config: Mapping[str, Any]) -> int:
        c = config
        dec = ConditionalDecoder.estimate_parameters(
            c["num_classes"], c["channels"], c["image_size"], c["latent_dim"], c["width"], c["embed_dim"]
        )
        enc = DownsamplingTrunk.estimate_parameters(c["channels"] + c["num_classes"], c["width"], c["image_size"])
        moments = 2 * c["width"] * (c["image_size"] // 4) ** 2 * 2 * c["latent_dim"]
        return dec + enc + moments

    def encode(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``[B, latent_dim]``, for images in [0, 1] and their labels."""
        labels = check_labels(labels, self.num_classes)
        if images.dim() != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"images must have shape [B, {', '.join(map(str, self.image_shape))}], got {tuple(images.shape)}")
        planes = F.one_hot(labels, self.num_classes).to(images.dtype)[:, :, None, None]
        planes = planes.expand(-1, -1, *images.shape[2:])
        moments = self.to_moments(self.encoder(torch.cat([images * 2 - 1, planes], dim=1)))
        mu, logvar = moments.chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)  # keeps exp(logvar) finite early in training

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid decoder output (what the Bernoulli reconstruction loss needs)."""
        return self.decoder(z, labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latents ``[B, latent_dim]`` and labels ``[B]``."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.decode(z, labels)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` drawn from ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps
