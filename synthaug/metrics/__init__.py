"""Measuring generators and the classifiers trained with their samples."""

from synthaug.metrics.classifier import SmallCNN, accuracy, train_classifier

__all__ = ["SmallCNN", "accuracy", "train_classifier"]
