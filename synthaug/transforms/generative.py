"""Transforms that put a trained model in a data pipeline: replace, mix, denoise, vary.

* :class:`SyntheticReplace` — on ``(image, label)`` items: with probability ``p`` the image
  becomes a fresh sample of the same class from a conditional generator.
* :class:`BatchSyntheticMix` — on ``(images, labels)`` batches after the DataLoader (like
  ``torchvision.transforms.v2.MixUp``): a fraction ``p`` of each batch is replaced by
  samples made in one generator call, on the generator's device.
* :class:`Denoise` — one image (or a batch) through a :class:`~synthaug.DenoisingAutoencoder`.
* :class:`VAEVariation` — on ``(image, label)`` items: the image encoded by a
  :class:`~synthaug.ConditionalVAE`, its latent moved by ``strength`` posterior standard
  deviations, and decoded again: a nearby image of the same class.

Every transform is a ``torchvision.transforms.v2.Transform`` (see
:mod:`synthaug.transforms.base`): it works in ``v2.Compose`` and ``nn.Sequential``, on
single images, ``(image, label)`` pairs, dict samples and batches, and ``.to(device)``
moves its model. It keeps its input's form: a PIL image (``L``/``RGB``) stays PIL, a
tensor keeps its type (``tv_tensors.Image`` or plain), dtype (uint8 0..255 or float in
[0, 1]) and device, an ndarray ``[H, W, C]`` keeps its dtype; sizes and channels must
match the model's and are never converted. Labels pass through unchanged (none of these
transforms relabels: a replaced image is of the item's class). Inputs are never modified
in place. Models run without gradients and in eval mode.

Randomness comes from a private ``torch.Generator`` per transform and process, never
from torch's global RNG. ``seed=None`` starts it from fresh OS entropy; an int ``seed``
makes the sequence of outputs reproducible (and a pickled copy starts the same sequence
again). Inside DataLoader workers the worker's ``torch.initial_seed()`` (different per
worker and per epoch) is mixed in, so workers never repeat each other; with an int
``seed`` and a seeded DataLoader (``generator=torch.Generator().manual_seed(...)``) runs are
still reproducible for a fixed ``num_workers``.

Example:
    >>> gen, vae = synthaug.load("runs/demo/cgan"), synthaug.load("runs/demo/cvae")
    >>> replace = SyntheticReplace(gen, p=0.3, seed=0)
    >>> pipeline = v2.Compose([replace, v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    >>> image, label = pipeline(pil_image, "Coat")     # a class name works where an index does
    >>> image, label = replace(pil_image, 3)            # PIL in, PIL out
    >>> vary = VAEVariation(vae, strength=0.5, seed=0)
    >>> image, label = vary(tensor_image, 3)            # [1, 16, 16] float in, same out
    >>> clean = Denoise("runs/digits-dae")(noisy_pil)   # a bundle path: pickles as the path
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from synthaug import validation
from synthaug.data.classes import ClassAlignedGenerator, align_classes
from synthaug.data.counts import check_count
from synthaug.data.image_format import detect_format, from_float_chw
from synthaug.generators.base import (
    ConfigurableModule,
    GeneratorProtocol,
    check_generator,
    check_images,
    check_labels,
    check_truncation,
    preserving_modes,
)
from synthaug.generators.cvae import ConditionalVAE
from synthaug.generators.dae import DenoisingAutoencoder
from synthaug.io import load
from synthaug.transforms.base import (  # noqa: F401  (SeedStream, worker_seed, ...: their old home, still imported from here)
    ItemTransform,
    SeedStream,
    batch_as_float,
    check_image_batch,
    check_shape,
    float_as,
    image_to_batch,
    is_batch,
    worker_seed,
)
from synthaug.validation import check_class_labels, split_model_keyword

__all__ = ["BatchSyntheticMix", "Denoise", "SyntheticReplace", "VAEVariation", "vae_variation"]


# -- argument checks ----------------------------------------------------------------------


def check_probability(p: Any, name: str = "p") -> float:
    """``p`` as a float in [0, 1] (:func:`synthaug.validation.check_probability`)."""
    return validation.check_probability(name, p)


def check_strength(strength: Any) -> float:
    """A VAE variation strength: a finite number >= 0 (posterior standard deviations)."""
    return validation.check_number(
        "strength", strength, low=0.0, expected="a finite number >= 0 (posterior standard deviations)"
    )


def check_label(label: Any, num_classes: int) -> int:
    """One class index (int, numpy integer or one-element integer tensor) as an int in range."""
    if (
        isinstance(label, torch.Tensor)
        and label.numel() == 1
        and not label.is_floating_point()
        and label.dtype != torch.bool
    ):
        label = label.item()
    return validation.check_int(
        "label", label, low=0, high=num_classes - 1, expected=f"an int class index in [0, {num_classes - 1}]"
    )


def unpack_pair(inputs: tuple, what: str) -> tuple[Any, Any]:
    """``t(image, label)`` and ``t((image, label))`` (what torchvision v2's Compose passes) alike."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = tuple(inputs[0])
    if len(inputs) != 2:
        raise TypeError(f"{what} takes an (image, label) pair, got {len(inputs)} argument(s)")
    return inputs[0], inputs[1]


def check_generator_protocol(model: Any) -> GeneratorProtocol:
    """``model`` if it satisfies :class:`~synthaug.GeneratorProtocol`, else a ``TypeError`` saying what is missing."""
    if not isinstance(model, GeneratorProtocol):
        raise TypeError(
            "model: the generator must provide num_classes, image_shape, class_names and "
            f"sample(labels, generator=...) (see synthaug.wrap), got {type(model).__name__}"
        )
    return model


def describe_model(model: Any) -> str:
    """A one-line description of a model for reprs: ``DenoisingAutoencoder(channels=1, ...)``."""
    if isinstance(model, ConfigurableModule):
        return f"{type(model).__name__}({model.extra_repr()})"
    return type(model).__name__


# -- models given as modules or bundle paths ----------------------------------------------


class BundleModel:
    """A model given as a module or as a bundle path; a path is what pickling carries.

    A path is loaded at construction (so a wrong path fails at once) and loaded again on
    first use in each process a pickled copy reaches (DataLoader workers): the weights
    never travel through pickle.
    """

    def __init__(self, model: Any, cls: type, name: str) -> None:
        self.cls, self.name = cls, name
        if isinstance(model, (str, os.PathLike)):
            self.path: Path | None = Path(model)
            self._model = self._load()
        elif isinstance(model, cls):
            self.path, self._model = None, model
        else:
            raise TypeError(f"{name} must be a {cls.__name__} or the path of its bundle, got {type(model).__name__}")

    def _load(self) -> Any:
        assert self.path is not None  # only a model given as a path is loaded
        model = load(self.path)
        if not isinstance(model, self.cls):
            raise TypeError(
                f"{self.name}: the bundle {self.path} holds a {type(model).__name__}, not a {self.cls.__name__}"
            )
        return model

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def describe(self) -> str:
        return repr(str(self.path)) if self.path is not None else describe_model(self._model)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_model": None} if self.path is not None else dict(self.__dict__)


class _ModelTransform(ItemTransform):
    """Base of the transforms that run one bundled model (held in ``_bundle``, outside ``_modules``).

    The model is not a registered submodule, so a transform built from a bundle path
    pickles as the path (DataLoader workers load the weights themselves);
    ``.to(device)`` and the other ``nn.Module`` conversions still reach it.
    """

    _bundle: BundleModel

    @property
    def path(self) -> Path | None:
        """The bundle path the model came from, or None when a module was given."""
        return self._bundle.path

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        # nn.Module.to/cuda/half/... all go through _apply: give the held model the same treatment.
        self._bundle.model._apply(fn)
        return super()._apply(fn, recurse)


def _model_modules(model: Any) -> list[torch.nn.Module]:
    """The nn.Modules behind a generator (a class-aligned view's base), for ``.to(device)``."""
    base = model.base if isinstance(model, ClassAlignedGenerator) else model
    return [base] if isinstance(base, torch.nn.Module) else []


def labels_for(label: Any, num_classes: int, class_names: Any, count: int, name: str = "labels") -> torch.Tensor:
    """A batch's labels (a tensor ``[B]``, or a list of indices or names) as a LongTensor of ``count`` indices.

    ``name`` is what the count message calls the argument (``"label"`` for the item transforms' second argument).
    """
    labels = check_labels(check_class_labels("labels", label, num_classes, class_names), num_classes)
    if len(labels) != count:
        raise ValueError(f"{name} must have one entry per image: {len(labels)} labels for {count} images")
    return labels


def item_label(label: Any, num_classes: int, class_names: Any) -> int:
    """One item's label (an index, or a class name when the model names its classes) as an index."""
    if isinstance(label, str):
        return validation.check_class("label", label, num_classes, class_names)
    return check_label(label, num_classes)


# -- the transforms -------------------------------------------------------------------------


class _GeneratorTransform(ItemTransform):
    """Base of the transforms that sample a class-conditional generator for the items' labels."""

    needs_label = True

    def _set_model(self, model: GeneratorProtocol, seed: Any, generator: torch.Generator | None) -> None:
        # Kept outside _modules (the transform's state_dict stays empty, as torchvision's are);
        # _apply moves the model with the transform.
        self.__dict__["model"] = model
        self._stream = SeedStream(validation.seed_from("seed", seed, generator))

    @property
    def generator(self) -> GeneratorProtocol:
        """The old name of :attr:`model`."""
        return self.__dict__["model"]

    @property
    def seed(self) -> int | None:
        return self._stream.seed

    def random_generator(self) -> torch.Generator:
        return self._stream.generator()

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        for module in _model_modules(self.model):
            module._apply(fn)
        return super()._apply(fn, recurse)

    def _sample(self, labels: torch.Tensor, generator: torch.Generator | None, **kwargs: Any) -> torch.Tensor:
        return self.model.sample(labels, generator=generator, **kwargs).detach().float().clamp(0.0, 1.0)


class SyntheticReplace(_GeneratorTransform):
    """With probability ``p``, replace an ``(image, label)`` item's image by a synthetic one of its class.

    The transform-level twin of ``synthaug.mix(real, gen, "replace", p=...)``, drawing a
    fresh sample each time an item is read: the synthetic image comes from ``model``
    conditioned on the label, in exactly the input image's form (type, dtype, size,
    channels, device; a ``tv_tensors.Image`` stays one). The label is returned unchanged.
    A batch ``[B, C, H, W]`` with labels ``[B]`` works too: each item replaced with
    probability ``p``, all in one generator call.

    Args:
        model: anything satisfying :class:`~synthaug.GeneratorProtocol` (a loaded
            bundle, :func:`synthaug.wrap`); its ``image_shape`` must be the images' shape.
            (Its old keyword ``generator=`` still works, with a ``DeprecationWarning``.)
        p: probability of replacing each item, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence (see the
            module docstring for DataLoader workers).
        truncation: latent temperature in (0, 2] for synthaug's generators.
        classes: the class names of the labels it will see, in label order (a list, or
            the real dataset itself: its ``classes``/``class_to_idx`` are read). Matched
            by name to the model's ``class_names``, so a label means the same class
            whatever order each side lists them in; names that differ are an error.
            Without it, labels are taken as the model's own indices (with a warning
            when the model names its classes).
        generator: a ``torch.Generator`` to draw ``seed`` from (once, now).

    Call it as ``t(image, label)``, ``t((image, label))`` or on a dict sample with a
    ``"label"`` key (what ``torchvision.transforms.v2.Compose`` passes); labels may be
    class indices or class names. It returns the sample with the image replaced or not.

    Example:
        >>> replace = SyntheticReplace(synthaug.load("runs/demo/cgan"), p=0.3, seed=0)
        >>> image, label = replace(pil_digit, 7)       # 30%: a generated 7, as a PIL image
    """

    def __init__(
        self,
        model: GeneratorProtocol | None = None,
        p: float = 0.3,
        seed: int | None = None,
        truncation: float = 1.0,
        classes: Any = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.p = check_probability(p)
        self.truncation = check_truncation(truncation)
        # Here, not in a helper: the warnings below name the caller's line.
        model, generator = split_model_keyword(model, generator, type(self).__name__)
        name = type(self).__name__
        aligned = align_classes(check_generator_protocol(model), classes, real_name="classes", caller=name)
        self._set_model(aligned, seed, generator)

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        model = self.model
        if any(is_batch(image) for image in flat_inputs):
            for images in flat_inputs:
                check_image_batch(images, model.image_shape, "generator")
            labels = labels_for(label, model.num_classes, model.class_names, len(flat_inputs[0]))
            return {"labels": labels, "chosen": torch.rand(len(labels), generator=generator) < self.p, "rng": generator}
        for image in flat_inputs:
            check_shape(detect_format(image), model.image_shape, "generator")
        y = item_label(label, model.num_classes, model.class_names)
        return {
            "labels": torch.tensor([y]),
            "chosen": float(torch.rand((), generator=generator)) < self.p,
            "rng": generator,
        }

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        kwargs = {"truncation": self.truncation} if self.truncation != 1.0 else {}
        chosen, labels, rng = params["chosen"], params["labels"], params["rng"]
        if not is_batch(image):
            if not chosen:
                return image
            return from_float_chw(self._sample(labels, rng, **kwargs)[0], detect_format(image))
        if not chosen.any():
            return image
        index = chosen.nonzero().squeeze(1)
        out = image.clone()
        out[index.to(image.device)] = float_as(self._sample(labels[index].to(labels.device), rng, **kwargs), image)
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={describe_model(self.model)}, p={self.p}, seed={self.seed}, "
            f"truncation={self.truncation})"
        )


class BatchSyntheticMix(_GeneratorTransform):
    """Replace a fraction ``p`` of each ``(images, labels)`` batch by synthetic images of the same labels.

    Applied after the DataLoader, in the main process, like
    ``torchvision.transforms.v2.MixUp``: the synthetic images are made in one generator call
    on the model's device, so put the model on the GPU and move batches there first;
    CUDA is never touched in workers.

    Each batch of ``B`` items gets ``floor(p * B)`` or ``ceil(p * B)`` replacements (rounded
    at random so that on average exactly ``p * B`` are replaced), at positions drawn
    uniformly without replacement: a nearly constant number per batch keeps the generator
    call the same size every step. ``p=0`` replaces nothing, ``p=1`` everything.

    Args:
        model: anything satisfying :class:`~synthaug.GeneratorProtocol` (old keyword:
            ``generator=``, deprecated).
        p: fraction of each batch to replace, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence.
        classes: the class names of the labels, in label order (or the real dataset);
            matched by name to the model's, as for :class:`SyntheticReplace`.
        generator: a ``torch.Generator`` to draw ``seed`` from (once, now).

    Call it as ``t(images, labels)``, ``t((images, labels))`` or on a dict sample, with
    images ``[B, C, H, W]`` (uint8 or float in [0, 1], plain tensors or
    ``tv_tensors.Image``) and labels ``[B]`` (or a list of class names); it returns a new
    images tensor of the same type, dtype and device (the input is not modified) and the
    labels unchanged.

    Example:
        >>> mix = BatchSyntheticMix(synthaug.load("runs/demo/cgan", device="cuda"), p=0.3, seed=0)
        >>> for images, labels in loader:
        ...     images, labels = mix(images.cuda(), labels.cuda())
    """

    def __init__(
        self,
        model: GeneratorProtocol | None = None,
        p: float = 0.3,
        seed: int | None = None,
        classes: Any = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.p = check_probability(p)
        # Here, not in a helper: the warnings below name the caller's line.
        model, generator = split_model_keyword(model, generator, type(self).__name__)
        name = type(self).__name__
        aligned = align_classes(check_generator_protocol(model), classes, real_name="classes", caller=name)
        self._set_model(aligned, seed, generator)

    def choose(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Positions to replace in a batch of ``batch_size``: a CPU LongTensor, sorted."""
        exact = self.p * batch_size
        count = math.floor(exact)
        count += int(float(torch.rand((), generator=generator)) < exact - count)
        return torch.randperm(batch_size, generator=generator)[:count].sort().values

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        model = self.model
        for images in flat_inputs:
            check_image_batch(images, model.image_shape, "generator")
        labels = labels_for(label, model.num_classes, model.class_names, len(flat_inputs[0]))
        if isinstance(label, torch.Tensor):
            labels = labels.to(label.device)
        return {"labels": labels, "index": self.choose(len(labels), generator), "rng": generator}

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        index, labels = params["index"], params["labels"]
        if not len(index):
            return image
        synthetic = self._sample(labels[index.to(labels.device)], params["rng"])
        out = image.clone()
        out[index.to(image.device)] = float_as(synthetic, image)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={describe_model(self.model)}, p={self.p}, seed={self.seed})"


def denoise_in_batches(
    dae: DenoisingAutoencoder, images: torch.Tensor, batch_size: int, gate: float | None = None
) -> torch.Tensor:
    """``dae.denoise`` over float images ``[B, C, H, W]`` in [0, 1], ``batch_size`` per model call.

    With a ``gate``, only images whose :meth:`~synthaug.DenoisingAutoencoder.score` is
    above it are replaced by their denoised version; the others come back exactly as given.
    """
    if not len(images):
        return images.clone()
    if gate is None:
        return torch.cat([dae.denoise(chunk) for chunk in images.split(batch_size)])
    parts = []
    for chunk in images.split(batch_size):
        denoised, scores = dae.denoise_and_score(chunk)
        flagged = (scores > gate).view(-1, *([1] * (chunk.dim() - 1)))
        parts.append(torch.where(flagged, denoised, chunk))
    return torch.cat(parts)


def check_gate(gate: Any) -> float | None:
    """A ``Denoise`` gate: ``None`` (denoise every image) or a score threshold >= 0."""
    if gate is None:
        return None
    return validation.check_number("gate", gate, low=0.0, expected="None or a reconstruction-score threshold >= 0")


def gate_threshold(dae: DenoisingAutoencoder, clean_images: torch.Tensor, quantile: float, batch_size: int) -> float:
    """The ``quantile`` of ``dae``'s scores on ``clean_images``: a gate that leaves that share of them untouched."""
    quantile = validation.check_number("quantile", quantile, low=0.0, high=1.0, low_open=True, high_open=True)
    dae.check_images(check_images(clean_images, name="clean_images"), name="clean_images")
    if len(clean_images) < 2:
        raise ValueError(f"clean_images must hold at least 2 images to place a gate, got {len(clean_images)}")
    scores = torch.cat([dae.score(chunk).cpu() for chunk in clean_images.split(batch_size)])
    return float(torch.quantile(scores.double(), quantile))


class Denoise(_ModelTransform):
    """Clean an image (or a batch) with a :class:`~synthaug.DenoisingAutoencoder`.

    Deterministic. Takes a PIL image, a tensor ``[C, H, W]``/``[H, W]`` (plain or
    ``tv_tensors.Image``) or an ndarray ``[H, W, C]``/``[H, W]`` (uint8 or float in
    [0, 1]) and returns the same type, dtype, size and device; a tensor batch
    ``[B, C, H, W]`` is denoised ``batch_size`` images at a time. Labels and anything else
    in the sample pass through, so it works in ``torchvision.transforms.v2.Compose`` on
    images, ``(image, label)`` pairs and dict samples.

    A denoiser applied to every image also changes clean ones a little. The ``gate``
    denoises only the images whose reconstruction score (``dae.score``: how much the
    denoiser would change them) is above a threshold; the others are returned unchanged,
    bit for bit. :meth:`calibrate_gate` places the threshold from clean validation images.

    Args:
        dae: the model, or the path of its bundle. A path is what pickling carries: each
            DataLoader worker loads the bundle itself, the weights never travel.
        batch_size: images per model call for batch inputs.
        gate: ``None`` (default: denoise every image) or a score threshold >= 0.

    Example:
        >>> denoise = Denoise("runs/digits-dae")
        >>> clean = denoise(noisy_pil)                   # PIL L 16x16 in, PIL L 16x16 out
        >>> transform = v2.Compose([Denoise("runs/digits-dae"), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
        >>> gated = Denoise("runs/fmnist-dae")
        >>> gated.calibrate_gate(clean_validation_images)   # 95% of clean images pass untouched
    """

    def __init__(
        self, dae: DenoisingAutoencoder | str | os.PathLike, batch_size: int = 256, gate: float | None = None
    ) -> None:
        super().__init__()
        self._bundle = BundleModel(dae, DenoisingAutoencoder, "dae")
        self.batch_size = check_count("batch_size", batch_size)
        self.gate = check_gate(gate)

    @property
    def dae(self) -> DenoisingAutoencoder:
        return self._bundle.model

    def calibrate_gate(self, clean_images: torch.Tensor, quantile: float = 0.95) -> float:
        """Set :attr:`gate` to the ``quantile`` of the scores of ``clean_images``, and return it.

        ``quantile`` is the share of clean images like these that will pass unchanged
        (default 0.95); the rest, and every image the denoiser would change more, are
        denoised. Use held-out clean images of the kind the classifier was trained on.

        Args:
            clean_images: float ``[N, C, H, W]`` in [0, 1] of the model's shape, N >= 2.
            quantile: in (0, 1).
        """
        self.gate = gate_threshold(self.dae, clean_images, quantile, self.batch_size)
        return self.gate

    def denoise_batch(self, images: torch.Tensor) -> torch.Tensor:
        """Float images ``[B, C, H, W]`` in [0, 1] denoised ``batch_size`` at a time (same dtype and device)."""
        return denoise_in_batches(self.dae, images, self.batch_size, self.gate)

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        shape = self.dae.image_shape
        for image in flat_inputs:  # every image checked before the model runs on any
            if is_batch(image):
                check_image_batch(image, shape, "denoiser")
            else:
                check_shape(detect_format(image), shape, "denoiser")
        return {}

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        if is_batch(image):
            return float_as(self.denoise_batch(batch_as_float(image)), image)
        batch, fmt = image_to_batch(image, self.dae.image_shape, "denoiser")
        if self.gate is not None:
            denoised, score = self.dae.denoise_and_score(batch)
            return image if float(score[0]) <= self.gate else from_float_chw(denoised[0], fmt)
        return from_float_chw(self.denoise_batch(batch)[0], fmt)

    def __repr__(self) -> str:
        gate = "" if self.gate is None else f", gate={self.gate:.4g}"
        return f"{type(self).__name__}(dae={self._bundle.describe()}, batch_size={self.batch_size}{gate})"


@torch.no_grad()
def vae_variation(
    cvae: ConditionalVAE,
    images: torch.Tensor,
    labels: torch.Tensor,
    strength: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Variations of real images through a conditional VAE's posterior.

    Encodes ``images`` with their ``labels`` (``mu, logvar = cvae.encode(images, labels)``),
    moves each latent ``z = mu + strength * sigma * eps`` with ``eps ~ N(0, I)`` drawn from
    ``generator``, and decodes ``z`` with the same labels. ``strength=0`` gives the VAE's
    reconstruction; 1 samples the posterior; larger values wander further from the input.

    Args:
        cvae: a :class:`~synthaug.ConditionalVAE` (run in eval mode, modes restored after).
        images: float ``[B, C, H, W]`` in [0, 1] of the model's shape, on any device.
        labels: LongTensor ``[B]``.
        strength: posterior standard deviations, >= 0.
        generator: where ``eps`` comes from (drawn on the generator's device).

    Returns:
        A new tensor of the images' shape, dtype and device, in [0, 1].

    Example:
        >>> out = vae_variation(vae, images, labels, strength=0.5, generator=torch.Generator().manual_seed(0))
    """
    strength = check_strength(strength)
    check_generator(generator)
    labels = check_labels(labels, cvae.num_classes)
    check_image_batch(check_images(images), cvae.image_shape, "cVAE")  # float [B, C, H, W] in [0, 1]
    if len(labels) != len(images):
        raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
    device = cvae.device
    with preserving_modes(cvae):
        y = labels.to(device)
        mu, logvar = cvae.encode(images.to(device, torch.float32), y)
        eps = torch.randn(mu.shape, generator=generator, device=generator.device if generator is not None else device)
        z = mu + strength * torch.exp(0.5 * logvar) * eps.to(device, mu.dtype)
        out = cvae.decode(z, y).clamp(0.0, 1.0)
    return out.to(device=images.device, dtype=images.dtype)


class VAEVariation(_ModelTransform):
    """On ``(image, label)`` items: with probability ``p``, a nearby image of the same class from a cVAE.

    See :func:`vae_variation` for what happens to the image; the result has the input
    image's form (type, dtype, size, channels, device; a ``tv_tensors.Image`` stays one)
    and the label is returned unchanged. A tensor batch ``[B, C, H, W]`` with labels
    ``[B]`` works too (each item varied with probability ``p``, all in one model call).
    Labels may be class indices or the cVAE's class names.

    Torchvision datasets apply ``transform`` to the image alone, so give this transform the
    whole item: wrap the dataset (``[transform(*item) for item in dataset]`` lazily, see
    docs/transforms.md) or use it in ``torchvision.transforms.v2.Compose``, which passes
    ``(image, label)`` pairs and dict samples through.

    Args:
        cvae: a :class:`~synthaug.ConditionalVAE`, or the path of its bundle (what pickling carries).
        strength: how far to move in posterior standard deviations, >= 0 (0: reconstruction).
        p: probability of varying each item, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence.
        generator: a ``torch.Generator`` to draw ``seed`` from (once, now).

    Example:
        >>> vary = VAEVariation("runs/demo/cvae", strength=0.5, seed=0)
        >>> image, label = vary(pil_digit, 7)
    """

    needs_label = True

    def __init__(
        self,
        cvae: ConditionalVAE | str | os.PathLike,
        strength: float = 0.5,
        p: float = 1.0,
        seed: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self._bundle = BundleModel(cvae, ConditionalVAE, "cvae")
        self.strength = check_strength(strength)
        self.p = check_probability(p)
        self._stream = SeedStream(validation.seed_from("seed", seed, generator))

    @property
    def cvae(self) -> ConditionalVAE:
        return self._bundle.model

    @property
    def seed(self) -> int | None:
        return self._stream.seed

    def random_generator(self) -> torch.Generator:
        return self._stream.generator()

    def vary_batch(self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Float images ``[B, C, H, W]`` in [0, 1]: each varied with probability ``p`` (a new tensor)."""
        chosen = torch.rand(len(images), generator=generator) < self.p
        out = images.clone()
        if chosen.any():
            index = chosen.nonzero().squeeze(1)
            out[index.to(images.device)] = vae_variation(
                self.cvae, images[index.to(images.device)], labels[index.to(labels.device)], self.strength, generator
            )
        return out

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        cvae = self.cvae
        if any(is_batch(image) for image in flat_inputs):
            for images in flat_inputs:
                check_image_batch(images, cvae.image_shape, "cVAE")
            labels = labels_for(label, cvae.num_classes, cvae.class_names, len(flat_inputs[0]), "label")
            return {"labels": labels, "rng": generator}
        for image in flat_inputs:
            check_shape(detect_format(image), cvae.image_shape, "cVAE")
        y = item_label(label, cvae.num_classes, cvae.class_names)
        chosen = float(torch.rand((), generator=generator)) < self.p
        return {"labels": torch.tensor([y]), "chosen": chosen, "rng": generator}

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        rng = params["rng"]
        if is_batch(image):
            return float_as(self.vary_batch(batch_as_float(image), params["labels"], rng), image)
        if not params["chosen"]:
            return image
        batch, fmt = image_to_batch(image, self.cvae.image_shape, "cVAE")
        out = vae_variation(self.cvae, batch, params["labels"], self.strength, rng)
        return from_float_chw(out[0], fmt)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(cvae={self._bundle.describe()}, strength={self.strength}, p={self.p}, "
            f"seed={self.seed})"
        )
