"""Measuring generators, denoisers and the classifiers trained with their samples.

Generator metrics are measured in the feature space of a SmallCNN trained on the real
data (the "evaluator"), never with Inception: see ``docs/metrics.md``.
"""

from synthaug.metrics.cas import classification_accuracy_score, per_class_accuracy
from synthaug.metrics.classifier import (
    SmallCNN,
    accuracy,
    train_classifier,
    train_classifier_on,
    train_filter_classifier,
)
from synthaug.metrics.denoising import denoising_report, image_quality, report_table
from synthaug.metrics.distribution import (
    KernelDistance,
    frechet_distance_from_features,
    kernel_distance_from_features,
)
from synthaug.metrics.evaluate import evaluate_generator
from synthaug.metrics.evaluator_cache import Evaluator, evaluator_classifier
from synthaug.metrics.fidelity import frechet_distance, kernel_distance, label_fidelity, predict
from synthaug.metrics.manifold import prdc
from synthaug.metrics.memorisation import memorisation_check
from synthaug.metrics.reconstruction import ReconstructionScorer, detection_auroc, reconstruction_score
from synthaug.metrics.report import markdown_report, write_report

__all__ = [
    "Evaluator",
    "KernelDistance",
    "ReconstructionScorer",
    "SmallCNN",
    "accuracy",
    "classification_accuracy_score",
    "denoising_report",
    "detection_auroc",
    "evaluate_generator",
    "evaluator_classifier",
    "frechet_distance",
    "frechet_distance_from_features",
    "image_quality",
    "kernel_distance",
    "kernel_distance_from_features",
    "label_fidelity",
    "markdown_report",
    "memorisation_check",
    "per_class_accuracy",
    "prdc",
    "predict",
    "reconstruction_score",
    "report_table",
    "train_classifier",
    "train_classifier_on",
    "train_filter_classifier",
    "write_report",
]
