"""Model type -> trainer class, feeding ``synthaug train MODEL`` (same names as generators)."""

from __future__ import annotations

from typing import Callable, TypeVar

_TRAINERS: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_trainer(name: str) -> Callable[[T], T]:
    """Class decorator: the trainer for generators registered as ``name``."""

    def decorator(cls: T) -> T:
        _TRAINERS[name] = cls
        return cls

    return decorator


def get_trainer_class(name: str) -> type:
    try:
        return _TRAINERS[name]
    except KeyError:
        raise ValueError(f"no trainer for model type {name!r}; trainable model types: {', '.join(available_trainers())}") from None


def available_trainers() -> list[str]:
    return sorted(_TRAINERS)
