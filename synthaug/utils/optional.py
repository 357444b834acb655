"""Optional dependencies: the packages behind pip extras, and the error that names the extra.

The core (generators, training, datasets, mixing, export, the CLI) needs only the packages
in pyproject's ``dependencies``; without matplotlib (the ``plots`` extra) training runs
without its sample grids and loss curves. A few features need more; their modules import it inside
:func:`optional_dependency`, so a missing package fails with the command that installs it::

    with optional_dependency("torchmetrics", "the Fréchet distance"):
        from torchmetrics.image.fid import FrechetInceptionDistance

instead of a bare ``No module named 'torchmetrics'``. :func:`require` checks up front, for
commands that should fail before their heavy work rather than after it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from synthaug.errors import MissingOptionalDependency

# import name -> (distribution on PyPI, synthaug extra that installs it). pyproject's
# [project.optional-dependencies] must list each distribution under its extra (a test checks).
OPTIONAL_DEPENDENCIES: dict[str, tuple[str, str]] = {
    "albumentations": ("albumentations", "albumentations"),
    "matplotlib": ("matplotlib", "plots"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "torchmetrics": ("torchmetrics", "metrics"),
}


def install_hint(module: str) -> str:
    """The pip command that installs the optional dependency ``module`` (a top-level import name)."""
    if module not in OPTIONAL_DEPENDENCIES:
        raise ValueError(f"module must be one of {sorted(OPTIONAL_DEPENDENCIES)}, got {module!r}")
    _, extra = OPTIONAL_DEPENDENCIES[module]
    return f'pip install "synthaug[{extra}]"'


@contextmanager
def optional_dependency(module: str, feature: str) -> Iterator[None]:
    """Turn "``module`` is not installed", raised by the imports inside, into an error naming the extra.

    Args:
        module: the top-level import name, a key of :data:`OPTIONAL_DEPENDENCIES`.
        feature: what needs it, for the message (``"synthaug.albumentations"``).

    Raises:
        MissingOptionalDependency: (a ``ModuleNotFoundError``) ``module`` (or a submodule of
            it) cannot be imported; the message gives the pip command. Any other import
            error, including a missing dependency *of* ``module``, passes through
            unchanged: reinstalling the extra is not necessarily its fix.
    """
    hint = install_hint(module)
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != module:
            raise
        distribution, _ = OPTIONAL_DEPENDENCIES[module]
        raise MissingOptionalDependency(
            f"{feature} needs the optional dependency {distribution!r}, which is not installed; install it with: {hint}",
            name=error.name,
        ) from error


def require(module: str, feature: str) -> ModuleType:
    """Import the optional dependency ``module`` now, or raise the error of :func:`optional_dependency`.

    Example:
        >>> require("torchmetrics", "synthaug evaluate")   # before training the evaluator
        <module 'torchmetrics' ...>
    """
    with optional_dependency(module, feature):
        return importlib.import_module(module)
