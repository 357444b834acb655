"""Name -> model class, shared by :func:`synthaug.load` and the CLI.

A registry (instead of ``if model_type == "cgan": ...`` chains) keeps the loader closed
to edits when a new model family is added, and lets errors list every known name.

Every bundled network is registered here under its ``model_type``: the class-conditional
generators (``"cgan"``, ``"cvae"``) and the denoising autoencoder (``"dae"``).
:func:`available_generators` lists only the generators (what can ``sample``);
:func:`available_models` lists every type :func:`synthaug.load` can rebuild.

Layers: the registry sits above :mod:`~synthaug.generators.base` (it tells generators
from other models by their base class) and under the model families, which register
themselves with its decorators. The bundle format sits under all of these and never
looks names up: :func:`synthaug.load` hands it :func:`get_model_class`.
"""

from __future__ import annotations

from synthaug.generators.base import ConditionalGenerator, ConfigurableModule
from synthaug.utils.registry import Registry

MODELS: Registry[ConfigurableModule] = Registry("model_type", name_attribute="model_type")
GENERATORS = MODELS  # the registry's name before it also held non-generators

register_model = MODELS.register
"""Class decorator: ``@register_model("dae")`` makes a class loadable as ``model_type == "dae"``."""
register_generator = register_model
"""Class decorator: ``@register_generator("cgan")`` makes a class loadable as ``model_type == "cgan"``."""


def get_model_class(name: str) -> type[ConfigurableModule]:
    """The class registered under a model type, as :func:`synthaug.load` finds it.

    Args:
        name: a model type, such as ``"cgan"``, ``"cvae"`` or ``"dae"``.

    Returns:
        The registered class (a :class:`~synthaug.generators.base.ConfigurableModule`).

    Raises:
        ValueError: ``name`` is not registered; the message lists the known names.
    """
    return MODELS.get(name)


def get_generator_class(name: str) -> type[ConfigurableModule]:
    """The class registered under a model type: the same as :func:`get_model_class`, generator or not.

    Args:
        name: a model type, such as ``"cgan"`` or ``"cvae"`` (``"dae"`` too: see
            :func:`available_generators` for the generators alone).

    Returns:
        The registered class.

    Raises:
        ValueError: ``name`` is not registered; the message lists the known names.
    """
    return MODELS.get(name)


def available_models() -> list[str]:
    """Names of every registered model type, sorted: the generators and the others, such as ``"dae"``.

    Returns:
        The model types :func:`synthaug.load` can rebuild, e.g. ``["cgan", "cvae", "dae"]``.
    """
    return MODELS.names()


def available_generators() -> list[str]:
    """Names of the registered class-conditional generator families (those with ``sample``), sorted."""
    return [name for name in MODELS.names() if issubclass(MODELS.get(name), ConditionalGenerator)]
