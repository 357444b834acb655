"""The shared training engine: batching, seeding, logging, sample grids, loss curves, bundle.

A family-specific trainer subclasses :class:`Trainer` and fills in two hooks:
``configure_optimizers`` and ``training_step`` (and may override ``prepare`` and
``save_progress_images``). The engine owns everything else, so every family logs, plots
and saves the same way.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pickle
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from tqdm.auto import tqdm

from synthaug._version import __version__
from synthaug.data.real import LabelledImages
from synthaug.generators.base import ConditionalGenerator, ConfigurableModule
from synthaug.training.distributed import DistributedRun
from synthaug.utils.atomic import atomic_file, write_text_atomic
from synthaug.utils.devices import check_device
from synthaug.utils.seeding import stream_seed
from synthaug.viz import save_generator_grid, save_loss_curves

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT_VERSION = 1


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` (often a multi-line message from torch) as one line of at most ``limit`` characters."""
    line = "; ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run directory keeps the last good checkpoint."""


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
"""``torch.compile`` modes the ``compile`` option accepts."""


@dataclass
class TrainingConfig:
    """Knobs shared by every trainer. ``lr=None`` picks the family's default."""

    epochs: int = 20
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

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "log_every", "samples_per_class"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.class_balanced, bool):
            raise TypeError(f"class_balanced must be a bool, got {self.class_balanced!r}")
        if isinstance(self.sample_every, bool) or not isinstance(self.sample_every, int) or self.sample_every < 0:
            raise ValueError(f"sample_every must be an int >= 0 (0: only at the end), got {self.sample_every!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1):
            raise ValueError(f"lr must be a float in (0, 1), got {self.lr!r}")
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        check_device("device", self.device)
        if self.amp not in ("auto", "bf16", "off"):
            raise ValueError(f"amp must be 'auto', 'bf16' or 'off', got {self.amp!r}")
        if self.channels_last is not None and not isinstance(self.channels_last, bool):
            raise TypeError(f"channels_last must be a bool or None (auto), got {self.channels_last!r}")
        if self.preload is not None and not isinstance(self.preload, bool):
            raise TypeError(f"preload must be a bool or None (auto), got {type(self.preload).__name__} {self.preload!r}")
        if not isinstance(self.compile, (bool, str)):
            raise TypeError(f"compile must be a bool or a torch.compile mode, got {type(self.compile).__name__} {self.compile!r}")
        if isinstance(self.compile, str) and self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be True, False or one of {', '.join(map(repr, COMPILE_MODES))}, got {self.compile!r}")

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
    """Base trainer. Subclasses set ``model_class``/``default_lr`` and implement the hooks.

    Args:
        model: the model to train (trained in place): a generator, or another bundled
            model such as :class:`~synthaug.DenoisingAutoencoder`.
        out_dir: run directory; receives the bundle (``config.json`` + ``model.safetensors``),
            ``metrics.jsonl``, ``samples/epoch_NNN.png`` and ``loss_curves.png``.
        config: a :class:`TrainingConfig`; keyword overrides are applied on top.
    """

    model_class: ClassVar[type[ConfigurableModule]] = ConditionalGenerator
    default_lr: ClassVar[float] = 1e-3
    # Whether training_step reads the labels; when not (the denoiser), check_data does not
    # hold them against a num_classes the model does not have.
    uses_labels: ClassVar[bool] = True

    def __init__(self, model: ConfigurableModule, out_dir: str | Path, config: TrainingConfig | None = None, **overrides: Any):
        if not isinstance(model, self.model_class):
            raise TypeError(f"{type(self).__name__} trains a {self.model_class.__name__}, got {type(model).__name__}")
        self.config = TrainingConfig(**{**asdict(config or TrainingConfig()), **overrides})
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
    def prepare(self, data: LabelledImages) -> None:
        """Called once before the first step, after the data passed :meth:`check_data`."""

    def finalize(self, data: LabelledImages) -> None:
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
        save_generator_grid(self.model, self.out_dir / "samples" / name, per_class=self.config.samples_per_class,
                            seed=self.config.seed, title=f"{self.model.model_type} {name[:-4]}")

    # -- engine ------------------------------------------------------------------------
    def check_data(self, data: LabelledImages) -> None:
        """Fail before any training if the data cannot fit this model."""
        if not isinstance(data, LabelledImages):
            raise TypeError(f"data must be a LabelledImages (images + labels), got {type(data).__name__}")
        if len(data) == 0:
            raise ValueError("data is empty")
        if tuple(data.images.shape[1:]) != self.model.image_shape:
            raise ValueError(
                f"data images have shape {tuple(data.images.shape[1:])} but the model makes {self.model.image_shape}; "
                "build the model with matching channels/image_size"
            )
        if not torch.isfinite(data.images).all():
            raise ValueError("data images contain NaN or infinite values")
        low, high = float(data.images.min()), float(data.images.max())
        if low < 0 or high > 1:
            raise ValueError(f"data images must be floats in [0, 1], got values in [{low:.3g}, {high:.3g}]")
        if not self.uses_labels:
            return
        labels = data.labels
        if labels.dtype != torch.int64 or int(labels.min()) < 0 or int(labels.max()) >= self.model.num_classes:
            raise ValueError(f"data labels must be int64 in [0, {self.model.num_classes - 1}], got {labels.dtype} in [{int(labels.min())}, {int(labels.max())}]")

    def _batch_size(self, num_items: int) -> int:
        """This process's batch size: the global batch split across processes, at most its share of the data."""
        return min(self.dist.local_batch_size(self.config.batch_size), num_items // self.dist.world_size)

    def _steps_per_epoch(self, num_items: int) -> int:
        # Drop the ragged tail: BatchNorm misbehaves on tiny batches; the next epoch's
        # permutation covers those items.
        return (num_items // self.dist.world_size) // self._batch_size(num_items)

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
            shared = torch.Generator(device=weights.device).manual_seed(stream_seed(self.config.seed, epoch)) \
                if self.dist.enabled else self.rng
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
        logger.info("training images (%.0f MB) stay in host memory; each batch is copied to %s",
                    images.nbytes / 2**20, self.device)
        return images.pin_memory() if self.device.type == "cuda" else images

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

    # -- checkpoints -------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / CHECKPOINT_NAME

    def save_checkpoint(self, epoch: int, history: list[dict[str, float]]) -> None:
        """Write everything needed to continue after ``epoch``, atomically."""
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
        with atomic_file(self.checkpoint_path) as tmp:
            torch.save(state, tmp)

    def load_checkpoint(self) -> tuple[int, list[dict[str, float]]]:
        """Restore model, optimisers, step and RNG; returns (last finished epoch, history)."""
        path = self.checkpoint_path
        try:
            # weights_only: a checkpoint is data; never let it run code on load.
            state = torch.load(path, map_location=self.device, weights_only=True)
        except pickle.UnpicklingError as e:
            # Not torch's message: it suggests weights_only=False, exactly what must never happen here.
            named = re.search(r"GLOBAL ([\w.]+)", str(e))
            operand = re.search(r"Unsupported operand \d+", str(e))
            what = f" (it names {named.group(1)})" if named else f" ({operand.group(0)})" if operand else ""
            raise ValueError(f"{path}: cannot read checkpoint: it holds pickled objects, which could run code and are "
                             f"never loaded{what}") from e
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
            self.rng.set_state(state["rng"].cpu() if self.device.type == "cpu" else state["rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            detail = f"no entry {e}" if isinstance(e, KeyError) else _one_line(str(e))
            raise ValueError(f"{path}: checkpoint does not fit this model/optimiser configuration ({detail})") from e
        self.global_step = state["step"]
        return state["epoch"], list(state["history"])

    def _check_checkpoint(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint whose fields have the wrong types, before anything is restored."""
        path = self.checkpoint_path

        def count(key: str) -> int:
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{path}: checkpoint key {key!r} must be an int >= 0, got {value!r}")
            return value

        version = count("format_version")
        if version > CHECKPOINT_FORMAT_VERSION:
            writer = state.get("synthaug_version")
            needed = f"synthaug>={writer}" if isinstance(writer, str) else "a newer synthaug"
            raise ValueError(f"{path}: checkpoint format_version {version} needs {needed}; this synthaug {__version__} "
                             f"reads up to {CHECKPOINT_FORMAT_VERSION}: upgrade synthaug, or train without --resume")
        epoch, step = count("epoch"), count("step")
        for key in ("model", "optimizers"):
            if not isinstance(state.get(key), dict):
                raise ValueError(f"{path}: checkpoint key {key!r} must be a dict, got {type(state.get(key)).__name__}")
        rng = state.get("rng")
        if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8:
            raise ValueError(f"{path}: checkpoint key 'rng' must be a uint8 tensor (a generator state)")
        history = state.get("history")
        if not isinstance(history, list) or not all(
            isinstance(r, dict) and all(isinstance(r.get(k), (int, float)) for k in ("step", "epoch", "seconds"))
            for r in history
        ):
            raise ValueError(f"{path}: checkpoint key 'history' must be a list of metric records (step, epoch, seconds)")
        steps = [r["step"] for r in history]
        if steps != sorted(set(steps)) or (steps and (steps[-1] > step or history[-1]["epoch"] > epoch)):
            raise ValueError(f"{path}: checkpoint history is not increasing or goes past its step {step}")

    # -- the loop ----------------------------------------------------------------------
    def fit(self, data: LabelledImages, resume: bool = False) -> TrainResult:
        """Train for ``config.epochs`` epochs on ``data`` and write the run directory.

        A checkpoint (model, optimisers, step, RNG state, metric history) is written
        atomically after every epoch. ``resume=True`` continues from it, so a seeded run
        that was interrupted ends in the same state as one that was not. A non-finite
        loss stops training with :class:`TrainingDiverged`, leaving the last good checkpoint.

        Under ``torchrun`` every process calls ``fit`` on the same data; see
        :mod:`synthaug.training.distributed`. Rank 0 writes every file.
        """
        self.check_data(data)
        self.prepare(data)
        self.dist.start(self.device)
        try:
            result = self._fit(data, resume)
        except BaseException:
            self.dist.abort()
            raise
        finally:
            self.nets = dict(self._trained)  # the DDP wrappers do not outlive the process group
        self.dist.stop()
        return result

    def _fit(self, data: LabelledImages, resume: bool) -> TrainResult:
        main = self.dist.is_main
        self.nets = {name: self.dist.wrap(net) for name, net in self._trained.items()}
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        images, labels = self._training_images(data.images), data.labels.to(self.device)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.use_bf16)
        steps_per_epoch = self._steps_per_epoch(len(data))
        total = steps_per_epoch * self.config.epochs
        first_epoch, history = 1, []
        if resume and self.checkpoint_path.exists() and not self.checkpoint_path.is_file():
            # Starting afresh here would overwrite the run the user asked to continue.
            raise ValueError(f"{self.checkpoint_path}: not a regular file (a directory?), cannot resume from it; "
                             "move it away or train without --resume")
        if resume and self.checkpoint_path.is_file():
            done, history = self.load_checkpoint()
            first_epoch = done + 1
            logger.info("resuming %s after epoch %d (step %d)", self.model.model_type, done, self.global_step)
        elif resume:
            logger.warning("no checkpoint at %s: starting from scratch", self.checkpoint_path)
        else:
            self.global_step = 0
        if main:
            # The log is rewritten from the checkpoint's history, so steps logged after it
            # (by the interrupted run) are not duplicated.
            write_text_atomic(self.out_dir / METRICS_NAME, "".join(json.dumps(r) + "\n" for r in history))
        offset = history[-1]["seconds"] if history else 0.0
        start = time.perf_counter()
        self.model.train()
        log_path = self.out_dir / METRICS_NAME if main else os.devnull
        with open(log_path, "a", encoding="utf-8") as log, tqdm(
            total=total, initial=self.global_step, desc=f"train {self.model.model_type}", unit="step",
            disable=not (self.config.progress and main), leave=False,
        ) as bar:
            for epoch in range(first_epoch, self.config.epochs + 1):
                sums: dict[str, torch.Tensor] = {}
                count = 0
                if self.dist.enabled:
                    # Each process its own noise, fixed by (seed, rank, epoch): a resumed
                    # run continues the same draws without storing every rank's RNG state.
                    self.rng.manual_seed(stream_seed(self.config.seed, self.dist.rank, epoch))
                batches = self._batches(labels, epoch)
                for position, index in enumerate(batches, 1):
                    with autocast:
                        losses = self.training_step(self._batch(images, index), labels[index])
                    for key, value in losses.items():
                        sums[key] = sums.get(key, 0.0) + value
                    count += 1
                    self.global_step += 1
                    bar.update(1)
                    if self.global_step % self.config.log_every == 0 or position == len(batches):
                        # .item() only here: one host sync per log interval, not per step.
                        record = {"step": self.global_step, "epoch": epoch,
                                  "seconds": round(offset + time.perf_counter() - start, 3)}
                        # Under torchrun: the mean over processes, i.e. over the global batch.
                        record.update({k: round(float(v) / count, 5) for k, v in self.dist.mean(sums).items()})
                        self._check_finite(record)
                        history.append(record)
                        log.write(json.dumps(record) + "\n")
                        log.flush()
                        bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k.startswith("loss")})
                        sums, count = {}, 0
                # The grid before the checkpoint: a run killed in between repeats the epoch and
                # writes its grid again, so no epoch's grid goes missing.
                if main and self.config.sample_every and epoch % self.config.sample_every == 0:
                    self.save_progress_images(f"epoch_{epoch:03d}.png")
                if main:
                    self.save_checkpoint(epoch, history)
        seconds = offset + time.perf_counter() - start
        self.model.eval()
        if main:
            if not self.config.sample_every:
                self.save_progress_images(f"epoch_{self.config.epochs:03d}.png")
            save_loss_curves(history, self.out_dir / "loss_curves.png", title=f"{self.model.model_type} training")
        self.finalize(data)  # every process: their models stay identical
        if not main:
            return TrainResult(self.out_dir, self.global_step, seconds, history)
        self.model.save_pretrained(self.out_dir)
        logger.info("trained %s for %d steps in %.1fs; bundle at %s", self.model.model_type, self.global_step, seconds, self.out_dir)
        return TrainResult(self.out_dir, self.global_step, seconds, history)

    def _check_finite(self, record: dict[str, float]) -> None:
        bad = {k: v for k, v in record.items() if k.startswith("loss") and not math.isfinite(v)}
        if bad:
            last = f"the last good checkpoint is {self.checkpoint_path}" if self.checkpoint_path.is_file() else \
                "no checkpoint was written yet"
            raise TrainingDiverged(
                f"training diverged at step {record['step']} (epoch {record['epoch']}): {bad}; {last}. "
                "Lower the learning rate (--lr) or check the data for NaN/inf values."
            )
