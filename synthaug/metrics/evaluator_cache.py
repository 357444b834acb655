"""The evaluator: a SmallCNN trained on the real training split, trained once and cached on disk.

Every generator metric is measured with this classifier, and training it is the slow
part of an evaluation, so it is cached under a content hash of everything that decides
its weights: the training images and labels (their bytes), the number of classes, the
architecture and the training settings (steps, seed, batch size, learning rate). Two
evaluations against the same data share one evaluator; any change to the data or the
settings gives a different key and a fresh one.

Files: ``<cache>/evaluators/<sha256>.safetensors`` (the weights, with the key in the
safetensors metadata) and ``<sha256>.json`` (the settings, for people), each written
atomically. ``<cache>`` is the ``cache_dir`` argument, else ``$SYNTHAUG_CACHE``, else
``~/.cache/synthaug``. Weights are loaded with safetensors only, never unpickled; a file
that cannot be read or does not match is logged and replaced by retraining.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthaug._version import __version__
from synthaug.data.real import LabelledImages
from synthaug.metrics.classifier import SmallCNN, train_classifier_on
from synthaug.utils.atomic import atomic_file, write_text_atomic
from synthaug.utils.seeding import seeded

logger = logging.getLogger(__name__)

CACHE_ENV = "SYNTHAUG_CACHE"
DEFAULT_CACHE = "~/.cache/synthaug"
CACHE_FORMAT = 1
"""Bumped when SmallCNN or the training recipe changes, so old evaluators are not reused."""


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """synthaug's cache directory: ``cache_dir``, else ``$SYNTHAUG_CACHE``, else ``~/.cache/synthaug``."""
    return Path(cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


@dataclass
class Evaluator:
    """A trained evaluator classifier and where it came from."""

    classifier: SmallCNN
    key: str
    settings: dict[str, Any]
    path: Path
    from_cache: bool
    num_train: int

    def describe(self) -> str:
        """One line naming the feature extractor, for every report that uses it."""
        s = self.settings
        return (
            f"SmallCNN (2 conv blocks, {SmallCNN.num_features}-d penultimate features) trained "
            f"{s['steps']} Adam steps (seed {s['seed']}) on the {self.num_train} real training images"
        )


def evaluator_key(data: LabelledImages, settings: dict[str, Any]) -> str:
    """SHA-256 (hex) of the training images' and labels' bytes and the settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for tensor, dtype in ((data.images, torch.float32), (data.labels, torch.int64)):
        array = np.ascontiguousarray(tensor.detach().cpu().to(dtype).numpy())
        digest.update(repr(array.shape).encode())
        digest.update(array.data.cast("B"))
    return digest.hexdigest()


def _load(path: Path, key: str, settings: dict[str, Any]) -> SmallCNN | None:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            stored_key = (f.metadata() or {}).get("key")
        if stored_key != key:
            raise ValueError(f"its key is {stored_key!r}, expected {key!r}")
        channels, size, _ = settings["image_shape"]
        with seeded(0):  # the initial weights are overwritten; do not touch the caller's RNG
            model = SmallCNN(settings["num_classes"], channels, size)
        model.load_state_dict(load_file(str(path)))
    except (SafetensorError, OSError, ValueError, RuntimeError, KeyError) as e:
        logger.warning("cached evaluator %s is unusable (%s); training a new one", path, e)
        return None
    return model.eval()


def _save(model: SmallCNN, path: Path, key: str, settings: dict[str, Any], num_train: int) -> None:
    from safetensors.torch import save_file

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    try:
        with atomic_file(path) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt", "key": key})
        write_text_atomic(
            path.with_suffix(".json"),
            json.dumps({"key": key, **settings, "num_train": num_train, "synthaug_version": __version__}, indent=1)
            + "\n",
        )
    except OSError as e:  # a read-only or full cache costs time, not the result
        logger.warning("could not cache the evaluator in %s (%s)", path.parent, e)


def evaluator_classifier(
    data: LabelledImages,
    num_classes: int,
    *,
    steps: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 1e-3,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> Evaluator:
    """The SmallCNN trained on ``data`` with these settings: from the cache if there, else trained and cached.

    Training is :func:`~synthaug.metrics.classifier.train_classifier` with the same
    arguments, so a cached evaluator equals the one a fresh run would train.

    Example:
        >>> evaluator = evaluator_classifier(real.train, real.num_classes, steps=3000)
        >>> evaluator_classifier(real.train, real.num_classes, steps=3000).from_cache   # not retrained
        True
    """
    if len(data) == 0:
        raise ValueError("the evaluator needs at least one training image")
    settings = {
        "format": CACHE_FORMAT,
        "architecture": "SmallCNN",
        "num_classes": num_classes,
        "image_shape": list(data.images.shape[1:]),
        "steps": steps,
        "seed": seed,
        "batch_size": batch_size,
        "lr": lr,
    }
    key = evaluator_key(data, settings)
    path = cache_root(cache_dir) / "evaluators" / f"{key}.safetensors"
    model = _load(path, key, settings)
    if model is not None:
        logger.info("evaluator loaded from %s", path)
        return Evaluator(model.to(device), key, settings, path, from_cache=True, num_train=len(data))
    logger.info("training the evaluator (%d steps on %d images); it will be cached in %s", steps, len(data), path)
    model = train_classifier_on(
        data,
        num_classes,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        progress=progress,
        desc="evaluator",
    )
    _save(model, path, key, settings, len(data))
    return Evaluator(model, key, settings, path, from_cache=False, num_train=len(data))
