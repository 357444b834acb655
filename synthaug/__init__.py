"""synthaug: synthetic data augmentation for image classifiers.

Train (or bring) a class-conditional GAN or VAE and mix its samples into a real training
set through torchvision-style datasets::

    gen = synthaug.load("runs/demo/cgan")
    synth = synthaug.SyntheticDataset(gen, num_samples=10_000, transform=...)
    train = torch.utils.data.ConcatDataset([real_train, synth])
    train = synthaug.mix(real_train, gen, "ratio", ratio=1 / 6)   # or a mixing strategy

Or train a denoising autoencoder that maps corrupted images back to clean ones::

    dae = synthaug.load("runs/digits-dae")
    clean = dae.denoise(noisy)           # [B, C, H, W] in [0, 1]
"""

from synthaug import (
    filters,  # noqa: E402  (synthaug.filters.Filter)
    losses,  # noqa: E402  (synthaug.losses.LogitAdjustedLoss etc.)
    transforms,  # noqa: E402  (synthaug.transforms.gaussian_noise, CorruptionMix)
    viz,  # noqa: E402  (synthaug.viz.save_image_grid etc.)
)
from synthaug._version import __version__
from synthaug.data import ChunkShuffleSampler, MixedDataset, ProportionSampler, SyntheticBatches, SyntheticDataset, mix
from synthaug.errors import BundleError
from synthaug.export import ExportedDataset
from synthaug.generators import (
    ConditionalGAN,
    ConditionalGenerator,
    ConditionalVAE,
    ConfigurableModule,
    DenoisingAutoencoder,
    GeneratorProtocol,
    WrappedGenerator,
    available_generators,
    available_models,
    register_generator,
    register_model,
    register_to_config,
    wrap,
)
from synthaug.io import load
from synthaug.tuning import TuneResult, tune

__all__ = [
    "BundleError",
    "ChunkShuffleSampler",
    "ConditionalGAN",
    "ConditionalGenerator",
    "ConditionalVAE",
    "ConfigurableModule",
    "DenoisingAutoencoder",
    "ExportedDataset",
    "GeneratorProtocol",
    "MixedDataset",
    "ProportionSampler",
    "SyntheticBatches",
    "SyntheticDataset",
    "WrappedGenerator",
    "__version__",
    "available_generators",
    "available_models",
    "filters",
    "load",
    "losses",
    "mix",
    "viz",
    "register_generator",
    "register_model",
    "register_to_config",
    "transforms",
    "tune",
    "TuneResult",
    "wrap",
]
