"""Shared fixtures: tiny seeded generators, pattern data that is easy to learn, trained runs.

Everything is sized so the whole suite runs in a few minutes on 2 CPU cores: 8x8 images,
3 classes, width 8, latent_dim 8, a few dozen to a few hundred optimiser steps.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.utils.seeding import seeded

NUM_CLASSES = 3
IMAGE_SIZE = 8
LATENT_DIM = 8
TINY = dict(num_classes=NUM_CLASSES, image_size=IMAGE_SIZE, latent_dim=LATENT_DIM, width=8)


class TinyUserNet(nn.Module):
    """A user's own conditional generator ``(z, y) -> tanh images``, as synthaug.wrap expects.

    Has BatchNorm and Dropout so a wrong train/eval mode during sampling would be visible.
    Defined at module level so it pickles.
    """

    def __init__(self, channels: int = 1, num_classes: int = NUM_CLASSES, latent_dim: int = LATENT_DIM):
        super().__init__()
        self.channels = channels
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.body = nn.Sequential(
            nn.Linear(latent_dim, 32),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(32, channels * IMAGE_SIZE * IMAGE_SIZE),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = self.body(z + self.embed(labels))
        return torch.tanh(out).view(-1, self.channels, IMAGE_SIZE, IMAGE_SIZE)


def load_script(path: Path) -> ModuleType:
    """The Python file ``path`` (a script under scripts/ or bench/) imported as a module named after it."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_generator(family: str, channels: int = 1, seed: int = 0, **overrides):
    """A tiny generator of ``family`` ('cgan', 'cvae', ... or 'wrap'), initialised from ``seed``."""
    with seeded(seed):
        if family == "wrap":
            return synthaug.wrap(
                TinyUserNet(channels), NUM_CLASSES, (channels, IMAGE_SIZE, IMAGE_SIZE), LATENT_DIM, **overrides
            )
        cls = synthaug.generators.get_generator_class(family)
        return cls(**{**TINY, "channels": channels, **overrides})


def build_dae(channels: int = 1, seed: int = 0, **overrides) -> synthaug.DenoisingAutoencoder:
    """A tiny denoising autoencoder (8x8 images, width 8), initialised from ``seed``."""
    with seeded(seed):
        return synthaug.DenoisingAutoencoder(
            **{"channels": channels, "image_size": IMAGE_SIZE, "width": 8, **overrides}
        )


def make_pattern_data(
    n_per_class: int, channels: int = 1, size: int = IMAGE_SIZE, seed: int = 0, noise: float = 0.05
) -> LabelledImages:
    """Three easily told apart classes: 0 = bright left half, 1 = bright right half, 2 = bright top half.

    Background 0.1, bright 0.9, plus Gaussian noise from a seeded generator, clamped to [0, 1].
    """
    labels = torch.arange(NUM_CLASSES).repeat_interleave(n_per_class)
    images = torch.full((len(labels), channels, size, size), 0.1)
    half = size // 2
    images[labels == 0, :, :, :half] = 0.9
    images[labels == 1, :, :, half:] = 0.9
    images[labels == 2, :, :half, :] = 0.9
    rng = torch.Generator().manual_seed(seed)
    images = (images + noise * torch.randn(images.shape, generator=rng)).clamp_(0.0, 1.0)
    return LabelledImages(images, labels)


@pytest.fixture(scope="session")
def pattern_data() -> LabelledImages:
    """Training data: 64 noisy images per pattern class, 1 channel, 8x8."""
    return make_pattern_data(64, seed=0)


@pytest.fixture(scope="session")
def pattern_test_data() -> LabelledImages:
    """Held-out data from the same patterns with different noise."""
    return make_pattern_data(20, seed=1)


@pytest.fixture(scope="session")
def pattern_factory() -> Callable[..., LabelledImages]:
    return make_pattern_data


@pytest.fixture(scope="session")
def generator_factory() -> Callable:
    return build_generator


@pytest.fixture(scope="session")
def dae_factory() -> Callable:
    return build_dae


@pytest.fixture(scope="session")
def trained_cgan_run(tmp_path_factory, pattern_data):
    """A cGAN trained for 150 steps on the pattern data (lr 1e-3); its run dir is a bundle.

    Returns ``(TrainResult, before_model)``: ``before_model`` is the identically seeded
    model before training, for comparisons.
    """
    from synthaug.training import CGANTrainer

    out = tmp_path_factory.mktemp("cgan_run")
    before = build_generator("cgan", seed=0, class_names=["left", "right", "top"])
    model = build_generator("cgan", seed=0, class_names=["left", "right", "top"])
    result = CGANTrainer(
        model, out, epochs=25, batch_size=32, lr=1e-3, seed=0, log_every=10, sample_every=0, progress=False
    ).fit(pattern_data)
    return result, before


@pytest.fixture(scope="session")
def trained_cvae_run(tmp_path_factory, pattern_data):
    """A cVAE trained for 30 steps on the pattern data, logging every 3 steps."""
    from synthaug.training import CVAETrainer

    out = tmp_path_factory.mktemp("cvae_run")
    model = build_generator("cvae", seed=0)
    result = CVAETrainer(model, out, epochs=5, batch_size=32, seed=0, log_every=3, sample_every=2, progress=False).fit(
        pattern_data
    )
    return result


@pytest.fixture(scope="session")
def trained_dae_run(tmp_path_factory, pattern_data):
    """A DAE trained for 120 steps to undo Gaussian noise (sigma 0.2) on the pattern data."""
    from synthaug.training import DAETrainer

    out = tmp_path_factory.mktemp("dae_run")
    model = build_dae(seed=0)
    result = DAETrainer(
        model,
        out,
        epochs=20,
        batch_size=32,
        lr=3e-3,
        seed=0,
        log_every=6,
        sample_every=10,
        progress=False,
        corruptions={"gaussian": 1.0},
    ).fit(pattern_data)
    return result


@pytest.fixture(scope="session")
def cgan_bundle(trained_cgan_run) -> Path:
    """Directory of a trained, saved cGAN bundle. Treat as read-only."""
    return trained_cgan_run[0].out_dir


def write_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 6, size=(12, 10)) -> Path:
    """A tiny ImageFolder tree of RGB PNGs ``size`` = (width, height); each class a distinct colour."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = np.zeros((size[1], size[0], 3), dtype=np.int16)
            base[..., c % 3] = 200
            pixels = np.clip(base + rng.integers(0, 40, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:02d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """2 classes x 6 RGB images of 10x12 (H x W) pixels."""
    return write_image_folder(tmp_path / "folder")


@pytest.fixture(scope="session")
def image_folder_factory() -> Callable[..., Path]:
    return write_image_folder
