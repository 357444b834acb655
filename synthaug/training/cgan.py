"""Adversarial training for :class:`~synthaug.ConditionalGAN`."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthaug.generators.cgan import ConditionalGAN
from synthaug.training.base import Trainer
from synthaug.training.registry import register_trainer


@register_trainer("cgan")
class CGANTrainer(Trainer):
    """Non-saturating GAN loss (binary cross-entropy on logits), Adam with betas (0.5, 0.999).

    Each step: the discriminator learns real-vs-fake on a real batch and an equally
    labelled fake batch; then the generator learns to make the discriminator call its
    fakes real. Fakes use the real batch's labels, so classes are seen as often as in
    the data.
    """

    model_class = ConditionalGAN
    default_lr = 2e-4
    betas = (0.5, 0.999)  # beta1 = 0.5 is the DCGAN setting; 0.9 makes GAN training oscillate

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "generator": torch.optim.Adam(self.model.generator.parameters(), lr=self.lr, betas=self.betas),
            "discriminator": torch.optim.Adam(self.model.discriminator.parameters(), lr=self.lr, betas=self.betas),
        }

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        gan, d = self.model, self.model.discriminator
        real = images * 2 - 1  # the generator's tanh range
        z = torch.randn(len(labels), gan.latent_dim, generator=self.rng, device=self.device)
        fake = gan.generate_raw(z, labels)

        logits_real, logits_fake = d(real, labels), d(fake.detach(), labels)
        loss_d = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + \
            F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        self.optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["discriminator"].step()

        logits_gen = d(fake, labels)
        loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["generator"].step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}
