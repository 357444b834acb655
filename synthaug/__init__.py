"""synthaug: synthetic data augmentation for image classifiers.

Train (or bring) a class-conditional GAN or VAE and mix its samples into a real training
set through torchvision-style datasets::

    gen = synthaug.load("runs/demo/cgan")
    synth = synthaug.SyntheticDataset(gen, num_samples=10_000, transform=...)
    train = torch.utils.data.ConcatDataset([real_train, synth])
"""

from synthaug._version import __version__
from synthaug.data.synthetic import SyntheticDataset
from synthaug.errors import BundleError
from synthaug.generators import (
    ConditionalGAN,
    ConditionalGenerator,
    ConditionalVAE,
    GeneratorProtocol,
    WrappedGenerator,
    available_generators,
    register_generator,
    wrap,
)
from synthaug.io import load
from synthaug import viz  # noqa: E402  (synthaug.viz.save_image_grid etc.)

__all__ = [
    "BundleError",
    "ConditionalGAN",
    "ConditionalGenerator",
    "ConditionalVAE",
    "GeneratorProtocol",
    "SyntheticDataset",
    "WrappedGenerator",
    "__version__",
    "available_generators",
    "load",
    "viz",
    "register_generator",
    "wrap",
]
