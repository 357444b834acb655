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

Every transform keeps its input's form: a PIL image (``L``/``RGB``) stays PIL, a tensor
keeps its dtype (uint8 0..255 or float in [0, 1]) and device, an ndarray ``[H, W, C]``
keeps its dtype; sizes and channels must match the model's and are never converted.
Inputs are never modified in place. Models run without gradients and in eval mode.

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
    >>> image, label = replace(pil_image, 3)            # PIL in, PIL out
    >>> vary = VAEVariation(vae, strength=0.5, seed=0)
    >>> image, label = vary(tensor_image, 3)            # [1, 16, 16] float in, same out
    >>> clean = Denoise("runs/digits-dae")(noisy_pil)   # a bundle path: pickles as the path
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import get_worker_info

from synthaug import validation
from synthaug.data.classes import align_classes
from synthaug.data.counts import check_count
from synthaug.data.image_format import ImageFormat, detect_format, from_float_chw, quantize, to_float_chw
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
from synthaug.utils.seeding import stream_seed

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


def check_generator_protocol(generator: Any) -> GeneratorProtocol:
    if not isinstance(generator, GeneratorProtocol):
        raise TypeError(
            "generator must provide num_classes, image_shape, class_names and "
            f"sample(labels, generator=...) (see synthaug.wrap), got {type(generator).__name__}"
        )
    return generator


def describe_model(model: Any) -> str:
    """A one-line description of a model for reprs: ``DenoisingAutoencoder(channels=1, ...)``."""
    if isinstance(model, ConfigurableModule):
        return f"{type(model).__name__}({model.extra_repr()})"
    return type(model).__name__


# -- image forms ----------------------------------------------------------------------------


def _check_shape(fmt: ImageFormat, shape: tuple[int, ...], model: str) -> None:
    if fmt.shape != tuple(shape):
        raise ValueError(
            f"image is {fmt.describe()}, but the {model} works on images of shape "
            f"{tuple(shape)} (C, H, W); resize or convert it first"
        )


def image_to_batch(image: Any, shape: tuple[int, ...], model: str) -> tuple[torch.Tensor, ImageFormat]:
    """One image item as a float ``[1, C, H, W]`` batch in [0, 1] (a tensor stays on its device).

    Checks the item's form (type, channels, dtype, float range) and that its shape is the
    model's ``shape``; returns the batch and the form to give results back in.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach()
    fmt = detect_format(image)
    _check_shape(fmt, shape, model)
    if isinstance(image, torch.Tensor):  # convert where it lives: a CUDA image stays on the GPU
        batch = image.div(255) if image.dtype == torch.uint8 else image.clamp(0.0, 1.0)
        return batch.float().reshape(1, *fmt.shape), fmt
    return to_float_chw(image)[None], fmt


def check_image_batch(images: Any, shape: tuple[int, ...], model: str) -> torch.Tensor:
    """Validate a batch ``[B, C, H, W]``: uint8, or floating in [0, 1], of the model's ``shape``."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [B, C, H, W], got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must have shape [B, C, H, W], got {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"images must be uint8 (0..255) or floating in [0, 1], got dtype {images.dtype}")
    if tuple(images.shape[1:]) != tuple(shape):
        raise ValueError(
            f"images have shape {tuple(images.shape)}, but the {model} works on images of shape "
            f"[B, {', '.join(map(str, shape))}]"
        )
    if images.is_floating_point() and images.numel():
        low, high = (float(v) for v in torch.aminmax(images))
        if not (low >= -1e-3 and high <= 1 + 1e-3):  # also refuses NaN
            raise ValueError(
                f"images are floating point with values in [{low:.3g}, {high:.3g}]; expected [0, 1] "
                "(apply transforms.Normalize after this transform)"
            )
    return images


def batch_as_float(images: torch.Tensor) -> torch.Tensor:
    """A uint8 or float batch as float in [0, 1], on its device (a new tensor or the float input)."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images.clamp(0.0, 1.0)


def float_as(images: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] in the dtype and on the device of the batch ``like`` (uint8 rounded)."""
    images = images.to(like.device)
    return quantize(images) if like.dtype == torch.uint8 else images.to(like.dtype)


# -- randomness -----------------------------------------------------------------------------


