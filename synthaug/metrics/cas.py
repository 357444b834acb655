"""Classification accuracy score (CAS; Ravuri & Vinyals 2019): train on synthetic, test on real.

A classifier trained only on a generator's samples is tested on real held-out images. If
the samples carry what tells the classes apart, its accuracy approaches that of the
same classifier trained on the real training split; the gap is what the generator
misses. Both use :func:`~synthaug.metrics.classifier.train_classifier`, with the same
architecture, number of steps and seed, so only the training data differs.
"""

from __future__ import annotations

from synthaug.data.real import LabelledImages
from synthaug.metrics.classifier import SmallCNN, train_classifier_on
from synthaug.metrics.fidelity import label_fidelity, predict


def per_class_accuracy(classifier: SmallCNN, data: LabelledImages, num_classes: int) -> tuple[float, list[float]]:
    """Accuracy of ``classifier`` on ``data``, overall and per true class (NaN for absent classes)."""
    predicted, _ = predict(classifier, data.images)
    return label_fidelity(predicted, data.labels, num_classes)


def classification_accuracy_score(
    synthetic: LabelledImages,
    real_test: LabelledImages,
    num_classes: int,
    *,
    steps: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[float, list[float]]:
    """Accuracy on ``real_test`` of a SmallCNN trained for ``steps`` on ``synthetic`` only: overall and per class.

    Example:
        >>> cas, per_class = classification_accuracy_score(samples, real.test, 10, steps=1000)
        >>> real_acc, _ = per_class_accuracy(train_classifier(real.train.as_dataset(), 10, shape, steps=1000), real.test, 10)
    """
    if not len(synthetic):
        raise ValueError("synthetic must hold at least one image")
    classifier = train_classifier_on(
        synthetic,
        num_classes,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        desc="CAS classifier",
    )
    return per_class_accuracy(classifier, real_test, num_classes)
