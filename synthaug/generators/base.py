"""The generator protocol and the base classes synthaug's own networks share.

:class:`ConfigurableModule` gives every bundled network (generators and the denoising
autoencoder) an explicit, validated constructor whose arguments are recorded as its JSON
``config``, and ``save_pretrained``/``from_pretrained``; :class:`ConditionalGenerator`
adds class-conditional sampling on top.

Everything downstream (datasets, transforms, metrics, the CLI) talks to a generator only
through :class:`GeneratorProtocol`: ``num_classes``, ``image_shape``, ``class_names`` and
``sample(labels, generator=None)``. User-trained networks join through :func:`synthaug.wrap`.

Layers: this module sits on :mod:`~synthaug.generators.config` (field specs and schemas)
and :mod:`~synthaug.generators.bundle` (the file format), and under the registry and the
model families, which import it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import torch
from torch import nn

from synthaug.generators.bundle import MAX_PARAMETERS, read_bundle, write_bundle
from synthaug.generators.config import ConfigField, ConfigSchema
from synthaug.validation import ArgumentTypeError, check_class_labels, check_number

__all__ = [
    "MAX_PARAMETERS",  # defined with the bundle format; re-exported where it always was
    "ConditionalGenerator",
    "ConfigurableModule",
    "GeneratorProtocol",
    "check_generator",
    "check_images",
    "check_labels",
    "check_truncation",
    "count_parameters",
    "preserving_modes",
    "register_to_config",
]

Init = TypeVar("Init", bound=Callable[..., None])


@runtime_checkable
class GeneratorProtocol(Protocol):
    """What synthaug needs from a class-conditional image generator.

    The three attributes are read-only to synthaug: plain attributes or properties both fit.
    """

    @property
    def num_classes(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    @property
    def class_names(self) -> list[str] | None: ...

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


def check_model_images(images: Any, image_shape: tuple[int, ...], *, name: str = "images") -> torch.Tensor:
    """:func:`check_images`, plus the model's ``[C, H, W]`` and values in [0, 1] (NaN fails); returns ``images``."""
    check_images(images, name=name)
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(f"{name} must have shape [B, {', '.join(map(str, image_shape))}], got {tuple(images.shape)}")
    if images.numel():
        low, high = float(images.min()), float(images.max())  # also NaN: comparisons below fail
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"{name} must have values in [0, 1], got values in [{low:.3g}, {high:.3g}]")
    return images


