"""Matching a generator's classes to the real data's classes by name, never by position alone.

A real ``ImageFolder`` with classes ``['cat', 'dog']`` and a generator whose
``class_names`` are ``['dog', 'cat']`` have the same number of classes, and mixing them by
index would label every synthetic dog "cat". Wherever synthetic items meet real labels
(:func:`synthaug.mix`, the guard, ``SyntheticReplace``, ``BatchSyntheticMix``), the
generator is first seen through :func:`align_classes`:

* both sides name their classes: matched by name. The same names in another order give a
  :class:`ClassAlignedGenerator` that takes and returns the *real* data's class indices;
  names that differ as sets are refused with an error listing both;
* only one side names its classes: a warning (once per call) that the class indices are
  taken to mean the same classes;
* neither: the counts must agree, as before.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import ConcatDataset, Subset

from synthaug.generators.base import GeneratorProtocol

__all__ = ["ClassAlignedGenerator", "ClassOrderWarning", "align_classes", "class_names_of"]


class ClassOrderWarning(UserWarning):
    """Only one side of a mix names its classes: labels are matched by index, unchecked."""


def class_names_of(source: Any) -> list[str] | None:
    """The class names of a real dataset (or a list of names), in label order; ``None`` when it has none.

    Reads ``class_to_idx`` (torchvision's ImageFolder and most datasets) when its indices
    are exactly ``0..k-1``, else ``classes``; a ``Subset`` has its dataset's names, a
    ``ConcatDataset`` those its parts share. A plain sequence of strings is taken as the
    names themselves.
    """
    if (
        isinstance(source, Sequence)
        and not isinstance(source, (str, bytes))
        and source
        and all(isinstance(name, str) for name in source)
    ):
        return list(source)
    if isinstance(source, Subset):  # a part of a named dataset keeps its names
        return class_names_of(source.dataset)
    if isinstance(source, ConcatDataset):  # named alike, or not at all
        parts = [class_names_of(part) for part in source.datasets]
        return parts[0] if parts and all(part == parts[0] for part in parts) else None
    class_to_idx = getattr(source, "class_to_idx", None)
    if isinstance(class_to_idx, Mapping) and class_to_idx:
        indices = sorted(class_to_idx.values()) if all(isinstance(i, int) for i in class_to_idx.values()) else None
        if indices == list(range(len(class_to_idx))):
            return [str(name) for name in sorted(class_to_idx, key=class_to_idx.__getitem__)]
    classes = getattr(source, "classes", None)
    if isinstance(classes, (list, tuple)) and classes:
        return [str(name) for name in classes]
    return None


class ClassAlignedGenerator:
    """A generator seen in another class order: ``sample`` takes the real data's class indices.

    Attributes other than ``num_classes``, ``class_names`` and ``sample`` are the wrapped
    generator's (``image_shape``, ``latent_dim``, ``to``, ...).

    Args:
        generator: the generator to wrap.
        class_names: the real data's class names, in the real label order; the same set as
            the generator's ``class_names``.
    """

    def __init__(self, generator: GeneratorProtocol, class_names: Sequence[str]) -> None:
        own = list(generator.class_names or [])
        if sorted(own) != sorted(class_names):
            raise ValueError(f"class_names {list(class_names)} are not the generator's classes {own}")
        self.base = generator
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        # real index -> generator index
        self.order = torch.tensor([own.index(name) for name in self.class_names], dtype=torch.long)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "base" not in self.__dict__:  # pickling, copying: no delegation
            raise AttributeError(name)
        return getattr(self.base, name)

    def to_generator_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Real class indices ``[B]`` as the wrapped generator's indices (same device)."""
        return self.order.to(labels.device)[labels.long()]

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None, **kwargs: Any) -> torch.Tensor:
        """Images for real class indices ``labels`` (see :meth:`GeneratorProtocol.sample`)."""
        if not isinstance(labels, torch.Tensor):
            raise TypeError(f"labels must be a torch.Tensor of class indices, got {type(labels).__name__}")
        return self.base.sample(self.to_generator_labels(labels), generator=generator, **kwargs)

    def __repr__(self) -> str:
        return f"ClassAlignedGenerator({type(self.base).__name__}, class_names={self.class_names})"


def align_classes(
    generator: GeneratorProtocol, real_classes: Any, *, real_name: str = "the real data", caller: str = "mix"
) -> GeneratorProtocol:
    """``generator`` as seen in the class order of ``real_classes``.

    Args:
        generator: the class-conditional generator.
        real_classes: the real dataset (its ``class_to_idx``/``classes`` are read), a list
            of class names in label order, or ``None`` when the real labels have no names.
        real_name: how messages name the real side.
        caller: how messages name the caller.

    Returns:
        ``generator`` itself when the orders agree (or cannot be checked), else a
        :class:`ClassAlignedGenerator`.

    Raises:
        ValueError: the class counts differ, or both sides name their classes and the names
            differ as sets (the message lists both).
    """
    real_names = class_names_of(real_classes) if real_classes is not None else None
    own = getattr(generator, "class_names", None)
    own = list(own) if own else None
    k = generator.num_classes
    if real_names is not None and len(real_names) != k:
        raise ValueError(
            f"{caller}: {real_name} has {len(real_names)} classes but the generator has {k}: "
            "they must describe the same classes"
        )
    if real_names is None or own is None:
        if real_names is not None or own is not None:
            named, unnamed = ("the generator", real_name) if own is not None else (real_name, "the generator")
            warnings.warn(
                f"{caller}: {named} names its classes but {unnamed} does not, so class indices are "
                f"taken to mean the same classes in both; give both names to have them matched",
                ClassOrderWarning,
                stacklevel=3,
            )
        return generator
    if len(set(real_names)) != len(real_names) or sorted(real_names) != sorted(own):
        raise ValueError(
            f"{caller}: the class names of {real_name} and of the generator differ: {real_name} has "
            f"{real_names}, the generator has {own}; they must name the same classes"
        )
    if real_names == own:
        return generator
    base = generator.base if isinstance(generator, ClassAlignedGenerator) else generator
    return ClassAlignedGenerator(base, real_names)
