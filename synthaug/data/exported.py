"""Deprecated module: the exported-data reader lives in :mod:`synthaug.export.reader`.

Reading an export belongs with writing it (:mod:`synthaug.export`, a layer above
:mod:`synthaug.data`), so this module only forwards, with a ``DeprecationWarning``, until
0.3. Use ``synthaug.ExportedDataset`` or ``synthaug.export.ExportedDataset``.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    # Imported on first use, not at import time: synthaug.export imports synthaug.data, so an
    # import here would be a cycle. One of the deprecated aliases tests/test_architecture.py lists.
    reader = importlib.import_module("synthaug.export.reader")
    if name.startswith("__") or not hasattr(reader, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"synthaug.data.exported is deprecated; import {name} from synthaug.export instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(reader, name)
