"""The end-to-end demo behind ``synthaug demo``: train, save, reload, sample, compare.

On scikit-learn's embedded digits (16x16 after resizing) it trains a conditional GAN
and a conditional VAE, saves and reloads both bundles through :func:`synthaug.load`,
draws labelled sample grids, and trains the same small classifier for the same number of
steps on real data only and on real + synthetic data. The numbers are whatever they
honestly are: synthetic data often does not help, and the demo shows that too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import platform
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from synthaug._version import __version__
from synthaug.data.real import load_digits_data
from synthaug.data.synthetic import SyntheticDataset
from synthaug.generators.base import ConditionalGenerator
from synthaug.generators.cgan import ConditionalGAN
from synthaug.generators.cvae import ConditionalVAE
from synthaug.io import load
from synthaug.metrics.classifier import accuracy, train_classifier
from synthaug.training.cgan import CGANTrainer
from synthaug.training.cvae import CVAETrainer
from synthaug.utils.atomic import write_text_atomic
from synthaug.utils.seeding import seeded
from synthaug.viz import save_generator_grid

logger = logging.getLogger(__name__)


@dataclass
class DemoSettings:
    """Budgets of the demo; the defaults finish in a few minutes on 2 CPU cores."""

    out_dir: Path = Path("runs/demo")
    image_size: int = 16
    gan_epochs: int = 60
    vae_epochs: int = 60
    gan_width: int = 32
    classifier_steps: int = 1500
    synthetic_ratio: float = 1.0
    per_class: int = 10
    seed: int = 0
    progress: bool = True


@dataclass
class DemoReport:
    """Results of one demo run: accuracies, stage timings and the files written."""

    accuracy: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    train_size: int = 0
    test_size: int = 0
    synthetic_size: int = 0

    def accuracy_table(self) -> str:
        """Markdown table of test accuracy per training set."""
        lines = ["| classifier trained on | test accuracy |", "|---|---|"]
        lines += [f"| {name} | {acc:.1%} |" for name, acc in self.accuracy.items()]
        return "\n".join(lines)

    def seconds_table(self) -> str:
        """Markdown table of seconds per stage, and in total."""
        lines = ["| stage | seconds |", "|---|---|"]
        lines += [f"| {name} | {sec:.1f} |" for name, sec in self.seconds.items()]
        return "\n".join(lines)

    def table(self) -> str:
        """Markdown table of test accuracy per training set, then stage timings."""
        return f"{self.accuracy_table()}\n\n{self.seconds_table()}"


@contextlib.contextmanager
def _timed(report: DemoReport, name: str) -> Iterator[None]:
    logger.info("demo stage: %s", name)
    start = time.perf_counter()
    yield
    report.seconds[name] = round(time.perf_counter() - start, 2)


def _machine() -> dict[str, Any]:
    """What produced the figures, for summary.json: date (UTC), versions and CPU threads."""
    return {
        "date": datetime.now(timezone.utc).date().isoformat(),
        "synthaug": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


def run_demo(settings: DemoSettings | None = None) -> DemoReport:
    """Run the whole demo and write everything under ``settings.out_dir``."""
    s = settings or DemoSettings()
    out = Path(s.out_dir)
    report = DemoReport()
    total_start = time.perf_counter()

    with _timed(report, "load data"):
        data = load_digits_data(s.image_size, seed=s.seed)
    report.train_size, report.test_size = len(data.train), len(data.test)
    shape: dict[str, Any] = dict(
        num_classes=data.num_classes, channels=1, image_size=s.image_size, class_names=data.class_names
    )

    with _timed(report, "train cGAN"):
        with seeded(s.seed):
            gan = ConditionalGAN(width=s.gan_width, **shape)
        CGANTrainer(gan, out / "cgan", epochs=s.gan_epochs, seed=s.seed, progress=s.progress, sample_every=10).fit(
            data.train
        )
    with _timed(report, "train cVAE"):
        with seeded(s.seed):
            vae = ConditionalVAE(**shape)
        CVAETrainer(vae, out / "cvae", epochs=s.vae_epochs, seed=s.seed, progress=s.progress, sample_every=10).fit(
            data.train
        )

    generators: dict[str, ConditionalGenerator] = {}
    with _timed(report, "reload bundles + sample grids"):
        for name in ("cgan", "cvae"):
            loaded = load(out / name)  # through the public loader, as a user would
            assert isinstance(loaded, ConditionalGenerator)  # the cgan and cvae bundles written above
            generators[name] = loaded
            grid = save_generator_grid(
                generators[name],
                out / f"{name}_samples.png",
                per_class=s.per_class,
                seed=s.seed,
                title=f"{name} samples (rows = classes)",
            )
            report.files[f"{name} bundle"] = str(out / name)
            report.files[f"{name} grid"] = str(grid)

    real = data.train.as_dataset()
    budget: dict[str, Any] = dict(
        num_classes=data.num_classes,
        image_shape=data.image_shape,
        steps=s.classifier_steps,
        seed=s.seed,
        progress=s.progress,
    )
    with _timed(report, "classifier: real only"):
        model = train_classifier(real, desc="classifier real", **budget)
        report.accuracy["real only"] = accuracy(model, data.test)
    report.synthetic_size = round(s.synthetic_ratio * len(data.train))
    for name, gen in generators.items():
        with _timed(report, f"classifier: real + {name}"):
            synthetic = SyntheticDataset(gen, num_samples=report.synthetic_size, seed=s.seed, image_type="tensor")
            mixed: torch.utils.data.ConcatDataset[Any] = torch.utils.data.ConcatDataset([real, synthetic])
            model = train_classifier(mixed, desc=f"classifier real+{name}", **budget)
            report.accuracy[f"real + {name} ({report.synthetic_size} synthetic)"] = accuracy(model, data.test)
    report.seconds["total"] = round(time.perf_counter() - total_start, 2)

    summary = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(s).items()},
        **asdict(report),
        "machine": _machine(),
    }
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(out / "summary.md", report.table() + "\n")
    report.files["summary"] = str(out / "summary.md")
    return report
