"""bench/robustness.py --smoke runs end to end on the embedded digits and its saved results regenerate the report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark run end to end in a subprocess (about 25 s)

ROOT = Path(__file__).resolve().parents[1]


def test_robustness_smoke_run_and_report(tmp_path):
    command = [sys.executable, str(ROOT / "bench" / "robustness.py"), "--smoke", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "main.json").read_text())
    rows = summary["rows"]
    assert rows[0]["corruption"] == "clean"
    names = {row["corruption"] for row in rows[1:]}
    assert names == {"gaussian", "salt_and_pepper", "blur", "cutout", "speckle", "jpeg"}
    assert {row["corruption"] for row in rows[1:] if not row["seen"]} == {"speckle", "jpeg"}
    defences = {"none", "denoise", "denoise_gated", "median", "gaussian_filter", "augmented", "augmented_denoise"}
    for row in rows:
        assert defences <= set(row["accuracy"]) and all(0 <= v <= 1 for v in row["accuracy"].values())
    for row in rows[1:]:
        assert set(row["auroc"]) == {"dae", "cvae", "max_softmax"}
        assert all(0 <= v <= 1 for v in row["auroc"].values())
    # Filter strengths and the gate were chosen on validation, from their grids.
    assert summary["filters"]["gaussian"]["median"] in (3, 5)
    assert float(summary["gate"]["quantile"]) in (0.5, 0.8, 0.9, 0.95, 0.99) and summary["gate"]["gate"] >= 0
    assert all(v > 0 for v in summary["throughput"].values())
    novelty = sorted((tmp_path / "novelty").glob("*.json"))
    assert len(novelty) == 2 and all(json.loads(p.read_text())["known"] > 0 for p in novelty)
    for figure in ("robustness-accuracy.png", "robustness-pictures.png"):
        assert (tmp_path / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = subprocess.run([*command, "--report"], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "| Denoise recovers >= 70% of the loss: gaussian 0.5 |" in report.stdout
    assert report.stdout == (tmp_path / "report.md").read_text() + "\n"
