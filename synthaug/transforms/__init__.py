"""Image transforms: the corruptions a denoising autoencoder learns to undo, and the
generative transforms that put trained models in a data pipeline (replace, mix, denoise, vary),
and head -> tail translation for long tails (:class:`HeadToTail`)."""

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
from synthaug.transforms.translation import HeadToTail, Translation, TranslationShortfall

__all__ = [
    "BatchSyntheticMix",
    "CORRUPTIONS",
    "CorruptionMix",
    "Denoise",
    "HeadToTail",
    "SeveritySpec",
    "SyntheticReplace",
    "Translation",
    "TranslationShortfall",
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
