"""Single source of the package version: pyproject.toml reads it (``dynamic = ["version"]``),
the CLI's ``--version`` and saved bundles report it.

Keep it a plain string literal: setuptools reads it from the source without importing
synthaug (and so without torch).
"""

__version__ = "0.2.0"
