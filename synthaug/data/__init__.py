"""Datasets: real labelled image sources, generated ``SyntheticDataset``, and mixing the two."""

from synthaug.data.batches import SyntheticBatches
from synthaug.data.exported import ExportedDataset
from synthaug.data.image_format import ImageFormat, detect_format
from synthaug.data.labels import read_labels
from synthaug.data.mixing import MixedDataset, mix
from synthaug.data.real import LabelledImages, RealData, load_real_data
from synthaug.data.synthetic import ChunkShuffleSampler, SyntheticDataset, reseed_transform_rngs

__all__ = [
    "ChunkShuffleSampler",
    "ExportedDataset",
    "ImageFormat",
    "LabelledImages",
    "MixedDataset",
    "RealData",
    "SyntheticBatches",
    "SyntheticDataset",
    "detect_format",
    "load_real_data",
    "mix",
    "read_labels",
    "reseed_transform_rngs",
]
