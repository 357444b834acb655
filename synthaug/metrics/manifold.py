"""Precision, recall, density and coverage (Naeem et al. 2020) from k-nearest-neighbour manifolds.

Each real vector ``r_i`` gets a ball whose radius is the distance to its k-th nearest
other real vector; the union of those balls estimates the real manifold. Likewise for
the fake vectors. With ``B(x, r)`` such a ball and ``1[.]`` an indicator:

- **precision**: share of fake vectors inside the real manifold (fidelity);
- **recall**: share of real vectors inside the fake manifold (diversity);
- **density**: ``1/(kM) sum_j sum_i 1[f_j in B(r_i)]``, how many real balls a fake vector
  falls in, over k: ~1 when the fake vectors are distributed like the real ones, > 1 when
  they crowd into dense real regions, < 1 when they fall outside;
- **coverage**: share of real vectors whose own ball holds at least one fake vector: like
  recall, but built on the real balls only, so a few outlying fakes cannot inflate it.

The k-NN radii come from scikit-learn's ``NearestNeighbors`` (Euclidean); the real x fake
distances are computed block by block, so memory stays bounded for large sets.
"""

from __future__ import annotations

import numpy as np
import torch

from synthaug.validation import positive_int

PRDC_KEYS = ("precision", "recall", "density", "coverage")


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row of ``features`` to its k-th nearest *other* row (a duplicate counts, at 0)."""
    from sklearn.neighbors import NearestNeighbors

    # kneighbors() without a query leaves each point out of its own neighbour list.
    distances, _ = NearestNeighbors(n_neighbors=k).fit(features).kneighbors()
    return distances[:, -1]


def _as_array(features: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = (
        features.detach().cpu().double().numpy()
        if isinstance(features, torch.Tensor)
        else np.asarray(features, np.float64)
    )
    if array.ndim != 2:
        raise ValueError(f"{name} must be [N, F], got shape {array.shape}")
    return array


def prdc(
    real_features: torch.Tensor | np.ndarray, fake_features: torch.Tensor | np.ndarray, k: int = 5
) -> dict[str, float]:
    """``{"precision", "recall", "density", "coverage"}`` of fake vectors ``[M, F]`` against real ``[N, F]``.

    Both sets need more than ``k`` vectors. Precision, recall and coverage lie in [0, 1];
    density in [0, N/k]. Sets from one distribution give values near 1 (precision, recall
    and coverage a little below for small sets). Identical sets give precision, recall and
    coverage of exactly 1 and density between 1 and ``(k + 1) / k``: each fake vector also
    lies in the ball of the real vector it copies, and whether it lies in the balls whose
    radius is exactly its distance is decided by floating-point rounding.

    Example:
        >>> x = torch.randn(300, 4)
        >>> scores = prdc(x, x)
        >>> scores["precision"], scores["recall"], scores["coverage"]
        (1.0, 1.0, 1.0)
    """
    from sklearn.metrics import pairwise_distances_chunked

    positive_int("k", k)
    real, fake = _as_array(real_features, "real_features"), _as_array(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features must have the same width, got {real.shape[1]} and {fake.shape[1]}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"prdc with k={k} needs more than {k} vectors per set, got {len(real)} and {len(fake)}")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    balls_per_fake = np.zeros(len(fake), dtype=np.int64)  # real balls each fake vector lies in
    recalled, covered = [], []
    start = 0
    for block in pairwise_distances_chunked(real, fake):  # rows: a block of real vectors; columns: all fakes
        radii = real_radii[start : start + len(block), None]
        balls_per_fake += (block <= radii).sum(0)
        recalled.append((block <= fake_radii[None, :]).any(1))
        covered.append(block.min(1) <= radii[:, 0])
        start += len(block)
    return {
        "precision": float((balls_per_fake > 0).mean()),
        "recall": float(np.concatenate(recalled).mean()),
        "density": float(balls_per_fake.sum() / (k * len(fake))),
        "coverage": float(np.concatenate(covered).mean()),
    }
