"""ELBO training for :class:`~synthaug.ConditionalVAE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from synthaug.data.real import LabelledImages
from synthaug.generators.cvae import ConditionalVAE
from synthaug.training.base import UNSET, Trainer, TrainingConfig
from synthaug.training.config import CVAETrainingConfig
from synthaug.training.latent_gmm import fit_latent_gmm
from synthaug.training.registry import register_trainer


class _EncodeDecode(torch.nn.Module):
    """The cVAE's training forward pass as one module, so DDP can wrap it under torchrun."""

    def __init__(self, vae: ConditionalVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mu, logvar, decoder logits)`` for a batch, with ``z`` drawn from ``generator``."""
        mu, logvar = self.vae.encode_unchecked(images, labels)  # fit checked the data once: no sync per step
        z = self.vae.reparameterize(mu, logvar, generator=generator)
        return mu, logvar, self.vae.decode_logits(z, labels)


@register_trainer("cvae")
class CVAETrainer(Trainer):
    """Loss = reconstruction + beta * KL, both per image, with a linear KL warm-up.

    Reconstruction is Bernoulli cross-entropy summed over pixels (images in [0, 1]);
    KL is the closed form against N(0, I). ``beta`` ramps from 0 to its value over
    ``kl_warmup_steps`` so the decoder learns to use z before the prior pulls on it.
    Both terms are logged (``loss_recon``, ``loss_kl``) next to the total.

    After the last step, a per-class Gaussian mixture with ``gmm_components`` components
    is fitted to the encoded training set and becomes the model's default latent sampler
    (``gmm_components=0`` skips it); see :mod:`synthaug.training.latent_gmm`.

    Its options are :class:`~synthaug.training.CVAETrainingConfig`'s fields (``beta``,
    ``kl_warmup_steps`` (200), ``gmm_components`` (10)); those given as keyword arguments
    override ``config``'s, and ``**overrides`` are the shared
    :class:`~synthaug.training.TrainingConfig` fields.
    """

    model_class = ConditionalVAE
    config_class = CVAETrainingConfig
    kind = "VAEs"
    default_lr = 1e-3
    config: CVAETrainingConfig
    model: ConditionalVAE

    def __init__(
        self,
        model: ConditionalVAE,
        out_dir: str | Path,
        config: TrainingConfig | None = None,
        *,
        beta: float = UNSET,
        kl_warmup_steps: int = UNSET,
        gmm_components: int = UNSET,
        **overrides: Any,
    ):
        super().__init__(
            model,
            out_dir,
            config,
            beta=beta,
            kl_warmup_steps=kl_warmup_steps,
            gmm_components=gmm_components,
            **overrides,
        )
        self.gmm_components = self.config.gmm_components
        self.beta = self.config.beta
        self.kl_warmup_steps = self.config.kl_warmup_steps

    def finalize(self, data: LabelledImages) -> None:
        if self.gmm_components:
            fit_latent_gmm(self.model, data, self.gmm_components, seed=self.config.seed)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.adam(self.model.parameters())}

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"vae": _EncodeDecode(self.model)}

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar, logits = self.nets["vae"](images, labels, self.rng)
        batch = len(images)
        recon = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / batch
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
        done = self.global_step + 1
        weight = self.beta * min(1.0, done / self.kl_warmup_steps) if self.kl_warmup_steps else self.beta
        loss = recon + weight * kl
        self.optimizers["vae"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["vae"].step()
        return {"loss": loss.detach(), "loss_recon": recon.detach(), "loss_kl": kl.detach()}
