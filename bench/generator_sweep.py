"""How many steps does a generator need on little data? A step-budget sweep, scored by ``synthaug evaluate``.

Usage (normally through bench/downstream.py, which also plots and reports it):
    .venv/bin/python bench/downstream.py --sweep            # low100: cGAN and cVAE, 1k .. 10k steps
    .venv/bin/python bench/downstream.py --sweep --smoke    # seconds, on the embedded digits

Each family trains once per protocol in one run directory and is *resumed* to each larger
budget (the trainers use a constant learning rate, so the model after 2,500 steps of a
10,000-step run is the model of a 2,500-step run). After each budget the bundle is copied
to OUT/sweep/<protocol>-<family>-<steps> and scored by
:func:`synthaug.metrics.evaluate.evaluate_generator` with the protocol's training images
as its real training split (the evaluator, hence label fidelity, sees only those) and the
Fashion-MNIST test split for the distribution metrics and CAS. The budget the downstream
rows use is chosen by label fidelity alone (never a test-split figure). Every (family,
steps) result is saved as OUT/sweep/<protocol>-<family>-<steps>.json, so a rerun resumes.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import synthaug
from synthaug.data.real import LabelledImages, RealData
from synthaug.metrics.evaluate import evaluate_generator
from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.utils.seeding import seeded

FAMILIES = {"cgan": (synthaug.ConditionalGAN, CGANTrainer), "cvae": (synthaug.ConditionalVAE, CVAETrainer)}


def _new_model(family: str, train: LabelledImages, names: list[str]) -> Any:
    model_class, _ = FAMILIES[family]
    k = int(train.labels.max()) + 1
    with seeded(0):
        return model_class(
            num_classes=k, channels=train.images.shape[1], image_size=train.images.shape[2], class_names=names
        )


def bundle_path(out: Path, protocol: str, family: str, steps: int) -> Path:
    return out / "sweep" / f"{protocol}-{family}-{steps}"


def run_sweep(
    protocol: str,
    train: LabelledImages,
    real: RealData,
    budgets: dict[str, list[int]],
    out: Path,
    classifier_steps: int = 1000,
    num_per_class: int = 200,
) -> list[dict[str, Any]]:
    """Train each family to each budget (resuming), evaluate, save; return every saved result."""
    folder = out / "sweep"
    folder.mkdir(parents=True, exist_ok=True)
    scored_against = RealData(real.name, train, real.test, list(real.class_names))
    results = []
    for family, steps_list in budgets.items():
        run_dir = folder / f"{protocol}-{family}-run"
        trained_seconds = 0.0
        for steps in sorted(steps_list):
            path = folder / f"{protocol}-{family}-{steps}.json"
            if path.exists():
                saved = json.loads(path.read_text())
                trained_seconds = saved["train_seconds"]
                results.append(saved)
                continue
            _, trainer_class = FAMILIES[family]
            trainer = trainer_class(
                _new_model(family, train, real.class_names),
                run_dir,
                steps=steps,
                seed=0,
                progress=False,
                sample_every=0,
            )
            resume = (run_dir / "checkpoint.pt").exists()
            start = time.perf_counter()
            trainer.fit(train, resume=resume)
            trained_seconds += time.perf_counter() - start
            bundle = bundle_path(out, protocol, family, steps)
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.copytree(run_dir, bundle, ignore=shutil.ignore_patterns("checkpoint*", "samples", "*.log"))
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = evaluate_generator(
                    synthaug.load(bundle),
                    scored_against,
                    num_per_class=num_per_class,
                    classifier_steps=classifier_steps,
                    cache_dir=out / "evaluator-cache",
                    progress=False,
                )
            overall = report["overall"]
            result = {
                "protocol": protocol,
                "family": family,
                "steps": steps,
                "images_seen": steps * trainer.config.batch_size,
                "train_seconds": round(trained_seconds, 1),
                "evaluate_seconds": round(time.perf_counter() - start, 1),
                "label_fidelity": round(float(overall["label_fidelity"]), 4),
                "frechet_distance": round(float(overall["frechet_distance"]), 3),
                "cas": round(float(overall["cas"]), 4),
                "real_accuracy": round(float(overall["real_accuracy"]), 4),
                "recall": round(float(overall.get("recall", float("nan"))), 4),
                "coverage": round(float(overall.get("coverage", float("nan"))), 4),
                "label_fidelity_per_class": [round(float(r["label_fidelity"]), 3) for r in report["per_class"]],
                "evaluator": "SmallCNN trained on the protocol's training images only",
            }
            path.write_text(json.dumps(result) + "\n")
            print(
                f"sweep {protocol} {family} {steps} steps ({result['train_seconds']} s of training): "
                f"fidelity {result['label_fidelity']:.3f} FD {result['frechet_distance']:.2f} CAS {result['cas']:.3f}",
                flush=True,
            )
            results.append(result)
    return results


def load_sweep(out: Path, protocol: str) -> list[dict[str, Any]]:
    folder = out / "sweep"
    results = [json.loads(p.read_text()) for p in sorted(folder.glob(f"{protocol}-*.json"))] if folder.exists() else []
    return sorted(results, key=lambda r: (r["family"], r["steps"]))


def best_budget(results: list[dict[str, Any]], family: str) -> int | None:
    """The budget of highest label fidelity for ``family`` (ties: the fewer steps). Fidelity only: no test figure."""
    rows = [r for r in results if r["family"] == family]
    if not rows:
        return None
    return min(rows, key=lambda r: (-r["label_fidelity"], r["steps"]))["steps"]


def sweep_markdown(protocol: str, results: list[dict[str, Any]]) -> str:
    lines = [
        f"### Generator step budgets ({protocol})",
        "",
        "| family | steps | images seen | CPU training s | label fidelity | Fréchet distance | CAS % | recall | coverage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['family']} | {r['steps']:,} | {r['images_seen']:,} | {r['train_seconds']:.0f} | "
            f"{r['label_fidelity']:.3f} | {r['frechet_distance']:.2f} | {100 * r['cas']:.2f} | "
            f"{r['recall']:.3f} | {r['coverage']:.3f} |"
        )
    return "\n".join(lines)


def plot_sweep(protocol: str, results: list[dict[str, Any]], path: Path) -> Path:
    """Label fidelity, Fréchet distance and CAS against training steps, one line per family."""
    from matplotlib.figure import Figure

    from synthaug.viz import _save_figure

    figure = Figure(figsize=(11, 3.2))
    axes = figure.subplots(1, 3)
    for family in sorted({r["family"] for r in results}):
        rows = [r for r in results if r["family"] == family]
        steps = [r["steps"] for r in rows]
        for ax, key, scale in zip(axes, ("label_fidelity", "frechet_distance", "cas"), (1, 1, 100)):
            ax.plot(steps, [scale * r[key] for r in rows], marker="o", label=family)
    for ax, title in zip(
        axes, ("label fidelity (train-only classifier) ↑", "Fréchet distance (features) ↓", "CAS % on the test set ↑")
    ):
        ax.set_xscale("log")
        ax.set_xlabel("generator training steps (batch 64)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend()
    figure.suptitle(f"{protocol}: generator quality against its step budget", fontsize=10)
    figure.tight_layout()
    return _save_figure(figure, path)
