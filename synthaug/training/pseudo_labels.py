"""Labels for an unlabelled pool, from a classifier trained on the labelled images.

Users often hold many unlabelled images and few labels. A class-conditional generator can
learn from the pool once its images have labels: a small classifier trained on the
labelled images labels the pool, and only the labels it gives with at least ``threshold``
confidence are kept (self-training's pseudo-labels, Lee 2013). The generator then trains
on the labelled images plus the confidently pseudo-labelled ones; the rest of the pool is
left out rather than taught with a guessed label.

Used by ``Trainer.fit(labelled, unlabelled=...)`` (``synthaug train ... --unlabelled``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from synthaug.data.real import LabelledImages
from synthaug.metrics.classifier import train_classifier_on
from synthaug.validation import check_number, positive_int

__all__ = ["PseudoLabelled", "pseudo_label", "train_labeller", "unlabelled_images"]


@dataclass
class PseudoLabelled:
    """The outcome of labelling a pool.

    Attributes:
        data: the kept pool images with their pseudo-labels.
        predicted: the classifier's label for every pool image ``[N]``.
        confidence: its probability for that label ``[N]``.
        kept: which pool images were kept ``[N]`` (``confidence >= threshold``).
        threshold: the confidence a label needed.
    """

    data: LabelledImages
    predicted: torch.Tensor
    confidence: torch.Tensor
    kept: torch.Tensor
    threshold: float

    def kept_per_class(self, num_classes: int) -> list[int]:
        """Kept pool images per pseudo-label."""
        return torch.bincount(self.predicted[self.kept], minlength=num_classes).tolist()

    def summary(self, num_classes: int, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """A JSON-ready record (what ``fit`` writes as ``pseudo_labels.json``)."""
        names = list(class_names) if class_names else [str(c) for c in range(num_classes)]
        return {
            "pool": len(self.kept),
            "kept": int(self.kept.sum()),
            "threshold": self.threshold,
            "kept_per_class": dict(zip(names, self.kept_per_class(num_classes))),
            "mean_confidence": round(float(self.confidence.mean()), 4) if len(self.confidence) else None,
        }


def unlabelled_images(pool: Any, name: str = "unlabelled") -> torch.Tensor:
    """The images of an unlabelled pool as a float tensor ``[N, C, H, W]``.

    Takes a tensor of images, a :class:`~synthaug.data.real.LabelledImages` (its labels
    are ignored), or a map-style dataset of ``(image, label)`` items (labels ignored; read
    into memory once).
    """
    if isinstance(pool, torch.Tensor):
        images = pool
    elif isinstance(pool, LabelledImages):
        images = pool.images
    elif hasattr(pool, "__len__") and hasattr(pool, "__getitem__") and not isinstance(pool, (str, bytes)):
        images = LabelledImages.from_dataset(pool, progress=False, name=name).images
    else:
        raise TypeError(
            f"{name} must be an image tensor [N, C, H, W], a LabelledImages or a dataset of (image, label) items, "
            f"got {type(pool).__name__}"
        )
    if images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"{name} must be float images [N, C, H, W], got {images.dtype} of shape {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError(f"{name} is empty: give at least one image, or leave it out")
    return images


def train_labeller(
    labelled: LabelledImages, num_classes: int, *, steps: int = 1000, seed: int = 0, device: str = "cpu"
) -> nn.Module:
    """A SmallCNN trained on the labelled images for ``steps`` Adam steps (seeded), in eval mode."""
    positive_int("steps", steps)
    return train_classifier_on(
        labelled, num_classes, steps=steps, seed=seed, device=device, progress=False, desc="pseudo-labeller"
    ).eval()


@torch.no_grad()
def pseudo_label(
    classifier: nn.Module, images: torch.Tensor, threshold: float = 0.9, batch_size: int = 512
) -> PseudoLabelled:
    """Label ``images`` with ``classifier``; keep those whose top probability is at least ``threshold``.

    Args:
        classifier: float images ``[B, C, H, W]`` in [0, 1] -> logits ``[B, K]``; run in eval mode.
        images: the pool ``[N, C, H, W]``.
        threshold: the confidence a label needs, in [0, 1].
        batch_size: images per classifier call.
    """
    threshold = check_number("threshold", threshold, low=0.0, high=1.0)
    positive_int("batch_size", batch_size)
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    try:
        probabilities = torch.cat(
            [classifier(chunk.to(device)).float().softmax(dim=1).cpu() for chunk in images.split(batch_size)]
        )
    finally:
        classifier.train(was_training)
    confidence, predicted = probabilities.max(dim=1)
    kept = confidence >= threshold
    data = LabelledImages(images[kept].cpu(), predicted[kept])
    return PseudoLabelled(data, predicted, confidence, kept, threshold)
