"""Image transforms: the corruptions a denoising autoencoder learns to undo, and the
generative transforms that put trained models in a data pipeline (replace, mix, denoise, vary)."""

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
from synthaug.transforms.generative import (
    BatchSyntheticMix,
    Denoise,
    SyntheticReplace,
    VAEVariation,
    vae_variation,
)

__all__ = [
    "BatchSyntheticMix",
    "CORRUPTIONS",
    "CorruptionMix",
    "Denoise",
    "SeveritySpec",
    "SyntheticReplace",
    "VAEVariation",
    "available_corruptions",
    "blur",
    "cutout",
    "gaussian_noise",
    "get_corruption",
    "register_corruption",
    "salt_and_pepper",
    "vae_variation",
]
