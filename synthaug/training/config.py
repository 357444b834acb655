"""Training configs: one dataclass per trainer family, saved with every run, read back from JSON or YAML.

:class:`TrainingConfig` holds the knobs every trainer shares; each family extends it with
its own (:class:`CGANTrainingConfig`, :class:`CVAETrainingConfig`,
:class:`DAETrainingConfig`). Every field is checked when the config is built, so a bad
value in a config file is refused before any data is loaded.

:meth:`Trainer.fit <synthaug.training.Trainer.fit>` writes the whole config, with the
model family, the model's config and (from the command line) the data source, as
``training_config.json`` in the run directory; ``synthaug train --config FILE`` reads it
back (or a hand-written JSON/YAML file of the same layout) and re-creates the run::

    {
      "format_version": 1,
      "synthaug_version": "0.2.0",
      "model_type": "cgan",
      "trainer": "CGANTrainer",
      "data": {"source": "digits", "data_root": "...", "image_size": 16, "channels": 1, "unlabelled": null},
      "model": {"num_classes": 10, "channels": 1, "image_size": 16, "latent_dim": 128, ...},
      "training": {"epochs": null, "batch_size": 64, ..., "steps": null, "checkpoint_every": "auto", "loss": "bce", ...}
    }

Only ``model_type`` is required in a file; ``data`` may also be just the source
(``data: digits``), and ``model`` and ``training`` may name any subset of their fields.
Unknown keys are refused with an error naming them.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from synthaug._version import __version__
from synthaug.data.streaming import DEFAULT_IN_MEMORY_LIMIT_MB
from synthaug.training.diffaugment import DiffAugment
from synthaug.training.loggers import LOGGERS
from synthaug.training.losses import GAN_LOSSES
from synthaug.training.registry import available_trainers, get_trainer_class
from synthaug.transforms.corruptions import CorruptionMix
from synthaug.utils.files import check_format_version
from synthaug.validation import (
    ArgumentTypeError,
    check_bool,
    check_choice,
    check_device,
    check_int,
    check_number,
    check_seed,
    is_int,
    non_negative_int,
    positive_int,
)

TRAINING_CONFIG_NAME = "training_config.json"
RUN_CONFIG_FORMAT_VERSION = 1
DEFAULT_EPOCHS = 20
"""Epochs of a run given neither ``epochs`` nor ``steps`` (at least the trainer's ``min_default_steps``)."""
# The floors of that default for the generators, from the step-budget sweep on 1,000
# Fashion-MNIST images (docs/benchmarks.md, "Generator step budgets").
CGAN_MIN_DEFAULT_STEPS = 5000
CVAE_MIN_DEFAULT_STEPS = 5000

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
"""``torch.compile`` modes the ``compile`` option accepts."""

AMP_MODES = ("auto", "bf16", "off")

# checkpoint_every="auto": checkpoints take at most about this share of the training time...
AUTO_CHECKPOINT_SHARE = 0.05
# ...and come at least this often (seconds), even in the middle of a long epoch.
AUTO_CHECKPOINT_MAX_SECONDS = 600.0

_SECONDS = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h)\s*$")
_UNIT_SECONDS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
CHECKPOINT_EVERY_EXPECTED = "a number of steps (e.g. 500), a duration such as '300s', '10m' or '1h', 'epoch' or 'auto'"


def checkpoint_interval(value: Any, name: str = "checkpoint_every") -> tuple[str, float]:
    """``checkpoint_every`` as ``(kind, amount)``: ``("steps", N)``, ``("seconds", S)``, ``("epoch", 1)`` or ``("auto", 0)``.

    Raises:
        ValueError: anything else (a bool, zero, a negative or unparsable value).
    """
    if is_int(value):
        return "steps", float(positive_int(name, value))
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "epoch"):
            return text, 1.0 if text == "epoch" else 0.0
        match = _SECONDS.match(text)
        if match and float(match.group(1)) > 0:
            return "seconds", float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"{name} must be {CHECKPOINT_EVERY_EXPECTED}, got {value!r}")


def _json_ready(value: Any, what: str) -> Any:
    """``value`` as plain JSON types (tuples become lists, NumPy scalars numbers)."""

    def default(item: Any) -> Any:
        if hasattr(item, "item") and callable(item.item):
            return item.item()
        raise TypeError(f"{what} holds a {type(item).__name__} ({item!r}), which a JSON file cannot record")

    return json.loads(json.dumps(value, default=default))


def _close(key: str, known: Sequence[str]) -> str:
    match = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


