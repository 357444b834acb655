"""Training for :class:`~synthaug.DenoisingAutoencoder`: corrupt clean images, learn to undo it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from synthaug.data.streaming import TrainingData
from synthaug.generators.dae import DenoisingAutoencoder
from synthaug.training.base import UNSET, Trainer, TrainingConfig
from synthaug.training.config import DAETrainingConfig
from synthaug.training.registry import register_trainer
from synthaug.transforms.corruptions import CorruptionMix
from synthaug.viz import save_image_grid


@register_trainer("dae")
class DAETrainer(Trainer):
    """Loss = MSE between ``dae(corrupt(x))`` and the clean ``x``; Adam, lr 1e-3.

    Each step corrupts every image of the batch with one corruption drawn from
    ``corruptions`` (with the run's seeded generator, so a seed reproduces the run and
    resuming continues the same draws). Logs ``loss`` and, for scale, ``mse_corrupted``:
    the MSE of the corrupted input itself, which the loss should fall well below. Labels
    are not used.

    Progress images (``samples/epoch_NNN.png``) show three rows for a fixed batch: clean,
    corrupted (cycling through the mix's corruptions, drawn once from ``seed``), denoised.

    Its options are :class:`~synthaug.training.DAETrainingConfig`'s fields; those given as
    keyword arguments override ``config``'s, and ``**overrides`` are the shared
    :class:`~synthaug.training.TrainingConfig` fields.

    Args:
        corruptions: a :class:`~synthaug.transforms.CorruptionMix`, or what it accepts
            (``{name: weight}``, a list of names, ``None`` for the equal mix of all four).
        corruption_params: the mix's ``params`` (per corruption, keyword arguments of its
            function) when ``corruptions`` is given as names or weights.
        preview_images: clean images ``[N, C, H, W]`` for the progress images, ideally
            held out; default: ``samples_per_class`` images spread over the training data.

    Example:
        >>> dae = synthaug.DenoisingAutoencoder(channels=1, image_size=16, width=32)
        >>> DAETrainer(dae, "runs/digits-dae", epochs=30, corruptions=["gaussian", "blur"]).fit(data.train)
    """

    model_class = DenoisingAutoencoder
    config_class = DAETrainingConfig
    kind = "denoisers"
    default_lr = 1e-3
    uses_labels = False
    uses_preview_images = True
    config: DAETrainingConfig
    model: DenoisingAutoencoder

    def __init__(
        self,
        model: DenoisingAutoencoder,
        out_dir: str | Path,
        config: TrainingConfig | None = None,
        *,
        corruptions: CorruptionMix | Mapping[str, float] | Sequence[str] | str | None = UNSET,
        corruption_params: Mapping[str, Mapping[str, Any]] | None = UNSET,
        preview_images: torch.Tensor | None = None,
        **overrides: Any,
    ):
        mix = corruptions if isinstance(corruptions, CorruptionMix) else None
        if mix is not None:  # the config records what the mix is made of
            if corruption_params is not UNSET:
                raise TypeError(
                    "corruption_params goes with corruptions given as names or weights, not with a "
                    "CorruptionMix (which has its params)"
                )
            corruptions, corruption_params = dict(mix.weights), (mix.params or None)
        super().__init__(
            model, out_dir, config, corruptions=corruptions, corruption_params=corruption_params, **overrides
        )
        self.corruptions = mix if mix is not None else self.config.corruption_mix()
        if preview_images is not None:
            model.check_images(preview_images, name="preview_images")
            if not len(preview_images):
                raise ValueError("preview_images must hold at least one image")
        self.preview_images = preview_images
        self._preview: tuple[torch.Tensor, torch.Tensor] | None = None  # (clean, corrupted), fixed for the run

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"dae": self.adam(self.model.parameters())}

    def prepare(self, data: TrainingData) -> None:
        count = self.config.samples_per_class
        if self.preview_images is not None:
            clean = self.preview_images[:count].float().cpu()
        else:
            clean = data.gather(torch.linspace(0, len(data) - 1, min(count, len(data))).long()).float().cpu()
        # Its own generator: drawing the preview must not shift the run's random stream.
        rng = torch.Generator().manual_seed(self.config.seed)
        corrupted = torch.empty_like(clean)
        names = self.corruptions.names
        for k, name in enumerate(names):  # every corruption of the mix appears in the preview
            index = torch.arange(k, len(clean), len(names))
            if len(index):
                corrupted[index] = self.corruptions.apply(name, clean[index], rng)
        self._preview = (clean, corrupted)

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        corrupted = self.corruptions(images, generator=self.rng)
        loss = F.mse_loss(self.nets["model"](corrupted), images)
        self.optimizers["dae"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["dae"].step()
        return {"loss": loss.detach(), "mse_corrupted": F.mse_loss(corrupted, images).detach()}

    def save_progress_images(self, name: str) -> None:
        """Rows clean / corrupted / denoised for the fixed preview batch."""
        if self._preview is None:
            raise RuntimeError("save_progress_images needs prepare(data) to have run (fit calls it)")
        clean, corrupted = self._preview
        denoised = self.model.denoise(corrupted.to(self.device)).cpu()
        save_image_grid(
            torch.cat([clean, corrupted, denoised]),
            len(clean),
            self.out_dir / "samples" / name,
            row_labels=["clean", "corrupted", "denoised"],
            title=f"{self.model.model_type} {name[:-4]}",
        )
