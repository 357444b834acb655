"""Name -> generator class, shared by the bundle loader and the CLI.

A registry (instead of ``if model_type == "cgan": ...`` chains) keeps the loader closed
to edits when a new model family is added, and lets errors list every known name.
"""

from __future__ import annotations

from synthaug.utils.registry import Registry

GENERATORS = Registry("model_type", name_attribute="model_type")

register_generator = GENERATORS.register
"""Class decorator: ``@register_generator("cgan")`` makes a class loadable as ``model_type == "cgan"``."""
get_generator_class = GENERATORS.get
"""The generator class registered under a name; the error lists the known names."""
available_generators = GENERATORS.names
"""Names of every registered generator family, sorted."""
