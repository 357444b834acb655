"""Generator quality measured with a classifier trained on the real data.

Inception-based FID needs weights that cannot be downloaded here and is widely
considered meaningless on 28x28 grayscale images, so, as is common practice for such
data, every distance is measured in the penultimate feature space of a
:class:`~synthaug.metrics.classifier.SmallCNN` trained on the real training split. Every
report must say so; the numbers are not comparable with published Inception FIDs.

- **label fidelity**: the share of samples the classifier assigns to the label they were
  generated for (overall and per class);
- **Fréchet distance** and **KID** between real and generated feature distributions,
  computed by ``torchmetrics``' ``FrechetInceptionDistance`` and ``KernelInceptionDistance``
  on the classifier's features (see :mod:`synthaug.metrics.distribution`);
- **intra-class diversity**: mean distance of a class's features to their centroid,
  relative to the same for real images of that class (1.0 = as diverse as real data,
  near 0 = collapsed).
"""

from __future__ import annotations

import torch
from torch import nn

from synthaug.metrics.classifier import SmallCNN
from synthaug.metrics.distribution import (
    KID_SUBSETS,
    KernelDistance,
    frechet_distance_from_features,
    kernel_distance_from_features,
)


class ClassifierFeatures(nn.Module):
    """Wrap a trained :class:`SmallCNN` as a feature extractor (images in [0, 1] -> ``[B, 128]``)."""

    def __init__(self, classifier: SmallCNN):
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = classifier.num_features

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.embed(images.float())


@torch.no_grad()
def predict(classifier: SmallCNN, images: torch.Tensor, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """``(predicted labels [N], features [N, 128])`` for images in [0, 1], on the CPU."""
    classifier.eval()
    device = next(classifier.parameters()).device
    labels, features = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].to(device)
        embedded = classifier.embed(batch)
        labels.append(classifier.head[-1](embedded).argmax(1).cpu())
        features.append(embedded.cpu())
    return torch.cat(labels), torch.cat(features)


def label_fidelity(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[float, list[float]]:
    """Share of ``predicted == labels`` overall and per class (NaN for absent classes)."""
    hits = (predicted == labels).float()
    per_class = [float(hits[labels == c].mean()) if (labels == c).any() else float("nan") for c in range(num_classes)]
    return float(hits.mean()), per_class


def frechet_distance(classifier: SmallCNN, real: torch.Tensor, fake: torch.Tensor, batch_size: int = 512) -> float:
    """Fréchet distance between ``real`` and ``fake`` images in the classifier's feature space."""
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"frechet_distance needs at least 2 images per set, got {len(real)} and {len(fake)}")
    return frechet_distance_from_features(
        predict(classifier, real, batch_size)[1], predict(classifier, fake, batch_size)[1]
    )


def kernel_distance(
    classifier: SmallCNN,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    subset_size: int | None = None,
    subsets: int = KID_SUBSETS,
    seed: int = 0,
    batch_size: int = 512,
) -> KernelDistance:
    """KID between ``real`` and ``fake`` images in the classifier's feature space.

    ``subset_size`` defaults to ``min(1000, len(real), len(fake))``; see
    :func:`~synthaug.metrics.distribution.kernel_distance_from_features`.
    """
    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"kernel_distance needs at least 2 images per set, got {len(real)} and {len(fake)}")
    return kernel_distance_from_features(
        predict(classifier, real, batch_size)[1],
        predict(classifier, fake, batch_size)[1],
        subset_size=subset_size,
        subsets=subsets,
        seed=seed,
    )


def intra_class_spread(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float]:
    """Mean distance of each class's features to the class centroid (NaN for absent classes)."""
    spread = []
    for c in range(num_classes):
        members = features[labels == c]
        spread.append(float((members - members.mean(0)).norm(dim=1).mean()) if len(members) > 1 else float("nan"))
    return spread


def intra_class_diversity(
    fake_features: torch.Tensor,
    fake_labels: torch.Tensor,
    real_features: torch.Tensor,
    real_labels: torch.Tensor,
    num_classes: int,
) -> list[float]:
    """Per class: spread of generated features divided by the spread of real ones."""
    fake = intra_class_spread(fake_features, fake_labels, num_classes)
    real = intra_class_spread(real_features, real_labels, num_classes)
    return [f / r if r == r and r > 0 else float("nan") for f, r in zip(fake, real)]
