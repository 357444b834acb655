"""The README's Python example and the scripts in examples/ run as written (on a tiny bundle)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import synthaug
from synthaug.utils.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits_bundle(tmp_path_factory) -> Path:
    """An untrained cGAN with the demo's shape: the example code only needs the interface."""
    path = tmp_path_factory.mktemp("bundle") / "cgan"
    with seeded(0):
        gan = synthaug.ConditionalGAN(
            num_classes=10, channels=1, image_size=16, latent_dim=8, width=8, class_names=[str(d) for d in range(10)]
        )
    gan.save_pretrained(path)
    return path


def readme_python_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # The "Python example" section's own block (the teaser above it has `...`; "Use it on your
    # own data" below has its own test, tests/test_readme_own_data.py).
    section = text.split("\n## Python example\n", 1)[1].split("\n## ", 1)[0]
    runnable = [b for b in re.findall(r"```python\n(.*?)```", section, flags=re.S) if b.startswith("import ")]
    assert len(runnable) == 1, "README's Python example section should hold exactly one complete Python example"
    return runnable[0]


def test_readme_example_runs_as_written(digits_bundle, tmp_path, monkeypatch):
    code = readme_python_block()
    assert len(code.strip().splitlines()) <= 20, "the README example should stay short"
    assert '"runs/demo/cgan"' in code
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.replace('"runs/demo/cgan"', repr(str(digits_bundle))), "README.md", "exec"), namespace)
    assert namespace["images"].shape == (64, 1, 16, 16)
    assert namespace["grid"].shape == (80, 1, 16, 16)
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert isinstance(namespace["label"], int)


@pytest.mark.slow  # each script runs in its own process (4-9 s)
@pytest.mark.parametrize(
    "script, args",
    [
        ("quickstart.py", ["--num-samples", "64"]),
        ("wrap_your_own_generator.py", []),
        ("mix_strategies.py", ["--filter-steps", "20"]),
        ("transforms_denoise_and_variation.py", ["--tiny"]),
        ("synthetic_recipe.py", ["--epochs", "2", "--teacher-steps", "20"]),
        ("long_tail.py", ["--epochs", "2", "--judge-steps", "20"]),
        ("robust_classifier.py", ["--tiny"]),
    ],
)
def test_example_script_runs(script, args, digits_bundle):
    if script in ("quickstart.py", "mix_strategies.py", "synthetic_recipe.py", "long_tail.py"):
        args = ["--bundle", str(digits_bundle), *args]
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_quickstart_script_matches_readme():
    """examples/quickstart.py claims to be the README code; keep the two from drifting."""
    script = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    for line in readme_python_block().splitlines():
        if line.startswith(("real =", "synth =", "train =", "loader =")):
            assert (
                line.split("#")[0].strip().replace("1_000", "args.num_samples") in script
                or line.split("#")[0].strip() in script
            ), line