def worker_seed() -> int | None:
    """``torch.initial_seed()`` of this DataLoader worker (differs by worker and epoch), or None outside one."""
    info = get_worker_info()
    return None if info is None else int(info.seed)


class SeedStream:
    """The private ``torch.Generator`` of one transform, created afresh in each process.

    * an int ``seed``: in the main process the generator is ``manual_seed(seed)``; in a
      DataLoader worker it is seeded from ``(seed, worker seed)``;
    * ``None``: fresh OS entropy drawn once at construction (and carried by pickling),
      mixed with the worker seed inside workers.

    Pickling drops the generator: a copy starts the stream from the beginning.
    """

    def __init__(self, seed: int | None) -> None:
        self.seed = validation.check_seed("seed", seed, allow_none=True)
        # Drawn without an argument, a SeedSequence's entropy is an int (the stub also allows the arguments' types).
        self._entropy = int(cast(int, np.random.SeedSequence().entropy)) if seed is None else None
        self._generator: torch.Generator | None = None
        self._owner: tuple[int, int | None] | None = None

    def generator(self) -> torch.Generator:
        worker = worker_seed()
        owner = (os.getpid(), worker)
        if self._generator is None or self._owner != owner:
            base = self._entropy if self.seed is None else self.seed
            assert base is not None  # _entropy is drawn when seed is None
            if worker is None:
                seed = self.seed if self.seed is not None else stream_seed(base)
            else:
                seed = stream_seed(base, worker)
            self._generator = torch.Generator().manual_seed(seed)
            self._owner = owner
        return self._generator

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_generator": None, "_owner": None}


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


class _ModelTransform:
    """Base of the transforms that run one bundled model (held in ``_bundle``)."""

    _bundle: BundleModel

    @property
    def path(self) -> Path | None:
        """The bundle path the model came from, or None when a module was given."""
        return self._bundle.path


# -- the transforms -------------------------------------------------------------------------


class SyntheticReplace:
    """With probability ``p``, replace an ``(image, label)`` item's image by a synthetic one of its class.

    The transform-level twin of ``synthaug.mix(real, gen, "replace", p=...)``, drawing a
    fresh sample each time an item is read: the synthetic image comes from ``generator``
    conditioned on ``label``, in exactly the input image's form (type, dtype, size,
    channels, device). The label is returned unchanged.

    Args:
        generator: anything satisfying :class:`~synthaug.GeneratorProtocol` (a loaded
            bundle, :func:`synthaug.wrap`); its ``image_shape`` must be the images' shape.
        p: probability of replacing each item, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence (see the
            module docstring for DataLoader workers).
        truncation: latent temperature in (0, 2] for synthaug's generators.
        classes: the class names of the labels it will see, in label order (a list, or
            the real dataset itself: its ``classes``/``class_to_idx`` are read). Matched
            by name to the generator's ``class_names``, so a label means the same class
            whatever order each side lists them in; names that differ are an error.
            Without it, labels are taken as the generator's own indices (with a warning
            when the generator names its classes).

    Call it as ``t(image, label)`` or ``t((image, label))``; it returns ``(image, label)``.

    Example:
        >>> replace = SyntheticReplace(synthaug.load("runs/demo/cgan"), p=0.3, seed=0)
        >>> image, label = replace(pil_digit, 7)       # 30%: a generated 7, as a PIL image
    """

    def __init__(
        self,
        generator: GeneratorProtocol,
        p: float = 0.3,
        seed: int | None = None,
        truncation: float = 1.0,
        classes: Any = None,
    ) -> None:
        self.generator = align_classes(
            check_generator_protocol(generator), classes, real_name="classes", caller=type(self).__name__
        )
        self.p = check_probability(p)
        self.truncation = check_truncation(truncation)
        self._stream = SeedStream(seed)

    @property
    def seed(self) -> int | None:
        return self._stream.seed

    def __call__(self, *inputs: Any) -> tuple[Any, Any]:
        image, label = unpack_pair(inputs, type(self).__name__)
        fmt = detect_format(image)
        _check_shape(fmt, self.generator.image_shape, "generator")
        y = check_label(label, self.generator.num_classes)
        rng = self._stream.generator()
        if float(torch.rand((), generator=rng)) >= self.p:
            return image, label
        kwargs = {"truncation": self.truncation} if self.truncation != 1.0 else {}
        synthetic = self.generator.sample(torch.tensor([y]), generator=rng, **kwargs)[0]
        return from_float_chw(synthetic.detach().float().clamp(0.0, 1.0), fmt), label

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(generator={describe_model(self.generator)}, p={self.p}, seed={self.seed}, "
            f"truncation={self.truncation})"
        )


