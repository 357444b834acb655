"""Generator networks (nn.Modules), their configs, the registry and the bundle format."""

from synthaug.generators.base import ConditionalGenerator, GeneratorProtocol, check_labels
from synthaug.generators.cgan import ConditionalGAN
from synthaug.generators.cvae import ConditionalVAE
from synthaug.generators.registry import available_generators, get_generator_class, register_generator
from synthaug.generators.wrapped import WrappedGenerator, wrap

__all__ = [
    "ConditionalGAN",
    "ConditionalGenerator",
    "ConditionalVAE",
    "GeneratorProtocol",
    "WrappedGenerator",
    "available_generators",
    "check_labels",
    "get_generator_class",
    "register_generator",
    "wrap",
]
