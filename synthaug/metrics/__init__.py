"""Measuring generators, denoisers and the classifiers trained with their samples."""

from synthaug.metrics.classifier import SmallCNN, accuracy, train_classifier
from synthaug.metrics.denoising import denoising_report, image_quality, report_table

__all__ = ["SmallCNN", "accuracy", "denoising_report", "image_quality", "report_table", "train_classifier"]
