"""README's "Use it on your own data" runs as written, on a tiny generated folder.

The code blocks are read from README.md (editing the section re-tests it) and run in
their order inside a temporary working directory that holds ``path/to/folder``: three
classes of 16x16 RGB images, one colour each. The one substitution is :data:`TINY_FLAGS`,
appended to each ``synthaug`` command so that it takes a few optimiser steps instead of
thousands; paths, the Python block and everything else run exactly as printed. Commands
run in-process through ``synthaug.cli.main`` (no interpreter start-up per command).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

import numpy as np
from PIL import Image

from synthaug.cli import main

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Use it on your own data"
TINY_FLAGS = {
    "train": ["--steps", "2", "--no-progress"],
    "tune": ["--steps", "2", "--seeds", "1", "--no-progress"],
}
"""Appended to ``synthaug <command> ...`` lines of the section: the only change to what the README says."""

CLASSES = {"red": 0, "green": 1, "blue": 2}  # class name -> the bright channel


def readme_section_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block in the README section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(SECTION)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"README.md has no '## {SECTION}' section"
    return re.findall(r"```(\w*)\n(.*?)```", match.group(1), flags=re.S)


def commands(code: str) -> list[list[str]]:
    """The ``synthaug`` command lines of a shell block, split like a shell (comments dropped)."""
    lines = [shlex.split(line, comments=True) for line in code.splitlines()]
    lines = [argv for argv in lines if argv]
    assert all(argv[0] == "synthaug" for argv in lines), f"only synthaug commands run in CI: {lines}"
    return [argv[1:] for argv in lines]


def write_colour_folder(root: Path, per_class: int = 8, size: int = 16) -> Path:
    rng = np.random.default_rng(0)
    for name, channel in CLASSES.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((size, size, 3), 30, dtype=np.int16)
            pixels[..., channel] = 210
            pixels = np.clip(pixels + rng.integers(-25, 26, pixels.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root


def test_the_section_is_three_steps():
    blocks = readme_section_blocks()
    assert [language for language, _ in blocks] == ["", "python", ""]
    assert [argv[0] for argv in commands(blocks[0][1]) + commands(blocks[2][1])] == ["train", "tune"]


def test_the_own_data_section_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_colour_folder(tmp_path / "path" / "to" / "folder")
    namespace: dict = {}
    for language, code in readme_section_blocks():
        if language == "python":
            exec(compile(code, "README.md", "exec"), namespace)
            continue
        for argv in commands(code):
            assert main([*argv, *TINY_FLAGS[argv[0]]]) == 0, argv

    assert (tmp_path / "runs" / "mine" / "config.json").is_file()
    images, labels = namespace["images"], namespace["labels"]
    assert images.shape[1:] == (3, 16, 16) and 0 <= float(images.min()) <= float(images.max()) <= 1
    assert set(labels.tolist()) <= {0, 1, 2} and math.isfinite(namespace["loss"].item())
    assert sum(namespace["train"].synthetic_counts) == round(0.5 * 24)  # ratio=0.5 of the 24 real images

    out = tmp_path / "tune-report"
    assert {p.name for p in out.iterdir()} == {"tune.md", "tune.json", "tune.png"}
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert (
        verdict.startswith("verdict: ")
        and verdict == "verdict: " + json.loads((out / "tune.json").read_text())["verdict"]
    )