class BatchSyntheticMix:
    """Replace a fraction ``p`` of each ``(images, labels)`` batch by synthetic images of the same labels.

    Applied after the DataLoader, in the main process, like
    ``torchvision.transforms.v2.MixUp``: the synthetic images are made in one generator call
    on the generator's device, so put the generator on the GPU and move batches there
    first; CUDA is never touched in workers.

    Each batch of ``B`` items gets ``floor(p * B)`` or ``ceil(p * B)`` replacements (rounded
    at random so that on average exactly ``p * B`` are replaced), at positions drawn
    uniformly without replacement: a nearly constant number per batch keeps the generator
    call the same size every step. ``p=0`` replaces nothing, ``p=1`` everything.

    Args:
        generator: anything satisfying :class:`~synthaug.GeneratorProtocol`.
        p: fraction of each batch to replace, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence.
        classes: the class names of the labels, in label order (or the real dataset);
            matched by name to the generator's, as for :class:`SyntheticReplace`.

    Call it as ``t(images, labels)`` or ``t((images, labels))`` with images ``[B, C, H, W]``
    (uint8 or float in [0, 1]) and labels ``[B]``; it returns a new images tensor of the
    same dtype and device (the input is not modified) and the labels unchanged.

    Example:
        >>> mix = BatchSyntheticMix(synthaug.load("runs/demo/cgan", device="cuda"), p=0.3, seed=0)
        >>> for images, labels in loader:
        ...     images, labels = mix(images.cuda(), labels.cuda())
    """

    def __init__(
        self, generator: GeneratorProtocol, p: float = 0.3, seed: int | None = None, classes: Any = None
    ) -> None:
        self.generator = align_classes(
            check_generator_protocol(generator), classes, real_name="classes", caller=type(self).__name__
        )
        self.p = check_probability(p)
        self._stream = SeedStream(seed)

    @property
    def seed(self) -> int | None:
        return self._stream.seed

    def choose(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Positions to replace in a batch of ``batch_size``: a CPU LongTensor, sorted."""
        exact = self.p * batch_size
        count = math.floor(exact)
        count += int(float(torch.rand((), generator=generator)) < exact - count)
        return torch.randperm(batch_size, generator=generator)[:count].sort().values

    def __call__(self, *inputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = unpack_pair(inputs, type(self).__name__)
        check_image_batch(images, self.generator.image_shape, "generator")
        check_labels(labels, self.generator.num_classes)
        if len(labels) != len(images):
            raise ValueError(f"labels must have one entry per image: {len(labels)} labels for {len(images)} images")
        index = self.choose(len(images), self._stream.generator())
        if not len(index):
            return images, labels
        synthetic = self.generator.sample(labels[index.to(labels.device)], generator=self._stream.generator())
        out = images.clone()
        out[index.to(images.device)] = float_as(synthetic.detach().float().clamp(0.0, 1.0), images)
        return out, labels

    def __repr__(self) -> str:
        return f"{type(self).__name__}(generator={describe_model(self.generator)}, p={self.p}, seed={self.seed})"


def denoise_in_batches(dae: DenoisingAutoencoder, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``dae.denoise`` over float images ``[B, C, H, W]`` in [0, 1], ``batch_size`` per model call."""
    if not len(images):
        return images.clone()
    return torch.cat([dae.denoise(chunk) for chunk in images.split(batch_size)])


class Denoise(_ModelTransform):
    """Clean an image (or a batch) with a :class:`~synthaug.DenoisingAutoencoder`.

    Deterministic. Takes a PIL image, a tensor ``[C, H, W]``/``[H, W]`` or an ndarray
    ``[H, W, C]``/``[H, W]`` (uint8 or float in [0, 1]) and returns the same type, dtype,
    size and device; a tensor batch ``[B, C, H, W]`` is denoised ``batch_size`` images at
    a time. Extra arguments (a label) pass through, so it works in
    ``torchvision.transforms.v2.Compose`` on images and on ``(image, label)`` pairs.

    Args:
        dae: the model, or the path of its bundle. A path is what pickling carries: each
            DataLoader worker loads the bundle itself, the weights never travel.
        batch_size: images per model call for batch inputs.

    Example:
        >>> denoise = Denoise("runs/digits-dae")
        >>> clean = denoise(noisy_pil)                   # PIL L 16x16 in, PIL L 16x16 out
        >>> transform = v2.Compose([Denoise("runs/digits-dae"), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    """

    def __init__(self, dae: DenoisingAutoencoder | str | os.PathLike, batch_size: int = 256) -> None:
        self._bundle = BundleModel(dae, DenoisingAutoencoder, "dae")
        self.batch_size = check_count("batch_size", batch_size)

    @property
    def dae(self) -> DenoisingAutoencoder:
        return self._bundle.model

    def denoise_batch(self, images: torch.Tensor) -> torch.Tensor:
        """Float images ``[B, C, H, W]`` in [0, 1] denoised ``batch_size`` at a time (same dtype and device)."""
        return denoise_in_batches(self.dae, images, self.batch_size)

    def __call__(self, image: Any, *others: Any) -> Any:
        if isinstance(image, (tuple, list)) and len(image) >= 2 and not others:  # an (image, label) item
            return self(*image)
        shape = self.dae.image_shape
        if isinstance(image, torch.Tensor) and image.dim() == 4:
            out = float_as(self.denoise_batch(batch_as_float(check_image_batch(image, shape, "denoiser"))), image)
        else:
            batch, fmt = image_to_batch(image, shape, "denoiser")
            out = from_float_chw(self.denoise_batch(batch)[0], fmt)
        return (out, *others) if others else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dae={self._bundle.describe()}, batch_size={self.batch_size})"


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
    image's form (type, dtype, size, channels, device) and the label is returned
    unchanged. A tensor batch ``[B, C, H, W]`` with labels ``[B]`` works too (each item
    varied with probability ``p``, all in one model call).

    Torchvision datasets apply ``transform`` to the image alone, so give this transform the
    whole item: wrap the dataset (``[transform(*item) for item in dataset]`` lazily, see
    docs/transforms.md) or use it in ``torchvision.transforms.v2.Compose``, which passes
    ``(image, label)`` pairs through.

    Args:
        cvae: a :class:`~synthaug.ConditionalVAE`, or the path of its bundle (what pickling carries).
        strength: how far to move in posterior standard deviations, >= 0 (0: reconstruction).
        p: probability of varying each item, in [0, 1].
        seed: ``None`` for fresh randomness, an int for a reproducible sequence.

    Example:
        >>> vary = VAEVariation("runs/demo/cvae", strength=0.5, seed=0)
        >>> image, label = vary(pil_digit, 7)
    """

    def __init__(
        self, cvae: ConditionalVAE | str | os.PathLike, strength: float = 0.5, p: float = 1.0, seed: int | None = None
    ) -> None:
        self._bundle = BundleModel(cvae, ConditionalVAE, "cvae")
        self.strength = check_strength(strength)
        self.p = check_probability(p)
        self._stream = SeedStream(seed)

    @property
    def cvae(self) -> ConditionalVAE:
        return self._bundle.model

    @property
    def seed(self) -> int | None:
        return self._stream.seed

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

    def __call__(self, *inputs: Any) -> tuple[Any, Any]:
        image, label = unpack_pair(inputs, type(self).__name__)
        cvae, rng = self.cvae, self._stream.generator()
        if isinstance(image, torch.Tensor) and image.dim() == 4:
            check_image_batch(image, cvae.image_shape, "cVAE")
            labels = check_labels(label, cvae.num_classes)
            if len(labels) != len(image):
                raise ValueError(f"label must have one entry per image: {len(labels)} labels for {len(image)} images")
            return float_as(self.vary_batch(batch_as_float(image), labels, rng), image), label
        batch, fmt = image_to_batch(image, cvae.image_shape, "cVAE")
        y = check_label(label, cvae.num_classes)
        if float(torch.rand((), generator=rng)) >= self.p:
            return image, label
        out = vae_variation(cvae, batch, torch.tensor([y]), self.strength, rng)
        return from_float_chw(out[0], fmt), label

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(cvae={self._bundle.describe()}, strength={self.strength}, p={self.p}, "
            f"seed={self.seed})"
        )
