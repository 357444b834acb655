"""Reconstruction scores: how corrupted, or how unlike the training data, each image is.

An autoencoder changes what it learnt to remove and leaves what it knows alone, so the
size of the change it makes to an image is a score: low for clean images like its
training data, high for noisy, damaged or unfamiliar ones.
:func:`reconstruction_score` runs a model's ``score`` over a batch in chunks;
:func:`detection_auroc` measures how well a score separates two sets of images.

Example:
    >>> dae = synthaug.load("runs/fmnist-dae")
    >>> scores = reconstruction_score(dae, images)          # [N] float32 on the CPU
    >>> flagged = scores > scores_of_clean_validation.quantile(0.99)
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from synthaug.generators.base import check_images
from synthaug.validation import positive_int


@runtime_checkable
class ReconstructionScorer(Protocol):
    """What :func:`reconstruction_score` needs: ``score(images) -> [B]`` (the DAE and the cVAE have it)."""

    def score(self, images: torch.Tensor) -> torch.Tensor: ...


def reconstruction_score(
    model: ReconstructionScorer,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    batch_size: int = 256,
) -> torch.Tensor:
    """Per-image reconstruction error of ``images`` under ``model``, ``batch_size`` images per call.

    For a :class:`~synthaug.DenoisingAutoencoder`, the mean squared change the denoiser
    makes to each image; for a :class:`~synthaug.ConditionalVAE`, the mean squared error
    of its reconstruction through the posterior mean (as ``labels``' classes, or the best
    over all classes when ``labels`` is ``None``). Higher means more corrupted or more
    unusual. Any object with a ``score(images)`` method works.

    Args:
        model: a DAE, a cVAE, or anything with ``score(images) -> Tensor [B]``.
        images: float tensor ``[N, C, H, W]`` in [0, 1] of the model's shape, on any device.
        labels: class indices ``[N]`` (cVAE only), or ``None``.
        batch_size: images per model call.

    Returns:
        A float32 tensor ``[N]`` on the CPU.

    Raises:
        TypeError: ``model`` has no ``score`` method, ``labels`` given for a model that takes
            none, or ``images`` is not a float tensor.
        ValueError: a wrong shape or values outside [0, 1] (named by the model's check).
    """
    if not isinstance(model, ReconstructionScorer):
        raise TypeError(
            f"model must have a score(images) method (a DenoisingAutoencoder or ConditionalVAE), got {type(model).__name__}"
        )
    check_images(images)
    positive_int("batch_size", batch_size)
    if labels is not None:
        if "labels" not in _parameters(model.score):
            raise TypeError(f"labels were given, but {type(model).__name__}.score takes no labels")
        labels = torch.as_tensor(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape [{len(images)}] (one per image), got {tuple(labels.shape)}")
    if not len(images):
        return torch.zeros(0)
    parts = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        if labels is None:
            parts.append(model.score(chunk))
        else:
            parts.append(model.score(chunk, labels=labels[start : start + batch_size]))  # type: ignore[call-arg]
    return torch.cat([part.detach().float().cpu() for part in parts])


def detection_auroc(normal: Any, flagged: Any) -> float:
    """Area under the ROC curve of a score that should be higher for ``flagged`` than for ``normal``.

    1.0: every flagged image scores above every normal one; 0.5: no better than chance.
    Computed by ``sklearn.metrics.roc_auc_score`` with normal as class 0, flagged as class 1.

    Args:
        normal: scores of the images that should pass (1-D tensor, array or list).
        flagged: scores of the images that should be flagged.
    """
    # Imported here: scikit-learn's metrics module takes a moment to import.
    from sklearn.metrics import roc_auc_score

    normal_scores, flagged_scores = _scores("normal", normal), _scores("flagged", flagged)
    truth = np.r_[np.zeros(len(normal_scores)), np.ones(len(flagged_scores))]
    return float(roc_auc_score(truth, np.r_[normal_scores, flagged_scores]))


def _scores(name: str, values: Any) -> np.ndarray:
    array = values.detach().cpu().double().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, float)
    if array.ndim != 1 or not len(array):
        raise ValueError(f"{name} must be a non-empty 1-D sequence of scores, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must hold finite scores, got {int((~np.isfinite(array)).sum())} non-finite")
    return array


def _parameters(method: Any) -> list[str]:
    try:
        return list(inspect.signature(method).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return []
