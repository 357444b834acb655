"""Single source of the package version (read by pyproject-free code and bundles)."""

__version__ = "0.1.0"
