"""ELBO training for :class:`~synthaug.ConditionalVAE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from synthaug.data.streaming import TrainingData
from synthaug.generators.cvae import ConditionalVAE
from synthaug.training.base import UNSET, Trainer, TrainingConfig
from synthaug.training.config import CVAE_MIN_DEFAULT_STEPS, CVAETrainingConfig
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
    ``kl_warmup_steps`` (200), ``gmm_components`` (10), ``semi_supervised`` ("pseudo-labels";
    ``"m2"``: see :meth:`training_step`), ``m2_alpha``); those given as keyword arguments
    override ``config``'s, and ``**overrides`` are the shared
    :class:`~synthaug.training.TrainingConfig` fields.
    """

    model_class = ConditionalVAE
    config_class = CVAETrainingConfig
    kind = "VAEs"
    # Given neither epochs nor steps: 20 epochs but at least this many steps. Measured on
    # Fashion-MNIST's 1,000-image low100 (docs/benchmarks.md, "Generator step budgets").
    min_default_steps = CVAE_MIN_DEFAULT_STEPS
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
        semi_supervised: str = UNSET,
        m2_alpha: float | None = UNSET,
        **overrides: Any,
    ):
        super().__init__(
            model,
            out_dir,
            config,
            beta=beta,
            kl_warmup_steps=kl_warmup_steps,
            gmm_components=gmm_components,
            semi_supervised=semi_supervised,
            m2_alpha=m2_alpha,
            **overrides,
        )
        self.gmm_components = self.config.gmm_components
        self.beta = self.config.beta
        self.kl_warmup_steps = self.config.kl_warmup_steps
        self.m2 = self.config.semi_supervised == "m2"
        if self.m2 and not self.model.label_classifier:
            raise ValueError(
                "semi_supervised='m2' trains the model's own classifier q(y|x): build the model with "
                "ConditionalVAE(..., label_classifier=True)"
            )
        if self.m2 and self.dist.enabled:
            raise ValueError("semi_supervised='m2' does not run under torchrun yet; use 'pseudo-labels'")
        channels, height, width = self.model.image_shape
        self.m2_alpha = self.config.m2_alpha if self.config.m2_alpha is not None else 0.1 * channels * height * width
        self._pool: torch.Tensor | None = None  # M2: the unlabelled images, on the device

    def with_unlabelled(self, data: TrainingData, unlabelled: Any) -> TrainingData:
        """M2 keeps the pool apart (each step also draws a batch of it); otherwise pseudo-labels, as every trainer."""
        if not self.m2:
            return super().with_unlabelled(data, unlabelled)
        self._pool = self.pool_images(unlabelled).to(self.device)
        return data

    def finalize(self, data: TrainingData) -> None:
        if self.gmm_components:
            fit_latent_gmm(self.model, data, self.gmm_components, seed=self.config.seed)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"vae": self.adam(self.model.parameters())}

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"vae": _EncodeDecode(self.model)}

    def _negative_elbo(
        self, images: torch.Tensor, labels: torch.Tensor, kl_weight: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per image: ``(recon + kl_weight * kl, recon, kl)``, each ``[B]``."""
        mu, logvar, logits = self.nets["vae"](images, labels, self.rng)
        recon = F.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1).sum(1)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
        return recon + kl_weight * kl, recon, kl

    def _unlabelled_loss(self, batch: int, kl_weight: float) -> torch.Tensor:
        """M2's term for a batch of the pool: E_q(y|x)[-ELBO(x, y)] - H(q(y|x)), averaged over images."""
        assert self._pool is not None
        index = torch.randint(0, len(self._pool), (batch,), generator=self.rng, device=self.device)
        images = self._pool[index]
        k = self.model.num_classes
        # Every image with every label: one encoder/decoder pass over batch * k items.
        every = images.repeat_interleave(k, dim=0)
        labels = torch.arange(k, device=self.device).repeat(batch)
        negative_elbo = self._negative_elbo(every, labels, kl_weight)[0].view(batch, k)
        log_q = F.log_softmax(self.model.classify_logits(images).float(), dim=1)
        q = log_q.exp()
        return ((q * negative_elbo).sum(1) + (q * log_q).sum(1)).mean()

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        done = self.global_step + 1
        weight = self.beta * min(1.0, done / self.kl_warmup_steps) if self.kl_warmup_steps else self.beta
        if not self.m2:
            mu, logvar, logits = self.nets["vae"](images, labels, self.rng)
            batch = len(images)
            recon = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / batch
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
            loss = recon + weight * kl
            losses = {"loss": loss, "loss_recon": recon, "loss_kl": kl}
        else:
            # Kingma et al. 2014 (M2): labelled images train the ELBO and q(y|x) directly;
            # the pool's labels are summed out under q(y|x), which so learns from the pool too.
            negative_elbo, recon, kl = self._negative_elbo(images, labels, weight)
            classification = F.cross_entropy(self.model.classify_logits(images).float(), labels)
            loss = negative_elbo.mean() + self.m2_alpha * classification
            losses = {"loss": loss, "loss_recon": recon.mean(), "loss_kl": kl.mean(), "loss_class": classification}
            if self._pool is not None:
                unlabelled = self._unlabelled_loss(len(images), weight)
                loss = loss + unlabelled
                losses.update(loss=loss, loss_unlabelled=unlabelled)
        self.optimizers["vae"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["vae"].step()
        return {key: value.detach() for key, value in losses.items()}
