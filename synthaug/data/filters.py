"""Quality filtering: keep only synthetic samples a real-data classifier agrees with.

A conditional generator's worst failure for augmentation is a sample whose image does
not show its label: it teaches the classifier the wrong thing. :class:`Filter` keeps a
sample only when a classifier trained on the real data gives the conditioning label at
least ``min_confidence`` probability, and redraws the rest (deterministically, so a
filtered ``SyntheticDataset`` is still a pure function of its seed)::

    classifier = synthaug.filters.train_filter_classifier(real_train)
    synth = synthaug.SyntheticDataset(gen, 10_000, filter=Filter(classifier, min_confidence=0.9))
    synth.filter.report()          # acceptance rate per class

The filter receives its classifier: training one is the metrics package's job
(:func:`synthaug.metrics.train_filter_classifier`, also ``synthaug.filters.train_filter_classifier``),
so this module depends on nothing above :mod:`synthaug.data`.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from synthaug.validation import check_choice, check_int, check_number

logger = logging.getLogger(__name__)

Shortfall = Literal["error", "warn"]
Shortfall.__doc__ = """What a :class:`Filter` does when samples are still rejected after ``max_rounds``: ``"error"`` or ``"warn"``.

The type of ``Filter(on_shortfall=...)``: ``"error"`` raises :class:`FilterShortfall`
naming the class and its acceptance rate; ``"warn"`` warns and keeps the last (rejected)
draws.
"""


class FilterShortfall(ValueError):
    """A class's acceptance rate was too low to fill its samples within ``max_rounds`` redraws."""


