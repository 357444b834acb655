"""Argument checks, in one place and one message style.

Every public entry point checks its arguments here before any work starts, so a bad value
gets the same kind of error everywhere::

    <name> must be <what was expected>, got <value>

Wrong types raise :class:`ArgumentTypeError`, which is both a ``TypeError`` and a
``ValueError``: callers written against either keep working, and a ``bool`` is never
taken for an int (``True`` is an ``int`` subclass, but ``steps=True`` is certainly a
mistake). Values of the right type outside their range raise ``ValueError``.

This module imports nothing from synthaug: every layer may use it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence
from numbers import Integral, Real
from typing import Any, Literal, overload

import torch

__all__ = [
    "ArgumentTypeError",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_class",
    "check_class_labels",
    "check_device",
    "check_index",
    "check_int",
    "check_number",
    "check_probability",
    "check_seed",
    "is_int",
    "is_number",
    "non_negative_int",
    "positive_int",
    "seed_from",
    "split_model_keyword",
    "warn_deprecated",
]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a ``TypeError`` that ``except ValueError`` also catches)."""


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or NumPy) and not a ``bool``."""
    # type() first: a plain int is the common case in every __getitem__, and the Integral
    # ABC check costs several times more.
    return type(value) is int or (isinstance(value, Integral) and not isinstance(value, bool))


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or NumPy, int or float) and not a ``bool``."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _got(value: Any) -> str:
    return f"got {type(value).__name__} {value!r}"


def check_int(
    name: str, value: Any, *, low: int | None = None, high: int | None = None, expected: str | None = None
) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either bound may be open-ended).

    Args:
        name: the argument's name, as the user wrote it.
        value: what the user passed.
        low, high: inclusive bounds; ``None`` for none.
        expected: the words after "must be" in the message (defaults to the bounds).

    Raises:
        ArgumentTypeError: not an int (bools are refused).
        ValueError: out of range.
    """
    if expected is None:
        if low is not None and high is not None:
            expected = f"an int in [{low}, {high}]"
        elif low == 1:
            expected = "a positive int"
        elif low == 0:
            expected = "a non-negative int"
        elif low is not None:
            expected = f"an int >= {low}"
        elif high is not None:
            expected = f"an int <= {high}"
        else:
            expected = "an int"
    if not is_int(value):
        raise ArgumentTypeError(f"{name} must be {expected}, {_got(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def positive_int(name: str, value: Any, *, high: int | None = None) -> int:
    """``value`` as an ``int >= 1`` (and ``<= high`` when given)."""
    return check_int(name, value, low=1, high=high)


def non_negative_int(name: str, value: Any, *, high: int | None = None) -> int:
    """``value`` as an ``int >= 0`` (and ``<= high`` when given)."""
    return check_int(name, value, low=0, high=high)


@overload
def check_seed(name: str, value: Any, *, allow_none: Literal[False] = False) -> int: ...


@overload
def check_seed(name: str, value: Any, *, allow_none: bool) -> int | None: ...


def check_seed(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """A random seed: a non-negative int (or ``None`` where ``allow_none``)."""
    if value is None and allow_none:
        return None
    expected = "None or a non-negative int" if allow_none else "a non-negative int"
    return check_int(name, value, low=0, expected=expected)


def check_number(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    expected: str | None = None,
) -> float:
    """``value`` as a finite ``float`` between ``low`` and ``high``.

    Bounds are inclusive unless ``low_open``/``high_open``. NaN is always refused, and so
    are infinities unless ``allow_inf``.

    Raises:
        ArgumentTypeError: not a real number (bools are refused).
        ValueError: NaN, infinite, or out of range.
    """
    if expected is None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        if low == -math.inf and high == math.inf:
            expected = "a finite number"
        elif high == math.inf:
            expected = f"a finite number {'>' if low_open else '>='} {low:g}"
        elif low == -math.inf:
            expected = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            expected = f"a number in {left}{low:g}, {high:g}{right}"
    if not is_number(value):
        raise ArgumentTypeError(f"{name} must be {expected}, {_got(value)}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if math.isnan(number) or too_low or too_high or (math.isinf(number) and not allow_inf):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return number


def check_probability(name: str, value: Any) -> float:
    """``value`` as a probability: a float in ``[0, 1]``."""
    return check_number(name, value, low=0.0, high=1.0, expected="a probability in [0, 1]")


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a ``bool`` (``0``, ``1`` and strings are refused)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be a bool (True or False), {_got(value)}")
    return value


def check_callable(name: str, value: Any) -> Any:
    """``value`` if it is ``None`` or callable."""
    if value is not None and not callable(value):
        raise ArgumentTypeError(f"{name} must be a callable or None, {_got(value)}")
    return value


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices`` (compared with ``==``; unhashable values are refused)."""
    try:
        known = value in choices
    except TypeError:
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {tuple(choices)!r}, got {value!r}")
    return value


def check_index(index: Any, length: int, name: str = "index") -> int:
    """An item index (negative counts from the end) as an int in ``[0, length)``.

    Raises:
        ArgumentTypeError: not an int.
        IndexError: out of range, as sequences do.
    """
    if not is_int(index):
        raise ArgumentTypeError(f"{name} must be an int, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{name} {index} is out of range for a dataset of {length} items")
    return int(index) % length


def check_device(name: str, value: Any) -> torch.device:
    """``value`` as a :class:`torch.device` that this machine has.

    Accepts ``torch.device`` objects and strings such as ``"cpu"``, ``"cuda"``,
    ``"cuda:1"`` or ``"mps"``. ``torch.device("gpu7")`` raises a ``RuntimeError`` that does
    not name the argument, and ``torch.device("cuda")`` is accepted on a machine without
    CUDA until the first tensor moves; both are answered here, before any work.

    Raises:
        ArgumentTypeError: neither a string nor a ``torch.device``.
        ValueError: not a device name, or a device this machine does not have.
    """
    if not isinstance(value, (str, torch.device)):
        raise ArgumentTypeError(
            f"{name} must be a device string such as 'cpu' or 'cuda:0', or a torch.device; {_got(value)}"
        )
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise ValueError(f"{name} must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {value!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}={value!r}: CUDA is not available on this machine (use 'cpu')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{name}={value!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{name}={value!r}: MPS is not available on this machine (use 'cpu')")
    elif device.type != "cpu":
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {value!r}")
    return device


def check_class(name: str, value: Any, num_classes: int, class_names: Sequence[str] | None = None) -> int:
    """One class, given as an index in ``[0, num_classes)`` or as one of ``class_names``, as its index.

    Raises:
        ValueError: an index out of range or an unknown name (the message lists the known ones).
        ArgumentTypeError: neither an int nor a str.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, str) and class_names and value in class_names:
        return list(class_names).index(value)
    if is_int(value) and 0 <= value < num_classes:
        return int(value)
    known = f"0..{num_classes - 1}" + (f" or one of {list(class_names)}" if class_names else "")
    if not isinstance(value, str) and not is_int(value):  # a bool, a float, ...: named with its type
        raise ArgumentTypeError(f"{name} has unknown class {type(value).__name__} {value!r}; expected {known}")
    raise ValueError(f"{name} has unknown class {value!r}; expected {known}")


def check_class_labels(
    name: str, labels: Any, num_classes: int, class_names: Sequence[str] | None = None
) -> torch.Tensor | Any:
    """``labels`` given as a sequence of class indices or names, as a LongTensor ``[B]``.

    A tensor is returned unchanged (callers check tensors themselves); a bare ``str`` is
    refused, so ``"Coat"`` is not read as four one-letter classes.
    """
    if isinstance(labels, torch.Tensor):
        return labels
    if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
        raise ArgumentTypeError(
            f"{name} must be a torch.Tensor of class indices or a list of class indices or names, {_got(labels)}"
        )
    indices = [check_class(f"{name}[{i}]", label, num_classes, class_names) for i, label in enumerate(labels)]
    return torch.tensor(indices, dtype=torch.long)


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """A ``DeprecationWarning`` that ``old`` is now ``new`` (warned at the caller's caller by default)."""
    warnings.warn(f"{old} is deprecated; use {new} instead", DeprecationWarning, stacklevel=stacklevel + 1)


def split_model_keyword(model: Any, generator: Any, caller: str) -> tuple[Any, torch.Generator | None]:
    """``(model, torch_generator)`` from a call that may use ``generator=`` in its old meaning, the model.

    ``generator=`` means a ``torch.Generator`` everywhere in torch, diffusers and
    synthaug's ``sample()``; the datasets and transforms once used it for the model. A
    ``torch.Generator`` (or ``None``) is taken as randomness; anything else is the model
    under its old keyword, accepted with a ``DeprecationWarning``.

    Raises:
        TypeError: the model given twice.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return model, generator  # a missing model is left to the caller's check of the model's type
    if model is not None:
        if not hasattr(generator, "sample"):  # not a model either: just the wrong type
            raise ArgumentTypeError(f"generator must be a torch.Generator or None, {_got(generator)}")
        raise TypeError(
            f"{caller} got the model twice: model={type(model).__name__} and generator={type(generator).__name__}; "
            "generator= takes a torch.Generator"
        )
    warn_deprecated(f"{caller}(generator=<model>)", f"{caller}(model=<model>) or pass it positionally", stacklevel=3)
    return generator, None


@overload
def seed_from(name: str, seed: Any, generator: torch.Generator | None, *, default: int) -> int: ...


@overload
def seed_from(name: str, seed: Any, generator: torch.Generator | None, *, default: None = None) -> int | None: ...


def seed_from(name: str, seed: Any, generator: torch.Generator | None, *, default: int | None = None) -> int | None:
    """A seed given as an int ``seed``, or drawn once from a ``torch.Generator`` (then ``seed`` must be ``None``).

    Things whose randomness is a pure function of a seed (a dataset's items of
    ``(seed, epoch, index)``) take a ``torch.Generator`` by drawing that seed from it,
    once: a seeded generator gives a reproducible object, and the generator's later
    state does not matter. ``None`` for both gives ``default``.
    """
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ArgumentTypeError(f"generator must be a torch.Generator or None, {_got(generator)}")
        if seed is not None:
            raise ValueError(f"give {name} or generator, not both (got {name}={seed!r} and a torch.Generator)")
        # 62 bits: any non-negative int64 is a valid seed for the streams derived from it.
        return int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    if seed is None:
        return default
    return check_seed(name, seed, allow_none=default is None)
