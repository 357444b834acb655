"""``evaluate_generator``: every generator metric for one generator against one real dataset.

The steps, each in its own module:

1. the evaluator, a SmallCNN trained on the real training split (cached:
   :mod:`~synthaug.metrics.evaluator_cache`), whose 128-d penultimate features are the
   feature space of every distribution metric;
2. ``num_per_class`` samples of each class, exactly items ``0..N-1`` of
   ``SyntheticDataset(generator, N, seed=seed)`` (what ``synthaug sample --n N --seed S`` writes);
3. label fidelity (:mod:`~synthaug.metrics.fidelity`); Fréchet distance and KID
   (:mod:`~synthaug.metrics.distribution`); precision, recall, density and coverage
   (:mod:`~synthaug.metrics.manifold`), all against the real *test* split, overall and per class;
4. CAS, train on synthetic and test on real (:mod:`~synthaug.metrics.cas`);
5. the memorisation check against the real *training* split
   (:mod:`~synthaug.metrics.memorisation`).

A reference row puts a floor under the numbers: the same distribution metrics for as
many real training images per class as there are samples, against the same test split.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch

from synthaug._version import __version__
from synthaug.data.real import LabelledImages, RealData
from synthaug.data.synthetic import SyntheticDataset
from synthaug.generators.base import GeneratorProtocol
from synthaug.metrics.cas import classification_accuracy_score, per_class_accuracy
from synthaug.metrics.distribution import (
    KID_SUBSETS,
    frechet_distance_from_features,
    kernel_distance_from_features,
)
from synthaug.metrics.evaluator_cache import evaluator_classifier
from synthaug.metrics.fidelity import label_fidelity, predict
from synthaug.metrics.manifold import PRDC_KEYS, prdc
from synthaug.metrics.memorisation import memorisation_check
from synthaug.validation import check_seed, positive_int

logger = logging.getLogger(__name__)

REPORT_FORMAT = 1
NAN = float("nan")


def check_compatible(generator: Any, real: RealData) -> None:
    """Raise ``ValueError``/``TypeError`` unless ``generator`` can be measured against ``real``."""
    if not isinstance(generator, GeneratorProtocol):
        raise TypeError(
            f"generator must provide num_classes, image_shape, class_names and sample(labels, generator=...), "
            f"got {type(generator).__name__}"
        )
    if not isinstance(real, RealData):
        raise TypeError(f"real must be a RealData (see synthaug.data.real.load_real_data), got {type(real).__name__}")
    if tuple(generator.image_shape) != tuple(real.image_shape):
        raise ValueError(
            f"the generator makes {list(generator.image_shape)} images but {real.name} has "
            f"{list(real.image_shape)}; load the data at the generator's size and channels"
        )
    if generator.num_classes != real.num_classes:
        raise ValueError(f"the generator has {generator.num_classes} classes but {real.name} has {real.num_classes}")
    names = getattr(generator, "class_names", None)
    if names and list(names) != list(real.class_names):
        raise ValueError(
            f"the generator's classes {list(names)} are not {real.name}'s {list(real.class_names)} "
            "(in this order): its labels would be scored against the wrong classes"
        )
    if not len(real.train) or not len(real.test):
        raise ValueError(
            f"{real.name} needs a non-empty train and test split, got {len(real.train)} and {len(real.test)}"
        )


def draw_samples(generator: GeneratorProtocol, num_per_class: int, seed: int) -> LabelledImages:
    """Items ``0..N-1`` of ``SyntheticDataset(generator, N, seed=seed)``, ``N = num_per_class * K``, on the CPU."""
    dataset = SyntheticDataset(generator, num_per_class * generator.num_classes, seed=seed, image_type="tensor")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    return LabelledImages(images, dataset.targets)


def distribution_scores(
    real: torch.Tensor, fake: torch.Tensor, *, k: int, seed: int, kid_subsets: int
) -> dict[str, float]:
    """Fréchet distance, KID and PRDC of two feature sets; NaN where a set is too small for a metric."""
    scores: dict[str, float] = {"frechet_distance": NAN, "kid": NAN, "kid_std": NAN, "kid_subset_size": 0}
    if min(len(real), len(fake)) >= 2:
        kid = kernel_distance_from_features(real, fake, subsets=kid_subsets, seed=seed)
        scores.update(
            frechet_distance=frechet_distance_from_features(real, fake),
            kid=kid.mean,
            kid_std=kid.std,
            kid_subset_size=kid.subset_size,
        )
    scores.update(prdc(real, fake, k) if min(len(real), len(fake)) > k else dict.fromkeys(PRDC_KEYS, NAN))
    return scores


def _per_class(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[torch.Tensor]:
    return [features[labels == c] for c in range(num_classes)]


def _reference_subset(train: LabelledImages, num_per_class: int, num_classes: int, seed: int) -> LabelledImages:
    """Up to ``num_per_class`` real training images of each class, a seeded random choice."""
    rng = np.random.default_rng(seed)
    labels = train.labels.numpy()
    chosen = np.sort(
        np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:num_per_class] for c in range(num_classes)])
    )
    index = torch.from_numpy(chosen)
    return LabelledImages(train.images[index], train.labels[index])


def evaluate_generator(
    generator: GeneratorProtocol,
    real: RealData,
    num_per_class: int = 200,
    seed: int = 0,
    *,
    k: int = 5,
    classifier_steps: int = 1000,
    classifier_seed: int = 0,
    kid_subsets: int = KID_SUBSETS,
    cache_dir: Any = None,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Measure ``generator`` against ``real``: fidelity, distribution distances, PRDC, CAS and memorisation.

    Args:
        generator: a class-conditional generator (:class:`~synthaug.GeneratorProtocol`)
            with ``real``'s image shape and classes.
        real: the real data: the evaluator and the memorisation check use its train
            split; every other comparison uses its test split.
        num_per_class: samples drawn per class (also the CAS training set).
        seed: the samples (and the reference subset, KID subsets, memorisation subset).
        k: neighbours for precision / recall / density / coverage.
        classifier_steps, classifier_seed: training budget and seed of both the evaluator
            and the CAS classifier.
        kid_subsets: KID subsets; the subset size is ``min(1000, real, fake)``.
        cache_dir: synthaug's cache directory for the evaluator (default
            ``$SYNTHAUG_CACHE`` or ``~/.cache/synthaug``).
        device: where the classifiers run (the generator stays where it is).
        progress: show the classifiers' training progress bars.

    Returns:
        A JSON-ready dict (NaN where a metric is undefined): ``generator``, ``data``,
        ``settings``, ``feature_extractor`` (which network, its cache key and real test
        accuracy), ``overall`` and ``reference`` metrics, a ``per_class`` list, the
        ``memorisation`` check and ``seconds`` per stage. :func:`~synthaug.metrics.report.write_report`
        turns it into report.md / report.json / figures.

    Example:
        >>> report = evaluate_generator(synthaug.load("runs/digits-cgan"), load_real_data("digits"))
        >>> report["overall"]["label_fidelity"], report["overall"]["cas"], report["overall"]["real_accuracy"]
        (0.93, 0.88, 0.96)
    """
    check_compatible(generator, real)
    num_per_class = positive_int("num_per_class", num_per_class)
    k = positive_int("k", k)
    classifier_steps = positive_int("classifier_steps", classifier_steps)
    check_seed("seed", seed)
    num_classes = real.num_classes
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        seconds[stage] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()
        logger.info("%s done in %.1fs", stage, seconds[stage])

    evaluator = evaluator_classifier(
        real.train,
        num_classes,
        steps=classifier_steps,
        seed=classifier_seed,
        cache_dir=cache_dir,
        device=device,
        progress=progress,
    )
    real_accuracy, real_per_class = per_class_accuracy(evaluator.classifier, real.test, num_classes)
    lap("evaluator")
    samples = draw_samples(generator, num_per_class, seed)
    lap("sampling")

    classifier = evaluator.classifier
    _, test_features = predict(classifier, real.test.images)
    predicted, fake_features = predict(classifier, samples.images)
    reference = _reference_subset(real.train, num_per_class, num_classes, seed)
    _, reference_features = predict(classifier, reference.images)
    fidelity, fidelity_per_class = label_fidelity(predicted, samples.labels, num_classes)
    options = dict(k=k, seed=seed, kid_subsets=kid_subsets)
    overall = {"label_fidelity": fidelity, **distribution_scores(test_features, fake_features, **options)}
    reference_row = {
        "label_fidelity": real_accuracy,
        **distribution_scores(test_features, reference_features, **options),
    }
    per_class = [
        {"class": name, "label_fidelity": fidelity_per_class[c], **distribution_scores(real_c, fake_c, **options)}
        for c, (name, real_c, fake_c) in enumerate(
            zip(
                real.class_names,
                _per_class(test_features, real.test.labels, num_classes),
                _per_class(fake_features, samples.labels, num_classes),
            )
        )
    ]
    lap("distribution metrics")

    cas, cas_per_class = classification_accuracy_score(
        samples, real.test, num_classes, steps=classifier_steps, seed=classifier_seed, device=device, progress=progress
    )
    overall.update(cas=cas, real_accuracy=real_accuracy)
    reference_row.update(cas=real_accuracy, real_accuracy=real_accuracy)
    for row, cas_c, real_c in zip(per_class, cas_per_class, real_per_class):
        row.update(cas=cas_c, real_accuracy=real_c)
    lap("CAS")

    memorisation = memorisation_check(
        samples.images, real.train.images, real.test.images, samples.labels, num_classes, seed=seed
    )
    overall.update(near_copy_share=memorisation["near_copy_share"], exact_copies=memorisation["exact_copies"])
    reference_row.update(near_copy_share=memorisation["percentile"] / 100, exact_copies=0)
    for row, mem in zip(per_class, memorisation.pop("per_class")):
        row.update(mem)
    lap("memorisation")

    return {
        "format": REPORT_FORMAT,
        "synthaug_version": __version__,
        "generator": {
            "model_type": getattr(generator, "model_type", "") or type(generator).__name__,
            "num_classes": generator.num_classes,
            "image_shape": list(generator.image_shape),
            "class_names": list(generator.class_names) if generator.class_names else None,
        },
        "data": {
            "name": real.name,
            "num_train": len(real.train),
            "num_test": len(real.test),
            "image_shape": list(real.image_shape),
            "class_names": list(real.class_names),
            "test_class_counts": torch.bincount(real.test.labels, minlength=num_classes).tolist(),
        },
        "settings": {
            "num_per_class": num_per_class,
            "num_samples": len(samples),
            "seed": seed,
            "k": k,
            "classifier_steps": classifier_steps,
            "classifier_seed": classifier_seed,
            "kid_subsets": kid_subsets,
            "reference_size": len(reference),
        },
        "feature_extractor": {
            "name": "SmallCNN penultimate layer",
            "num_features": classifier.num_features,
            "description": evaluator.describe(),
            "cache_key": evaluator.key,
            "from_cache": evaluator.from_cache,
            "real_test_accuracy": real_accuracy,
        },
        "overall": overall,
        "reference": reference_row,
        "per_class": per_class,
        "memorisation": memorisation,
        "seconds": seconds,
    }
