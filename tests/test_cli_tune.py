"""``synthaug tune BUNDLE --data DIR_OR_NAME --out DIR``: the guard from the command line.

It writes tune.md, tune.json and tune.png, prints one line (the verdict) on stdout, and
refuses a missing bundle, an empty folder, a folder of the wrong channels, a bundle that is
not a generator and an existing --out with exit status 2 and one line on stderr.
Tiny settings: untrained 8x8 bundles (the command only needs the interface), 2-3 classifier
steps, one seed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_image_folder
from PIL import Image

from synthaug.cli import main
from synthaug.tuning import default_grid

CLASSES = ("left", "right", "top")
FAST = ["--steps", "2", "--seeds", "1", "--no-progress"]


def exit_code(argv: list) -> int:
    """Run the CLI in-process; its exit status (0 when main returns)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1


def one_line_error(stderr: str, *expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got:\n{stderr}"
    assert "Traceback" not in stderr and "error" in lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, generator_factory) -> Path:
    """An untrained 8x8 grayscale cGAN with the pattern folder's class names."""
    path = tmp_path_factory.mktemp("tune") / "cgan"
    generator_factory("cgan", class_names=list(CLASSES)).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, pattern_factory) -> Path:
    """An ImageFolder of 16x16 grayscale pattern images (read at the bundle's 8x8), 10 per class."""
    root = tmp_path_factory.mktemp("tune") / "patterns"
    data = pattern_factory(10, size=16, seed=3)
    for i, (image, label) in enumerate(zip(data.images, data.labels.tolist())):
        (root / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        pixels = (image[0].numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(root / CLASSES[label] / f"{i:02d}.png")
    return root


def test_tune_writes_the_evidence_and_prints_one_verdict_line(bundle, folder, tmp_path, capsys):
    out = tmp_path / "report"
    assert exit_code(["tune", bundle, "--data", folder, "--out", out, *FAST]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("verdict: "), captured.out
    assert lines[0].startswith(("verdict: mix — mix(real, model, ", "verdict: keep real only — "))
    assert "Traceback" not in captured.err and str(out / "tune.md") in captured.err
    assert {p.name for p in out.iterdir()} == {"tune.md", "tune.json", "tune.png"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries left

    report = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert "verdict: " + report["verdict"] == lines[0]
    assert report["settings"] == {"classifier": "small-cnn", "steps": 2, "seeds": 1, "val_fraction": 0.2, "seed": 0}
    assert report["data"]["class_names"] == list(CLASSES) and report["data"]["images"] == 30
    assert report["split"] == {"train": 24, "validation": 6} and report["metric"] == "accuracy"
    rows = report["rows"]
    assert len(rows) == 1 + len(default_grid()) and rows[0]["label"] == "real only" and rows[0]["mix"] == "real"
    assert rows[0]["verdict"].startswith("baseline") and report["chose_real_only"] is (report["best"] is None)

    markdown = (out / "tune.md").read_text(encoding="utf-8")
    assert f"**Verdict:** {report['verdict']}" in markdown
    assert "![validation accuracy per setting](tune.png)" in markdown and "| real only |" in markdown
    assert (out / "tune.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Again: an existing --out is refused, then replaced with --force.
    assert exit_code(["tune", bundle, "--data", folder, "--out", out, *FAST]) == 2
    one_line_error(capsys.readouterr().err, "already exists", "--force")
    assert exit_code(["tune", bundle, "--data", folder, "--out", out, "--force", *FAST]) == 0
    again = json.loads((out / "tune.json").read_text(encoding="utf-8"))["rows"]
    assert [row["scores"] for row in again] == [row["scores"] for row in rows]  # seeded: the same evidence


def test_a_built_in_data_set_is_tuned_on_its_training_split(generator_factory, tmp_path, capsys):
    path = tmp_path / "digits-cgan"
    generator_factory("cgan", num_classes=10, class_names=[str(d) for d in range(10)]).save_pretrained(path)
    out = tmp_path / "report"
    argv = ["tune", path, "--data", "digits", "--out", out, "--val-fraction", "0.1", "--seed", "1", *FAST]
    assert exit_code(argv) == 0
    assert capsys.readouterr().out.startswith("verdict: ")
    report = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert report["data"]["name"] == "digits" and report["data"]["images"] == 1347  # the 75% training split
    assert sum(report["split"].values()) == 1347 and report["settings"]["seed"] == 1


def test_a_missing_bundle_is_an_argparse_error(folder, tmp_path, capsys):
    argv = ["tune", tmp_path / "nowhere", "--data", folder, "--out", tmp_path / "report"]
    assert exit_code(argv) == 2
    one_line_error(capsys.readouterr().err, "bundle", "does not exist")
    assert not (tmp_path / "report").exists()


def test_a_folder_of_the_wrong_channels_is_refused(bundle, tmp_path, capsys):
    rgb = write_image_folder(tmp_path / "rgb", classes=CLASSES, per_class=4, size=(8, 8))
    assert exit_code(["tune", bundle, "--data", rgb, "--out", tmp_path / "report", *FAST]) == 2
    one_line_error(capsys.readouterr().err, "--data", "RGB (3 channels)", "grayscale (1 channel)")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("layout", ["no class folders", "empty class folders"])
def test_an_empty_folder_is_refused(layout, bundle, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    if layout == "empty class folders":
        for name in CLASSES:
            (empty / name).mkdir()
    assert exit_code(["tune", bundle, "--data", empty, "--out", tmp_path / "report", *FAST]) == 2
    one_line_error(capsys.readouterr().err, "--data", "holds no images")


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--val-fraction", "1"], "--val-fraction must be a fraction in (0, 1), got 1"),
        (["--steps", "0"], "--steps"),
        (["--classifier", "resnet"], "--classifier"),
    ],
)
def test_bad_flags_exit_2_with_one_line(extra, expected, bundle, folder, tmp_path, capsys):
    assert exit_code(["tune", bundle, "--data", folder, "--out", tmp_path / "report", *extra]) == 2
    one_line_error(capsys.readouterr().err, expected)


def test_a_dae_bundle_is_refused(dae_factory, folder, tmp_path, capsys):
    path = tmp_path / "dae"
    dae_factory().save_pretrained(path)
    assert exit_code(["tune", path, "--data", folder, "--out", tmp_path / "report"]) == 2
    one_line_error(capsys.readouterr().err, "tune needs a generator bundle")
