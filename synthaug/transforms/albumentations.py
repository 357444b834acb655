"""synthaug's model transforms as albumentations transforms (numpy ``[H, W, C]`` images).

* :class:`Denoise` — an ``ImageOnlyTransform`` running a denoising autoencoder.
* :class:`VAEVariation` — a cVAE variation of the image; it needs the image's class, which
  it reads from the data passed to the pipeline under ``label_key`` (default ``"label"``):
  ``pipeline(image=image, label=3)``. Albumentations hands such keys to the transforms
  that declare them (``targets_as_params``) and passes them through unchanged, so the
  label is never altered and works in ``strict=True`` pipelines too.

Images are numpy ``[H, W, C]`` or ``[H, W]``, uint8 (0..255) or float32 in [0, 1] (the
albumentations conventions); the output has the input's shape and dtype. The ``images``
target (a stack ``[N, H, W, C]``) goes through the model in batches.

Built from a bundle path, both serialise with ``A.to_dict`` / ``A.from_dict`` (and
``A.save`` / ``A.load``): the dict holds the path, never the weights, and pickled copies in
DataLoader workers load the bundle themselves. ``import synthaug.albumentations`` before
``A.from_dict`` so albumentations can find the classes by name.

Randomness follows albumentations: ``p`` and the variation noise come from the
transform's random state, which ``A.Compose(..., seed=...)`` sets; inside DataLoader
workers the worker's seed is mixed into the noise so workers do not repeat each other.

Example:
    >>> import albumentations as A
    >>> import synthaug.albumentations as SA
    >>> pipeline = A.Compose([SA.Denoise("runs/digits-dae"),
    ...                       SA.VAEVariation("runs/demo/cvae", strength=0.5, p=0.5)], seed=0)
    >>> out = pipeline(image=digit_hw1_uint8, label=7)["image"]   # [16, 16, 1] uint8
    >>> A.from_dict(A.to_dict(pipeline))                           # the same pipeline again
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from synthaug.data.counts import check_count
from synthaug.data.image_format import detect_format, from_float_chw
from synthaug.generators.cvae import ConditionalVAE
from synthaug.generators.dae import DenoisingAutoencoder
from synthaug.transforms.generative import (
    BundleModel,
    check_gate,
    check_label,
    check_probability,
    check_strength,
    denoise_in_batches,
    image_to_batch,
    vae_variation,
    worker_seed,
)
from synthaug.utils.optional import optional_dependency
from synthaug.utils.seeding import stream_seed

with optional_dependency("albumentations", "synthaug.albumentations"):
    import albumentations as A

if int(A.__version__.split(".")[0]) < 2:
    raise ImportError(f"synthaug.transforms.albumentations needs albumentations>=2.0, found {A.__version__}")

__all__ = ["Denoise", "VAEVariation"]


def _stack_to_batch(images: np.ndarray, shape: tuple[int, ...], model: str) -> torch.Tensor:
    """A stack ``[N, H, W(, C)]`` as a float batch ``[N, C, H, W]`` in [0, 1], each image checked."""
    if not len(images):
        return torch.zeros(0, *shape)
    return torch.cat([image_to_batch(image, shape, model)[0] for image in images])


def _batch_to_stack(batch: torch.Tensor, like: np.ndarray) -> np.ndarray:
    """A float batch back to a stack of the dtype and layout of ``like``."""
    if not len(like):
        return like.copy()
    fmt = detect_format(like[0], check_range=False)
    return np.stack([from_float_chw(image, fmt) for image in batch])


def _check_array(name: str, value: Any) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array (the albumentations image type), got {type(value).__name__}; "
            "convert a PIL image with np.asarray(image), a tensor [C, H, W] with .permute(1, 2, 0).numpy()"
        )


class _ModelTransform(A.ImageOnlyTransform):
    """Shared parts: a model given as a module or bundle path, serialised as the path."""

    model_arg = ""
    model_class: type = object

    @classmethod
    def get_class_fullname(cls) -> str:
        # The name A.to_dict writes and A.from_dict looks up: the public spelling
        # (synthaug.albumentations.Denoise), so pipelines saved before this module moved
        # under synthaug.transforms still load.
        return f"synthaug.albumentations.{cls.__name__}"

    def __init__(self, model: Any, p: float) -> None:
        super().__init__(p=check_probability(p))
        if isinstance(model, A.BasicTransform):  # a slip worth naming: a transform is not a model
            raise TypeError(f"{self.model_arg} must be a model or a bundle path, got the transform {model!r}")
        self._model = BundleModel(model, self.model_class, self.model_arg)

    @property
    def model(self) -> Any:
        return self._model.model

    def __call__(self, *args: Any, force_apply: bool = False, **kwargs: Any) -> Any:
        # albumentations' own errors here are KeyError/AttributeError; name the argument instead.
        name = type(self).__name__
        if args:
            raise TypeError(
                f"{name} takes its data as named arguments, e.g. t(image=image); got {len(args)} positional argument(s)"
            )
        if "image" not in kwargs and "images" not in kwargs:
            raise TypeError(f"{name} needs image= (an array [H, W, C] or [H, W]) or images= (a stack of them)")
        if "image" in kwargs:
            _check_array("image", kwargs["image"])
        images = kwargs.get("images")
        if isinstance(images, (list, tuple)):  # albumentations also takes a list of images
            for i, image in enumerate(images):
                _check_array(f"images[{i}]", image)
        elif "images" in kwargs:
            _check_array("images", images)
        return super().__call__(force_apply=force_apply, **kwargs)

    def get_transform_init_args(self) -> dict[str, Any]:
        args = {name: getattr(self, name) for name in self.get_transform_init_args_names() if name != self.model_arg}
        path = self._model.path
        return {self.model_arg: str(path) if path is not None else self.model, **args}

    def to_dict_private(self) -> dict[str, Any]:
        if self._model.path is None:
            raise NotImplementedError(
                f"{type(self).__name__} built from a module cannot be serialised: build it from the bundle path "
                f"({type(self).__name__}('runs/...')) so the dict can name it"
            )
        return super().to_dict_private()

    def __repr__(self) -> str:
        args = self.get_transform_init_args()
        args.pop(self.model_arg)
        shown = [f"{self.model_arg}={self._model.describe()}", *(f"{k}={v!r}" for k, v in args.items()), f"p={self.p}"]
        return f"{type(self).__name__}({', '.join(shown)})"


class Denoise(_ModelTransform):
    """Clean the image with a :class:`~synthaug.DenoisingAutoencoder` (deterministic).

    Args:
        dae: the model, or the path of its bundle (needed for ``A.to_dict``).
        batch_size: images per model call for the ``images`` target.
        gate: ``None`` (denoise every image) or a reconstruction-score threshold: images the
            denoiser would change less come back unchanged (see ``synthaug.transforms.Denoise``,
            whose ``calibrate_gate`` places it).
        p: probability of applying the transform.

    Targets: image, images. Image types: uint8, float32.

    Example:
        >>> pipeline = A.Compose([A.GaussNoise(p=1.0), Denoise("runs/digits-dae")])
        >>> clean = pipeline(image=digit)["image"]
    """

    model_arg = "dae"
    model_class = DenoisingAutoencoder

    def __init__(
        self,
        dae: DenoisingAutoencoder | str | os.PathLike,
        batch_size: int = 256,
        gate: float | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(dae, p)
        self.batch_size = check_count("batch_size", batch_size)
        self.gate = check_gate(gate)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("dae", "batch_size", "gate")

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        batch, fmt = image_to_batch(img, self.model.image_shape, "denoiser")
        denoised, score = self.model.denoise_and_score(batch)
        if self.gate is not None and float(score[0]) <= self.gate:
            return img
        return from_float_chw(denoised[0], fmt)

    def apply_to_images(self, images: np.ndarray, **params: Any) -> np.ndarray:
        batch = _stack_to_batch(images, self.model.image_shape, "denoiser")
        # Gated-out images survive the float round trip exactly (uint8 is re-quantised).
        return _batch_to_stack(denoise_in_batches(self.model, batch, self.batch_size, self.gate), images)


class VAEVariation(_ModelTransform):
    """Replace the image by a cVAE variation of itself, keeping its class.

    The image is encoded with its label, its latent moved by ``strength`` posterior
    standard deviations, and decoded (see :func:`synthaug.transforms.vae_variation`).

    Args:
        cvae: a :class:`~synthaug.ConditionalVAE`, or the path of its bundle (needed for ``A.to_dict``).
        strength: posterior standard deviations, >= 0 (0: the VAE's reconstruction).
        label_key: the data key holding the image's class index; for the ``images``
            target, one label per image (or one for all).
        p: probability of applying the transform.

    Targets: image, images. Image types: uint8, float32.

    Example:
        >>> pipeline = A.Compose([VAEVariation("runs/demo/cvae", strength=0.5, p=0.5)], seed=0)
        >>> out = pipeline(image=digit, label=7)["image"]
    """

    model_arg = "cvae"
    model_class = ConditionalVAE

    def __init__(
        self, cvae: ConditionalVAE | str | os.PathLike, strength: float = 0.5, label_key: str = "label", p: float = 1.0
    ) -> None:
        super().__init__(cvae, p)
        self.strength = check_strength(strength)
        if not isinstance(label_key, str) or not label_key:
            raise ValueError(f"label_key must be a non-empty string, got {label_key!r}")
        self.label_key = label_key

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("cvae", "strength", "label_key")

    @property
    def targets_as_params(self) -> list[str]:
        return [self.label_key]

    def get_params(self) -> dict[str, Any]:
        return {"noise_seed": int(self.random_generator.integers(0, 2**62))}

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {"label": data[self.label_key]}

    def _labels(self, label: Any, count: int) -> torch.Tensor:
        values = label.tolist() if isinstance(label, (torch.Tensor, np.ndarray)) else label
        values = list(values) if isinstance(values, (list, tuple)) else [values] * count
        if len(values) != count:
            raise ValueError(f"{self.label_key} must be one class index or one per image ({count}), got {len(values)}")
        return torch.tensor([check_label(v, self.model.num_classes) for v in values], dtype=torch.long)

    def _vary(self, batch: torch.Tensor, label: Any, noise_seed: int) -> torch.Tensor:
        worker = worker_seed()  # workers hold copies of one random state: mix in theirs
        rng = torch.Generator().manual_seed(noise_seed if worker is None else stream_seed(noise_seed, worker))
        return vae_variation(self.model, batch, self._labels(label, len(batch)), self.strength, rng)

    def apply(self, img: np.ndarray, label: Any = None, noise_seed: int = 0, **params: Any) -> np.ndarray:
        batch, fmt = image_to_batch(img, self.model.image_shape, "cVAE")
        return from_float_chw(self._vary(batch, label, noise_seed)[0], fmt)

    def apply_to_images(self, images: np.ndarray, label: Any = None, noise_seed: int = 0, **params: Any) -> np.ndarray:
        batch = _stack_to_batch(images, self.model.image_shape, "cVAE")
        return _batch_to_stack(self._vary(batch, label, noise_seed), images)
