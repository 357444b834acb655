"""Image corruptions for training and evaluating denoisers, and a seeded mix of them.

Each corruption is a function ``f(images, <severity>=..., generator=None) -> images`` on
float images ``[B, C, H, W]`` in [0, 1]. It returns a new tensor of the same shape, dtype
and device, clamped to [0, 1], and draws its randomness only from ``generator``
(``None`` falls back to torch's global RNG, which library code never does).

A severity is a number, or a ``(low, high)`` range from which each image draws its own
value uniformly: training on a range makes a denoiser that copes with unknown noise
levels. Every severity is checked against its allowed range, with errors naming it.

Example:
    >>> rng = torch.Generator().manual_seed(0)
    >>> noisy = gaussian_noise(images, sigma=0.2, generator=rng)      # images: [B, 1, 16, 16]
    >>> mix = CorruptionMix({"gaussian": 2, "blur": 1}, params={"blur": {"sigma": (0.5, 1.0)}})
    >>> corrupted = mix(images, generator=rng)                        # one corruption per image
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from synthaug.data.image_format import from_float_chw
from synthaug.generators.base import check_generator, check_images
from synthaug.transforms.base import (
    ItemTransform,
    SeedStream,
    batch_as_float,
    check_image_batch,
    float_as,
    image_to_batch,
    is_batch,
)
from synthaug.validation import check_number, seed_from

Severity = float | tuple[float, float]
CorruptionFn = Callable[..., torch.Tensor]

CORRUPTIONS: dict[str, CorruptionFn] = {}
"""Name -> corruption function; :class:`CorruptionMix` and the CLI look names up here."""


@dataclass(frozen=True)
class SeveritySpec:
    """The allowed values of one severity argument: numbers in ``(minimum, maximum]``.

    ``minimum`` itself is excluded because a strength of 0 would leave images unchanged,
    which as a training corruption is a mistake rather than a choice.
    """

    name: str
    minimum: float
    maximum: float

    def check(self, value: Any) -> tuple[float, float]:
        """``(low, high)`` for a number or a range; ``ValueError`` naming the argument otherwise."""
        allowed = f"a number or a (low, high) range within ({self.minimum:g}, {self.maximum:g}]"
        pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
        if len(pair) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair):
            raise ValueError(f"{self.name} must be {allowed}, got {value!r}")
        low, high = float(pair[0]), float(pair[1])
        if not (self.minimum < low <= high <= self.maximum):  # also refuses NaN
            raise ValueError(f"{self.name} must be {allowed} with low <= high, got {value!r}")
        return low, high

    def draw(self, value: Any, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One severity per image, shape ``[B]``, on the images' device."""
        low, high = self.check(value)
        if low == high:  # a fixed severity uses no randomness
            return torch.full((len(images),), low, device=images.device)
        return low + (high - low) * _random((len(images),), images, generator)


def register_corruption(name: str, *severities: SeveritySpec) -> Callable[[CorruptionFn], CorruptionFn]:
    """Decorator: add a corruption function to :data:`CORRUPTIONS` with its severity specs."""

    def decorator(fn: CorruptionFn) -> CorruptionFn:
        if name in CORRUPTIONS and CORRUPTIONS[name] is not fn:
            raise ValueError(f"corruption {name!r} is already registered to {CORRUPTIONS[name].__name__}")
        fn.severities = {spec.name: spec for spec in severities}  # type: ignore[attr-defined]
        CORRUPTIONS[name] = fn
        return fn

    return decorator


def get_corruption(name: str) -> CorruptionFn:
    """The corruption function registered as ``name``; unknown names list the known ones."""
    try:
        return CORRUPTIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(sorted(CORRUPTIONS))}") from None


def available_corruptions() -> list[str]:
    """Names of every registered corruption, sorted."""
    return sorted(CORRUPTIONS)


def _random(
    shape: tuple[int, ...],
    images: torch.Tensor,
    generator: torch.Generator | None,
    draw: Callable[..., torch.Tensor] = torch.rand,
) -> torch.Tensor:
    """``draw(shape)`` (uniform [0, 1) by default) from ``generator``, on the images' device."""
    # Draw where the generator lives (a CPU generator cannot fill a CUDA tensor), then move.
    device = generator.device if generator is not None else images.device
    return draw(shape, generator=generator, device=device).to(images.device)


