"""synthaug: synthetic data augmentation for image classifiers.

Train (or bring) a class-conditional GAN or VAE and mix its samples into a real training
set through torchvision-style datasets::

    gen = synthaug.load("runs/demo/cgan")
    synth = synthaug.SyntheticDataset(gen, num_samples=10_000, transform=...)
    train = torch.utils.data.ConcatDataset([real_train, synth])

Or train a denoising autoencoder that maps corrupted images back to clean ones::

    dae = synthaug.load("runs/digits-dae")
    clean = dae.denoise(noisy)           # [B, C, H, W] in [0, 1]
"""

from synthaug._version import __version__
from synthaug.data.synthetic import SyntheticDataset
from synthaug.errors import BundleError
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
    wrap,
)
from synthaug.io import load
from synthaug import viz  # noqa: E402  (synthaug.viz.save_image_grid etc.)
from synthaug import transforms  # noqa: E402  (synthaug.transforms.gaussian_noise, CorruptionMix)

__all__ = [
    "BundleError",
    "ConditionalGAN",
    "ConditionalGenerator",
    "ConditionalVAE",
    "ConfigurableModule",
    "DenoisingAutoencoder",
    "GeneratorProtocol",
    "SyntheticDataset",
    "WrappedGenerator",
    "__version__",
    "available_generators",
    "available_models",
    "load",
    "viz",
    "register_generator",
    "register_model",
    "transforms",
    "wrap",
]
