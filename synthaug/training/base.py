"""The shared training engine: batching, seeding, logging, sample grids, loss curves, checkpoints, bundle.

A family-specific trainer subclasses :class:`Trainer` and fills in two hooks:
``configure_optimizers`` and ``training_step`` (and may override ``prepare`` and
``save_progress_images``). The engine owns everything else, so every family logs, plots
and saves the same way. Its settings are a :class:`TrainingConfig` (of the family's
subclass, ``config_class``), saved with the run as ``training_config.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
from tqdm.auto import tqdm

from synthaug._version import __version__
from synthaug.data.real import LabelledImages
from synthaug.data.streaming import StreamedImages, TrainingData, training_data
from synthaug.generators.base import ConditionalGenerator, ConfigurableModule, GeneratorProtocol
from synthaug.training.config import (
    AUTO_CHECKPOINT_MAX_SECONDS,
    AUTO_CHECKPOINT_SHARE,
    COMPILE_MODES,
    DEFAULT_EPOCHS,
    TRAINING_CONFIG_NAME,
    RunConfig,
    TrainingConfig,
    checkpoint_interval,
)
from synthaug.training.distributed import DistributedRun
from synthaug.training.loggers import RunLogger, open_run_logger, require_logger
from synthaug.training.pseudo_labels import PseudoLabelled, pseudo_label, train_labeller, unlabelled_images
from synthaug.utils.atomic import atomic_file, write_text_atomic
from synthaug.utils.files import check_format_version
from synthaug.utils.seeding import stream_seed
from synthaug.validation import is_int, is_number
from synthaug.viz import save_generator_grid, save_loss_curves

__all__ = ["COMPILE_MODES", "Trainer", "TrainingConfig", "TrainingDiverged", "TrainResult"]

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
CHECKPOINT_NAME = "checkpoint.pt"
PSEUDO_LABELS_NAME = "pseudo_labels.json"
# 2: a checkpoint may fall mid-epoch (epoch_step, epoch_rng, ...). synthaug 0.1 would read such
# a file as an epoch boundary and resume wrongly, so it must refuse it; version 1 files still load.
CHECKPOINT_FORMAT_VERSION = 2


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` (often a multi-line message from torch) as one line of at most ``limit`` characters."""
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _Unset:
    """The default of a trainer's keyword arguments: "take the value from the config"."""

    def __repr__(self) -> str:
        return "<from config>"


UNSET: Any = _Unset()


@dataclass
class _Position:
    """Where a run stands: ``epoch`` epochs finished plus ``epoch_step`` steps into the next.

    A checkpoint in the middle of an epoch also keeps what continuing it exactly needs: the
    RNG state the epoch's batch order was drawn from (``epoch_rng``; ``None`` under
    torchrun, where the order comes from the seed) and the loss sums of the steps not yet
    logged.
    """

    epoch: int = 0
    epoch_step: int = 0
    epoch_rng: torch.Tensor | None = None
    log_sums: dict[str, torch.Tensor] = field(default_factory=dict)
    log_count: int = 0
    seconds: float | None = None


class _CheckpointClock:
    """Decides after each step whether a checkpoint is due (see ``TrainingConfig.checkpoint_every``)."""

    def __init__(self, every: int | str, step: int, now: float, epoch_ends_only: bool) -> None:
        self.kind, self.amount = checkpoint_interval(every)
        self.last_step, self.last_time = step, now
        self.cost: float | None = None  # seconds the last checkpoint took to write
        self.epoch_ends_only = epoch_ends_only

    def due(self, step: int, epoch_end: bool, now: float) -> bool:
        if self.epoch_ends_only and not epoch_end:
            return False
        waited = now - self.last_time
        if self.kind == "epoch":
            return epoch_end
        if self.kind == "steps":
            return step // self.amount > self.last_step // self.amount
        if self.kind == "seconds":
            return waited >= self.amount
        # auto: the first epoch end, then once checkpoints would take at most their share
        # of the time; at least every AUTO_CHECKPOINT_MAX_SECONDS whatever the epoch length.
        if waited >= AUTO_CHECKPOINT_MAX_SECONDS:
            return True
        return epoch_end and (self.cost is None or waited * AUTO_CHECKPOINT_SHARE >= self.cost)

    def written(self, step: int, began: float, now: float) -> None:
        self.last_step, self.last_time, self.cost = step, now, now - began


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run directory keeps the last good checkpoint."""


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` produced: the bundle directory and the logged history."""

    out_dir: Path
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def final_losses(self) -> dict[str, float]:
        return {k: v for k, v in (self.history[-1] if self.history else {}).items() if k.startswith("loss")}