NOISE_SIGMA = SeveritySpec("sigma", 0.0, 1.0)
AMOUNT = SeveritySpec("amount", 0.0, 1.0)
CUTOUT_SIZE = SeveritySpec("size", 0.0, 1.0)
BLUR_SIGMA = SeveritySpec("sigma", 0.0, 5.0)


@register_corruption("gaussian", NOISE_SIGMA)
def gaussian_noise(
    images: torch.Tensor, sigma: Severity = (0.1, 0.3), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation ``sigma`` (in (0, 1]) to every value.

    Example:
        >>> gaussian_noise(torch.full((2, 1, 8, 8), 0.5), sigma=0.1, generator=torch.Generator().manual_seed(0)).std() > 0
        tensor(True)
    """
    check_images(images)
    check_generator(generator)
    sigmas = NOISE_SIGMA.draw(sigma, images, generator)
    noise = _random(tuple(images.shape), images, generator, draw=torch.randn)
    return (images + sigmas.view(-1, 1, 1, 1).to(images.dtype) * noise.to(images.dtype)).clamp(0.0, 1.0)


@register_corruption("salt_and_pepper", AMOUNT)
def salt_and_pepper(
    images: torch.Tensor, amount: Severity = (0.05, 0.2), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Set a fraction ``amount`` (in (0, 1]) of pixels to 0 or 1, each with probability 1/2.

    A hit pixel takes the value in all its channels at once, as a dead or stuck sensor
    pixel would.

    Example:
        >>> out = salt_and_pepper(torch.full((1, 1, 8, 8), 0.5), amount=0.25, generator=torch.Generator().manual_seed(0))
        >>> sorted(out.unique().tolist())
        [0.0, 0.5, 1.0]
    """
    check_images(images)
    check_generator(generator)
    amounts = AMOUNT.draw(amount, images, generator)
    b, _, h, w = images.shape
    hit = _random((b, 1, h, w), images, generator) < amounts.view(-1, 1, 1, 1)
    salt = (_random((b, 1, h, w), images, generator) < 0.5).to(images.dtype)
    return torch.where(hit, salt, images)


@register_corruption("cutout", CUTOUT_SIZE)
def cutout(
    images: torch.Tensor, size: Severity = (0.2, 0.4), fill: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mask one rectangle per image, ``size`` (in (0, 1]) of each side, with the value ``fill``.

    The default mid-grey ``fill`` differs from both dark and light backgrounds, so the
    hole is always a visible change (a black hole on a black background would be none).

    Example:
        >>> out = cutout(torch.zeros(1, 1, 8, 8), size=0.5, generator=torch.Generator().manual_seed(0))
        >>> int((out == 0.5).sum())               # a 4x4 hole
        16
    """
    check_images(images)
    check_generator(generator)
    check_number("fill", fill, low=0.0, high=1.0)
    sizes = CUTOUT_SIZE.draw(size, images, generator)
    b, _, h, w = images.shape
    heights = (sizes * h).round().clamp(min=1)
    widths = (sizes * w).round().clamp(min=1)
    corner = _random((2, b), images, generator)
    top = (corner[0] * (h - heights + 1)).floor()
    left = (corner[1] * (w - widths + 1)).floor()
    rows = torch.arange(h, device=images.device).view(1, h)
    cols = torch.arange(w, device=images.device).view(1, w)
    in_rows = (rows >= top.view(-1, 1)) & (rows < (top + heights).view(-1, 1))  # [B, H]
    in_cols = (cols >= left.view(-1, 1)) & (cols < (left + widths).view(-1, 1))  # [B, W]
    hole = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # [B, 1, H, W]
    return torch.where(hole, torch.tensor(float(fill), dtype=images.dtype, device=images.device), images)


@register_corruption("blur", BLUR_SIGMA)
def blur(images: torch.Tensor, sigma: Severity = (0.5, 1.5), generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian blur with standard deviation ``sigma`` pixels (in (0, 5]), edges replicated.

    A fixed ``sigma`` is deterministic; a range gives each image its own. The kernel
    reaches 3 sigma of the largest value (radius ``ceil(3 * high)``), where the Gaussian's
    weight is below 1%.

    Example:
        >>> step = torch.zeros(1, 1, 8, 8); step[..., 4:] = 1.0
        >>> blur(step, sigma=1.0)[0, 0, 0, 3:5]    # the hard edge is smoothed
        tensor([0.3005, 0.6995])
    """
    check_images(images)
    check_generator(generator)
    _, high = BLUR_SIGMA.check(sigma)
    sigmas = BLUR_SIGMA.draw(sigma, images, generator)
    b, c, h, w = images.shape
    radius = math.ceil(3 * high)
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=torch.float32)
    kernels = torch.exp(-0.5 * (offsets.view(1, -1) / sigmas.view(-1, 1)) ** 2)
    kernels = (kernels / kernels.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0).to(images.dtype)  # [B*C, K]
    # Separable and grouped: every (image, channel) plane is filtered by its image's kernel in one conv each way.
    planes = images.reshape(1, b * c, h, w)
    planes = F.conv2d(
        F.pad(planes, (radius, radius, 0, 0), mode="replicate"), kernels.view(b * c, 1, 1, -1), groups=b * c
    )
    planes = F.conv2d(
        F.pad(planes, (0, 0, radius, radius), mode="replicate"), kernels.view(b * c, 1, -1, 1), groups=b * c
    )
    return planes.view(b, c, h, w).clamp(0.0, 1.0)


DEFAULT_MIX = {"gaussian": 1.0, "salt_and_pepper": 1.0, "cutout": 1.0, "blur": 1.0}


class CorruptionMix(ItemTransform):
    """Corrupt each image of a batch with one corruption, picked at random by weight.

    A ``torchvision.transforms.v2.Transform``: it works in ``v2.Compose`` and
    ``nn.Sequential``, on a batch ``[B, C, H, W]`` or one image (PIL, tensor
    ``[C, H, W]``, ``tv_tensors.Image`` or ndarray ``[H, W, C]``; uint8 or float in [0, 1]),
    keeping its form; labels in the sample pass through.

    Args:
        corruptions: ``{name: weight}`` (weights > 0, need not sum to 1), a list of names
            (equal weights), one name, or ``None`` for the equal mix of all four built-in
            corruptions (gaussian, salt_and_pepper, cutout, blur).
        params: per corruption, keyword arguments for its function, e.g.
            ``{"gaussian": {"sigma": (0.05, 0.2)}, "cutout": {"fill": 0.0}}``; checked now.
        seed: the mix's own random stream, used when a call brings no ``generator=``:
            ``None`` for fresh randomness, an int for a reproducible sequence (as for the
            generative transforms; DataLoader workers each get their own stream).
        generator: a ``torch.Generator`` to draw ``seed`` from (once, now).

    Calling the mix with ``generator=`` is deterministic for the generator's state (what
    the trainers do with their seeded stream); without it, it draws from its own stream.
    Picklable (plain data and module-level functions), so it can travel to DataLoader workers.

    Example:
        >>> mix = CorruptionMix(["gaussian", "blur"], params={"gaussian": {"sigma": 0.2}})
        >>> corrupted = mix(images, generator=torch.Generator().manual_seed(0))
        >>> pipeline = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), CorruptionMix(seed=0)])
        >>> mix
        CorruptionMix(gaussian=0.5 {'sigma': 0.2}, blur=0.5)
    """

    def __init__(
        self,
        corruptions: Mapping[str, float] | Sequence[str] | str | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        seed: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        weights = self._parse_weights(corruptions)
        total = sum(weights.values())
        self.weights = {name: weight / total for name, weight in weights.items()}
        self.params = self._parse_params(params or {})
        self._stream = SeedStream(seed_from("seed", seed, generator))

    @property
    def seed(self) -> int | None:
        return self._stream.seed

    def random_generator(self) -> torch.Generator:
        return self._stream.generator()

    @staticmethod
    def _parse_weights(corruptions: Any) -> dict[str, float]:
        if corruptions is None:
            corruptions = DEFAULT_MIX
        elif isinstance(corruptions, str):
            corruptions = {corruptions: 1.0}
        elif isinstance(corruptions, (list, tuple)):
            if not all(isinstance(name, str) for name in corruptions):
                raise TypeError(f"corruptions must be a list of names (str), got {list(corruptions)!r}")
            if len(set(corruptions)) != len(corruptions):
                raise ValueError(f"corruptions must be distinct, got {list(corruptions)}")
            corruptions = {name: 1.0 for name in corruptions}
        if not isinstance(corruptions, Mapping):
            raise TypeError(
                f"corruptions must be a dict {{name: weight}}, a list of names or None, got {type(corruptions).__name__}"
            )
        if not corruptions:
            raise ValueError(f"corruptions must name at least one of {', '.join(available_corruptions())}")
        weights = {}
        for name, weight in corruptions.items():
            get_corruption(name)
            weights[name] = check_number(f"corruptions weight for {name!r}", weight, low=0.0, low_open=True)
        return weights

    def _parse_params(self, params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict {{corruption: {{argument: value}}}}, got {type(params).__name__}")
        unused = sorted(set(params) - set(self.weights))
        if unused:
            raise ValueError(f"params given for {unused}, which are not in the mix ({', '.join(self.weights)})")
        checked = {}
        for name, kwargs in params.items():
            fn = CORRUPTIONS[name]
            if not isinstance(kwargs, Mapping):
                raise TypeError(f"params[{name!r}] must be a dict of keyword arguments, got {type(kwargs).__name__}")
            accepted = [p for p in list(inspect.signature(fn).parameters)[1:] if p != "generator"]
            unknown = sorted(set(kwargs) - set(accepted))
            if unknown:
                raise ValueError(f"params[{name!r}]: unknown argument(s) {unknown}; {fn.__name__} accepts {accepted}")
            # Running the function once on one tiny image checks every value exactly as a
            # real call would (severity ranges, cutout's fill), but now rather than mid-training.
            try:
                fn(torch.zeros(1, 1, 8, 8), **kwargs, generator=torch.Generator().manual_seed(0))
            except (TypeError, ValueError) as e:
                raise type(e)(f"params[{name!r}]: {e}") from None
            checked[name] = dict(kwargs)
        return checked

    @property
    def names(self) -> list[str]:
        """The corruptions in the mix, in the order given."""
        return list(self.weights)

    def apply(self, name: Any, images: Any = None, generator: torch.Generator | None = None) -> Any:
        """Corrupt every image with the corruption ``name`` of this mix (with its params).

        (``nn.Module.apply(fn)``, which a parent module calls on its children, still works:
        given a single callable, this is that method.)
        """
        if callable(name) and images is None:
            return super().apply(name)
        if name not in self.weights:
            raise ValueError(f"corruption {name!r} is not in this mix; it has {', '.join(self.weights)}")
        return CORRUPTIONS[name](images, **self.params.get(name, {}), generator=generator)

    def choose(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Indices into :attr:`names`, one per image, drawn by weight: LongTensor ``[num]``."""
        weights = torch.tensor(list(self.weights.values()))
        device = generator.device if generator is not None else torch.device("cpu")
        return torch.multinomial(weights.to(device), num, replacement=True, generator=generator).cpu()

    def corrupt(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Corrupt each image of float ``images`` ``[B, C, H, W]`` in [0, 1] with one corruption of the mix.

        Returns a new tensor; ``images`` is not modified.
        """
        check_images(images)
        check_generator(generator)
        choice = self.choose(len(images), generator)
        out = images.clone()
        for k, name in enumerate(self.names):
            index = (choice == k).nonzero().squeeze(1).to(images.device)
            if len(index):
                out[index] = self.apply(name, images[index], generator)
        return out

    def forward(self, *inputs: Any, generator: torch.Generator | None = None) -> Any:
        """Corrupt the images of a sample (see the class docstring); ``generator=`` replaces the own stream."""
        check_generator(generator)
        return self.run(inputs, generator if generator is not None else self.random_generator())

    def make_params(
        self, flat_inputs: list[Any], label: Any = None, generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        for image in flat_inputs:  # every image checked before any is corrupted
            if is_batch(image):
                check_image_batch(image, None, "corruption mix")
            else:
                image_to_batch(image, None, "corruption mix")
        return {"rng": generator}

    def transform_image(self, image: Any, params: dict[str, Any]) -> Any:
        rng = params["rng"]
        if is_batch(image):
            if image.is_floating_point():  # the trainers' path: exactly the corruption functions' output
                return self.corrupt(image, rng)
            return float_as(self.corrupt(batch_as_float(image), rng), image)
        batch, fmt = image_to_batch(image, None, "corruption mix")
        return from_float_chw(self.corrupt(batch, rng)[0], fmt)

    def __repr__(self) -> str:
        parts = [
            f"{name}={weight:.3g}" + (f" {self.params[name]}" if name in self.params else "")
            for name, weight in self.weights.items()
        ]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CorruptionMix) and (self.weights, self.params) == (other.weights, other.params)

    def __hash__(self) -> int:
        # Equal mixes hash alike; nn.Module needs a hash (its module walks keep sets of modules).
        return hash((type(self).__name__, repr(self)))
