"""Declarative, validated constructor configs for the model families.

Every bundled model declares an explicit ``__init__`` (named, typed, defaulted arguments a
user can read in ``help()`` and ``inspect.signature``) and records those arguments as a
plain-JSON ``config``. The two halves of a config have one source each:

- names, order and defaults come from the ``__init__`` signature;
- what a signature cannot say, the allowed range of each argument, comes from the class's
  ``config_fields`` (one :data:`ConfigField` per argument, without defaults).

:class:`ConfigSchema` joins them when the class is defined and refuses a mismatch there
(an argument without a field, a field without an argument, a default its own field
refuses), so a constructor and its config cannot drift apart. The same schema validates
user arguments (``ConditionalGAN(latent_dim=-1)``) and configs read from disk
(``config.json`` in a downloaded bundle): both get the same errors, and absurd sizes are
refused before any tensor is allocated.

This module imports only :mod:`synthaug.validation`; it knows nothing of torch or models.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synthaug.validation import ArgumentTypeError, check_bool, check_int, check_number


@dataclass(frozen=True)
class IntField:
    """An integer in ``[low, high]``, optionally a multiple of ``multiple_of``; with ``optional``, also ``None``."""

    low: int
    high: int
    # Keyword-only: the third positional slot used to be ``default`` (defaults now live in
    # the model's __init__), so an old ``IntField(1, 4, 1)`` fails loudly instead of
    # silently becoming ``multiple_of=1``.
    multiple_of: int = field(default=1, kw_only=True)
    help: str = field(default="", kw_only=True)
    optional: bool = field(default=False, kw_only=True)

    def check(self, name: str, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        # The type first, so `num_classes="3"` says "must be an int" rather than quoting a range.
        value = check_int(name, value)
        check_int(name, value, low=self.low, high=self.high, expected=f"in [{self.low}, {self.high}]")
        if value % self.multiple_of:
            raise ValueError(f"{name} must be a multiple of {self.multiple_of}, got {value}")
        return value


@dataclass(frozen=True)
class FloatField:
    """A finite number in ``[low, high]``, recorded as a ``float``."""

    low: float
    high: float
    help: str = field(default="", kw_only=True)

    def check(self, name: str, value: Any) -> float:
        return check_number(name, value, low=self.low, high=self.high)  # NaN and infinities are refused


@dataclass(frozen=True)
class BoolField:
    """A JSON boolean (``0``/``1`` and strings are refused: ``ema=1`` is likely a mistake)."""

    help: str = field(default="", kw_only=True)

    def check(self, name: str, value: Any) -> bool:
        return check_bool(name, value)


@dataclass(frozen=True)
class ClassNamesField:
    """``None`` or a list of distinct strings, one per class (checked against num_classes)."""

    help: str = field(default="optional human-readable name per class", kw_only=True)

    def check(self, name: str, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ArgumentTypeError(f"{name} must be a list of str or None, got {type(value).__name__}")
        if not all(isinstance(v, str) for v in value):
            raise ArgumentTypeError(f"{name} must contain only str, got {[type(v).__name__ for v in value]}")
        if len(set(value)) != len(value):
            raise ValueError(f"{name} must be distinct, got {list(value)}")
        return list(value)  # JSON has lists, not tuples: a saved and reloaded config compares equal


ConfigField = IntField | FloatField | BoolField | ClassNamesField


def _optional(spec: ConfigField) -> bool:
    """Whether ``spec`` accepts ``None`` (the model then chooses the value itself)."""
    return isinstance(spec, IntField) and spec.optional


def validate_config(
    fields: Mapping[str, ConfigField],
    config: Mapping[str, Any],
    *,
    where: str = "config",
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check ``config`` against ``fields`` and return a complete, normalised copy.

    Keys missing from ``config`` take their value from ``defaults``; a key with neither is
    required. Raises naming ``where`` and the key: unknown keys and missing required keys
    (:class:`~synthaug.validation.ArgumentTypeError`, a ``TypeError`` as Python raises for
    a bad keyword, and a ``ValueError`` as synthaug raised before), wrong types
    (``ArgumentTypeError``) and out-of-range values (``ValueError``).
    """
    defaults = defaults or {}
    if not isinstance(config, Mapping):
        raise ArgumentTypeError(f"{where} must be a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise ArgumentTypeError(f"{where}: unknown key(s) {unknown}; expected keys: {sorted(fields)}")
    result = {}
    for name, spec in fields.items():
        if name not in config:
            if name not in defaults:
                raise ArgumentTypeError(f"{where}: missing required key {name!r} ({spec.help or 'no default'})")
            result[name] = defaults[name]
            continue
        try:
            result[name] = spec.check(name, config[name])
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None
    names = result.get("class_names")
    if names is not None and "num_classes" in result and len(names) != result["num_classes"]:
        raise ValueError(f"{where}: class_names has {len(names)} entries but num_classes is {result['num_classes']}")
    return result


@dataclass(frozen=True)
class ConfigSchema:
    """A model class's config: its fields in signature order and the defaults of its ``__init__``.

    Build it with :meth:`from_signature`, which is where a constructor that disagrees with
    its ``config_fields`` is refused.
    """

    fields: Mapping[str, ConfigField]
    defaults: Mapping[str, Any]
    ignored: tuple[str, ...] = ()
    """``__init__`` arguments that are not part of the config (a live module, say)."""

    @classmethod
    def from_signature(
        cls, owner: str, signature: inspect.Signature, fields: Mapping[str, ConfigField], ignore: tuple[str, ...] = ()
    ) -> ConfigSchema:
        """The schema of ``owner`` (a class name, for messages) whose ``__init__`` has ``signature``.

        Raises:
            TypeError: listing every disagreement between the signature and ``fields``: an
                argument without a field or a field without an argument, ``*args`` or
                ``**kwargs`` (the config must name every argument), a missing type
                annotation, or a default that its field refuses or would change.
        """
        problems = []
        parameters = [p for p in signature.parameters.values() if p.name != "self"]
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                problems.append(
                    f"*{'*' if p.kind is p.VAR_KEYWORD else ''}{p.name} hides arguments from the "
                    "signature; name each config field"
                )
            elif p.name not in ignore and p.annotation is p.empty:
                problems.append(f"argument {p.name!r} has no type annotation")
        names = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        config_names = [name for name in names if name not in ignore]
        missing_fields = [name for name in config_names if name not in fields]
        # An optional field (None allowed: the model chooses) may be left out of a subclass's
        # __init__, which then records no value for it: a subclass written before the parent
        # gained the field keeps working.
        missing_arguments = [name for name in fields if name not in config_names and not _optional(fields[name])]
        if missing_fields:
            problems.append(f"__init__ argument(s) {missing_fields} have no entry in config_fields")
        if missing_arguments:
            problems.append(f"config_fields {missing_arguments} are not __init__ arguments")
        stray = [name for name in ignore if name not in names]
        if stray:
            problems.append(f"config_ignore names {stray}, which are not __init__ arguments")
        defaults = {}
        for p in parameters:
            if p.name not in fields or p.name in ignore or p.default is p.empty:
                continue
            try:
                checked = fields[p.name].check(p.name, p.default)
            except (TypeError, ValueError) as e:
                problems.append(f"the default of {p.name!r} is refused by its field: {e}")
                continue
            if checked != p.default or type(checked) is not type(p.default):
                problems.append(
                    f"the default of {p.name!r} ({p.default!r}) is not what its field records "
                    f"({checked!r}); use a JSON value as default"
                )
            defaults[p.name] = p.default
        if problems:
            raise TypeError(f"{owner}: the constructor and its config disagree: " + "; ".join(problems))
        return cls({name: fields[name] for name in config_names}, defaults, tuple(ignore))

    def validate(self, config: Mapping[str, Any], *, where: str) -> dict[str, Any]:
        """``config`` checked field by field, completed with the defaults (see :func:`validate_config`)."""
        return validate_config(self.fields, config, where=where, defaults=self.defaults)


def conditional_image_fields() -> dict[str, ConfigField]:
    """The ranges of the constructor arguments every conditional image generator shares.

    The defaults are in each family's ``__init__`` (a GAN and a VAE want different
    ``latent_dim`` and ``width``).
    """
    return {
        "num_classes": IntField(1, 10_000, help="number of classes the generator is conditioned on"),
        "channels": IntField(1, 4, help="image channels: 1 grayscale, 3 RGB"),
        "image_size": IntField(8, 256, multiple_of=4, help="square image side, a multiple of 4"),
        "latent_dim": IntField(1, 4096, help="size of the latent vector z"),
        "width": IntField(1, 1024, help="base number of conv channels"),
        "embed_dim": IntField(1, 1024, help="size of the learned label embedding"),
        "class_names": ClassNamesField(),
    }


def stages_field() -> IntField:
    """The range of ``stages`` (up/down-sampling stages of the cGAN and cVAE); ``None`` chooses from the size."""
    return IntField(1, 6, optional=True, help="up/down-sampling stages (None: chosen from image_size)")
