"""What synthaug's transforms share: torchvision v2 plumbing, item forms and private randomness.

:class:`ItemTransform` is a ``torchvision.transforms.v2.Transform`` (so an ``nn.Module``:
``.to(device)``, ``nn.Sequential`` and ``v2.Compose`` work) whose ``forward`` follows
torchvision's: flatten the sample, find the images, draw the random parameters once
(:meth:`ItemTransform.make_params`), transform each image
(:meth:`ItemTransform.transform`), put the sample back together. Two things differ, for
the same reason ``v2.MixUp`` overrides ``forward``: some of these transforms need the
item's *label* (a generated image of the same class), and images may also be numpy
arrays ``[H, W, C]`` (the form albumentations pipelines and ``image_type="numpy"``
datasets use). So the label is found the way torchvision's ``labels_getter`` finds it
(the second item of an ``(image, label)`` tuple, or the ``"label"``/``"labels"`` key of a
dict sample), passed to ``make_params``, and never transformed as an image.

Samples may be an image, ``(image, label)`` (also as two arguments), ``(images,
labels)`` batches, or a dict. ``tv_tensors.Image`` comes back as ``tv_tensors.Image``;
everything else a transform does not touch passes through unchanged.

This module imports no model: :mod:`synthaug.transforms.generative` and
:mod:`synthaug.transforms.corruptions` build on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import PIL.Image
import torch
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils.data import get_worker_info
from torchvision import tv_tensors
from torchvision.transforms import v2

from synthaug import validation
from synthaug.data.image_format import ImageFormat, detect_format, quantize, to_float_chw
from synthaug.utils.seeding import stream_seed

__all__ = [
    "ItemTransform",
    "SeedStream",
    "batch_as_float",
    "check_image_batch",
    "find_label",
    "float_as",
    "image_to_batch",
    "worker_seed",
]


# -- image forms ----------------------------------------------------------------------------


def check_shape(fmt: ImageFormat, shape: tuple[int, ...] | None, model: str) -> None:
    """``ValueError`` unless the item's shape is the model's ``shape`` (``None``: any shape)."""
    if shape is not None and fmt.shape != tuple(shape):
        raise ValueError(
            f"image is {fmt.describe()}, but the {model} works on images of shape "
            f"{tuple(shape)} (C, H, W); resize or convert it first"
        )


def image_to_batch(image: Any, shape: tuple[int, ...] | None, model: str) -> tuple[torch.Tensor, ImageFormat]:
    """One image item as a float ``[1, C, H, W]`` batch in [0, 1] (a tensor stays on its device).

    Checks the item's form (type, channels, dtype, float range) and that its shape is the
    model's ``shape`` (any shape for ``None``); returns the batch and the form to give
    results back in.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach()
    fmt = detect_format(image)
    check_shape(fmt, shape, model)
    if isinstance(image, torch.Tensor):  # convert where it lives: a CUDA image stays on the GPU
        batch = image.div(255) if image.dtype == torch.uint8 else image.clamp(0.0, 1.0)
        return batch.float().reshape(1, *fmt.shape), fmt
    return to_float_chw(image)[None], fmt


def check_image_batch(images: Any, shape: tuple[int, ...] | None, model: str) -> torch.Tensor:
    """Validate a batch ``[B, C, H, W]``: uint8, or floating in [0, 1], of the model's ``shape`` (any for ``None``)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor [B, C, H, W], got {type(images).__name__}")
    if images.dim() != 4:
        raise ValueError(f"images must have shape [B, C, H, W], got {tuple(images.shape)}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"images must be uint8 (0..255) or floating in [0, 1], got dtype {images.dtype}")
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
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


def is_batch(image: Any) -> bool:
    """Whether an image input is a batch ``[B, C, H, W]`` (a 4-D tensor) rather than one image."""
    return isinstance(image, torch.Tensor) and image.dim() == 4


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


# -- samples ----------------------------------------------------------------------------------

_NO_LABEL = object()


def _label_key(sample: Mapping) -> Any:
    """The key of a dict sample's label: ``labels`` (any case), else the first key containing ``label``."""
    keys = [key for key in sample if isinstance(key, str)]
    exact = [key for key in keys if key.lower() == "labels"]
    if exact:
        return exact[0]
    return next((key for key in keys if "label" in key.lower()), _NO_LABEL)


