"""A name -> class registry: the loader and the CLI dispatch through it, not if/elif chains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

C = TypeVar("C")  # the common base of the registered classes


class Registry(Generic[C]):
    """Classes registered under names; unknown names get an error listing the known ones.

    Args:
        kind: what is registered, for messages ("model type", "trainer").
        name_attribute: if set, each registered class gets its name in this attribute.
    """

    def __init__(self, kind: str, name_attribute: str | None = None):
        self.kind = kind
        self.name_attribute = name_attribute
        self._classes: dict[str, type[C]] = {}

    def register(self, name: str) -> Callable[[type[C]], type[C]]:
        """Class decorator registering the class as ``name``."""

        def decorator(cls: type[C]) -> type[C]:
            if self._classes.get(name, cls) is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered to {self._classes[name].__name__}")
            self._classes[name] = cls
            if self.name_attribute:
                setattr(cls, self.name_attribute, name)
            return cls

        return decorator

    def get(self, name: str) -> type[C]:
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._classes)