class Trainer:
    """Base trainer. Subclasses set ``model_class``/``config_class``/``default_lr`` and implement the hooks.

    Args:
        model: the model to train (trained in place): a generator, or another bundled
            model such as :class:`~synthaug.DenoisingAutoencoder`.
        out_dir: run directory; receives the bundle (``config.json`` + ``model.safetensors``),
            ``training_config.json``, ``metrics.jsonl``, ``samples/epoch_NNN.png``,
            ``loss_curves.png`` and ``checkpoint.pt`` (and ``tensorboard/`` with
            ``logger="tensorboard"``). Without matplotlib (the ``plots`` extra) the run
            goes on without the two kinds of PNG, with one warning.
        config: a config of the trainer's family (``config_class``) or the shared
            :class:`TrainingConfig` (the family's options then take their defaults).
        **overrides: fields of ``config_class`` applied on top of ``config``; an unknown
            name is a ``TypeError``. ``epochs`` here replaces the config's ``steps`` and
            ``steps`` its ``epochs``.

    Attributes:
        data_source: how the data was loaded, recorded in ``training_config.json`` so the
            run can be re-created (the command line sets it: ``source``, ``data_root``,
            ``image_size``, ``channels``); ``None`` from Python.
    """

    model_class: ClassVar[type[ConfigurableModule]] = ConditionalGenerator
    config_class: ClassVar[type[TrainingConfig]] = TrainingConfig
    default_lr: ClassVar[float] = 1e-3
    kind: ClassVar[str] = "models"
    """What the trainer trains, in the plural (``"GANs"``), for messages."""
    # Whether training_step reads the labels; when not (the denoiser), check_data does not
    # hold them against a num_classes the model does not have.
    uses_labels: ClassVar[bool] = True
    # Whether the trainer takes ``preview_images`` (held-out images for its progress pictures).
    uses_preview_images: ClassVar[bool] = False
    # The fewest steps of a run given neither epochs nor steps (see TrainingConfig).
    min_default_steps: ClassVar[int] = 0

    def __init__(
        self, model: ConfigurableModule, out_dir: str | Path, config: TrainingConfig | None = None, **overrides: Any
    ):
        if not isinstance(model, self.model_class):
            raise TypeError(f"{type(self).__name__} trains a {self.model_class.__name__}, got {type(model).__name__}")
        self.config = self.config_class.from_options(config, **{k: v for k, v in overrides.items() if v is not UNSET})
        self.config.to_dict()  # refuses now a value that training_config.json could not record
        require_logger(self.config.logger)  # a missing package fails here, not after training
        self._run_log = RunLogger()  # rank 0's logger while fit runs (see _fit)
        self._plots_missing = False  # matplotlib was found missing: no more pictures this run
        self.data_source: dict[str, Any] | None = None
        self.pseudo_labels: PseudoLabelled | None = None  # what fit(..., unlabelled=) kept of the pool
        # Under torchrun: this process's rank; "cuda" means this process's GPU.
        self.dist = DistributedRun.from_env()
        self.device = torch.device(self.dist.device(self.config.device))
        self.model = model.to(self.device)
        if self.config.use_channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.out_dir = Path(out_dir)
        self.lr = self.config.lr or self.default_lr
        # One generator for every random draw of training (noise, batches), so a seed
        # reproduces a run without touching torch's global RNG.
        self.rng = torch.Generator(device=self.device).manual_seed(self.config.seed)
        self.optimizers = self.configure_optimizers()
        self.global_step = 0  # optimiser steps completed; hooks may read it
        self._resumed = _Position()  # where load_checkpoint left the run
        # The networks training_step runs forward: themselves, or their DDP wrappers under
        # torchrun (wrapped in fit, once the process group exists).
        self._trained = self.trained_modules()
        if self.config.compile:
            # The networks training_step calls, in place: parameter names (and so bundles
            # and checkpoints) stay unchanged. "reduce-overhead" adds CUDA graphs.
            mode = "default" if self.config.compile is True else self.config.compile
            for net in self._trained.values():
                net.compile(mode=mode)
        self.nets: dict[str, torch.nn.Module] = dict(self._trained)

    # -- hooks -------------------------------------------------------------------------
    def prepare(self, data: TrainingData) -> None:
        """Called once before the first step, after the data passed :meth:`check_data`.

        ``data`` is a :class:`~synthaug.data.real.LabelledImages` or, for a dataset too large
        for memory, a :class:`~synthaug.data.streaming.StreamedImages`: use ``len``,
        ``labels``, ``gather`` and ``iter_batches``, which both have.
        """

    def finalize(self, data: TrainingData) -> None:
        """Called once after the last step, before the bundle is saved (e.g. post-hoc fits)."""

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def adam(self, params: Any, **options: Any) -> torch.optim.Adam:
        """Adam at the run's learning rate; on CUDA the fused kernel (one launch per step, not one per tensor)."""
        return torch.optim.Adam(params, lr=self.lr, fused=self.device.type == "cuda" or None, **options)

    def trained_modules(self) -> dict[str, torch.nn.Module]:
        """The networks :meth:`training_step` calls, by name, as ``self.nets[name]``.

        Under torchrun each is wrapped in DDP, which averages its gradients across the
        processes in ``backward``; a network must therefore be called through ``self.nets``
        whenever its gradients should count (a frozen network may be called directly).
        """
        return {"model": self.model}

    def training_step(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update from a batch (images in [0, 1]); returns detached scalar losses."""
        raise NotImplementedError

    def save_progress_images(self, name: str) -> None:
        """Write ``samples/<name>`` (a PNG) showing the model now; called every ``sample_every`` epochs.

        The default draws a labelled sample grid (rows = classes) from a fixed seed, so
        grids of successive epochs are comparable.
        """
        save_generator_grid(
            cast(GeneratorProtocol, self.model),  # the default is for generators; anything else is refused there
            self.out_dir / "samples" / name,
            per_class=self.config.samples_per_class,
            seed=self.config.seed,
            title=f"{self.model.model_type} {name[:-4]}",
        )

    # -- engine ------------------------------------------------------------------------
    def training_data(self, data: Any) -> TrainingData:
        """``data`` as :meth:`fit` trains on it (see :func:`~synthaug.data.streaming.training_data`).

        A ``LabelledImages`` is used as it is; any other map-style dataset of ``(image,
        label)`` items has its images brought to the model's shape and is decoded into
        memory when that takes at most ``config.in_memory_limit_mb``, else streamed by
        ``config.num_workers`` DataLoader workers.
        """
        return training_data(
            data,
            self.model.image_shape,
            in_memory_limit_mb=self.config.in_memory_limit_mb,
            num_workers=self.config.num_workers,
            progress=self.config.progress and self.dist.is_main,
        )

    def check_data(self, data: TrainingData) -> None:
        """Fail before any training if the data cannot fit this model."""
        if not isinstance(data, (LabelledImages, StreamedImages)):
            raise TypeError(
                f"data must be a LabelledImages or a map-style Dataset of (image, label) items, got {type(data).__name__}"
            )
        if len(data) == 0:
            raise ValueError("data is empty")
        if tuple(data.image_shape) != self.model.image_shape:
            raise ValueError(
                f"data images have shape {tuple(data.image_shape)} but the model makes {self.model.image_shape}; "
                "build the model with matching channels/image_size"
            )
        # Streamed images are checked (type, range) one by one as they are decoded.
        if isinstance(data, LabelledImages):
            if not torch.isfinite(data.images).all():
                raise ValueError("data images contain NaN or infinite values")
            low, high = float(data.images.min()), float(data.images.max())
            if low < 0 or high > 1:
                raise ValueError(f"data images must be floats in [0, 1], got values in [{low:.3g}, {high:.3g}]")
        if not self.uses_labels:
            return
        labels = data.labels
        # A trainer that reads labels trains a class-conditional model.
        num_classes = cast(GeneratorProtocol, self.model).num_classes
        if labels.dtype != torch.int64 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise ValueError(
                f"data labels must be int64 in [0, {num_classes - 1}], got {labels.dtype} in [{int(labels.min())}, {int(labels.max())}]"
            )

    def pool_images(self, unlabelled: Any) -> torch.Tensor:
        """An unlabelled pool's images, checked as :meth:`check_data` checks training images (shape, range)."""
        pool = unlabelled_images(unlabelled)
        self.check_data(LabelledImages(pool, torch.zeros(len(pool), dtype=torch.int64)))
        return pool

    def with_unlabelled(self, data: TrainingData, unlabelled: Any) -> TrainingData:
        """``data`` plus what this trainer learns from an unlabelled pool (see :meth:`fit`).

        Deterministic for a seed, so a resumed run rebuilds the same training set. Needs
        ``data`` in memory (a streamed training set raises ``ValueError``).
        """
        data = self._in_memory(data, "unlabelled=")
        pool = self.pool_images(unlabelled)
        if not self.uses_labels:
            return LabelledImages(
                torch.cat([data.images, pool]), torch.cat([data.labels, data.labels.new_zeros(len(pool))])
            )
        num_classes = cast(GeneratorProtocol, self.model).num_classes
        labeller = train_labeller(
            data, num_classes, steps=self.config.pseudo_label_steps, seed=self.config.seed, device=str(self.device)
        )
        self.pseudo_labels = pseudo_label(labeller, pool, self.config.pseudo_label_threshold)
        summary = self.pseudo_labels.summary(num_classes, getattr(self.model, "class_names", None))
        logger.info(
            "unlabelled pool: kept %d of %d images (confidence >= %s)",
            summary["kept"],
            summary["pool"],
            summary["threshold"],
        )
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out_dir / PSEUDO_LABELS_NAME, json.dumps(summary, indent=2) + "\n")
        kept = self.pseudo_labels.data
        return LabelledImages(torch.cat([data.images, kept.images]), torch.cat([data.labels, kept.labels]))

    def _in_memory(self, data: TrainingData, what: str) -> LabelledImages:
        if isinstance(data, LabelledImages):
            return data
        raise ValueError(
            f"{what} needs the training images in memory, but {len(data)} images of {list(data.image_shape)} are "
            f"streamed (more than in_memory_limit_mb={self.config.in_memory_limit_mb:g} MB decoded); "
            "raise in_memory_limit_mb or train on fewer images"
        )

    def _batch_size(self, num_items: int) -> int:
        """This process's batch size: the global batch split across processes, at most its share of the data."""
        return min(self.dist.local_batch_size(self.config.batch_size), num_items // self.dist.world_size)

    def _steps_per_epoch(self, num_items: int) -> int:
        # Drop the ragged tail: BatchNorm misbehaves on tiny batches; the next epoch's
        # permutation covers those items.
        return (num_items // self.dist.world_size) // self._batch_size(num_items)

    def total_steps(self, num_items: int) -> int:
        """The optimiser steps a run on ``num_items`` training images takes.

        ``steps``; or ``epochs`` full epochs; or, given neither, ``DEFAULT_EPOCHS`` epochs
        but at least ``min_default_steps``.
        """
        if self.config.steps is not None:
            return self.config.steps
        if self.config.epochs is not None:
            return self._steps_per_epoch(num_items) * self.config.epochs
        return max(self.min_default_steps, self._steps_per_epoch(num_items) * DEFAULT_EPOCHS)

    def _batches(self, labels: torch.Tensor, epoch: int = 1) -> list[torch.Tensor]:
        """One epoch of index batches for this process.

        Plain: a permutation of the data. ``class_balanced``: every class equally likely
        per draw (with replacement), so rare classes are seen as often as common ones.
        Single-process, drawn from the run's generator. Under torchrun every process
        draws the same epoch order from ``(seed, epoch)`` and keeps its shard of it
        (a :class:`~torch.utils.data.DistributedSampler` for the plain case): the
        processes' batches at each step together make one global batch.
        """
        num_items = len(labels)
        size, steps = self._batch_size(num_items), self._steps_per_epoch(num_items)
        world = self.dist.world_size
        if self.config.class_balanced:
            counts = torch.bincount(labels)
            weights = (1.0 / counts.float())[labels]
            shared = (
                torch.Generator(device=weights.device).manual_seed(stream_seed(self.config.seed, epoch))
                if self.dist.enabled
                else self.rng
            )
            order = torch.multinomial(weights, steps * size * world, replacement=True, generator=shared)
            order = order[self.dist.rank :: world]
        elif self.dist.enabled:
            order = self.dist.shard_order(num_items, self.config.seed, epoch).to(self.device)
        else:
            order = torch.randperm(num_items, generator=self.rng, device=self.device)
        return [order[i * size : (i + 1) * size] for i in range(steps)]

    def _training_images(self, images: torch.Tensor) -> torch.Tensor:
        """The training images where batches are cut from: on the device, or in (pinned) host memory.

        See ``TrainingConfig.preload``. On the device, batches cost no copy and no host
        sync; an MNIST-sized set (60,000 x 28 x 28 float32, 188 MB) always fits.
        """
        preload = self.config.preload
        if preload is None:
            preload = self.device.type != "cuda" or images.nbytes <= torch.cuda.mem_get_info(self.device)[0] // 2
        if preload:
            images = images.to(self.device)
            return images.contiguous(memory_format=torch.channels_last) if self.config.use_channels_last else images
        logger.info(
            "training images (%.0f MB) stay in host memory; each batch is copied to %s",
            images.nbytes / 2**20,
            self.device,
        )
        return images.pin_memory() if self.device.type == "cuda" else images

    def _epoch_images(self, data: TrainingData) -> Any:
        """A function from an epoch's index batches to an iterator of their image batches on the device.

        In memory: index lookups into the (preloaded) tensor. Streamed: one DataLoader whose
        workers persist across epochs decodes exactly those batches, so both paths train
        on the same images in the same order.
        """
        if isinstance(data, LabelledImages):
            images = self._training_images(data.images)
            return lambda batches: (self._batch(images, index) for index in batches)
        loader, sampler = data.loader(pin_memory=self.device.type == "cuda")

        def stream(batches: list[torch.Tensor]) -> Any:
            sampler.batches = [index.tolist() for index in batches]
            for batch, _ in loader:
                batch = batch.to(self.device, non_blocking=True)
                yield batch.contiguous(memory_format=torch.channels_last) if self.config.use_channels_last else batch

        return stream

    def _batch(self, images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The images of one batch, on the device (from a host-memory set: gathered, then copied asynchronously)."""
        if images.device == self.device:
            return images[index]
        batch = images[index.cpu()]
        if self.device.type == "cuda":
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        else:
            batch = batch.to(self.device)
        return batch.contiguous(memory_format=torch.channels_last) if self.config.use_channels_last else batch

    # -- the run's config file -----------------------------------------------------------
    def run_config(self) -> RunConfig:
        """What ``training_config.json`` records: model family and config, data source, training config."""
        return RunConfig(
            self.model.model_type, self.config, dict(self.model.config), self.data_source, type(self).__name__
        )

    @property
    def training_config_path(self) -> Path:
        return self.out_dir / TRAINING_CONFIG_NAME

    # -- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def save_checkpoint(self, epoch: int, history: list[dict[str, float]], position: _Position | None = None) -> None:
        """Write everything needed to continue after ``epoch`` finished epochs (and ``position``'s steps into the next), atomically."""
        position = position or _Position(epoch)
        state = {
            "format_version": CHECKPOINT_FORMAT_VERSION,
            "synthaug_version": __version__,
            "trainer": type(self).__name__,
            "epoch": epoch,
            "step": self.global_step,
            "model": self.model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "rng": self.rng.get_state(),
            "history": history,
        }
        if position.seconds is not None:
            state["seconds"] = position.seconds
        if position.epoch_step:
            state.update(epoch_step=position.epoch_step, log_sums=dict(position.log_sums), log_count=position.log_count)
            if position.epoch_rng is not None:
                state["epoch_rng"] = position.epoch_rng
        with atomic_file(self.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self) -> tuple[int, list[dict[str, float]]]:
        """Restore model, optimisers, step and RNG; returns (last finished epoch, history).

        A checkpoint written in the middle of an epoch also restores how far into the next
        epoch the run got, which ``fit(resume=True)`` continues from.
        """
        path = self.checkpoint_path
        try:
            # weights_only: a checkpoint is data; never let it run code on load.
            state = torch.load(path, map_location=self.device, weights_only=True)
        except pickle.UnpicklingError as e:
            # Not torch's message: it suggests weights_only=False, exactly what must never happen here.
            named = re.search(r"GLOBAL ([\w.]+)", str(e))
            operand = re.search(r"Unsupported operand \d+", str(e))
            what = f" (it names {named.group(1)})" if named else f" ({operand.group(0)})" if operand else ""
            raise ValueError(
                f"{path}: cannot read checkpoint: it holds pickled objects, which could run code and are "
                f"never loaded{what}"
            ) from e
        except Exception as e:
            detail = "the file is empty" if path.is_file() and path.stat().st_size == 0 else _one_line(str(e))
            raise ValueError(f"{path}: cannot read checkpoint ({type(e).__name__}: {detail})") from e
        if not isinstance(state, dict):
            raise ValueError(f"{path}: not a synthaug checkpoint: it holds a {type(state).__name__}, not a dict")
        if state.get("trainer") != type(self).__name__:
            raise ValueError(f"{path}: checkpoint was written by {state.get('trainer')!r}, not {type(self).__name__}")
        self._check_checkpoint(state)
        try:
            self.model.load_state_dict(state["model"])
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
            # A generator's state is a CPU byte tensor, also for a CUDA generator.
            self.rng.set_state(state["rng"].cpu())
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            detail = f"no entry {e}" if isinstance(e, KeyError) else _one_line(str(e))
            raise ValueError(f"{path}: checkpoint does not fit this model/optimiser configuration ({detail})") from e
        self.global_step = state["step"]
        epoch_rng = state.get("epoch_rng")
        self._resumed = _Position(
            state["epoch"],
            state.get("epoch_step", 0),
            None if epoch_rng is None else epoch_rng.cpu(),
            {k: v.to(self.device) for k, v in state.get("log_sums", {}).items()},
            state.get("log_count", 0),
            state.get("seconds"),
        )
        return state["epoch"], list(state["history"])

    def _check_checkpoint(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint whose fields have the wrong types, before anything is restored."""
        path = self.checkpoint_path

        def count(key: str, default: int | None = None) -> int:
            value: Any = state.get(key, default)
            if not is_int(value) or value < 0:
                raise ValueError(f"{path}: checkpoint key {key!r} must be an int >= 0, got {value!r}")
            return value

        version = count("format_version")
        check_format_version(
            version,
            CHECKPOINT_FORMAT_VERSION,
            where=str(path),
            what="checkpoint",
            writer=state.get("synthaug_version"),
            hint="upgrade synthaug, or train without --resume",
        )
        epoch, step = count("epoch"), count("step")
        epoch_step = count("epoch_step", 0)
        count("log_count", 0)
        for key in ("model", "optimizers"):
            if not isinstance(state.get(key), dict):
                raise ValueError(f"{path}: checkpoint key {key!r} must be a dict, got {type(state.get(key)).__name__}")
        for key in ("rng", "epoch_rng"):
            rng = state.get(key)
            if (key == "rng" or rng is not None) and (not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8):
                raise ValueError(f"{path}: checkpoint key {key!r} must be a uint8 tensor (a generator state)")
        sums = state.get("log_sums", {})
        if not isinstance(sums, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in sums.items()
        ):
            raise ValueError(f"{path}: checkpoint key 'log_sums' must be a dict of tensors")
        seconds = state.get("seconds", 0.0)
        if not is_number(seconds) or not 0 <= seconds < math.inf:
            raise ValueError(f"{path}: checkpoint key 'seconds' must be a number >= 0, got {seconds!r}")
        history = state.get("history")
        if not isinstance(history, list) or not all(
            isinstance(r, dict) and all(isinstance(r.get(k), (int, float)) for k in ("step", "epoch", "seconds"))
            for r in history
        ):
            raise ValueError(
                f"{path}: checkpoint key 'history' must be a list of metric records (step, epoch, seconds)"
            )
        steps = [r["step"] for r in history]
        last_epoch = epoch + (1 if epoch_step else 0)  # records of the epoch in progress, if any
        if steps != sorted(set(steps)) or (steps and (steps[-1] > step or history[-1]["epoch"] > last_epoch)):
            raise ValueError(f"{path}: checkpoint history is not increasing or goes past its step {step}")

    def _check_resume_position(self, position: _Position, steps_per_epoch: int, total: int) -> None:
        """Refuse to continue a checkpoint written mid-epoch where the rest of its epoch cannot be reproduced."""
        if not position.epoch_step or self.global_step >= total:
            return  # an epoch boundary, or nothing left to train
        path = self.checkpoint_path
        if (
            position.epoch * steps_per_epoch + position.epoch_step != self.global_step
            or position.epoch_step >= steps_per_epoch
        ):
            raise ValueError(
                f"{path}: checkpoint is {position.epoch_step} steps into epoch {position.epoch + 1} (step "
                f"{self.global_step}), which does not fit {steps_per_epoch} steps per epoch: resume with the data and "
                "batch size the run started with"
            )
        if position.epoch_rng is None or self.dist.enabled:
            raise ValueError(
                f"{path}: checkpoint is {position.epoch_step} steps into epoch {position.epoch + 1}; "
                + (
                    "a run under torchrun resumes from the end of an epoch only"
                    if self.dist.enabled
                    else "it was written under torchrun, which keeps no single-process batch order: resume it under "
                    "torchrun with the same number of processes"
                )
            )

    # -- the loop ----------------------------------------------------------------------
    def fit(self, data: Any, resume: bool = False, unlabelled: Any = None) -> TrainResult:
        """Train for ``config.epochs`` epochs (or ``config.steps`` steps) on ``data`` and write the run directory.

        ``data``: a :class:`~synthaug.data.real.LabelledImages` (float images in [0, 1]
        of the model's shape), or any map-style ``Dataset`` of ``(image, label)`` items
        (PIL images, tensors or arrays of any size, e.g. a torchvision ``ImageFolder``):
        its images are brought to the model's shape (short side resized, centre crop,
        grayscale/RGB converted) and its labels read from ``targets`` where it has them.
        Such a dataset is decoded into memory once when its decoded size is at most
        ``config.in_memory_limit_mb`` (default 2048 MiB), else streamed through a
        DataLoader with ``config.num_workers`` workers; the two give the same run.

        ``unlabelled``: a pool of images without labels to learn from as well (an image
        tensor ``[N, C, H, W]``, a ``LabelledImages`` whose labels are ignored, or a dataset
        of ``(image, label)`` items). A trainer that reads labels pseudo-labels it first
        (:mod:`synthaug.training.pseudo_labels`: a SmallCNN trained on ``data`` for
        ``config.pseudo_label_steps`` steps; only labels of confidence at least
        ``config.pseudo_label_threshold`` are kept, recorded in ``pseudo_labels.json``) and
        trains on ``data`` plus the kept images; the denoiser trains on every image. Epochs
        then count the combined set.

        ``training_config.json`` is written before the first step. A checkpoint (model,
        optimisers, step, RNG state, metric history and, in the middle of an epoch, the
        position in it) is written atomically on the ``checkpoint_every`` interval and
        after the last step. ``resume=True`` continues from it, so a seeded run that was
        interrupted ends in the same state as one that was not. A non-finite loss stops
        training with :class:`TrainingDiverged`, leaving the last good checkpoint.

        Under ``torchrun`` every process calls ``fit`` on the same data; see
        :mod:`synthaug.training.distributed`. Rank 0 writes every file.
        """
        data = self.training_data(data)
        self.check_data(data)
        if unlabelled is not None:
            data = self.with_unlabelled(data, unlabelled)
        self.prepare(data)
        self.dist.start(self.device)
        try:
            result = self._fit(data, resume)
        except BaseException:
            self.dist.abort()
            raise
        finally:
            self.nets = dict(self._trained)  # the DDP wrappers do not outlive the process group
            self._run_log.close()
            self._run_log = RunLogger()
        self.dist.stop()
        return result

    def _fit(self, data: TrainingData, resume: bool) -> TrainResult:
        main = self.dist.is_main
        self.nets = {name: self.dist.wrap(net) for name, net in self._trained.items()}
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        epoch_images, labels = self._epoch_images(data), data.labels.to(self.device)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.use_bf16)
        steps_per_epoch = self._steps_per_epoch(len(data))
        total = self.total_steps(len(data))
        last_epoch = -(-total // steps_per_epoch)
        position = _Position()
        history: list[dict[str, float]] = []
        if resume and self.checkpoint_path.exists() and not self.checkpoint_path.is_file():
            # Starting afresh here would overwrite the run the user asked to continue.
            raise ValueError(
                f"{self.checkpoint_path}: not a regular file (a directory?), cannot resume from it; "
                "move it away or train without --resume"
            )
        if resume and self.checkpoint_path.is_file():
            _, history = self.load_checkpoint()
            position = self._resumed
            self._check_resume_position(position, steps_per_epoch, total)
            where = (
                f"{position.epoch_step} steps into epoch {position.epoch + 1}"
                if position.epoch_step
                else f"after epoch {position.epoch}"
            )
            logger.info("resuming %s %s (step %d)", self.model.model_type, where, self.global_step)
        elif resume:
            logger.warning("no checkpoint at %s: starting from scratch", self.checkpoint_path)
        else:
            self.global_step = 0
        if main:
            # The log is rewritten from the checkpoint's history, so steps logged after it
            # (by the interrupted run) are not duplicated.
            write_text_atomic(self.out_dir / METRICS_NAME, "".join(json.dumps(r) + "\n" for r in history))
            write_text_atomic(self.training_config_path, self.run_config().to_json())
            # From the step the run starts at, as metrics.jsonl: events an interrupted run
            # logged after its checkpoint are hidden. fit closes it, also on failure.
            self._run_log = open_run_logger(self.config.logger, self.out_dir, self.global_step)
        offset = position.seconds if position.seconds is not None else history[-1]["seconds"] if history else 0.0
        start = time.perf_counter()
        # Only rank 0 writes checkpoints, on its own clock; under torchrun only at epoch ends,
        # where every process's state follows from the seed.
        clock = _CheckpointClock(
            self.config.checkpoint_every, self.global_step, start, epoch_ends_only=self.dist.enabled
        )
        self.model.train()
        log_path = self.out_dir / METRICS_NAME if main else os.devnull
        with (
            open(log_path, "a", encoding="utf-8") as log,
            tqdm(
                total=total,
                initial=self.global_step,
                desc=f"train {self.model.model_type}",
                unit="step",
                disable=not (self.config.progress and main),
                leave=False,
            ) as bar,
        ):
            for epoch in range(position.epoch + 1, last_epoch + 1):
                if self.dist.enabled:
                    # Each process its own noise, fixed by (seed, rank, epoch): a resumed
                    # run continues the same draws without storing every rank's RNG state.
                    self.rng.manual_seed(stream_seed(self.config.seed, self.dist.rank, epoch))
                first = 0
                sums: dict[str, torch.Tensor] = {}
                count = 0
                if epoch == position.epoch + 1 and position.epoch_step:
                    # Continuing mid-epoch: the same order again, from the state it was drawn from.
                    now_rng = self.rng.get_state()
                    if position.epoch_rng is not None:
                        self.rng.set_state(position.epoch_rng)
                    epoch_rng = position.epoch_rng
                    batches = self._batches(labels, epoch)
                    self.rng.set_state(now_rng)
                    first, sums, count = position.epoch_step, dict(position.log_sums), position.log_count
                else:
                    epoch_rng = None if self.dist.enabled else self.rng.get_state()
                    batches = self._batches(labels, epoch)
                end = min(len(batches), total - (epoch - 1) * steps_per_epoch)  # the run may end mid-epoch
                for images, step_in_epoch in zip(
                    epoch_images(batches[first:end]), range(first + 1, end + 1), strict=True
                ):
                    index = batches[step_in_epoch - 1]
                    with autocast:
                        losses = self.training_step(images, labels[index])
                    for key, value in losses.items():
                        sums[key] = sums.get(key, 0.0) + value
                    count += 1
                    self.global_step += 1
                    bar.update(1)
                    if self.global_step % self.config.log_every == 0 or step_in_epoch == end:
                        # .item() only here: one host sync per log interval, not per step.
                        record = {
                            "step": self.global_step,
                            "epoch": epoch,
                            "seconds": round(offset + time.perf_counter() - start, 3),
                        }
                        # Under torchrun: the mean over processes, i.e. over the global batch.
                        record.update({k: round(float(v) / count, 5) for k, v in self.dist.mean(sums).items()})
                        self._check_finite(record)
                        history.append(record)
                        log.write(json.dumps(record) + "\n")
                        log.flush()
                        self._run_log.log_metrics(record)
                        bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k.startswith("loss")})
                        sums, count = {}, 0
                    if not main:
                        continue
                    epoch_end = step_in_epoch == len(batches)
                    # The grid before the checkpoint: a run killed in between repeats the epoch's
                    # last steps and writes its grid again, so no epoch's grid goes missing.
                    if step_in_epoch == end and self.config.sample_every and epoch % self.config.sample_every == 0:
                        self._progress_images(f"epoch_{epoch:03d}.png")
                    now = time.perf_counter()
                    if self.global_step == total or clock.due(self.global_step, epoch_end, now):
                        done = (
                            _Position(epoch, seconds=round(offset + now - start, 3))
                            if epoch_end
                            else _Position(
                                epoch - 1, step_in_epoch, epoch_rng, sums, count, round(offset + now - start, 3)
                            )
                        )
                        self.save_checkpoint(done.epoch, history, done)
                        clock.written(self.global_step, now, time.perf_counter())
        seconds = offset + time.perf_counter() - start
        self.model.eval()
        if main:
            if not self.config.sample_every:
                self._progress_images(f"epoch_{last_epoch:03d}.png")
            self._picture(
                lambda: save_loss_curves(
                    history, self.out_dir / "loss_curves.png", title=f"{self.model.model_type} training"
                )
            )
        self.finalize(data)  # every process: their models stay identical
        if not main:
            return TrainResult(self.out_dir, self.global_step, seconds, history)
        self.model.save_pretrained(self.out_dir)
        logger.info(
            "trained %s for %d steps in %.1fs; bundle at %s",
            self.model.model_type,
            self.global_step,
            seconds,
            self.out_dir,
        )
        return TrainResult(self.out_dir, self.global_step, seconds, history)

    def _progress_images(self, name: str) -> None:
        """:meth:`save_progress_images`, then the grid to the run's logger (TensorBoard)."""
        if self._picture(lambda: self.save_progress_images(name)):
            path = self.out_dir / "samples" / name
            if path.is_file():
                self._run_log.log_image("samples", path, self.global_step)

    def _picture(self, draw: Callable[[], object]) -> bool:
        """Run ``draw`` (a sample grid, the loss curves): without matplotlib, warn once and go on without it.

        Returns whether it ran. The pictures need the ``plots`` extra; training does not.
        """
        if self._plots_missing:
            return False
        try:
            draw()
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] != "matplotlib":
                raise
            self._plots_missing = True
            logger.warning("%s; training goes on without sample grids and loss curves", error)
            return False
        return True

    def _check_finite(self, record: dict[str, float]) -> None:
        bad = {k: v for k, v in record.items() if k.startswith("loss") and not math.isfinite(v)}
        if bad:
            last = (
                f"the last good checkpoint is {self.checkpoint_path}"
                if self.checkpoint_path.is_file()
                else "no checkpoint was written yet"
            )
            raise TrainingDiverged(
                f"training diverged at step {record['step']} (epoch {record['epoch']}): {bad}; {last}. "
                "Lower the learning rate (--lr) or check the data for NaN/inf values."
            )
