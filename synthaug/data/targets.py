"""Probability targets: how a mixed dataset tells the loss to trust synthetic items less.

Two levers reported for training on GAN/VAE data, as item-level options of
:func:`synthaug.mix`:

* ``synthetic_weight``: a synthetic item counts this much in the loss (real items 1),
  so a generator's mistakes cost less than they would as real data (as in the
  "weight 0.3" recipes of docs/benchmarks.md).
* ``soft_labels``: a synthetic item's target is a real-trained teacher's belief about
  what the image shows (its softmax), not only the class it was drawn for: an ambiguous
  "Pullover" that looks like a Coat teaches both (knowledge distillation, Hinton et al.
  2015, applied to generated data).

Both need a target richer than a class index, so with either option every item's target
becomes a float vector of ``num_classes`` entries: real items the one-hot of their label,
synthetic items ``synthetic_weight * (teacher softmax or one-hot)``. PyTorch's
``F.cross_entropy(logits, targets)`` reads such targets as class probabilities, and
``-sum(w * t * log p) = w * -sum(t * log p)``, so a training loop written for class
indices trains on them unchanged, with each synthetic item weighted by ``w``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from synthaug.validation import check_number


def resolve_teacher(soft_labels: Any) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """``soft_labels`` as a ``images -> logits`` callable: a module or callable, or an object with ``.classifier`` (a ``Filter``).

    Raises:
        TypeError: anything else.
    """
    if soft_labels is None:
        return None
    teacher = getattr(soft_labels, "classifier", soft_labels)
    if not callable(teacher):
        raise TypeError(
            "soft_labels must be a classifier (a callable or torch.nn.Module mapping float images [N, C, H, W] "
            f"in [0, 1] to logits [N, num_classes]) or a synthaug.filters.Filter, got {type(soft_labels).__name__}"
        )
    if isinstance(teacher, torch.nn.Module):
        teacher.eval()
    return teacher


class ProbabilityTargets:
    """Builds the float target vectors of a dataset mixed with ``synthetic_weight``/``soft_labels``.

    Args:
        num_classes: length of every target vector.
        synthetic_weight: the loss weight of a synthetic item, in (0, 1]; ``None`` is 1.
        soft_labels: a teacher (see :func:`resolve_teacher`) or ``None`` (one-hot targets).
    """

    def __init__(self, num_classes: int, synthetic_weight: float | None = None, soft_labels: Any = None) -> None:
        self.num_classes = num_classes
        self.synthetic_weight = (
            1.0
            if synthetic_weight is None
            else check_number("synthetic_weight", synthetic_weight, low=0.0, high=1.0, low_open=True)
        )
        self.teacher = resolve_teacher(soft_labels)
        self._device = _device_of(self.teacher)  # once: the item path runs for every synthetic read

    def real(self, label: Any) -> torch.Tensor:
        """One-hot target of a real item's label."""
        target = torch.zeros(self.num_classes)
        target[int(label)] = 1.0
        return target

    def synthetic(self, label: int, image: torch.Tensor) -> torch.Tensor:
        """A synthetic item's target: its weight times the teacher's softmax of ``image`` (float CHW in [0, 1]) or the one-hot of ``label``."""
        if self.teacher is None:
            return self.real(label) * self.synthetic_weight
        return self.synthetic_batch(image.unsqueeze(0))[0]

    def synthetic_batch(self, images: torch.Tensor) -> torch.Tensor:
        """Targets ``[N, num_classes]`` of synthetic ``images`` (float ``[N, C, H, W]`` in [0, 1]) in one teacher call.

        Needs a teacher (one-hot targets depend on the labels only: use :meth:`synthetic`).
        """
        if self.teacher is None:
            raise ValueError("synthetic_batch needs a soft_labels teacher; one-hot targets come from synthetic()")
        with torch.no_grad():
            logits = self.teacher(images.to(self._device))
        if logits.shape != (len(images), self.num_classes):
            raise ValueError(
                f"soft_labels teacher returned logits of shape {tuple(logits.shape)} for {len(images)} images; "
                f"expected ({len(images)}, {self.num_classes})"
            )
        return logits.float().softmax(1).cpu() * self.synthetic_weight

    def describe(self) -> str:
        teacher = "none (one-hot)" if self.teacher is None else type(self.teacher).__name__
        return f"class-probability vectors; synthetic weight {self.synthetic_weight:g}, soft labels from {teacher}"


def _device_of(module: Any) -> torch.device:
    if isinstance(module, torch.nn.Module):
        for parameter in module.parameters():
            return parameter.device
    return torch.device("cpu")
