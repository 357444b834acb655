"""Networks (nn.Modules): the generators and the denoising autoencoder, their configs,
the registry and the bundle format.

Layers, lowest first: ``config`` (field specs) and ``bundle`` (the file format) know no
model; ``base`` builds on them; ``registry`` sits above ``base``; the families (``cgan``,
``cvae``, ``dae``, ``wrapped``) register themselves; :func:`synthaug.load` (``synthaug.io``)
resolves a bundle's type through the registry. See docs/generators.md.
"""

from synthaug.generators.base import (
    ConditionalGenerator,
    ConfigurableModule,
    GeneratorProtocol,
    check_labels,
    register_to_config,
)
from synthaug.generators.cgan import ConditionalGAN
from synthaug.generators.cvae import ConditionalVAE
from synthaug.generators.dae import DenoisingAutoencoder
from synthaug.generators.registry import (
    available_generators,
    available_models,
    get_generator_class,
    get_model_class,
    register_generator,
    register_model,
)
from synthaug.generators.wrapped import WrappedGenerator, wrap

__all__ = [
    "ConditionalGAN",
    "ConditionalGenerator",
    "ConditionalVAE",
    "ConfigurableModule",
    "DenoisingAutoencoder",
    "GeneratorProtocol",
    "WrappedGenerator",
    "available_generators",
    "available_models",
    "check_labels",
    "get_generator_class",
    "get_model_class",
    "register_generator",
    "register_model",
    "register_to_config",
    "wrap",
]
