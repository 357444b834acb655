"""Exception types users may want to catch by name."""

from __future__ import annotations


class BundleError(ValueError):
    """A generator bundle directory is missing, malformed or inconsistent.

    Subclasses ``ValueError`` so generic input-validation handlers still catch it; the
    message always names the offending file and, where there is one, the config key.
    """


class MissingOptionalDependency(ModuleNotFoundError):
    """A feature needs a package of a pip extra that is not installed; the message gives the pip command.

    Raised by :func:`synthaug.utils.optional.optional_dependency` and
    :func:`~synthaug.utils.optional.require`. Subclasses ``ModuleNotFoundError`` (its
    ``name`` is the missing module), so ``except ImportError`` still catches it; the
    ``synthaug`` command prints it as a one-line error.
    """
