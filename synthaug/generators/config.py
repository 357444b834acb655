"""Declarative, validated constructor configs for generator families.

Every generator records its ``__init__`` arguments into a plain-JSON config. The same
field specs validate user arguments (``ConditionalGAN(latent_dim=-1)``) and configs read
from disk (``config.json`` in a downloaded bundle), so both get the same clear errors and
absurd sizes are refused before any tensor is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class IntField:
    """An integer in ``[low, high]``, optionally a multiple of ``multiple_of``."""

    low: int
    high: int
    default: int | None = None
    multiple_of: int = 1
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def check(self, name: str, value: Any) -> int:
        # bool is a subclass of int, but `channels=True` is certainly a mistake.
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{name} must be in [{self.low}, {self.high}], got {value}")
        if value % self.multiple_of:
            raise ValueError(f"{name} must be a multiple of {self.multiple_of}, got {value}")
        return value


@dataclass(frozen=True)
class FloatField:
    """A finite float in ``[low, high]``."""

    low: float
    high: float
    default: float | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
        if not self.low <= float(value) <= self.high:  # also rejects NaN
            raise ValueError(f"{name} must be in [{self.low}, {self.high}], got {value}")
        return float(value)


@dataclass(frozen=True)
class BoolField:
    """A JSON boolean."""

    default: bool
    help: str = ""

    @property
    def required(self) -> bool:
        return False

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
        return value


@dataclass(frozen=True)
class ClassNamesField:
    """``None`` or a list of distinct strings, one per class (checked against num_classes)."""

    default: None = None
    help: str = "optional human-readable name per class"

    @property
    def required(self) -> bool:
        return False

    def check(self, name: str, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"{name} must be a list of str or None, got {type(value).__name__}")
        if not all(isinstance(v, str) for v in value):
            raise TypeError(f"{name} must contain only str, got {[type(v).__name__ for v in value]}")
        if len(set(value)) != len(value):
            raise ValueError(f"{name} must be distinct, got {list(value)}")
        return list(value)


ConfigField = IntField | FloatField | BoolField | ClassNamesField


def validate_config(fields: Mapping[str, ConfigField], config: Mapping[str, Any], *, where: str = "config") -> dict:
    """Check ``config`` against ``fields`` and return a complete, normalised copy.

    Raises ``ValueError``/``TypeError`` naming ``where`` and the key: unknown keys,
    missing required keys, wrong types and out-of-range values are all refused.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"{where} must be a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected keys: {sorted(fields)}")
    result = {}
    for name, field in fields.items():
        if name not in config:
            if field.required:
                raise ValueError(f"{where}: missing required key {name!r} ({field.help or 'no default'})")
            result[name] = field.default
            continue
        try:
            result[name] = field.check(name, config[name])
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None
    names = result.get("class_names")
    if names is not None and "num_classes" in result and len(names) != result["num_classes"]:
        raise ValueError(f"{where}: class_names has {len(names)} entries but num_classes is {result['num_classes']}")
    return result


def conditional_image_fields(*, latent_dim: int, width: int) -> dict[str, ConfigField]:
    """Constructor fields shared by every conditional image generator family."""
    return {
        "num_classes": IntField(1, 10_000, help="number of classes the generator is conditioned on"),
        "channels": IntField(1, 4, default=1, help="image channels: 1 grayscale, 3 RGB"),
        "image_size": IntField(8, 256, default=28, multiple_of=4, help="square image side, a multiple of 4"),
        "latent_dim": IntField(1, 4096, default=latent_dim, help="size of the latent vector z"),
        "width": IntField(1, 1024, default=width, help="base number of conv channels"),
        "embed_dim": IntField(1, 1024, default=16, help="size of the learned label embedding"),
        "class_names": ClassNamesField(),
    }
