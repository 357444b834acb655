"""Fair classifier budgets: every row at its own best step budget, chosen on validation, scored on test.

Usage (through bench/downstream.py):
    .venv/bin/python bench/downstream.py --fair                       # low100
    .venv/bin/python bench/downstream.py --fair --smoke               # seconds, on the embedded digits

A fixed budget decides the answer: augmentation of any kind needs more steps to pay, so a
short budget favours plain real data. Here each row picks its budget from
``FAIR_BUDGETS`` the way a practitioner would:

1. hold out 20% of each class of the protocol's training images (seed 0) as a
   validation split; build the row on the other 80% (its teacher for soft labels is
   trained on those 80% only);
2. train the row with seed 0 for each budget and score accuracy on the validation split;
   keep the best (ties: the fewer steps);
3. train the row on all the protocol's training images with the chosen budget for every
   seed and score the test set.

The test set is never used to choose. One caveat, stated in the docs: the generators are
those trained on all the protocol's training images (the step-budget sweep's choice), so
they have seen the validation images; the validation split only picks a budget.
Each selection run is saved as OUT/fair/<protocol>/select/<row>-<steps>.json and each test
run as OUT/fair/<protocol>/rows/<row>-seed<seed>.json, so a rerun resumes.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from training_runs import Recipe, fit, predict, slug, train_and_score, wait_while_paused

from synthaug.data.real import LabelledImages

FAIR_BUDGETS = (500, 2000, 8000)
SMOKE_BUDGETS = (10, 30)


def validation_split(
    train: LabelledImages, fraction: float = 0.2, seed: int = 0
) -> tuple[LabelledImages, LabelledImages]:
    """``(fit part, validation part)``: ``fraction`` of each class held out, seeded."""
    rng = np.random.default_rng(seed)
    held = []
    for c in range(int(train.labels.max()) + 1):
        members = np.flatnonzero(train.labels.numpy() == c)
        held.append(rng.choice(members, size=max(1, round(fraction * len(members))), replace=False))
    is_held = np.zeros(len(train), dtype=bool)
    is_held[np.concatenate(held)] = True
    keep, val = torch.from_numpy(~is_held), torch.from_numpy(is_held)
    return (
        LabelledImages(train.images[keep], train.labels[keep], train.class_names),
        LabelledImages(train.images[val], train.labels[val], train.class_names),
    )


def choose_budget(
    recipe: Recipe,
    budgets: Sequence[int],
    batch_size: int,
    val: LabelledImages,
    k: int,
    folder: Path,
) -> tuple[int, dict[int, float]]:
    """The budget of best validation accuracy for ``recipe`` (built on the fit part), seed 0; every score."""
    folder.mkdir(parents=True, exist_ok=True)
    scores: dict[int, float] = {}
    shape = tuple(val.images.shape[1:])
    for steps in budgets:
        path = folder / f"{slug(recipe.name)}-{steps}.json"
        if path.exists():
            scores[steps] = json.loads(path.read_text())["val_accuracy"]
            continue
        wait_while_paused()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit(recipe, recipe.build(0), 0, steps, batch_size, k, shape)  # type: ignore[arg-type]
        accuracy = float((predict(model, val.images) == val.labels.numpy()).mean())
        scores[steps] = accuracy
        path.write_text(
            json.dumps(
                {
                    "row": recipe.name,
                    "steps": steps,
                    "val_accuracy": accuracy,
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            + "\n"
        )
        print(f"fair select | {recipe.name} | {steps} steps: val acc {accuracy:.4f}", flush=True)
    best = min(scores, key=lambda steps: (-scores[steps], steps))
    return best, scores


def run_fair(
    protocol: str,
    rows: Callable[[LabelledImages], list[Recipe]],
    train: LabelledImages,
    test: LabelledImages,
    seeds: int,
    budgets: Sequence[int],
    batch_size: int,
    out: Path,
) -> None:
    """Choose each row's budget on validation, then train and score it on test for every seed.

    ``rows(train_images)`` builds the protocol's rows on the given training images (it is
    called on the fit part for the choice, on all training images for the test runs, with
    the same names in the same order).
    """
    fit_part, val = validation_split(train)
    k = int(train.labels.max()) + 1
    shape = tuple(train.images.shape[1:])
    folder = out / "fair" / protocol
    (folder / "rows").mkdir(parents=True, exist_ok=True)
    for order, (chooser, recipe) in enumerate(zip(rows(fit_part), rows(train))):
        assert chooser.name == recipe.name
        steps, scores = choose_budget(chooser, budgets, batch_size, val, k, folder / "select")
        for seed in range(seeds):
            path = folder / "rows" / f"{slug(recipe.name)}-seed{seed}.json"
            if path.exists():
                continue
            wait_while_paused()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result: dict[str, Any] = train_and_score(recipe, seed, steps, batch_size, test, k, shape)
            result.update(order=order, steps=steps, validation={str(b): round(s, 4) for b, s in scores.items()})
            path.write_text(json.dumps(result) + "\n")
            print(
                f"fair {protocol} | {recipe.name} | {steps} steps | seed {seed}: acc {result['accuracy']:.4f} "
                f"({result['seconds']} s)",
                flush=True,
            )


def load_fair_rows(out: Path, protocol: str) -> list[dict[str, Any]]:
    folder = out / "fair" / protocol / "rows"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def fair_markdown(protocol: str, table: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    """The fair table: each row's chosen budget and validation accuracies beside its test figures."""
    by_row: dict[str, dict[str, Any]] = {}
    for run in runs:
        by_row.setdefault(run["row"], run)
    lines = [
        f"### {protocol}, fair budgets (each row at its best of {', '.join(f'{b:,}' for b in FAIR_BUDGETS)} steps on validation)",
        "",
        "| recipe | chosen steps | validation accuracy % per budget | test accuracy % | worst-class recall % | s/run |",
        "|---|---|---|---|---|---|",
    ]
    for e in table:
        run = by_row[e["row"]]
        val = ", ".join(f"{int(b):,}: {100 * s:.1f}" for b, s in run["validation"].items())
        (m, s), (wm, ws) = e["accuracy"], e["worst_class_recall"]
        lines.append(
            f"| {e['row']} | {run['steps']:,} | {val} | {m:.2f} ± {s:.2f} | {wm:.2f} ± {ws:.2f} | {e['seconds']} |"
        )
    return "\n".join(lines)
