"""Datasets: real labelled image sources, generated ``SyntheticDataset``, and mixing the two."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from synthaug.data.batches import SyntheticBatches
from synthaug.data.classes import ClassAlignedGenerator, ClassOrderWarning, align_classes
from synthaug.data.filters import Filter, FilterShortfall
from synthaug.data.image_format import ImageFormat, detect_format
from synthaug.data.items import apply_transforms, reseed_transform_rngs
from synthaug.data.labels import read_labels
from synthaug.data.mixing import MixedDataset, mix, register_strategy
from synthaug.data.real import LabelledImages, RealData, load_real_data
from synthaug.data.samplers import ProportionSampler
from synthaug.data.synthetic import ChunkShuffleSampler, SyntheticDataset

__all__ = [
    "ChunkShuffleSampler",
    "ClassAlignedGenerator",
    "ClassOrderWarning",
    "Filter",
    "FilterShortfall",
    "ImageFormat",
    "LabelledImages",
    "MixedDataset",
    "ProportionSampler",
    "RealData",
    "SyntheticBatches",
    "SyntheticDataset",
    "align_classes",
    "apply_transforms",
    "detect_format",
    "load_real_data",
    "mix",
    "read_labels",
    "register_strategy",
    "reseed_transform_rngs",
]


def __getattr__(name: str) -> Any:
    # synthaug.data.ExportedDataset: deprecated alias (the reader moved up to synthaug.export,
    # which imports this package); listed in tests/test_architecture.py, removed in 0.3.
    if name == "ExportedDataset":
        warnings.warn(
            "synthaug.data.ExportedDataset is deprecated; use synthaug.ExportedDataset "
            "(synthaug.export.ExportedDataset)",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module("synthaug.export.reader").ExportedDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
