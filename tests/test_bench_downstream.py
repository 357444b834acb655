"""bench/downstream.py --smoke --quick runs end to end on the embedded digits and its saved rows regenerate the tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark run end to end in a subprocess (about 100 s)

ROOT = Path(__file__).resolve().parents[1]


def test_downstream_smoke_run_and_report(tmp_path):
    command = [sys.executable, str(ROOT / "bench" / "downstream.py"), "--smoke", "--quick", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["protocols"]) == {"low20", "longtail", "semi20"}
    for table in summary["protocols"].values():
        names = [row["row"] for row in table]
        assert names[0].startswith("real only") and any("cgan" in name for name in names)
        assert any("cvae" in name for name in names)
        for row in table:
            for metric in ("accuracy", "balanced_accuracy", "worst_class_recall"):
                mean, std = row[metric]
                assert 0 <= mean <= 100 and std >= 0
    long_tail = [r["row"] for r in summary["protocols"]["longtail"]]
    assert "class-balanced resampling + classic aug" in long_tail
    # Issue 16's rows: the literature's long-tail losses, the proportion sampler, M2m in both spaces.
    for part in ("logit-adjusted loss (tau 1", "post-hoc logit adjustment", "deferred re-weighting", "synthetic share"):
        assert any(part in name for name in long_tail), part
    assert any("M2m pixel" in name for name in long_tail) and any("M2m cvae latent" in name for name in long_tail)
    translation = json.loads((tmp_path / "translation-longtail.json").read_text())
    for space in ("pixel", "latent"):
        counts = translation[space]
        assert sum(counts["requested"]) == sum(counts["translated"]) + sum(counts["fell_back"]) > 0
    assert (tmp_path / "bundles" / "longtail-cgan" / "model.safetensors").exists()
    # semi20: the generators learnt from the pool through fit(labelled, unlabelled=...), and
    # self-training's pseudo-labels were scored (never trained on the pool's true labels).
    semi = [row["row"] for row in summary["protocols"]["semi20"]]
    assert any(name.startswith("pseudo-labelling (") for name in semi)
    assert any(name.startswith("pseudo-labelling + semi") for name in semi)
    for family in ("cgan", "cvae"):
        assert (
            json.loads((tmp_path / "bundles" / f"semi20-{family}" / "bench_training.json").read_text())["unlabelled"]
            > 0
        )
    assert json.loads((tmp_path / "semi" / "semi20-pseudo-seed0.json").read_text())["pool"] > 0
    # The guard ran once per protocol and its row trains on what it chose.
    for protocol, table in summary["protocols"].items():
        if protocol.startswith("semi"):
            continue
        assert table[-1]["row"].startswith("guard: synthaug.tune's choice")
        decision = json.loads((tmp_path / f"guard-{protocol}.json").read_text())
        assert decision["generator"] in {"cgan", "cvae"} and "real only" in decision["summary"]
        assert (tmp_path / f"{protocol}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "time-smoke.json").read_text())["seconds"] > 0
    report = subprocess.run([*command, "--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert (
        "| real only |" in report.stdout
        and json.loads((tmp_path / "summary.json").read_text())["protocols"] == summary["protocols"]
    )


def test_generator_sweep_fair_budgets_and_levers_smoke_run(tmp_path):
    """--sweep resumes each family through its budgets and scores each; --fair picks each row's
    budget on validation and scores the chosen budget on test; --levers trains the recipe with
    each lever; --report rebuilds all three."""
    base = [sys.executable, str(ROOT / "bench" / "downstream.py"), "--smoke", "--out", str(tmp_path)]
    for flag in ("--sweep", "--fair", "--levers"):
        result = subprocess.run([*base, flag], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    sweep = sorted((tmp_path / "sweep").glob("low20-*-*.json"))
    assert len(sweep) == 4  # two families x two budgets
    runs = {json.loads(p.read_text())["steps"]: json.loads(p.read_text()) for p in sweep if "cgan" in p.name}
    assert set(runs) == {5, 10} and runs[10]["train_seconds"] >= runs[5]["train_seconds"]  # resumed, not restarted
    for run in runs.values():
        assert 0 <= run["label_fidelity"] <= 1 and run["frechet_distance"] >= 0
    fair = [json.loads(p.read_text()) for p in (tmp_path / "fair" / "low20" / "rows").glob("*.json")]
    assert {run["row"] for run in fair} >= {"real only", "real + classic aug"} and len(
        {run["row"] for run in fair}
    ) == 5
    for run in fair:
        assert run["steps"] in (10, 30) and set(run["validation"]) == {"10", "30"}
        best = max(run["validation"].values())
        assert run["validation"][str(run["steps"])] == best  # the chosen budget is the best on validation
    levers = {json.loads(p.read_text())["row"] for p in (tmp_path / "rows" / "low20-levers").glob("*.json")}
    assert len(levers) == 5 and any("synthetic from half-way" in name for name in levers)
    assert any("last layer fine-tuned" in name for name in levers)
    report = subprocess.run([*base, "--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "Generator step budgets (low20)" in report.stdout and "fair budgets" in report.stdout
    assert "### low20-levers" in report.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["sweep"] and summary["fair"]["low20"]