def reconstruction_error(reconstructions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared difference ``[B]`` (float32, on the images' device) of two ``[B, C, H, W]`` batches."""
    diff = reconstructions.to(device=images.device, dtype=torch.float32) - images.float()
    return diff.square().flatten(1).mean(1)


def check_generator(generator: Any) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def check_truncation(truncation: Any) -> float:
    """Validate a latent temperature: a number in (0, 2]."""
    return check_number("truncation", truncation, low=0.0, high=2.0, low_open=True, expected="a float in (0, 2]")


def register_to_config(init: Init) -> Init:
    """Decorate a :class:`ConfigurableModule` subclass's ``__init__``: its arguments become ``self.config``.

    Before the body runs, the arguments (positional or keyword, defaults filled in) are
    checked against the class's ``config_fields`` with the same errors a ``config.json``
    gets, the config is refused if it would need more than ``MAX_PARAMETERS`` parameters
    (nothing is allocated yet), and the normalised values are recorded as ``self.config``
    and passed on to the body. Arguments listed in ``config_ignore`` are passed through
    unchecked and unrecorded.

    The decorated function keeps its signature and docstring (``functools.wraps``), so
    ``inspect.signature(cls)`` and ``help(cls)`` show the real arguments. Modelled on
    diffusers' ``@register_to_config``.

    When a subclass's decorated ``__init__`` calls a decorated parent ``__init__``, the
    outermost call (the class actually built) records the config; inner calls only check
    their own arguments.
    """
    signature = inspect.signature(init)
    names = set(signature.parameters) - {"self"}

    @functools.wraps(init)
    def wrapper(self: ConfigurableModule, *args: Any, **kwargs: Any) -> None:
        owner = wrapper.config_owner  # type: ignore[attr-defined]
        if owner is None:
            raise TypeError(
                f"@register_to_config decorates the __init__ of a ConfigurableModule subclass, not {init.__qualname__}"
            )
        where = f"{type(self).__name__} config"
        try:
            # bind_partial: a missing argument is reported below with the config's message.
            bound = signature.bind_partial(self, *args, **{k: v for k, v in kwargs.items() if k in names})
        except TypeError as e:  # too many positional arguments, or one given twice
            raise ArgumentTypeError(f"{where}: {e}") from None
        given = {k: v for k, v in bound.arguments.items() if k != "self"}
        schema = owner.config_schema
        # Unknown keywords go to the config check so the error names them with the expected keys.
        config = {k: v for k, v in given.items() if k not in schema.ignored}
        config.update({k: v for k, v in kwargs.items() if k not in names})
        outermost = "config" not in self.__dict__
        if outermost:
            config = type(self).validate_config(config, where=where)
            # Set before the body so it may read self.config; nn.Module.__init__ (run by the
            # body's super().__init__()) leaves unrelated instance attributes alone.
            self.__dict__["config"] = config
        else:
            config = schema.validate(config, where=where)
        init(self, **{**given, **{k: config[k] for k in schema.fields}})

    wrapper.config_owner = None  # type: ignore[attr-defined]  # set by ConfigurableModule.__init_subclass__
    return wrapper  # type: ignore[return-value]


def _classes_by_model_type(root: type) -> dict[str, type]:
    """``model_type -> class`` for ``root`` and its subclasses that were registered.

    This module sits under the registry, so it cannot ask it; but registering a class
    sets ``model_type`` on the class itself, so the class tree answers the same question
    for :meth:`ConfigurableModule.from_pretrained`.
    """
    found: dict[str, type] = {}
    pending = [root]
    while pending:
        klass = pending.pop()
        name = vars(klass).get("model_type")
        if name:
            found.setdefault(name, klass)
        pending.extend(klass.__subclasses__())
    return found


class ConfigurableModule(nn.Module):
    """Base for every synthaug network that is saved and loaded as a bundle.

    A subclass declares its constructor explicitly, the way diffusers declares model
    configs: an ``__init__`` decorated with :func:`register_to_config` whose arguments are
    named, typed and defaulted, plus ``config_fields`` giving each argument's allowed range
    (see :mod:`synthaug.generators.config`). The arguments, validated, become
    :attr:`config`, which :meth:`save_pretrained` writes and :func:`synthaug.load` feeds
    back to the constructor; the signature is the single source of names and defaults, so
    the JSON config cannot drift from it. A class whose ``__init__`` and ``config_fields``
    disagree is refused when it is defined. ``estimate_parameters`` is checked before
    anything is allocated, since configs come from files users download. Registering the
    class with :func:`~synthaug.generators.register_model` makes its bundles loadable.

    Example:
        >>> from synthaug.generators.config import IntField
        >>> class Tiny(ConfigurableModule):
        ...     config_fields = {"width": IntField(1, 64)}
        ...
        ...     @register_to_config
        ...     def __init__(self, *, width: int = 8) -> None:
        ...         super().__init__()
        ...         self.linear = nn.Linear(width, width)
        >>> Tiny(width=4).config
        {'width': 4}
        >>> dae = DenoisingAutoencoder(channels=1, image_size=16, width=16)
        >>> dae.save_pretrained("runs/dae")             # config.json + model.safetensors
        >>> synthaug.load("runs/dae").config == dae.config
        True
    """

    model_type: ClassVar[str] = ""
    config_fields: ClassVar[Mapping[str, ConfigField]] = {}
    """The range of each config argument of ``__init__``, by name (no defaults: those are in the signature)."""
    config_ignore: ClassVar[tuple[str, ...]] = ()
    """``__init__`` arguments that are not config (e.g. a live module): neither checked nor recorded."""
    config_schema: ClassVar[ConfigSchema]
    """Fields and defaults joined, built when the class is defined (see :class:`ConfigSchema`)."""
    # Config keys left out of repr() because they are long (one entry per class).
    repr_hidden: ClassVar[tuple[str, ...]] = ()

    config: dict[str, Any]
    """The validated constructor arguments, as plain JSON values."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Join ``__init__``'s signature with ``config_fields``; refuse the class if they disagree."""
        super().__init_subclass__(**kwargs)
        own_init = cls.__dict__.get("__init__")
        if own_init is not None and not hasattr(own_init, "config_owner"):
            raise TypeError(
                f"{cls.__qualname__}.__init__ must be decorated with @register_to_config, which "
                "validates its arguments against config_fields and records them as self.config"
            )
        cls.config_schema = ConfigSchema.from_signature(
            cls.__qualname__, inspect.signature(cls.__init__), cls.config_fields, ignore=cls.config_ignore
        )
        if own_init is not None:
            own_init.config_owner = cls

    def __init__(self) -> None:
        """Subclasses take their config as arguments of their own decorated ``__init__``."""
        super().__init__()
        # A subclass's @register_to_config recorded the config before its body called this.
        self.__dict__.setdefault("config", {})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any], *, where: str | None = None) -> dict[str, Any]:
        """``config`` as this class's constructor would record it: checked, completed, normalised.

        Used for constructor arguments and for ``config.json`` files alike, so both get the
        same errors naming ``where`` (default: ``"<class> config"``) and the key. A config
        whose :meth:`estimate_parameters` exceeds ``MAX_PARAMETERS`` is refused here,
        before anything is allocated.

        Raises:
            TypeError: a wrong type, or an unknown or missing key
                (:class:`~synthaug.validation.ArgumentTypeError`, also a ``ValueError``).
            ValueError: an out-of-range value or an oversized model.
        """
        where = where or f"{cls.__name__} config"
        result = cls.config_schema.validate(config, where=where)
        estimate = cls.estimate_parameters(result)
        if estimate > MAX_PARAMETERS:
            raise ValueError(
                f"{where}: would need about {estimate:,} parameters, more than the limit of "
                f"{MAX_PARAMETERS:,}; lower width/latent_dim/image_size"
            )
        return result

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
        return write_bundle(self, path)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> ConfigurableModule:
        """Load a bundle written by :meth:`save_pretrained`, in eval mode on the CPU.

        The bundle must hold this class or a registered subclass of it; any other model
        type is refused with a ``TypeError`` before anything is built. Use
        :func:`synthaug.load` to load whatever a bundle holds.
        """

        def resolve(model_type: str) -> type[ConfigurableModule]:
            known = _classes_by_model_type(ConfigurableModule)
            if model_type not in known:  # a ValueError: read_bundle reports it as the file's fault
                raise ValueError(f"unknown model_type {model_type!r}; known: {', '.join(sorted(known))}")
            if not issubclass(known[model_type], cls):
                raise TypeError(f"{path} holds a {known[model_type].__name__}, not a {cls.__name__}")
            return known[model_type]

        return read_bundle(path, resolve=resolve)

    def extra_repr(self) -> str:
        shown = {k: v for k, v in self.config.items() if k not in self.repr_hidden}
        return ", ".join(f"{k}={v}" for k, v in shown.items())


