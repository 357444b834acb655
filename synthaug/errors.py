"""Exception types users may want to catch by name."""

from __future__ import annotations


class BundleError(ValueError):
    """A generator bundle directory is missing, malformed or inconsistent.

    Subclasses ``ValueError`` so generic input-validation handlers still catch it; the
    message always names the offending file and, where there is one, the config key.
    """
