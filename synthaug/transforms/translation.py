"""Head -> tail translation: tail-class training images made from head-class images (M2m).

On a long tail the rare classes have too few images to show their variety, while the
frequent classes have thousands. M2m ("Major-to-minor translation", Kim, Jeong and Shin,
CVPR 2020) moves that variety across: take an image of a frequent class, and nudge it a
few gradient steps so that a classifier trained on the real (imbalanced) data calls it the
rare class; keep the result only when that classifier is confident of the rare class and
the original class's score has gone down. The nudged image keeps its source's context
(pose, texture, background) and gains what the classifier takes to be the rare class's
evidence, so the rare class is trained on many more distinct images than its own few.

:class:`HeadToTail` does this in two spaces:

* ``space="pixel"`` (as published): the steps move the pixels, clamped to [0, 1];
* ``space="latent"``: a :class:`~synthaug.ConditionalVAE` encodes the source image with its
  own label, the latent is decoded with the *target* label (style kept, class swapped),
  and the steps move the latent, so every candidate stays on the generator's manifold.

Each step descends ``cross_entropy(classifier(x), target) + reg * logit_source(x)`` along
its gradient, normalised per image (``step_size`` is the RMS change per pixel, or per
latent unit, of one step). Which source class serves a target class follows M2m: only
classes with more real images than the target qualify, class ``k0`` with weight
``1 - beta ** (n_k0 - n_target)``, so the largest classes give most and near-equal classes
almost none.

A rejected candidate is retried from a new source (``max_rounds`` in all); what still
fails gets, as in M2m, a real image of the target class (``on_reject="real"``), or raises
:class:`TranslationShortfall` (``on_reject="error"``). Either way no image carries a label
the classifier does not give it: :meth:`HeadToTail.report` counts translations and
fall-backs per class.

:class:`HeadToTail` satisfies :class:`~synthaug.GeneratorProtocol`, so it plugs into every
synthaug path that takes a generator::

    translator = HeadToTail(classifier, real_train)              # frozen, real-trained classifier
    train = synthaug.mix(real_train, translator, {"Ankle boot": 2000}, synthetic_share=0.3)
    batch_mix = synthaug.transforms.BatchSyntheticMix(translator, p=0.3)   # on batches, as M2m does
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthaug.data.classes import class_names_of
from synthaug.data.real import LabelledImages
from synthaug.generators.base import check_images, check_labels
from synthaug.validation import ArgumentTypeError, check_choice, check_int, check_number

Space = Literal["pixel", "latent"]
OnReject = Literal["real", "error"]


class TranslationShortfall(ValueError):
    """Some images could not be translated within ``max_rounds`` and ``on_reject="error"``."""


@dataclass
class Translation:
    """One batch through :meth:`HeadToTail.translate`: candidates and the acceptance verdict.

    Attributes:
        images: the translated candidates ``[B, C, H, W]`` in [0, 1] (accepted or not).
        sources, targets: the source and target class of each ``[B]``.
        confidence: the classifier's probability of the target class for each candidate.
        source_logit_drop: how much the source class's logit fell (initial minus final).
        accepted: ``confidence >= threshold`` and ``source_logit_drop > 0``.
    """

    images: torch.Tensor
    sources: torch.Tensor
    targets: torch.Tensor
    confidence: torch.Tensor
    source_logit_drop: torch.Tensor
    accepted: torch.Tensor


def _frozen(classifier: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    if not callable(classifier):
        raise ArgumentTypeError(
            "classifier must be a module or callable mapping float images [B, C, H, W] in [0, 1] to logits "
            f"[B, num_classes], got {type(classifier).__name__}"
        )
    if isinstance(classifier, nn.Module):
        classifier.eval()  # batch-norm statistics fixed: the classifier is a judge, not a learner
    return classifier


class HeadToTail:
    """Images of a class made by translating real images of more frequent classes (see the module docstring).

    Args:
        classifier: a frozen classifier trained on the real training data (float images
            ``[B, C, H, W]`` in [0, 1] -> logits ``[B, num_classes]``), e.g.
            :func:`synthaug.filters.train_filter_classifier`. It is put in eval mode and
            only its input gradients are taken (its weights never change).
        real: the real training data (a map-style dataset of ``(image, label)`` items or a
            :class:`~synthaug.data.LabelledImages`): the sources, and the fall-backs.
        space: ``"pixel"`` (M2m as published) or ``"latent"`` (needs ``cvae``).
        cvae: a :class:`~synthaug.ConditionalVAE` trained on the same classes (for ``"latent"``).
        steps: gradient steps per candidate (M2m: 10).
        step_size: RMS change of one step per pixel (``"pixel"``) or per latent unit.
        threshold: the classifier's probability of the target class a candidate needs (M2m: 0.9).
        reg: weight of the source logit in the loss (M2m's lambda: 0.1): pushes the source
            class down, not only the target class up.
        beta: the source-class weighting ``1 - beta ** (n_source - n_target)`` (M2m: 0.999).
        max_rounds: candidates tried per requested image before falling back (>= 1).
        on_reject: ``"real"`` (a real image of the target class, M2m's rule) or ``"error"``.
        num_classes: classes of the classifier (default: the real data's ``max label + 1``).
        class_names: names in label order (default: the real dataset's, when it has them).
        batch_size: candidates translated per classifier call.

    Attributes:
        requested, translated, fell_back: per-class counters (this process) of images
            asked for, made by an accepted translation, and replaced by a real image.
    """

    def __init__(
        self,
        classifier: Callable[[torch.Tensor], torch.Tensor],
        real: Any,
        *,
        space: Space = "pixel",
        cvae: Any = None,
        steps: int = 10,
        step_size: float = 0.05,
        threshold: float = 0.9,
        reg: float = 0.1,
        beta: float = 0.999,
        max_rounds: int = 3,
        on_reject: OnReject = "real",
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        batch_size: int = 256,
    ) -> None:
        self.classifier = _frozen(classifier)
        self.space = check_choice("space", space, ("pixel", "latent"))
        if space == "latent":
            if cvae is None or not all(hasattr(cvae, name) for name in ("encode", "decode", "num_classes")):
                raise ArgumentTypeError(
                    "space='latent' needs cvae=, a synthaug.ConditionalVAE trained on the same classes, "
                    f"got {type(cvae).__name__}"
                )
            cvae.eval()
        elif cvae is not None:
            raise ValueError("cvae= is only used with space='latent'; leave it out for space='pixel'")
        self.cvae = cvae
        self.steps = check_int("steps", steps, low=0)
        self.step_size = check_number("step_size", step_size, low=0.0)
        self.threshold = check_number("threshold", threshold, low=0.0, high=1.0)
        self.reg = check_number("reg", reg, low=0.0)
        self.beta = check_number("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
        self.max_rounds = check_int("max_rounds", max_rounds, low=1)
        self.on_reject = check_choice("on_reject", on_reject, ("real", "error"))
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.pool = LabelledImages.from_dataset(real, progress=False)
        if not len(self.pool):
            raise ValueError("real must hold at least one item: translation needs source images")
        largest = int(self.pool.labels.max())
        self._num_classes = (
            largest + 1
            if num_classes is None
            else check_int("num_classes", num_classes, low=largest + 1, expected=f"an int above {largest}")
        )
        if cvae is not None and cvae.num_classes != self._num_classes:
            raise ValueError(f"cvae has {cvae.num_classes} classes, the real data {self._num_classes}")
        names = class_names if class_names is not None else class_names_of(real)
        self._class_names = list(names) if names else None
        k = self._num_classes
        self.counts = np.bincount(self.pool.labels.numpy(), minlength=k)
        self._members = [torch.from_numpy(np.flatnonzero(self.pool.labels.numpy() == c)) for c in range(k)]
        self.source_weights = self._source_weights()
        self.requested = np.zeros(k, dtype=np.int64)
        self.translated = np.zeros(k, dtype=np.int64)
        self.fell_back = np.zeros(k, dtype=np.int64)

    # ------------------------------------------------------------------ GeneratorProtocol
    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.pool.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def class_names(self) -> list[str] | None:
        return self._class_names

    def _source_weights(self) -> torch.Tensor:
        """``[target, source]`` weights ``1 - beta ** (n_source - n_target)`` where the source is larger, else 0."""
        gap = self.counts[None, :].astype(np.float64) - self.counts[:, None]
        weights = np.where(gap > 0, 1.0 - self.beta ** np.maximum(gap, 0.0), 0.0)
        return torch.from_numpy(weights)

    def _draw_sources(self, targets: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """An index into the pool per target (a random image of a source class), or -1 where no class is larger."""
        weights = self.source_weights[targets]
        has_source = weights.sum(1) > 0
        index = torch.full((len(targets),), -1, dtype=torch.long)
        if bool(has_source.any()):
            classes = torch.multinomial(weights[has_source], 1, generator=generator).squeeze(1)
            picks = []
            for c in classes.tolist():
                members = self._members[c]
                picks.append(members[int(torch.randint(len(members), (), generator=generator))])
            index[has_source] = torch.stack(picks)
        return index

    def _real_of(self, targets: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A random real image of each target class (the fall-back)."""
        picks = []
        for c in targets.tolist():
            members = self._members[c]
            if not len(members):
                raise TranslationShortfall(
                    f"class {self._name(c)} has no real image to fall back on and its translation was rejected"
                )
            picks.append(members[int(torch.randint(len(members), (), generator=generator))])
        return self.pool.images[torch.stack(picks)]

    def _name(self, c: int) -> str:
        return f"{c} ({self._class_names[c]})" if self._class_names else str(c)

    # ------------------------------------------------------------------ the translation
    def _step(self, variable: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        dims = gradient[0].numel()
        norm = gradient.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (gradient.dim() - 1)))
        return variable - self.step_size * math.sqrt(dims) * gradient / norm

    def translate(self, images: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor) -> Translation:
        """Translate ``images`` of classes ``sources`` towards classes ``targets``; returns the verdict.

        Args:
            images: float ``[B, C, H, W]`` in [0, 1].
            sources, targets: class indices ``[B]``.
        """
        images = check_images(images)
        sources = check_labels(sources, self.num_classes, name="sources")
        targets = check_labels(targets, self.num_classes, name="targets")
        if not len(images) == len(sources) == len(targets):
            raise ValueError(
                f"images, sources and targets must have one entry per image, got {len(images)}, "
                f"{len(sources)} and {len(targets)}"
            )
        size = self.batch_size
        parts = [
            self._translate_batch(images[i : i + size], sources[i : i + size], targets[i : i + size])
            for i in range(0, len(images), size)
        ]
        return Translation(*(torch.cat([getattr(p, f) for p in parts]) for f in Translation.__dataclass_fields__))

    @property
    def device(self) -> torch.device:
        """Where the classifier runs (candidates are made there and returned on the CPU)."""
        if isinstance(self.classifier, nn.Module):
            for parameter in self.classifier.parameters():
                return parameter.device
        return torch.device("cpu")

    def _translate_batch(self, images: torch.Tensor, sources: torch.Tensor, targets: torch.Tensor) -> Translation:
        device = self.device
        images, sources, targets = images.to(device), sources.to(device), targets.to(device)
        with torch.no_grad():
            start = self.classifier(images).gather(1, sources[:, None]).squeeze(1)

        def objective(x: torch.Tensor) -> torch.Tensor:
            logits = self.classifier(x)
            return (
                F.cross_entropy(logits, targets, reduction="sum") + self.reg * logits.gather(1, sources[:, None]).sum()
            )

        with torch.enable_grad():
            if self.space == "pixel":
                x = images.detach().clone()
                for _ in range(self.steps):
                    x.requires_grad_(True)
                    (gradient,) = torch.autograd.grad(objective(x), x)
                    x = self._step(x.detach(), gradient).clamp(0.0, 1.0)
                candidates = x.detach()
            else:
                with torch.no_grad():
                    z = self.cvae.encode(images, sources)[0]
                for _ in range(self.steps):
                    z.requires_grad_(True)
                    (gradient,) = torch.autograd.grad(objective(self.cvae.decode(z, targets)), z)
                    z = self._step(z.detach(), gradient)
                with torch.no_grad():
                    candidates = self.cvae.decode(z.detach(), targets).clamp(0.0, 1.0)
        with torch.no_grad():
            logits = self.classifier(candidates)
        confidence = logits.softmax(1).gather(1, targets[:, None]).squeeze(1)
        drop = start - logits.gather(1, sources[:, None]).squeeze(1)
        accepted = (confidence >= self.threshold) & (drop > 0)
        parts = (candidates, sources, targets, confidence, drop, accepted)
        return Translation(*(part.cpu() for part in parts))

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images ``[B, C, H, W]`` of classes ``labels``: accepted translations, else real fall-backs.

        Sources are drawn from ``generator`` (so a seeded call repeats itself). Raises
        :class:`TranslationShortfall` for rejected images when ``on_reject="error"``.
        """
        labels = check_labels(labels, self.num_classes)
        out = torch.empty(len(labels), *self.image_shape)
        np.add.at(self.requested, labels.numpy(), 1)
        pending = torch.arange(len(labels))
        for _ in range(self.max_rounds):
            source_index = self._draw_sources(labels[pending], generator)
            translatable = source_index >= 0
            if not bool(translatable.any()):
                break
            result = self.translate(
                self.pool.images[source_index[translatable]],
                self.pool.labels[source_index[translatable]],
                labels[pending[translatable]],
            )
            done = pending[translatable][result.accepted]
            out[done] = result.images[result.accepted]
            np.add.at(self.translated, labels[done].numpy(), 1)
            keep = torch.ones(len(pending), dtype=torch.bool)
            keep[torch.nonzero(translatable).flatten()[result.accepted]] = False
            pending = pending[keep]
            if not len(pending):
                break
        if len(pending):
            if self.on_reject == "error":
                missing = np.bincount(labels[pending].numpy(), minlength=self.num_classes)
                raise TranslationShortfall(
                    f"{len(pending)} of {len(labels)} images were not translated within max_rounds="
                    f"{self.max_rounds} (per class: "
                    + ", ".join(f"{self._name(c)}: {n}" for c, n in enumerate(missing) if n)
                    + f"); lower threshold={self.threshold:g}, raise steps={self.steps} or step_size, or pass "
                    "on_reject='real' to use real images of the class instead"
                )
            out[pending] = self._real_of(labels[pending], generator)
            np.add.at(self.fell_back, labels[pending].numpy(), 1)
        return out

    # ------------------------------------------------------------------ reporting
    def acceptance(self) -> np.ndarray:
        """Per class, the share of requested images that are translations (NaN where none was requested)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.requested > 0, self.translated / np.maximum(self.requested, 1), np.nan)

    def report(self) -> str:
        """A markdown table per class: real images, requested, translated, real fall-backs."""
        rows = [
            "| class | real images | requested | translated | real fall-back | translated share |",
            "|---|---|---|---|---|---|",
        ]
        for c in range(self.num_classes):
            share = f"{self.translated[c] / self.requested[c]:.0%}" if self.requested[c] else "-"
            rows.append(
                f"| {self._name(c)} | {self.counts[c]} | {self.requested[c]} | {self.translated[c]} | "
                f"{self.fell_back[c]} | {share} |"
            )
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(space={self.space!r}, steps={self.steps}, step_size={self.step_size:g}, "
            f"threshold={self.threshold:g}, reg={self.reg:g}, beta={self.beta:g}, max_rounds={self.max_rounds}, "
            f"on_reject={self.on_reject!r}, pool={len(self.pool)} images)"
        )
