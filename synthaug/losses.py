"""Classifier losses for long-tailed (imbalanced) training data: the non-generative remedies.

The strongest baselines a careful user runs before reaching for synthetic data, as
``nn.Module`` losses a training loop calls like ``F.cross_entropy``:

* :class:`LogitAdjustedLoss` (Menon et al., "Long-tail learning via logit adjustment",
  ICLR 2021): cross-entropy on ``logits + tau * log(prior)``. The network's raw logits
  then estimate the *balanced* posterior, so predicting with ``logits.argmax(1)`` (no
  adjustment at test time) is fair to rare classes. With ``tau = 1`` this is exactly the
  balanced softmax of Ren et al. (NeurIPS 2020), :class:`BalancedSoftmaxLoss`.
* :func:`posthoc_logit_adjustment`: Menon et al.'s other form: train with plain
  cross-entropy, subtract ``tau * log(prior)`` from the logits at prediction time.
* :class:`DeferredReweighting` (Cao et al., "Learning imbalanced datasets with
  label-distribution-aware margin loss", NeurIPS 2019, "DRW"): plain cross-entropy for the
  first part of training, so features are learnt from every image at its natural
  frequency, then class weights from the "effective number" of samples (Cui et al., CVPR
  2019; :func:`effective_number_weights`) for the rest.

Every loss takes hard targets (class indices ``[B]``) or probability vectors ``[B, K]``
(what :func:`synthaug.mix` gives with ``synthetic_weight=`` or ``soft_labels=``), and a
``reduction`` as PyTorch's losses do. The priors come from class counts: pass
``synthaug.data.read_labels`` of your training set through ``numpy.bincount``, or the
dataset's ``targets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthaug.validation import ArgumentTypeError, check_choice, check_int, check_number

Reduction = Literal["mean", "sum", "none"]


def class_counts_tensor(class_counts: Any, name: str = "class_counts") -> torch.Tensor:
    """``class_counts`` (a sequence, array or tensor of per-class item counts) as a float64 tensor, checked.

    Raises:
        TypeError: not a 1-D sequence of numbers.
        ValueError: fewer than two classes, a negative or non-finite count, or a class
            with no items (its prior would be zero: remove the class or give it items).
    """
    try:
        counts = torch.as_tensor(np.asarray(class_counts, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise ArgumentTypeError(
            f"{name} must be a 1-D sequence of per-class item counts, got {type(class_counts).__name__}"
        ) from error
    if counts.dim() != 1 or len(counts) < 2:
        raise ValueError(
            f"{name} must be a 1-D sequence of at least 2 per-class counts, got shape {tuple(counts.shape)}"
        )
    if not bool(torch.isfinite(counts).all()) or bool((counts < 0).any()):
        raise ValueError(f"{name} must hold finite, non-negative counts, got {counts.tolist()}")
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        raise ValueError(
            f"{name} has classes with no items ({empty}): their prior is zero and log(prior) is -inf; "
            "give every class at least one item"
        )
    return counts


def log_prior(class_counts: Any) -> torch.Tensor:
    """``log(count_c / total)`` per class, float32 ``[K]``."""
    counts = class_counts_tensor(class_counts)
    return (counts / counts.sum()).log().float()


def _check_logits(logits: Any, k: int) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a float torch.Tensor [B, {k}], got {type(logits).__name__}")
    if logits.dim() != 2 or logits.shape[1] != k:
        raise ValueError(f"logits must have shape [B, {k}] (one column per class), got {tuple(logits.shape)}")
    return logits


class LogitAdjustedLoss(nn.Module):
    """Cross-entropy on ``logits + tau * log(prior)`` (Menon et al. 2021's logit-adjusted loss).

    Adding the log prior during training makes the loss expect frequent classes to score
    higher, so the network itself does not have to: its logits learn the class-balanced
    posterior. Predict with the raw logits.

    Args:
        class_counts: items per class of the training distribution the batches are drawn
            from (``[K]``; with a class-balanced sampler every class is equally frequent and
            the adjustment vanishes).
        tau: the adjustment's temperature, >= 0 (1 is the paper's default and Bayes-optimal
            for the balanced error; 0 is plain cross-entropy).
        weight: optional per-class loss weights ``[K]``, as ``F.cross_entropy``'s.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (a loss per item).

    Example:
        >>> counts = np.bincount(synthaug.data.read_labels(train), minlength=10)
        >>> criterion = synthaug.losses.LogitAdjustedLoss(counts)
        >>> loss = criterion(model(images), labels)
    """

    log_prior: torch.Tensor

    def __init__(
        self,
        class_counts: Sequence[float] | np.ndarray | torch.Tensor,
        tau: float = 1.0,
        weight: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.tau = check_number("tau", tau, low=0.0)
        self.reduction = check_choice("reduction", reduction, ("mean", "sum", "none"))
        self.register_buffer("log_prior", log_prior(class_counts))
        self.num_classes = len(self.log_prior)
        self.weight = None if weight is None else _check_weight(weight, self.num_classes)

    def adjust(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits + tau * log(prior)``: what the cross-entropy sees."""
        logits = _check_logits(logits, self.num_classes)
        return logits + self.tau * self.log_prior.to(logits.device, logits.dtype)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if self.weight is None else self.weight.to(logits.device, logits.dtype)
        return F.cross_entropy(self.adjust(logits), targets, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, tau={self.tau:g}, reduction={self.reduction!r}"


class BalancedSoftmaxLoss(LogitAdjustedLoss):
    """Balanced softmax (Ren et al., NeurIPS 2020): :class:`LogitAdjustedLoss` with ``tau = 1``.

    Derived separately (the softmax re-weighted by the label shift between a long-tailed
    training set and a balanced test set), it is the same loss; it is here under its own
    name because users look for it by that name.
    """

    def __init__(
        self,
        class_counts: Sequence[float] | np.ndarray | torch.Tensor,
        weight: torch.Tensor | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(class_counts, tau=1.0, weight=weight, reduction=reduction)


def posthoc_logit_adjustment(
    logits: torch.Tensor, class_counts: Sequence[float] | np.ndarray | torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """``logits - tau * log(prior)``: Menon et al.'s post-hoc correction of a plain cross-entropy model.

    Use at prediction time (``posthoc_logit_adjustment(model(x), counts).argmax(1)``) on a
    classifier trained without any re-balancing.
    """
    tau = check_number("tau", tau, low=0.0)
    prior = log_prior(class_counts)
    logits = _check_logits(logits, len(prior))
    return logits - tau * prior.to(logits.device, logits.dtype)


def effective_number_weights(
    class_counts: Sequence[float] | np.ndarray | torch.Tensor, beta: float = 0.9999
) -> torch.Tensor:
    """Per-class weights ``(1 - beta) / (1 - beta ** n_c)``, scaled to sum to K (Cui et al. 2019).

    ``beta -> 1`` approaches inverse frequency; ``beta = 0`` gives equal weights. Cao et
    al.'s DRW uses 0.9999.
    """
    beta = check_number("beta", beta, low=0.0, high=1.0, high_open=True)
    counts = class_counts_tensor(class_counts)
    effective = 1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), counts)
    weights = (1.0 - beta) / effective
    return (weights / weights.sum() * len(counts)).float()


class DeferredReweighting(nn.Module):
    """Plain cross-entropy until ``start_step``, then class-weighted by effective numbers (DRW).

    The loss is stateful in one integer: call :meth:`set_step` each training step (or
    :meth:`step` after each one) so it knows when to switch. Cao et al. switch at 80% of
    training: ``DeferredReweighting(counts, start_step=int(0.8 * total_steps))``.

    Args:
        class_counts: items per class of the (long-tailed) training set.
        start_step: the first step that uses the weights (>= 0; 0 re-weights throughout).
        beta: the effective-number hyper-parameter of :func:`effective_number_weights`.
        reduction: ``"mean"`` (a weighted mean, as ``F.cross_entropy``), ``"sum"`` or ``"none"``.

    Example:
        >>> criterion = synthaug.losses.DeferredReweighting(counts, start_step=int(0.8 * steps))
        >>> for step, (images, labels) in enumerate(loader):
        ...     criterion.set_step(step)
        ...     loss = criterion(model(images), labels)
    """

    class_weights: torch.Tensor

    def __init__(
        self,
        class_counts: Sequence[float] | np.ndarray | torch.Tensor,
        start_step: int,
        beta: float = 0.9999,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.start_step = check_int("start_step", start_step, low=0)
        self.beta = check_number("beta", beta, low=0.0, high=1.0, high_open=True)
        self.reduction = check_choice("reduction", reduction, ("mean", "sum", "none"))
        self.register_buffer("class_weights", effective_number_weights(class_counts, beta))
        self.num_classes = len(self.class_weights)
        self.current_step = 0

    def set_step(self, step: int) -> None:
        """Tell the loss which training step it is (0-based)."""
        self.current_step = check_int("step", step, low=0)

    def step(self) -> None:
        """Advance one training step (call after each optimiser step)."""
        self.current_step += 1

    @property
    def reweighting(self) -> bool:
        """Whether the class weights apply at the current step."""
        return self.current_step >= self.start_step

    def weight(self) -> torch.Tensor | None:
        """The per-class weights in force now, or ``None`` before ``start_step``."""
        return self.class_weights if self.reweighting else None

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = _check_logits(logits, self.num_classes)
        weight = self.weight()
        if weight is not None:
            weight = weight.to(logits.device, logits.dtype)
        return F.cross_entropy(logits, targets, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, start_step={self.start_step}, beta={self.beta:g}"


def _check_weight(weight: Any, k: int) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor):
        raise ArgumentTypeError(f"weight must be None or a float torch.Tensor [{k}], got {type(weight).__name__}")
    if weight.shape != (k,) or not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise ValueError(f"weight must be [{k}] finite, non-negative class weights, got shape {tuple(weight.shape)}")
    return weight.float()


__all__ = [
    "BalancedSoftmaxLoss",
    "DeferredReweighting",
    "LogitAdjustedLoss",
    "class_counts_tensor",
    "effective_number_weights",
    "log_prior",
    "posthoc_logit_adjustment",
]
