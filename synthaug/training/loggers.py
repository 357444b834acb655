"""Where a training run reports besides ``metrics.jsonl``: nowhere (``"none"``) or TensorBoard.

A :class:`RunLogger` receives every record the trainer writes to ``metrics.jsonl`` and every
sample grid it saves; :func:`open_run_logger` picks one by the config's ``logger`` name.
The trainer opens it on the main process only and closes it when ``fit`` ends, also when
it fails. TensorBoard is an optional dependency (``pip install "synthaug[tensorboard]"``):
:func:`require_logger` checks for it before any work, so a run does not fail after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthaug.utils.optional import require
from synthaug.validation import check_choice

__all__ = ["LOGGERS", "TENSORBOARD_DIR", "RunLogger", "TensorBoardLogger", "open_run_logger", "require_logger"]

LOGGERS = ("none", "tensorboard")
"""The names ``TrainingConfig.logger`` (and ``synthaug train --logger``) accepts."""

TENSORBOARD_DIR = "tensorboard"
"""The event files' folder inside the run directory (``tensorboard --logdir RUN/tensorboard``)."""

_FEATURE = "logger='tensorboard' (synthaug train --logger tensorboard)"


def require_logger(name: str) -> None:
    """Import what the logger ``name`` needs now, before training starts.

    Args:
        name: one of :data:`LOGGERS`.

    Raises:
        ModuleNotFoundError: the logger's optional dependency is not installed; the message
            gives the pip command.
    """
    if name == "tensorboard":
        require("tensorboard", _FEATURE)


class RunLogger:
    """A logger that drops everything: ``logger="none"``, and the base of the others."""

    def log_metrics(self, record: Mapping[str, float]) -> None:
        """Record one line of ``metrics.jsonl`` (a dict with ``step`` and the values logged at it)."""

    def log_image(self, tag: str, path: Path, step: int) -> None:
        """Record the PNG at ``path`` (a sample grid the trainer just saved) under ``tag`` at ``step``."""

    def close(self) -> None:
        """Write out what is pending and release the files; calling it again does nothing."""

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TensorBoardLogger(RunLogger):
    """Scalars and sample grids as TensorBoard event files, through ``torch.utils.tensorboard``.

    Every value of a ``metrics.jsonl`` record but its ``step`` becomes a scalar of the same
    name (``loss_d``, ``loss_g``, ``epoch``, ``seconds``, ...) at that step; sample grids
    are images under ``samples``.

    Args:
        log_dir: the folder for the event files (created when missing).
        purge_step: events of an earlier run in ``log_dir`` at this step or later are
            hidden (``None``: none are); see :func:`open_run_logger`.
    """

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        require_logger("tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self._writer: Any = SummaryWriter(str(self.log_dir), purge_step=purge_step)

    def log_metrics(self, record: Mapping[str, float]) -> None:
        step = int(record["step"])
        for key, value in record.items():
            if key != "step":
                self._writer.add_scalar(key, value, step)

    def log_image(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self._writer.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"TensorBoardLogger(log_dir={str(self.log_dir)!r})"


def open_run_logger(name: str, run_dir: str | Path, start_step: int = 0) -> RunLogger:
    """The logger called ``name`` for a run in ``run_dir``, starting at ``start_step``.

    Args:
        name: one of :data:`LOGGERS`.
        run_dir: the run directory; TensorBoard writes into its :data:`TENSORBOARD_DIR` folder.
        start_step: the optimiser steps already done (a resumed run's checkpoint step).
            What an earlier run logged after it is hidden, as ``metrics.jsonl`` is cut back
            to the checkpoint's history: a resumed run shows each step once, a fresh run
            (0) none of an old run's.

    Returns:
        A :class:`RunLogger`; close it (or use it in a ``with`` block) when training ends.
    """
    check_choice("logger", name, LOGGERS)
    if name == "tensorboard":
        return TensorBoardLogger(Path(run_dir) / TENSORBOARD_DIR, purge_step=start_step + 1)
    return RunLogger()