class Filter:
    """Accept a sample when ``softmax(classifier(image))[label] >= min_confidence``.

    Args:
        classifier: a module mapping float images ``[B, C, H, W]`` in [0, 1] to logits
            ``[B, num_classes]`` (wrap your own with ``nn.Sequential(Normalize(...), net)``
            if it expects normalised input). It is run in eval mode without gradients.
        min_confidence: required probability of the conditioning label, in [0, 1].
        max_rounds: redraws tried for rejected samples before giving up.
        on_shortfall: what happens when samples are still rejected after ``max_rounds``:
            ``"error"`` raises :class:`FilterShortfall` naming the class and its acceptance
            rate; ``"warn"`` warns and keeps the last (rejected) draws.

    Attributes:
        drawn, accepted: per-class counters of samples judged and accepted in this process
            (DataLoader workers keep their own).
    """

    def __init__(
        self,
        classifier: Callable[[torch.Tensor], torch.Tensor],
        min_confidence: float = 0.9,
        max_rounds: int = 10,
        on_shortfall: Shortfall = "error",
    ) -> None:
        if not callable(classifier):
            raise TypeError(
                f"classifier must be a module or callable images -> logits, got {type(classifier).__name__}"
            )
        min_confidence = check_number("min_confidence", min_confidence, low=0.0, high=1.0)
        max_rounds = check_int("max_rounds", max_rounds, low=0, expected="an int >= 0")
        check_choice("on_shortfall", on_shortfall, ("error", "warn"))
        self.classifier = classifier
        self.min_confidence = min_confidence
        self.max_rounds = max_rounds
        self.on_shortfall = on_shortfall
        self.drawn = np.zeros(0, dtype=np.int64)
        self.accepted = np.zeros(0, dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"Filter(classifier={type(self.classifier).__name__}, min_confidence={self.min_confidence}, "
            f"max_rounds={self.max_rounds}, on_shortfall={self.on_shortfall!r})"
        )

    @torch.no_grad()
    def confidence(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Probability the classifier gives each image's label, ``[B]`` on the CPU."""
        module = self.classifier if isinstance(self.classifier, nn.Module) else None
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            params = next(module.parameters(), None) if module is not None else None
            device = params.device if params is not None else images.device
            logits = self.classifier(images.to(device, torch.float32))
        finally:
            if module is not None:
                module.train(was_training)
        if not isinstance(logits, torch.Tensor):
            raise TypeError(f"classifier must return a tensor of logits [B, num_classes], got {type(logits).__name__}")
        if logits.ndim != 2 or logits.shape[0] != len(images):
            raise ValueError(f"classifier must return logits [B, num_classes], got shape {tuple(logits.shape)}")
        if int(labels.max()) >= logits.shape[1]:
            raise ValueError(f"classifier has {logits.shape[1]} outputs but a sample is labelled {int(labels.max())}")
        if not bool(torch.isfinite(logits).all()):
            raise ValueError(
                "classifier returned NaN or infinite logits; check the classifier (and that it gets images in [0, 1])"
            )
        probabilities = logits.float().softmax(dim=1).cpu()
        return probabilities.gather(1, labels.cpu().view(-1, 1)).squeeze(1)

    def _count(self, labels: torch.Tensor, accepted: torch.Tensor) -> None:
        k = max(int(labels.max()) + 1, len(self.drawn))
        if len(self.drawn) < k:
            self.drawn = np.pad(self.drawn, (0, k - len(self.drawn)))
            self.accepted = np.pad(self.accepted, (0, k - len(self.accepted)))
        lab = labels.cpu().numpy()
        self.drawn += np.bincount(lab, minlength=k)
        self.accepted += np.bincount(lab[accepted.numpy()], minlength=k)

    def fill(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        redraw: Callable[[torch.Tensor, int], torch.Tensor],
        class_names: list[str] | None = None,
    ) -> torch.Tensor:
        """Replace rejected ``images`` by accepted redraws; ``redraw(labels, round)`` must be deterministic.

        Returns a new tensor; ``images`` is not modified.
        """
        images = images.clone()
        accepted = self.confidence(images, labels) >= self.min_confidence
        self._count(labels, accepted)
        for round_ in range(1, self.max_rounds + 1):
            rejected = torch.nonzero(~accepted).squeeze(1)
            if len(rejected) == 0:
                break
            again = redraw(labels[rejected], round_)
            ok = self.confidence(again, labels[rejected]) >= self.min_confidence
            self._count(labels[rejected], ok)
            images[rejected[ok]] = again[ok].to(images.device, images.dtype)
            accepted[rejected[ok]] = True
        if not bool(accepted.all()):
            self._shortfall(labels[~accepted], class_names)
        return images

    def _shortfall(self, missing: torch.Tensor, class_names: list[str] | None) -> None:
        lines = []
        for c in sorted(set(missing.tolist())):
            name = class_names[c] if class_names and c < len(class_names) else str(c)
            rate = self.accepted[c] / max(self.drawn[c], 1)
            lines.append(
                f"class {name!r}: acceptance rate {rate:.1%} ({self.accepted[c]} of {self.drawn[c]} draws), "
                f"{int((missing == c).sum())} samples still rejected"
            )
        message = (
            f"the filter (min_confidence={self.min_confidence}) could not fill every sample after "
            f"{self.max_rounds} redraws: "
            + "; ".join(lines)
            + ". Lower min_confidence, raise max_rounds, improve the generator for these classes, "
            "or pass on_shortfall='warn' to keep the rejected draws."
        )
        if self.on_shortfall == "error":
            raise FilterShortfall(message)
        warnings.warn(message, stacklevel=3)

    def acceptance_rates(self) -> list[float]:
        """Accepted / drawn per class so far (NaN for classes not drawn yet)."""
        return [float(a / d) if d else math.nan for a, d in zip(self.accepted, self.drawn)]

    def report(self, class_names: list[str] | None = None) -> str:
        """A markdown table of draws, acceptances and the acceptance rate per class."""
        rows = ["| class | drawn | accepted | acceptance rate |", "|---|---|---|---|"]
        for c, (d, a) in enumerate(zip(self.drawn, self.accepted)):
            name = class_names[c] if class_names and c < len(class_names) else str(c)
            rows.append(f"| {name} | {d} | {a} | {a / d:.1%} |" if d else f"| {name} | 0 | 0 | n/a |")
        return "\n".join(rows)
