"""Conditional VAE (Sohn et al. 2015): encoder q(z|x,y), decoder p(x|z,y)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synthaug.generators.base import (
    ConditionalGenerator,
    check_labels,
    check_model_images,
    preserving_modes,
    reconstruction_error,
    register_to_config,
)
from synthaug.generators.blocks import (
    LEGACY_STAGES,
    ConditionalDecoder,
    DownsamplingTrunk,
    config_stages,
    resolve_stages,
    trunk_features,
)
from synthaug.generators.config import BoolField, IntField, conditional_image_fields, stages_field
from synthaug.generators.registry import register_generator
from synthaug.validation import check_choice


@register_generator("cvae")
class ConditionalVAE(ConditionalGenerator):
    """A class-conditional convolutional VAE.

    The encoder sees the image with the label broadcast as one-hot planes and outputs
    ``(mu, logvar)``; the decoder (the same body as the GAN generator) maps ``(z, y)`` to
    pixel probabilities.

    Sampling draws ``z`` and decodes. With ``latent_sampler="prior"``, ``z ~ N(0, I)``.
    After :meth:`set_latent_gmm` (the trainer fits one per class on the encoded training
    set) ``z`` comes from that class's Gaussian mixture, which follows the latents real
    images actually occupy instead of the prior the KL term only approximates
    (Ghosh et al. 2020). The mixture is stored in the bundle as plain arrays and is the
    default sampler when present.

    Example:
        >>> vae = ConditionalVAE(num_classes=10, channels=1, image_size=16)
        >>> x, y = torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
        >>> mu, logvar = vae.encode(x, y)   # each [4, 16]
        >>> vae.decode(mu, y).shape         # images in [0, 1]
        torch.Size([4, 1, 16, 16])
    """

    config_fields = {
        **conditional_image_fields(),
        "gmm_components": IntField(0, 64, help="components of the per-class latent mixture (0: none)"),
        "label_classifier": BoolField(help="a classifier q(y|x) for semi-supervised (M2) training"),
        "stages": stages_field(),
    }
    # A config.json written before `stages` existed means the two-stage layout at every size.
    legacy_config = {"stages": LEGACY_STAGES}
    LATENT_SAMPLERS = ("prior", "gmm")
    # The mixture's buffers, present once gmm_components > 0 (declared for type checkers).
    gmm_weights: torch.Tensor
    gmm_means: torch.Tensor
    gmm_variances: torch.Tensor

    @register_to_config
    def __init__(
        self,
        num_classes: int,
        *,
        channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 16,
        width: int = 32,
        embed_dim: int = 16,
        class_names: list[str] | None = None,
        gmm_components: int = 0,
        label_classifier: bool = False,
        stages: int | None = None,
    ) -> None:
        """Build the encoder, the decoder and, with ``gmm_components``, the mixture's placeholders.

        Every argument is recorded in :attr:`config` (and so in a saved bundle's
        ``config.json``) after validation; a wrong type raises ``TypeError``, a value out of
        range ``ValueError``, both naming the argument.

        Args:
            num_classes: number of classes, 1 to 10,000.
            channels: image channels, 1 to 4 (1 grayscale, 3 RGB).
            image_size: square image side, a multiple of 4 from 8 to 256.
            latent_dim: size of z, 1 to 4096 (default 16: a VAE's KL term keeps few dimensions busy).
            width: base conv channels, 1 to 1024; parameters grow with its square.
            embed_dim: size of the decoder's label embedding, 1 to 1024.
            class_names: optional distinct names, one per class.
            gmm_components: components per class of the latent mixture, 0 to 64 (0: none
                yet). It sizes the mixture's arrays so a bundle's fitted mixture loads into
                them; :meth:`set_latent_gmm` (called by the trainer) fills them.
            label_classifier: add a classifier ``q(y|x)`` (:meth:`classify_logits`), which
                semi-supervised training (Kingma et al. 2014, M2) uses to infer the labels
                of unlabelled images; sampling does not use it.
            stages: down/up-sampling stages of the encoder, the decoder (and the
                classifier), 1 to 6; ``None`` (default) chooses from ``image_size`` (2 up to
                32 px, 3 at 64, 4 at 128: see
                :func:`~synthaug.generators.blocks.default_stages`) and the config records
                the number chosen.
        """
        super().__init__()
        stages = config_stages({"image_size": image_size, "stages": stages})  # validate_config chose it already
        self.encoder = DownsamplingTrunk(channels + num_classes, width, image_size, stages)
        self.to_moments = nn.Linear(self.encoder.out_features, 2 * latent_dim)
        self.decoder = ConditionalDecoder(num_classes, channels, image_size, latent_dim, width, embed_dim, stages)
        m, k, d = gmm_components, num_classes, latent_dim
        if m:
            # Placeholders with the saved shapes, so a bundle's arrays load into them.
            self.register_buffer("gmm_weights", torch.full((k, m), 1.0 / m))
            self.register_buffer("gmm_means", torch.zeros(k, m, d))
            self.register_buffer("gmm_variances", torch.ones(k, m, d))
        self._latent_sampler = "gmm" if m else "prior"
        self.label_classifier = label_classifier
        if label_classifier:
            trunk = DownsamplingTrunk(channels, width, image_size, stages)
            self.classifier = nn.Sequential(trunk, nn.Linear(trunk.out_features, num_classes))

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], *, where: str | None = None) -> dict[str, Any]:
        """As :meth:`ConfigurableModule.validate_config`, with ``stages=None`` replaced by the number chosen."""
        result = super().validate_config(config, where=where)
        return resolve_stages(result, where or f"{cls.__name__} config")

    @staticmethod
    def estimate_parameters(config: Mapping[str, Any]) -> int:
        c = config
        stages = config_stages(c)
        features = trunk_features(c["width"], c["image_size"], stages)
        dec = ConditionalDecoder.estimate_parameters(
            c["num_classes"], c["channels"], c["image_size"], c["latent_dim"], c["width"], c["embed_dim"], stages
        )
        enc = DownsamplingTrunk.estimate_parameters(
            c["channels"] + c["num_classes"], c["width"], c["image_size"], stages
        )
        moments = features * 2 * c["latent_dim"]
        mixture = c["num_classes"] * c.get("gmm_components", 0) * (2 * c["latent_dim"] + 1)
        classifier = 0
        if c.get("label_classifier"):
            classifier = DownsamplingTrunk.estimate_parameters(c["channels"], c["width"], c["image_size"], stages)
            classifier += (features + 1) * c["num_classes"]
        return dec + enc + moments + mixture + classifier

    # -- latent sampling ---------------------------------------------------------------
    @property
    def latent_sampler(self) -> str:
        """``"gmm"`` (the per-class mixture, default once fitted) or ``"prior"`` (N(0, I))."""
        return self._latent_sampler

    @latent_sampler.setter
    def latent_sampler(self, value: str) -> None:
        check_choice("latent_sampler", value, self.LATENT_SAMPLERS)
        if value == "gmm" and not self.config["gmm_components"]:
            raise ValueError("latent_sampler='gmm' needs a fitted mixture: call set_latent_gmm (the trainer does)")
        self._latent_sampler = value

    def set_latent_gmm(self, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> None:
        """Install a per-class diagonal Gaussian mixture over z and make it the sampler.

        Args:
            weights: ``[num_classes, M]`` mixing weights, each row summing to 1 (zeros allowed).
            means: ``[num_classes, M, latent_dim]``.
            variances: ``[num_classes, M, latent_dim]``, positive.
        """
        k, d = self.num_classes, self.latent_dim
        weights, means, variances = (torch.as_tensor(t, dtype=torch.float32) for t in (weights, means, variances))
        if weights.dim() != 2 or weights.shape[0] != k or not 1 <= weights.shape[1] <= 64:
            raise ValueError(f"weights must be [{k}, M] with 1 <= M <= 64, got {tuple(weights.shape)}")
        m = weights.shape[1]
        for name, t in (("means", means), ("variances", variances)):
            if tuple(t.shape) != (k, m, d):
                raise ValueError(f"{name} must be [{k}, {m}, {d}], got {tuple(t.shape)}")
        if not all(torch.isfinite(t).all() for t in (weights, means, variances)):
            raise ValueError("mixture arrays must be finite")
        if (weights < 0).any() or not torch.allclose(weights.sum(1), torch.ones(k), atol=1e-4):
            raise ValueError("weights must be non-negative with rows summing to 1")
        if (variances <= 0).any():
            raise ValueError("variances must be positive")
        device = self.device
        self.register_buffer("gmm_weights", weights.to(device))
        self.register_buffer("gmm_means", means.to(device))
        self.register_buffer("gmm_variances", variances.to(device))
        self.config["gmm_components"] = m
        self._latent_sampler = "gmm"

    def sample_latent(
        self, labels: torch.Tensor, generator: torch.Generator | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """From the class's mixture when ``latent_sampler == "gmm"``, else N(0, I).

        ``truncation`` scales the deviation from the chosen component's mean.
        """
        if self._latent_sampler == "prior":
            return super().sample_latent(labels, generator, truncation)
        draw_device = generator.device if generator is not None else self.device
        index = labels.to(self.device)
        component = torch.multinomial(self.gmm_weights[index].to(draw_device), 1, generator=generator).squeeze(1)
        component = component.to(self.device)
        eps = torch.randn(len(labels), self.latent_dim, generator=generator, device=draw_device).to(self.device)
        mean = self.gmm_means[index, component]
        std = self.gmm_variances[index, component].sqrt()
        return mean + std * eps * truncation

    def encode(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``[B, latent_dim]``, for images in [0, 1] and their labels."""
        labels = check_labels(labels, self.num_classes)
        if images.dim() != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"images must have shape [B, {', '.join(map(str, self.image_shape))}], got {tuple(images.shape)}"
            )
        if len(labels) != len(images):
            raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
        return self.encode_unchecked(images, labels)

    def encode_unchecked(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode` without validating its inputs, for training loops whose data was checked once.

        The label range check reads the labels back to the host: on a GPU, a sync per call.
        """
        planes = F.one_hot(labels, self.num_classes).to(images.dtype)[:, :, None, None]
        planes = planes.expand(-1, -1, *images.shape[2:])
        moments = self.to_moments(self.encoder(torch.cat([images * 2 - 1, planes], dim=1)))
        mu, logvar = moments.chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)  # keeps exp(logvar) finite early in training

    def classify_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of ``q(y|x)`` ``[B, num_classes]`` for images in [0, 1] (needs ``label_classifier=True``)."""
        if not self.label_classifier:
            raise ValueError("this ConditionalVAE has no label classifier; build it with label_classifier=True")
        return self.classifier(images * 2 - 1)

    def decode_logits(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid decoder output (what the Bernoulli reconstruction loss needs)."""
        return self.decoder(z, labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latents ``[B, latent_dim]`` and labels ``[B]``."""
        return torch.sigmoid(self.decode_logits(z, labels))

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.decode(z, labels)

    @torch.no_grad()
    def score(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Per-image reconstruction error: how unlike the training data each image is.

        Each image is encoded to its posterior mean and decoded again, and the score is the
        mean over channels and pixels of ``(reconstruction - x) ** 2``. With ``labels`` the
        image is reconstructed as that class; without them (the usual case for flagging
        inputs) as every class in turn, and the lowest error counts: an image of no class the
        model knows, or one damaged, reconstructs badly under all of them.

        Args:
            images: float tensor ``[B, C, H, W]`` in [0, 1] matching ``image_shape``, on any device.
            labels: LongTensor ``[B]`` of class indices, or ``None`` (best over the classes;
                ``num_classes`` model calls).

        Returns:
            A float32 tensor ``[B]`` on the images' device, >= 0. Eval mode, no gradients;
            every submodule's mode is restored afterwards.

        Example:
            >>> vae.score(images)                # [B]: high for damaged or unfamiliar images
        """
        check_model_images(images, self.image_shape)
        if labels is not None:
            labels = check_labels(labels, self.num_classes)
            if len(labels) != len(images):
                raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
        x = images.to(device=self.device, dtype=torch.float32)
        with preserving_modes(self):
            if labels is not None:
                return self._reconstruction_error(x, labels.to(self.device)).to(images.device)
            errors = [
                self._reconstruction_error(x, torch.full((len(x),), k, dtype=torch.long, device=self.device))
                for k in range(self.num_classes)
            ]
        return torch.stack(errors).amin(0).to(images.device)

    def _reconstruction_error(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        mu, _ = self.encode_unchecked(images, labels)
        return reconstruction_error(self.decode(mu, labels), images)

    @staticmethod
    def reparameterize(
        mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` drawn from ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps
