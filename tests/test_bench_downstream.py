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
    assert set(summary["protocols"]) == {"low20", "longtail"}
    for table in summary["protocols"].values():
        names = [row["row"] for row in table]
        assert names[0] == "real only" and any(name.startswith("cgan") for name in names)
        assert any(name.startswith("cvae") for name in names)
        for row in table:
            for metric in ("accuracy", "balanced_accuracy", "worst_class_recall"):
                mean, std = row[metric]
                assert 0 <= mean <= 100 and std >= 0
    assert "class-balanced resampling + classic aug" in [r["row"] for r in summary["protocols"]["longtail"]]
    assert (tmp_path / "bundles" / "longtail-cgan" / "model.safetensors").exists()
    # The guard ran once per protocol and its row trains on what it chose.
    for protocol, table in summary["protocols"].items():
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
