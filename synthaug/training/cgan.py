"""Adversarial training for :class:`~synthaug.ConditionalGAN`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from synthaug.data.streaming import TrainingData
from synthaug.generators.cgan import ConditionalGAN
from synthaug.training.base import UNSET, Trainer, TrainingConfig
from synthaug.training.config import CGAN_MIN_DEFAULT_STEPS, CGANTrainingConfig
from synthaug.training.diffaugment import DiffAugment
from synthaug.training.ema import update_ema
from synthaug.training.losses import get_gan_loss
from synthaug.training.registry import register_trainer

logger = logging.getLogger(__name__)

# Below this many training images DiffAugment is switched on by "auto": the regime where
# Zhao et al. (2020) show discriminators overfit (they report gains up to 10% of CIFAR-10,
# i.e. 5,000 images; we round up to 10,000).
SMALL_DATA_IMAGES = 10_000


@register_trainer("cgan")
class CGANTrainer(Trainer):
    """Conditional GAN training: Adam with betas (0.5, 0.999), lr 2e-4.

    Each step: the discriminator learns real-vs-fake on a real batch and an equally
    labelled fake batch; then the generator learns to make the discriminator call its
    fakes real. Fakes use the real batch's labels, so classes are seen as often as in the
    data. After each generator step the model's EMA generator (if it has one) is updated.

    Its options are :class:`~synthaug.training.CGANTrainingConfig`'s fields; those given
    as keyword arguments override ``config``'s (every one defaults to the config's value).

    Args:
        loss: ``"bce"`` (non-saturating binary cross-entropy, the classic) or ``"hinge"``.
        diffaugment: ``"auto"`` (on with translation+cutout, plus color for RGB, when the
            training set has fewer than 10,000 images), ``None`` or ``"off"`` (off), or a
            policy such as ``"translation,cutout"``.
        ema_decay: decay of the generator's moving average.
        **overrides: the shared :class:`~synthaug.training.TrainingConfig` fields
            (``epochs`` or ``steps``, ``batch_size``, ``lr``, ``seed``, ...).
    """

    model_class = ConditionalGAN
    config_class = CGANTrainingConfig
    kind = "GANs"
    default_lr = 2e-4
    # Given neither epochs nor steps: 20 epochs but at least this many steps. Measured on
    # Fashion-MNIST's 1,000-image low100 (docs/benchmarks.md, "Generator step budgets").
    min_default_steps = CGAN_MIN_DEFAULT_STEPS
    betas = (0.5, 0.999)  # beta1 = 0.5 is the DCGAN setting; 0.9 makes GAN training oscillate
    config: CGANTrainingConfig
    model: ConditionalGAN

    def __init__(
        self,
        model: ConditionalGAN,
        out_dir: str | Path,
        config: TrainingConfig | None = None,
        *,
        loss: str = UNSET,
        diffaugment: str | Sequence[str] | None = UNSET,
        ema_decay: float = UNSET,
        **overrides: Any,
    ):
        super().__init__(model, out_dir, config, loss=loss, diffaugment=diffaugment, ema_decay=ema_decay, **overrides)
        self.loss = get_gan_loss(self.config.loss)
        self.ema_decay = self.config.ema_decay
        self.diffaugment_policy = self.config.diffaugment
        policy = self.diffaugment_policy
        self.augment: DiffAugment | None = None if policy in (None, "auto") else DiffAugment(policy)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "generator": self.adam(self.model.generator.parameters(), betas=self.betas),
            "discriminator": self.adam(self.model.discriminator.parameters(), betas=self.betas),
        }

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.model.generator, "discriminator": self.model.discriminator}

    def prepare(self, data: TrainingData) -> None:
        if self.diffaugment_policy == "auto" and len(data) < SMALL_DATA_IMAGES:
            # Colour jitter on grayscale mostly shifts brightness, which D then ignores; keep it for RGB.
            policy = "color,translation,cutout" if self.model.image_shape[0] > 1 else "translation,cutout"
            self.augment = DiffAugment(policy)
            logger.info("%d training images < %d: DiffAugment(%s) on", len(data), SMALL_DATA_IMAGES, policy)

    def _discriminate(self, discriminator: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            images = self.augment(images, generator=self.rng)
        return discriminator(images, labels)

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        gan = self.model
        real = images * 2 - 1  # the generator's tanh range
        z = torch.randn(len(labels), gan.latent_dim, generator=self.rng, device=self.device)
        fake = torch.tanh(self.nets["generator"](z, labels))  # gan.generate_raw, through DDP under torchrun

        # Real and fake go through D as one batch: half the kernel launches, which dominate
        # at these sizes. Exact, because the discriminator has no batch statistics.
        logits_real, logits_fake = self._discriminate(
            self.nets["discriminator"], torch.cat([real, fake.detach()]), torch.cat([labels, labels])
        ).chunk(2)
        loss_d = self.loss.discriminator(logits_real, logits_fake)
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminator"].step()

        # D's weights get no gradient from the generator step: freezing them skips the
        # weight-gradient half of D's backward pass (the largest cost on CPU). Called
        # unwrapped: a frozen D has no gradients for DDP to average.
        gan.discriminator.requires_grad_(False)
        try:
            loss_g = self.loss.generator(self._discriminate(gan.discriminator, fake, labels))
            self.optimizers["generator"].zero_grad(set_to_none=True)
            loss_g.backward()
        finally:
            gan.discriminator.requires_grad_(True)
        self.optimizers["generator"].step()
        if gan.config["ema"]:
            update_ema(gan.generator_ema, gan.generator, self.ema_decay, self.global_step)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}
