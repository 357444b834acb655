"""Distances between two sets of feature vectors: Fréchet distance and kernel distance (KID).

Both are computed by ``torchmetrics`` (``FrechetInceptionDistance`` and
``KernelInceptionDistance``) with a custom feature extractor. synthaug extracts the
features once, with the evaluator classifier (see :mod:`synthaug.metrics.fidelity`), and
hands them to torchmetrics through :class:`FeatureIdentity`, so every metric of a report
sees exactly the same vectors. Nothing here knows which network made the features:
whoever reports a number must say (see ``docs/metrics.md``).

- **Fréchet distance** fits a Gaussian to each set and measures
  ``|mu_r - mu_f|^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))``. 0 for identical sets; biased
  upwards for small sets (below the feature width, 128, the covariances are singular).
- **KID** is the unbiased squared maximum mean discrepancy under the cubic polynomial
  kernel ``(x.y / d + 1)^3``, averaged over ``subsets`` random subsets of ``subset_size``
  vectors of each set. Its expectation is 0 for sets from one distribution (a single
  estimate can be slightly negative) and it is unbiased at any size, which makes it the
  better figure for small per-class sets.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
from torch import nn

from synthaug.utils.optional import optional_dependency
from synthaug.utils.seeding import seeded
from synthaug.validation import check_int, positive_int

KID_SUBSET_SIZE = 1000
"""torchmetrics' default (and the KID paper's) subset size; smaller sets use all their vectors."""
KID_SUBSETS = 100


class FeatureIdentity(nn.Module):
    """A torchmetrics feature extractor for features already extracted: ``[B, F]`` -> ``[B, F]``."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class KernelDistance(NamedTuple):
    """KID: mean and standard deviation over subsets, and the subset size used."""

    mean: float
    std: float
    subset_size: int


def _check_features(
    real: torch.Tensor, fake: torch.Tensor, minimum: int, metric: str
) -> tuple[torch.Tensor, torch.Tensor]:
    for name, features in (("real_features", real), ("fake_features", fake)):
        if not isinstance(features, torch.Tensor) or features.dim() != 2:
            shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"{name} must be a [N, F] tensor, got {shape}")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got {real.shape[1]} and {fake.shape[1]}")
    if len(real) < minimum or len(fake) < minimum:
        raise ValueError(f"{metric} needs at least {minimum} vectors per set, got {len(real)} and {len(fake)}")
    # float64 throughout: the matrix square root and the kernel sums lose digits in float32.
    return real.detach().cpu().double(), fake.detach().cpu().double()


def frechet_distance_from_features(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """Fréchet distance between two sets of feature vectors ``[N, F]`` and ``[M, F]`` (N, M >= 2).

    Example:
        >>> x = torch.randn(500, 8)
        >>> frechet_distance_from_features(x, x) < 1e-6
        True
    """
    with optional_dependency("torchmetrics", "the Fréchet distance"):
        from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _check_features(real_features, fake_features, 2, "the Fréchet distance")
    metric = FrechetInceptionDistance(feature=FeatureIdentity(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def kid_subset_size(num_real: int, num_fake: int, subset_size: int | None = None) -> int:
    """The KID subset size used for sets of these sizes: ``min(subset_size or 1000, num_real, num_fake)``."""
    return min(KID_SUBSET_SIZE if subset_size is None else subset_size, num_real, num_fake)


def kernel_distance_from_features(
    real_features: torch.Tensor,
    fake_features: torch.Tensor,
    *,
    subset_size: int | None = None,
    subsets: int = KID_SUBSETS,
    seed: int = 0,
) -> KernelDistance:
    """Kernel (Inception) distance between two sets of feature vectors ``[N, F]`` and ``[M, F]``.

    Args:
        subset_size: vectors drawn from each set per subset; default 1000 (torchmetrics'
            default), and never more than the smaller set, so sets of fewer than 1000
            vectors are compared whole (when both sets are used whole, the one value is
            computed once and ``std`` is 0).
        subsets: how many subsets to average over.
        seed: the subset draws (torchmetrics draws with torch's global RNG; it is seeded
            here and the caller's RNG state is restored).

    Example:
        >>> x = torch.randn(200, 8)
        >>> kernel_distance_from_features(x, x + 2).mean > kernel_distance_from_features(x, x + 1).mean
        True
    """
    with optional_dependency("torchmetrics", "the kernel distance (KID)"):
        from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _check_features(real_features, fake_features, 2, "KID")
    if subset_size is not None:
        check_int("subset_size", subset_size, low=2)
    positive_int("subsets", subsets)
    size = kid_subset_size(len(real), len(fake), subset_size)
    if size == len(real) == len(fake):
        subsets = 1  # every subset would be both whole sets: the same value each time
    with warnings.catch_warnings():
        # "will save all extracted features in buffer": that is what we want here.
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(feature=FeatureIdentity(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with seeded(seed):
        mean, std = metric.compute()
    return KernelDistance(float(mean), float(std), size)
