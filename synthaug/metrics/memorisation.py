"""Does a generator hand back its training images? Nearest-training-image distances in pixel space.

For each synthetic image we find the nearest real *training* image and compare that
distance with what genuinely new images get: the nearest-training distances of the real
*test* images. A synthetic image closer to a training image than the 1st percentile of
the test images' distances is a **near copy**; one within half an 8-bit grey level (RMS)
is an **exact copy**. A generator that does not copy has about 1% near copies (by
construction of the threshold) and no exact copies.

Why pixel space and not the evaluator's feature space: a copy is a pixel-level fact. An
exact copy is at distance 0 in pixels whatever the evaluator, whereas the classifier's
features are built to map every image of a class close together (so feature-space
nearness flags look-alikes, not copies) and were trained on the very training images
being compared against. At the 8x8 to 32x32 sizes synthaug works with, exhaustive pixel
nearest-neighbour search is cheap. The limit: a copy shifted by a pixel or two is no
longer near in pixel space, so this check catches verbatim and lightly perturbed copies,
not translated ones.

Distances are root-mean-square pixel differences on the [0, 1] scale (the Euclidean
distance divided by the square root of the pixel count), so thresholds mean the same at
every image size.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from synthaug.validation import positive_int

EXACT_COPY_RMS = 0.5 / 255
"""RMS distance at or below which a synthetic image counts as an exact copy: half an 8-bit grey level."""
NEAR_COPY_PERCENTILE = 1.0
FLAG_FACTOR = 5.0
"""``flagged`` when near copies exceed this many times the share expected of new images (5% at the 1st percentile)."""


def _flat(images: torch.Tensor, name: str) -> np.ndarray:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name} must be an image tensor [N, C, H, W], got {shape}")
    if not len(images):
        raise ValueError(f"{name} must hold at least one image")
    return images.detach().cpu().float().reshape(len(images), -1).numpy()


def nearest_rms_distances(queries: torch.Tensor, references: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, ``(RMS distance, index)`` of its nearest reference image (exhaustive search)."""
    from sklearn.neighbors import NearestNeighbors

    query, reference = _flat(queries, "queries"), _flat(references, "references")
    if query.shape[1] != reference.shape[1]:
        raise ValueError(
            f"queries and references must have the same image shape, got {tuple(queries.shape[1:])} "
            f"and {tuple(references.shape[1:])}"
        )
    # Brute force: exact, and scikit-learn sums float32 input in float64, so a copy is at ~0.
    distances, index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference).kneighbors(query)
    return distances[:, 0] / np.sqrt(query.shape[1]), index[:, 0]


def memorisation_check(
    synthetic: torch.Tensor,
    train: torch.Tensor,
    test: torch.Tensor,
    labels: torch.Tensor | None = None,
    num_classes: int | None = None,
    *,
    percentile: float = NEAR_COPY_PERCENTILE,
    exact_threshold: float = EXACT_COPY_RMS,
    max_reference: int = 2000,
    seed: int = 0,
    examples: int = 5,
) -> dict[str, Any]:
    """Share of synthetic images that are near or exact copies of training images.

    Args:
        synthetic: generated images ``[N, C, H, W]`` in [0, 1].
        train: the real images the generator was trained on (searched exhaustively).
        test: real images it was not trained on; their nearest-training distances set
            the near-copy threshold. At most ``max_reference`` of them (a seeded random
            subset) are used.
        labels, num_classes: the synthetic images' labels, for per-class shares (optional).
        percentile: the near-copy threshold is this percentile of the test images'
            nearest-training distances.
        exact_threshold: RMS distance at or below which an image is an exact copy.
        examples: how many of the closest synthetic/training pairs to list.

    Returns:
        A JSON-ready dict: ``threshold``, ``near_copies`` / ``near_copy_share`` (near or
        exact), ``exact_copies``, the medians of both distance sets, the ``closest``
        pairs (synthetic index, training index, distance), ``flagged`` (any exact copy,
        or near copies above ``FLAG_FACTOR`` times the ``percentile`` share expected of
        new images) and, with labels, ``per_class`` shares.
    """
    if not 0 < percentile < 100:
        raise ValueError(f"percentile must be in (0, 100), got {percentile!r}")
    positive_int("max_reference", max_reference)
    if labels is not None and len(labels) != len(synthetic):
        raise ValueError(f"labels must hold one label per synthetic image, got {len(labels)} for {len(synthetic)}")
    if len(test) > max_reference:
        test = test[np.sort(np.random.default_rng(seed).choice(len(test), max_reference, replace=False))]
    distances, nearest = nearest_rms_distances(synthetic, train)
    reference, _ = nearest_rms_distances(test, train)
    threshold = float(np.percentile(reference, percentile))
    exact = distances <= exact_threshold
    near = (distances < threshold) | exact
    order = np.argsort(distances, kind="stable")[:examples]
    result: dict[str, Any] = {
        "space": "pixels",
        "distance": "root-mean-square pixel difference on the [0, 1] scale",
        "percentile": percentile,
        "threshold": threshold,
        "exact_threshold": exact_threshold,
        "num_synthetic": len(distances),
        "num_reference": len(reference),
        "near_copies": int(near.sum()),
        "near_copy_share": float(near.mean()),
        "exact_copies": int(exact.sum()),
        "median_synthetic_to_train": float(np.median(distances)),
        "median_test_to_train": float(np.median(reference)),
        "closest": [{"synthetic": int(i), "train": int(nearest[i]), "distance": float(distances[i])} for i in order],
        "flagged": bool(exact.any() or near.mean() > FLAG_FACTOR * percentile / 100),
    }
    if labels is not None:
        labels_np = labels.cpu().numpy()
        classes = range(num_classes if num_classes is not None else int(labels_np.max()) + 1)
        result["per_class"] = [
            {
                "near_copy_share": float(near[labels_np == c].mean()) if (labels_np == c).any() else float("nan"),
                "exact_copies": int(exact[labels_np == c].sum()),
            }
            for c in classes
        ]
    return result
