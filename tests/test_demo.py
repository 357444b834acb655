"""The end-to-end demo, in-process on tiny settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import synthaug
from synthaug.demo import DemoSettings, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    settings = DemoSettings(
        out_dir=out,
        image_size=8,
        gan_epochs=1,
        vae_epochs=1,
        gan_width=8,
        classifier_steps=5,
        synthetic_ratio=0.1,
        per_class=2,
        progress=False,
    )
    return out, run_demo(settings)


def test_demo_writes_every_output(demo):
    out, report = demo
    for name in (
        "summary.md",
        "summary.json",
        "cgan_samples.png",
        "cvae_samples.png",
        "cgan/config.json",
        "cgan/model.safetensors",
        "cvae/config.json",
        "cvae/model.safetensors",
    ):
        assert (out / name).is_file(), name
    assert set(report.files) == {"cgan bundle", "cgan grid", "cvae bundle", "cvae grid", "summary"}
    for path in report.files.values():
        assert Path(path).exists(), path


def test_demo_report(demo):
    out, report = demo
    assert report.train_size + report.test_size == 1797
    assert report.synthetic_size == round(0.1 * report.train_size)
    assert len(report.accuracy) == 3
    assert all(0.0 <= acc <= 1.0 for acc in report.accuracy.values())
    assert "real only" in report.accuracy
    assert report.seconds["total"] >= max(v for k, v in report.seconds.items() if k != "total")
    table = report.table()
    assert table == (out / "summary.md").read_text().rstrip("\n")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accuracy"] == report.accuracy
    assert summary["seconds"] == report.seconds
    assert summary["settings"]["image_size"] == 8
    # What produced the figures (bench/results/demo.json keeps a copy; scripts/doc_figures.py quotes it).
    assert set(summary["machine"]) == {"date", "synthaug", "torch", "python", "threads"}
    assert summary["machine"]["synthaug"] == synthaug.__version__
    assert table == f"{report.accuracy_table()}\n\n{report.seconds_table()}"


def test_demo_bundles_reload(demo):
    out, _ = demo
    gan, vae = synthaug.load(out / "cgan"), synthaug.load(out / "cvae")
    assert gan.image_shape == vae.image_shape == (1, 8, 8)
    assert gan.class_names == [str(d) for d in range(10)]
