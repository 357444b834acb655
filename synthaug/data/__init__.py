"""Datasets: real labelled image sources and generated ``SyntheticDataset``."""

from synthaug.data.real import LabelledImages, RealData, load_real_data
from synthaug.data.synthetic import SyntheticDataset

__all__ = ["LabelledImages", "RealData", "SyntheticDataset", "load_real_data"]
