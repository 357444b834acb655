"""Name -> generator class registry, shared by the bundle loader and the CLI.

A registry (instead of ``if model_type == "cgan": ...`` chains) keeps the loader closed
to edits when a new model family is added, and lets errors list every known name.
"""

from __future__ import annotations

from typing import Callable, TypeVar

_GENERATORS: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register_generator(name: str) -> Callable[[T], T]:
    """Class decorator: make a generator class loadable under ``model_type == name``."""

    def decorator(cls: T) -> T:
        if name in _GENERATORS and _GENERATORS[name] is not cls:
            raise ValueError(f"generator name {name!r} is already registered to {_GENERATORS[name].__name__}")
        _GENERATORS[name] = cls
        cls.model_type = name
        return cls

    return decorator


def get_generator_class(name: str) -> type:
    """Return the class registered as ``name``; the error lists the known names."""
    try:
        return _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown model_type {name!r}; known model types: {', '.join(available_generators())}") from None


def available_generators() -> list[str]:
    """Names of every registered generator family, sorted."""
    return sorted(_GENERATORS)