@dataclass
class TrainingConfig:
    """Knobs shared by every trainer. ``lr=None`` picks the family's default.

    Give ``epochs`` (passes over the data) or ``steps`` (optimiser steps; the last epoch
    may end part-way), not both. With neither, a run takes ``DEFAULT_EPOCHS`` (20)
    epochs but at least its trainer's ``min_default_steps`` steps (cGAN and cVAE: see
    docs/benchmarks.md, "Generator step budgets"): a small data set needs steps, not
    epochs, so 1,000 images get the floor and 60,000 get 20 epochs. ``checkpoint_every``:
    ``"auto"`` (checkpoints take at most about 5% of the training time: one at the end
    of the first epoch, then at the first epoch end after at least 20 times as long as the
    last checkpoint took to write, and at least every 10 minutes even mid-epoch), a number
    of optimiser steps (``500``: at steps 500, 1000, ...), a duration (``"300s"``,
    ``"10m"``, ``"1h"``) or ``"epoch"`` (after every epoch). A checkpoint is always
    written after the last step. Under torchrun a checkpoint due mid-epoch is written at
    the end of that epoch. ``logger``: ``"none"`` (the default) or ``"tensorboard"``:
    every ``metrics.jsonl`` record and every sample grid also go to TensorBoard event files
    in ``<out_dir>/tensorboard/`` (needs ``pip install "synthaug[tensorboard]"``).
    """

    epochs: int | None = None
    batch_size: int = 64
    lr: float | None = None
    seed: int = 0
    device: str = "cpu"
    log_every: int = 20
    sample_every: int = 1
    samples_per_class: int = 8
    progress: bool = True
    class_balanced: bool = False
    # Speed on CUDA. "auto": bf16 autocast on CUDA, none on CPU (measure: for nets this
    # small bf16 is not always faster); channels_last None: on for CUDA, off for CPU.
    amp: str = "auto"
    channels_last: bool | None = None
    compile: bool | str = False  # True, or a torch.compile mode: "default", "reduce-overhead", "max-autotune"
    # Where batches are cut from: None (auto) copies the training set to the device as one
    # tensor when it takes at most half the free GPU memory (batches are then index
    # lookups on the device), else keeps it in pinned host memory and copies each batch
    # asynchronously. True / False force either.
    preload: bool | None = None
    # Added after 0.1, so after its fields: positional use keeps working.
    steps: int | None = None
    checkpoint_every: int | str = "auto"
    # fit(labelled, unlabelled=...): the confidence a pseudo-label needs, and the steps of the
    # classifier that gives them (see synthaug.training.pseudo_labels).
    pseudo_label_threshold: float = 0.9
    pseudo_label_steps: int = 1000
    # fit(dataset): a Dataset whose decoded images take at most this many MiB (float32) is
    # decoded into memory once (the fast path); a larger one is streamed batch by batch by
    # num_workers DataLoader processes (None: one per core but one, at most 4).
    in_memory_limit_mb: float = DEFAULT_IN_MEMORY_LIMIT_MB
    num_workers: int | None = None
    # Where losses and sample grids go besides metrics.jsonl and samples/: "none", or
    # "tensorboard" (RUN/tensorboard/; needs the tensorboard extra, see training.loggers).
    logger: str = "none"

    def __post_init__(self) -> None:
        if self.epochs is not None and self.steps is not None:
            raise ValueError(
                f"give either epochs or steps, not both (got epochs={self.epochs!r}, steps={self.steps!r})"
            )
        if self.epochs is not None:
            positive_int("epochs", self.epochs)
        if self.steps is not None:
            positive_int("steps", self.steps)
        for name in ("batch_size", "log_every", "samples_per_class", "pseudo_label_steps"):
            positive_int(name, getattr(self, name))
        self.in_memory_limit_mb = check_number("in_memory_limit_mb", self.in_memory_limit_mb, low=0.0)
        if self.num_workers is not None:
            check_int("num_workers", self.num_workers, low=0, expected="an int >= 0 or None (auto)")
        self.pseudo_label_threshold = check_number(
            "pseudo_label_threshold", self.pseudo_label_threshold, low=0.0, high=1.0
        )
        check_bool("class_balanced", self.class_balanced)
        check_choice("logger", self.logger, LOGGERS)
        check_bool("progress", self.progress)
        check_int("sample_every", self.sample_every, low=0, expected="an int >= 0 (0: only at the end)")
        check_seed("seed", self.seed)
        if self.lr is not None:
            self.lr = check_number(
                "lr", self.lr, low=0.0, high=1.0, low_open=True, high_open=True, expected="a float in (0, 1)"
            )
        if isinstance(self.device, torch.device):
            self.device = str(self.device)
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        check_device("device", self.device)
        checkpoint_interval(self.checkpoint_every)
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be 'auto', 'bf16' or 'off', got {self.amp!r}")
        for name in ("channels_last", "preload"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):  # (check_bool has no "or None")
                raise ArgumentTypeError(f"{name} must be a bool or None (auto), got {type(value).__name__} {value!r}")
        if not isinstance(self.compile, (bool, str)):
            raise TypeError(
                f"compile must be a bool or a torch.compile mode, got {type(self.compile).__name__} {self.compile!r}"
            )
        if isinstance(self.compile, str) and self.compile not in COMPILE_MODES:
            raise ValueError(
                f"compile must be True, False or one of {', '.join(map(repr, COMPILE_MODES))}, got {self.compile!r}"
            )

    # -- derived -----------------------------------------------------------------------
    @property
    def on_cuda(self) -> bool:
        return torch.device(self.device).type == "cuda"

    @property
    def use_bf16(self) -> bool:
        """Whether training steps run under bf16 autocast."""
        return self.amp == "bf16" or (self.amp == "auto" and self.on_cuda)

    @property
    def use_channels_last(self) -> bool:
        return self.on_cuda if self.channels_last is None else self.channels_last

    # -- building and saving -----------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_options(
        cls, config: TrainingConfig | Mapping[str, Any] | None = None, /, **overrides: Any
    ) -> TrainingConfig:
        """``config`` (a config of this family or the shared :class:`TrainingConfig`, a dict, or ``None``) with ``overrides`` on top.

        An override of ``epochs`` replaces the base's ``steps`` and the other way round;
        both in the overrides is an error, as is a name that is not a field (``TypeError``).
        """
        if config is None:
            values: dict[str, Any] = {}
        elif isinstance(config, TrainingConfig):
            if not (isinstance(config, cls) or issubclass(cls, type(config))):
                raise TypeError(f"a {cls.__name__} (or a TrainingConfig) is needed here, got a {type(config).__name__}")
            values = {f.name: getattr(config, f.name) for f in fields(config)}
        elif isinstance(config, Mapping):
            values = dict(config)
        else:
            raise TypeError(f"config must be a {cls.__name__}, a TrainingConfig or None, got {type(config).__name__}")
        known = cls.field_names()
        for key in [*values, *overrides]:
            if key not in known:
                raise TypeError(
                    f"{cls.__name__} has no option {key!r}{_close(str(key), known)}; options: {', '.join(known)}"
                )
        if overrides.get("steps") is not None and "epochs" not in overrides:
            values["epochs"] = None
        if overrides.get("epochs") is not None and "steps" not in overrides:
            values["steps"] = None
        return cls(**{**values, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return _json_ready(asdict(self), type(self).__name__)


@dataclass
class CGANTrainingConfig(TrainingConfig):
    """:class:`TrainingConfig` plus the cGAN's options.

    Args:
        loss: ``"bce"`` (non-saturating binary cross-entropy, the classic) or ``"hinge"``.
        diffaugment: ``"auto"`` (on with translation+cutout, plus color for RGB, when the
            training set has fewer than 10,000 images), ``None`` or ``"off"`` (off), or a
            policy such as ``"translation,cutout"`` (or a list of its parts).
        ema_decay: decay of the generator's moving average, in [0, 1).
    """

    loss: str = "bce"
    diffaugment: str | list[str] | None = "auto"
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.loss, str) or self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {sorted(GAN_LOSSES)}, got {self.loss!r}")
        self.ema_decay = check_number(
            "ema_decay", self.ema_decay, low=0.0, high=1.0, high_open=True, expected="a float in [0, 1)"
        )
        # "off" as on the command line; False as YAML 1.1 readers turn an unquoted off into.
        if self.diffaugment in ("off", False):
            self.diffaugment = None
        if isinstance(self.diffaugment, tuple):
            self.diffaugment = list(self.diffaugment)
        if self.diffaugment not in (None, "auto"):
            DiffAugment(self.diffaugment)  # refuses an unknown policy now, not at the first step


SEMI_SUPERVISED = ("pseudo-labels", "m2")
"""How a cVAE learns from an unlabelled pool (``CVAETrainingConfig.semi_supervised``)."""


@dataclass
class CVAETrainingConfig(TrainingConfig):
    """:class:`TrainingConfig` plus the cVAE's options.

    Args:
        beta: weight of the KL term, in [0, 100].
        kl_warmup_steps: steps over which the KL weight ramps from 0 to ``beta`` (0: none).
        gmm_components: components of the per-class latent mixture fitted after training,
            in [0, 64] (0: sample from the prior).
        semi_supervised: how ``fit(..., unlabelled=pool)`` uses the pool: ``"pseudo-labels"``
            (a separate classifier labels it first; the default of every trainer) or ``"m2"``
            (Kingma et al. 2014: the model's own classifier ``q(y|x)`` infers the labels as
            it trains; needs ``ConditionalVAE(label_classifier=True)``).
        m2_alpha: weight of the labelled images' classification loss in M2 training;
            ``None``: 0.1 x the pixels of an image (the reconstruction term is summed over
            pixels, so this keeps the two on comparable scales).
    """

    beta: float = 1.0
    kl_warmup_steps: int = 200
    gmm_components: int = 10
    semi_supervised: str = "pseudo-labels"
    m2_alpha: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.beta = check_number("beta", self.beta, low=0.0, high=100.0, expected="a float in [0, 100]")
        non_negative_int("kl_warmup_steps", self.kl_warmup_steps)
        check_int("gmm_components", self.gmm_components, low=0, high=64)
        check_choice("semi_supervised", self.semi_supervised, SEMI_SUPERVISED)
        if self.m2_alpha is not None:
            self.m2_alpha = check_number("m2_alpha", self.m2_alpha, low=0.0)


@dataclass
class DAETrainingConfig(TrainingConfig):
    """:class:`TrainingConfig` plus the denoiser's options.

    Args:
        corruptions: what :class:`~synthaug.transforms.CorruptionMix` accepts: ``{name:
            weight}``, a list of names, one name, or ``None`` for the equal mix of all four.
        corruption_params: per corruption, keyword arguments for its function (the mix's
            ``params``), e.g. ``{"gaussian": {"sigma": [0.05, 0.2]}}``.
    """

    corruptions: dict[str, float] | list[str] | str | None = None
    corruption_params: dict[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.corruptions, tuple):
            self.corruptions = list(self.corruptions)
        elif isinstance(self.corruptions, Mapping):
            self.corruptions = dict(self.corruptions)
        if isinstance(self.corruption_params, Mapping):
            self.corruption_params = {
                k: dict(v) if isinstance(v, Mapping) else v for k, v in self.corruption_params.items()
            }
        self.corruption_mix()  # refuses unknown corruptions, bad weights or params now

    def corruption_mix(self) -> CorruptionMix:
        return CorruptionMix(self.corruptions, self.corruption_params)


# -- the run file: training_config.json ----------------------------------------------------------

DATA_KEYS = ("source", "data_root", "image_size", "channels", "unlabelled", "val_split")
RUN_KEYS = ("format_version", "synthaug_version", "model_type", "trainer", "data", "model", "training")


@dataclass
class RunConfig:
    """Everything needed to re-create a training run: what ``training_config.json`` holds.

    Attributes:
        model_type: the model family (``"cgan"``, ``"cvae"``, ``"dae"``).
        training: the trainer's config (of the family's class).
        model: the model's constructor arguments (its ``config``; a file may give a subset).
        data: how the command line loaded the data (``source``: ``"digits"``,
            ``"fashion-mnist"`` or an ImageFolder directory; ``data_root``, ``image_size``,
            ``channels``, ``unlabelled``, ``val_split``: the fraction of a folder held out,
            0 or absent for none), or ``None`` when ``fit`` was called from Python.
        trainer: the trainer class's name, as recorded (informative).
    """

    model_type: str
    training: TrainingConfig
    model: dict[str, Any]
    data: dict[str, Any] | None = None
    trainer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": RUN_CONFIG_FORMAT_VERSION,
            "synthaug_version": __version__,
            "model_type": self.model_type,
            "trainer": self.trainer,
            "data": None if self.data is None else dict(self.data),
            "model": _json_ready(self.model, "model config"),
            "training": self.training.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(
        cls, document: Any, where: str = "training config", defaults: Mapping[str, Any] | None = None
    ) -> RunConfig:
        """Check a parsed file and build the run config; errors name ``where`` and the offending key.

        ``defaults``: training options for those the file does not give (the command line's
        ``device="auto"``), before the config class's own defaults.
        """
        if not isinstance(document, Mapping):
            raise ValueError(f"{where}: expected a mapping of {', '.join(RUN_KEYS)}, got {type(document).__name__}")
        _refuse_unknown(document, RUN_KEYS, where, "key")
        version = document.get("format_version", RUN_CONFIG_FORMAT_VERSION)
        if not is_int(version) or version < 1:
            raise ValueError(f"{where}: format_version must be an int >= 1, got {version!r}")
        check_format_version(
            version,
            RUN_CONFIG_FORMAT_VERSION,
            where=where,
            what="training config",
            writer=document.get("synthaug_version"),
        )
        model_type = document.get("model_type")
        if model_type is None:
            raise ValueError(f"{where}: 'model_type' is missing (one of {', '.join(available_trainers())})")
        if model_type not in available_trainers():
            raise ValueError(
                f"{where}: model_type must be one of {', '.join(available_trainers())}, got {model_type!r}"
            )
        trainer_cls = get_trainer_class(model_type)
        trainer = document.get("trainer")
        if trainer is not None and not isinstance(trainer, str):
            raise ValueError(f"{where}: trainer must be a class name (str), got {trainer!r}")

        model = _section(document, "model", where)
        _refuse_unknown(
            model, list(trainer_cls.model_class.config_fields), f"{where}: model", f"{model_type} model option"
        )

        data = document.get("data")
        if isinstance(data, str):
            data = {"source": data}
        elif data is not None:
            data = dict(_section(document, "data", where))
        if data is not None:
            _refuse_unknown(data, DATA_KEYS, f"{where}: data", "data key")
            if not isinstance(data.get("source"), str) or not data["source"]:
                raise ValueError(
                    f"{where}: data.source must name the data ('digits', 'fashion-mnist' or an ImageFolder "
                    f"directory), got {data.get('source')!r}"
                )
            for key in ("data_root", "unlabelled"):
                if data.get(key) is not None and not isinstance(data[key], str):
                    raise ValueError(f"{where}: data.{key} must be a path or data set name (str), got {data[key]!r}")
            for key in ("image_size", "channels"):
                if data.get(key) is not None:
                    try:
                        positive_int(f"data.{key}", data[key])
                    except ValueError as e:
                        raise ValueError(f"{where}: {e}") from None
            if data.get("val_split") is not None:
                try:
                    check_number("data.val_split", data["val_split"], low=0.0, high=1.0, high_open=True)
                except (TypeError, ValueError) as e:
                    raise ValueError(f"{where}: {e}") from None

        config_class = trainer_cls.config_class
        options = _section(document, "training", where)
        _refuse_unknown(options, config_class.field_names(), f"{where}: training", f"{model_type} training option")
        try:
            training = config_class(**{**(defaults or {}), **options})
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: training: {e}") from None
        return cls(model_type, training, dict(model), data, trainer)


def _section(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: {key} must be a mapping, got {type(value).__name__} {value!r}")
    return value


def _refuse_unknown(mapping: Mapping[str, Any], known: Sequence[str], where: str, what: str) -> None:
    for key in mapping:
        if key not in known:
            raise ValueError(f"{where}: unknown {what} {key!r}{_close(str(key), known)}; known: {', '.join(known)}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _yaml_loader() -> type:
    """A safe YAML loader with YAML 1.2's scalars.

    PyYAML follows YAML 1.1, where ``off``/``yes``/``no`` are booleans (``amp: off`` would
    read as False) and ``2e-4`` is a string (not a float). Here only ``true``/``false``
    are booleans, and numbers are read as JSON and Python write them. Duplicate keys are
    refused.
    """
    import yaml

    bool_tag, int_tag, float_tag = (f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float"))

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (bool_tag, int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    Loader.add_implicit_resolver(int_tag, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
    Loader.add_implicit_resolver(
        float_tag,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    )

    def construct_int(loader: Any, node: Any) -> int:
        return int(loader.construct_scalar(node), 10)

    def construct_float(loader: Any, node: Any) -> float:
        text = loader.construct_scalar(node).lower()
        if text.lstrip("+-") == ".inf":
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if text == ".nan" else float(text)

    Loader.add_constructor(int_tag, construct_int)
    Loader.add_constructor(float_tag, construct_float)
    return Loader


def read_config_file(path: str | Path) -> Any:
    """Parse a JSON (``.json``, or any other suffix) or YAML (``.yaml``/``.yml``) file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"config file {str(path)!r} " + ("is not a regular file" if path.exists() else "does not exist")
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read config file ({type(e).__name__}: {e})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as e:
            detail = " ".join(str(e).split())
            raise ValueError(f"{path}: not valid YAML ({detail})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    except ValueError as e:  # a duplicate key
        raise ValueError(f"{path}: {e}") from None


def load_run_config(path: str | Path, defaults: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a ``training_config.json`` (or a hand-written JSON/YAML file of the same layout); see :meth:`RunConfig.from_dict`."""
    return RunConfig.from_dict(read_config_file(path), where=str(path), defaults=defaults)