# The base's own schema (no config): __init_subclass__ only runs for subclasses.
ConfigurableModule.config_schema = ConfigSchema.from_signature(
    "ConfigurableModule", inspect.signature(ConfigurableModule.__init__), {}
)


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

    Subclasses declare their constructor (a :func:`register_to_config` ``__init__`` and
    ``config_fields``, see :class:`ConfigurableModule`) and implement :meth:`generate`,
    mapping a latent batch and labels to images in [0, 1].
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
        labels: torch.Tensor | Sequence[int | str],
        generator: torch.Generator | None = None,
        truncation: float = 1.0,
    ) -> torch.Tensor:
        """Generate one image per label.

        Args:
            labels: LongTensor ``[B]`` of class indices in ``[0, num_classes)``, or a list
                of class indices or names (``["Coat", "Bag"]``, for a model with
                ``class_names``; an unknown name is a ``ValueError`` listing the known ones).
            generator: a ``torch.Generator`` for reproducible draws; ``None`` uses torch's
                global RNG (avoid that in library code).
            truncation: latent temperature in (0, 2]; below 1 trades diversity for fidelity.

        Returns:
            Float tensor ``[B, C, H, W]`` in [0, 1] on the model's device.

        Example:
            >>> gen = ConditionalGAN(num_classes=3, channels=1, image_size=8, latent_dim=8, width=8)
            >>> gen.sample(torch.tensor([0, 2]), generator=torch.Generator().manual_seed(0)).shape
            torch.Size([2, 1, 8, 8])
            >>> named = ConditionalGAN(num_classes=2, class_names=["Coat", "Bag"], channels=1, image_size=8)
            >>> named.sample(["Coat", "Bag", "Bag"]).shape
            torch.Size([3, 1, 8, 8])
        """
        labels = check_labels(
            check_class_labels("labels", labels, self.num_classes, self.class_names), self.num_classes
        )
        check_generator(generator)
        check_truncation(truncation)
        with preserving_modes(self):
            z = self.sample_latent(labels, generator, truncation)
            images = self.generate(z, labels.to(self.device))
        return images.clamp_(0.0, 1.0)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
