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
get_model_class = MODELS.get
"""The class registered under a model type; the error lists the known names."""
get_generator_class = get_model_class
"""Same as :func:`get_model_class` (any registered model type, generator or not)."""
available_models = MODELS.names
"""Names of every registered model type (generators and others such as ``"dae"``), sorted."""


def available_generators() -> list[str]:
    """Names of the registered class-conditional generator families (those with ``sample``), sorted."""
    return [name for name in MODELS.names() if issubclass(MODELS.get(name), ConditionalGenerator)]
