"""Inference-time image transforms: the corruptions a denoising autoencoder learns to undo."""

from synthaug.transforms.corruptions import (
    CORRUPTIONS,
    CorruptionMix,
    SeveritySpec,
    available_corruptions,
    blur,
    cutout,
    gaussian_noise,
    get_corruption,
    register_corruption,
    salt_and_pepper,
)

__all__ = [
    "CORRUPTIONS",
    "CorruptionMix",
    "SeveritySpec",
    "available_corruptions",
    "blur",
    "cutout",
    "gaussian_noise",
    "get_corruption",
    "register_corruption",
    "salt_and_pepper",
]