def find_label(sample: Any) -> tuple[Any, int | None]:
    """``(label, position among the sample's flattened leaves)`` of a sample, as torchvision's labels_getter finds it.

    The label is the second item of a tuple or list (``(image, label)``, ``(images,
    labels)``), or the ``"labels"``/``"label"``-like key of a dict. Returns
    ``(_NO_LABEL, None)`` when there is none, and position ``None`` when the label is
    not a single leaf (a list of names, say).
    """
    if isinstance(sample, (tuple, list)) and len(sample) >= 2:
        label, before = sample[1], [sample[0]]
    elif isinstance(sample, Mapping) and (key := _label_key(sample)) is not _NO_LABEL:
        keys = list(sample)
        label, before = sample[key], [sample[k] for k in keys[: keys.index(key)]]
    else:
        return _NO_LABEL, None
    leaves = tree_flatten(label)[0]
    if len(leaves) != 1 or leaves[0] is not label:
        return label, None
    return label, sum(len(tree_flatten(part)[0]) for part in before)


def _is_explicit_image(value: Any) -> bool:
    return isinstance(value, (PIL.Image.Image, np.ndarray, tv_tensors.Image))


def _is_plain_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and not isinstance(value, tv_tensors.TVTensor)


def image_positions(flat: list[Any], label_position: int | None) -> list[bool]:
    """Which leaves are images: torchvision's rule, with numpy arrays as images and the label never one.

    PIL images, numpy arrays and ``tv_tensors.Image`` are images; a plain tensor is the
    image only when there is no such explicit image and it is the first plain tensor
    (so a label tensor after an image tensor passes through, as in torchvision).
    """
    candidates = [i for i in range(len(flat)) if i != label_position]
    take_plain = not any(_is_explicit_image(flat[i]) for i in candidates)
    positions = [False] * len(flat)
    for i in candidates:
        if _is_explicit_image(flat[i]):
            positions[i] = True
        elif take_plain and _is_plain_tensor(flat[i]):
            positions[i], take_plain = True, False
    return positions


def plain(image: Any) -> Any:
    """A ``tv_tensors.Image`` as the plain tensor it wraps (shared storage); anything else as is."""
    return image.as_subclass(torch.Tensor) if isinstance(image, tv_tensors.TVTensor) else image


class ItemTransform(v2.Transform):
    """Base of synthaug's transforms: a torchvision v2 ``Transform`` over any synthaug image form.

    Subclasses implement :meth:`make_params` (check the images and the label, draw the
    random parameters once per call) and :meth:`transform_image` (one image, or one
    batch ``[B, C, H, W]``, given as a plain tensor, PIL image or numpy array). Set
    ``needs_label`` for transforms that read the label.

    Randomness: :meth:`random_generator` gives the ``torch.Generator`` of one call
    (``None`` for deterministic transforms).
    """

    needs_label = False
    _transformed_types = (PIL.Image.Image, np.ndarray, tv_tensors.Image, _is_plain_tensor)

    def random_generator(self) -> torch.Generator | None:
        """The generator one call draws from; the base transform is deterministic."""
        return None

    def forward(self, *inputs: Any) -> Any:
        """Transform the images of one sample; see the module docstring. Do not override: use the hooks."""
        return self.run(inputs, self.random_generator())

    def run(self, inputs: tuple, generator: torch.Generator | None) -> Any:
        """``forward`` with the random generator given (callers that bring their own stream use it)."""
        if not inputs:
            raise TypeError(f"{type(self).__name__} needs an image (or an (image, label) sample), got no arguments")
        sample = inputs if len(inputs) > 1 else inputs[0]
        label, label_position = find_label(sample)
        if self.needs_label and label is _NO_LABEL:
            given = len(inputs) if len(inputs) > 1 or not isinstance(sample, (tuple, list)) else len(sample)
            raise TypeError(
                f"{type(self).__name__} takes an (image, label) pair, got {given} argument(s) "
                "(a dict sample needs a 'label' key)"
            )
        flat, spec = tree_flatten(sample)
        self.check_inputs(flat)
        positions = image_positions(flat, label_position)
        if not any(positions):
            first = sample[0] if isinstance(sample, (tuple, list)) and sample else sample
            detect_format(first)  # raises the message every synthaug item check gives
            raise TypeError(f"{type(self).__name__} found no image in its input {type(sample).__name__}")
        images = [plain(value) for value, is_image in zip(flat, positions) if is_image]
        params = self.make_params(images, label=None if label is _NO_LABEL else label, generator=generator)
        outputs = [self.transform(value, params) if is_image else value for value, is_image in zip(flat, positions)]
        return tree_unflatten(outputs, spec)

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """Check the images (plain tensors, PIL images, arrays) and ``label``; draw this call's randomness."""
        return {}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """One image through :meth:`transform_image`; a ``tv_tensors.Image`` comes back as one."""
        if not isinstance(inpt, tv_tensors.TVTensor):
            return self.transform_image(inpt, params)
        unwrapped = plain(inpt)
        out = self.transform_image(unwrapped, params)
        return inpt if out is unwrapped else tv_tensors.wrap(out, like=inpt)

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        """The transformed image (or batch) in the input's form; the input itself when nothing changes."""
        raise NotImplementedError
