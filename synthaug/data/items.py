"""What every synthaug dataset shares: the item forms, and the one path user transforms take.

Each dataset that applies a user's ``transform``/``target_transform`` (``SyntheticDataset``,
``MixedDataset``, ``ExportedDataset``) calls :func:`apply_transforms` for every item, so
every one of them gives the random states its transforms carry a seed of their own in
each DataLoader worker (:func:`reseed_transform_rngs`). A dataset that applied its
transforms by hand would repeat the same "random" augmentations in every worker.

This module sits under every dataset module and imports none of them.
"""

from __future__ import annotations

import functools
import inspect
import random
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import get_worker_info

from synthaug.utils.seeding import stream_seed
from synthaug.validation import check_callable, is_int

__all__ = ["IMAGE_TYPES", "ImageType", "apply_transforms", "check_callable", "reseed_transform_rngs", "with_context"]

ImageType = Literal["pil", "tensor", "numpy"]
IMAGE_TYPES = ("pil", "tensor", "numpy")


def apply_transforms(dataset: Any, image: Any, target: int) -> tuple[Any, Any]:
    """``dataset``'s ``transform`` and ``target_transform`` applied to an item.

    In each DataLoader worker, the first item first gives the RNGs the transforms carry a
    seed of that worker's own (:func:`reseed_transform_rngs`); ``dataset._worker``
    remembers which worker that was (it is set here; datasets need not declare it).
    """
    if dataset.transform is None and dataset.target_transform is None:
        return image, target
    worker = get_worker_info()
    # First item in this DataLoader worker (the main process, worker None, has nothing to reseed).
    if worker is not None and worker is not getattr(dataset, "_worker", None):
        dataset._worker = worker
        reseed_transform_rngs([dataset.transform, dataset.target_transform], worker.seed)
    if dataset.transform is not None:
        image = dataset.transform(image)
    if dataset.target_transform is not None:
        target = dataset.target_transform(target)
    return image, target


def reseed_transform_rngs(transform: Any, seed: int) -> int:
    """Give every random state a transform carries a new one derived from ``seed``.

    DataLoader workers are copies of the main process: PyTorch reseeds the global RNGs of
    ``torch``, ``random`` and ``numpy`` in each, but a generator held by a transform (an
    albumentations ``Compose``, also with ``seed=None``, or a user's
    ``np.random.default_rng()``) would draw the same numbers in every worker. Reseeded:
    objects with a ``set_random_seed(seed)`` method (the albumentations API; mixed with
    their own ``seed``), ``np.random.Generator``, ``np.random.RandomState``,
    ``random.Random`` and CPU ``torch.Generator`` objects, each from its own stream of
    ``seed``. The search looks at ``transform``, lists and tuples, the attributes of
    objects (a torchvision ``Compose``'s ``transforms``, a callable class's fields), the
    parts of a ``functools.partial``, and the closure variables and globals a function
    uses (``lambda image: aug(image=image)["image"]`` finds ``aug``). Returns how many.
    """
    found: list[Any] = []
    _find_rngs(transform, 0, set(), found)
    for k, rng in enumerate(found):
        own: Any = getattr(rng, "seed", None)
        own = int(own) if is_int(own) and own >= 0 else 0
        new = stream_seed(seed, own, k)
        if isinstance(rng, np.random.Generator):
            rng.bit_generator.state = type(rng.bit_generator)(new).state
        elif isinstance(rng, torch.Generator):
            rng.manual_seed(new)
        elif isinstance(rng, (np.random.RandomState, random.Random)):
            rng.seed(new & 0xFFFF_FFFF)
        else:
            rng.set_random_seed(new & 0xFFFF_FFFF)
    return len(found)


def _find_rngs(obj: Any, depth: int, seen: set[int], found: list[Any]) -> None:
    if obj is None or depth > 6 or id(obj) in seen or inspect.ismodule(obj) or inspect.isclass(obj):
        return
    seen.add(id(obj))
    if (
        isinstance(obj, (np.random.Generator, np.random.RandomState, random.Random))
        or (isinstance(obj, torch.Generator) and obj.device.type == "cpu")
        or callable(getattr(obj, "set_random_seed", None))
    ):
        found.append(obj)
        return
    if isinstance(obj, (list, tuple)):
        parts = list(obj)
    elif isinstance(obj, functools.partial):
        parts = [obj.func, *obj.args, *obj.keywords.values()]
    elif inspect.ismethod(obj):
        parts = [obj.__self__]
    elif inspect.isfunction(obj):
        parts = [obj.__globals__[name] for name in obj.__code__.co_names if name in obj.__globals__]
        for cell in obj.__closure__ or ():
            try:
                parts.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
    elif isinstance(obj, (str, bytes, int, float, dict, torch.Tensor, np.ndarray)):
        return
    else:
        parts = list(getattr(obj, "__dict__", {}).values())
    for part in parts:
        _find_rngs(part, depth + 1, seen, found)


def with_context(error: Exception, context: str) -> Exception:
    """``error`` rebuilt with ``context`` in front of its message (same type where possible, like PyTorch's worker errors)."""
    try:
        wrapped = type(error)(f"{context}: {error}")
        if context in str(wrapped):
            return wrapped
    except Exception:
        pass
    return RuntimeError(f"{context}: {type(error).__name__}: {error}")
