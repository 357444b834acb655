"""The generator protocol and the base classes synthaug's own networks share.

:class:`ConfigurableModule` gives every bundled network (generators and the denoising
autoencoder) a validated config and ``save_pretrained``/``from_pretrained``;
:class:`ConditionalGenerator` adds class-conditional sampling on top.

Everything downstream (datasets, transforms, metrics, the CLI) talks to a generator only
through :class:`GeneratorProtocol`: ``num_classes``, ``image_shape``, ``class_names`` and
``sample(labels, generator=None)``. User-trained networks join through :func:`synthaug.wrap`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Protocol, runtime_checkable

import torch
from torch import nn

from synthaug.generators.config import ConfigField, validate_config

# A bound on model size checked before allocation: configs come from files users download.
MAX_PARAMETERS = 200_000_000


@runtime_checkable
class GeneratorProtocol(Protocol):
    """What synthaug needs from a class-conditional image generator."""

    num_classes: int
    image_shape: tuple[int, int, int]
    class_names: list[str] | None

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images ``[B, C, H, W]`` float in [0, 1] for ``labels`` (LongTensor ``[B]``), no grad."""
        ...


def check_labels(labels: Any, num_classes: int, *, name: str = "labels") -> torch.Tensor:
    """Validate class labels for sampling and return them as a 1-D int64 tensor."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} must have an integer dtype (torch.long), got {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"{name} must be 1-D [batch], got shape {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][:5].tolist()
        raise ValueError(f"{name} must be in [0, {num_classes - 1}], got values {bad}")
    return labels.long()


def check_images(images: Any, *, name: str = "images") -> torch.Tensor:
    """Validate a float image batch ``[B, C, H, W]`` (type, dtype, rank); returns it unchanged."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [B, C, H, W], got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype with values in [0, 1], got {images.dtype}")
    if images.dim() != 4:
        raise ValueError(f"{name} must have shape [B, C, H, W], got {tuple(images.shape)}")
    return images


def check_generator(generator: Any) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def check_truncation(truncation: Any) -> float:
    """Validate a latent temperature: a number in (0, 2]."""
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not 0 < truncation <= 2:
        raise ValueError(f"truncation must be a float in (0, 2], got {truncation!r}")
    return float(truncation)


class ConfigurableModule(nn.Module):
    """Base for every synthaug network that is saved and loaded as a bundle.

    Subclasses declare ``config_fields`` (their constructor arguments, validated and
    recorded so :meth:`save_pretrained` / :func:`synthaug.load` round-trip them) and
    ``estimate_parameters`` (checked before anything is allocated, since configs come
    from files users download). Registering the class with
    :func:`~synthaug.generators.register_model` makes its bundles loadable.

    Example:
        >>> dae = DenoisingAutoencoder(channels=1, image_size=16, width=16)
        >>> dae.save_pretrained("runs/dae")             # config.json + model.safetensors
        >>> synthaug.load("runs/dae").config == dae.config
        True
    """

    model_type: ClassVar[str] = ""
    config_fields: ClassVar[Mapping[str, ConfigField]] = {}
    # Config keys left out of repr() because they are long (one entry per class).
    repr_hidden: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self.config = validate_config(self.config_fields, config, where=f"{type(self).__name__} config")
        estimate = self.estimate_parameters(self.config)
        if estimate > MAX_PARAMETERS:
            raise ValueError(
                f"{type(self).__name__} config would need about {estimate:,} parameters, "
                f"more than the limit of {MAX_PARAMETERS:,}; lower width/latent_dim/image_size"
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images the model makes or takes, from ``channels``/``image_size``."""
        size = self.config["image_size"]
        return (self.config["channels"], size, size)

    @property
    def device(self) -> torch.device:
        first = next(self.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    @staticmethod
    def estimate_parameters(config: Mapping[str, Any]) -> int:
        """Rough parameter count from a config, computed before allocating anything."""
        return 0

    # -- persistence -------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> Path:
        """Write a bundle directory (``config.json`` + ``model.safetensors``) atomically."""
        from synthaug.generators.bundle import write_bundle  # bundle.py imports this module

        return write_bundle(self, path)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ConfigurableModule":
        """Load a bundle written by :meth:`save_pretrained`; checks it holds this class."""
        from synthaug.generators.bundle import read_bundle

        model = read_bundle(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def extra_repr(self) -> str:
        shown = {k: v for k, v in self.config.items() if k not in self.repr_hidden}
        return ", ".join(f"{k}={v}" for k, v in shown.items())


@contextlib.contextmanager
def preserving_modes(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode for the block, then give every submodule its own mode back.

    BatchNorm and Dropout must behave as at inference whatever mode the caller left; each
    submodule's mode is restored separately, since a wrapped user module may be in eval
    inside a training wrapper.
    """
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


class ConditionalGenerator(ConfigurableModule):
    """Base for synthaug's class-conditional generators.

    Subclasses declare ``config_fields`` (see :class:`ConfigurableModule`) and implement
    :meth:`generate`, mapping a latent batch and labels to images in [0, 1].
    """

    repr_hidden = ("class_names",)

    # -- the protocol -------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return self.config["num_classes"]

    @property
    def class_names(self) -> list[str] | None:
        return self.config.get("class_names")

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Differentiable map from latents ``[B, latent_dim]`` and labels ``[B]`` to images in [0, 1]."""
        raise NotImplementedError

    def sample_latent(
        self, labels: torch.Tensor, generator: torch.Generator | None = None, truncation: float = 1.0
    ) -> torch.Tensor:
        """One latent per label from the prior N(0, I), scaled by ``truncation`` (a temperature).

        Families with a learned, class-dependent latent distribution override this.
        """
        device = generator.device if generator is not None else self.device
        z = torch.randn(len(labels), self.latent_dim, generator=generator, device=device)
        return (z * truncation).to(self.device)

    @torch.no_grad()
    def sample(
        self,
        labels: torch.Tensor,
        generator: torch.Generator | None = None,
        truncation: float = 1.0,
    ) -> torch.Tensor:
        """Generate one image per label.

        Args:
            labels: LongTensor ``[B]`` of class indices in ``[0, num_classes)``.
            generator: a ``torch.Generator`` for reproducible draws; ``None`` uses torch's
                global RNG (avoid that in library code).
            truncation: latent temperature in (0, 2]; below 1 trades diversity for fidelity.

        Returns:
            Float tensor ``[B, C, H, W]`` in [0, 1] on the model's device.

        Example:
            >>> gen = ConditionalGAN(num_classes=3, channels=1, image_size=8, latent_dim=8, width=8)
            >>> gen.sample(torch.tensor([0, 2]), generator=torch.Generator().manual_seed(0)).shape
            torch.Size([2, 1, 8, 8])
        """
        labels = check_labels(labels, self.num_classes)
        check_generator(generator)
        check_truncation(truncation)
        with preserving_modes(self):
            z = self.sample_latent(labels, generator, truncation)
            images = self.generate(z, labels.to(self.device))
        return images.clamp_(0.0, 1.0)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
