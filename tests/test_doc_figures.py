"""The figure blocks of README.md and docs/*.md are what scripts/doc_figures.py writes from bench/results/."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]

FAKE_DEMO = {
    "accuracy": {"real only": 0.99, "real + cgan (10 synthetic)": 0.98},
    "seconds": {"load data": 1.04, "total": 12.349},
    "test_size": 100,
    "machine": {"date": "2030-01-02", "synthaug": "9.9", "torch": "3.0", "threads": 4},
}


@pytest.fixture(scope="module")
def doc_figures() -> ModuleType:
    return load_script(ROOT / "scripts" / "doc_figures.py")


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "bench" / "results" / "demo.json").write_text(json.dumps(FAKE_DEMO), encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# Title\n\nBefore.\n\n<!-- figures:demo-accuracy -->\nold\n<!-- /figures -->\n\n"
        "Between.\n<!-- figures:demo-seconds -->\n<!-- /figures -->\nAfter.\n",
        encoding="utf-8",
    )
    return tmp_path


def test_committed_blocks_are_up_to_date(doc_figures, capsys):
    assert doc_figures.main(["--check"]) == 0, (
        f"{capsys.readouterr().err}(run `make doc-figures` after regenerating the results file, and commit both)"
    )


def test_every_block_is_used_and_every_used_block_is_known(doc_figures):
    used = {
        match["name"]
        for path in doc_figures.documents(ROOT)
        for line in path.read_text(encoding="utf-8").splitlines()
        if (match := doc_figures.START.match(line))
    }
    assert used == set(doc_figures.BLOCKS)


def test_renders_a_fake_results_file(doc_figures, fake_repo, capsys):
    assert doc_figures.main(["--root", str(fake_repo)]) == 0
    assert "README.md: rewrote block 'demo-accuracy' from bench/results/demo.json" in capsys.readouterr().out
    text = (fake_repo / "README.md").read_text(encoding="utf-8")
    words = " ".join(text.split())  # the prose is wrapped
    assert text.startswith("# Title\n\nBefore.\n\n<!-- figures:demo-accuracy -->\n\nResult of `make demo` on")
    assert "on 2030-01-02 (synthaug 9.9, torch 3.0, 4 CPU threads)" in words
    assert "\n\n| classifier trained on | test accuracy |\n|---|---|\n" in text
    assert "| real only | 99.0% |\n| real + cgan (10 synthetic) | 98.0% |\n\n" in text
    assert "Errors on the 100 test images: real only 1, real + cgan (10 synthetic) 2. <!-- /figures -->" in words
    assert text.count("\n\n<!-- /figures -->\n") == 2
    assert "Between.\n<!-- figures:demo-seconds -->\n\n| stage | seconds |\n|---|---|\n| load data | 1.0 |\n" in text
    assert text.endswith("| total | 12.3 |\n\n<!-- /figures -->\nAfter.\n")
    assert "old" not in text
    # A second run finds nothing to do, and --check agrees.
    assert doc_figures.main(["--root", str(fake_repo)]) == 0
    assert (fake_repo / "README.md").read_text(encoding="utf-8") == text
    assert capsys.readouterr().out == ""
    assert doc_figures.main(["--check", "--root", str(fake_repo)]) == 0


def test_check_names_the_stale_file_and_block(doc_figures, fake_repo, capsys):
    doc_figures.main(["--root", str(fake_repo)])
    capsys.readouterr()
    results = fake_repo / "bench" / "results" / "demo.json"
    results.write_text(json.dumps({**FAKE_DEMO, "seconds": {"total": 99.0}}), encoding="utf-8")
    before = (fake_repo / "README.md").read_text(encoding="utf-8")
    assert doc_figures.main(["--check", "--root", str(fake_repo)]) == 1
    err = capsys.readouterr().err
    assert "README.md: block 'demo-seconds' is stale (bench/results/demo.json" in err
    assert "demo-accuracy" not in err
    assert "make doc-figures" in err
    assert (fake_repo / "README.md").read_text(encoding="utf-8") == before  # --check writes nothing


def test_cvae_mixture_sentence(doc_figures):
    rows = [
        {"name": "cgan (15 epochs)", "frechet_distance": 1.0, "label_fidelity": 1.0},
        {"name": "cvae (7 epochs, gmm sampler)", "frechet_distance": 150.0, "label_fidelity": 0.9},
        {"name": "cvae (7 epochs, prior sampler)", "frechet_distance": 200.004, "label_fidelity": 0.8504},
    ]
    words = " ".join(doc_figures.cvae_mixture({"rows": rows}).split())
    assert words.startswith("For the cVAE trained 7 epochs on full Fashion-MNIST, the mixture lowers")
    assert "from 200.00 to 150.00 (-25%) and raises label fidelity from 0.850 to 0.900 against the prior" in words
    rows[1] = {**rows[1], "frechet_distance": 250.0, "label_fidelity": 0.8}
    words = " ".join(doc_figures.cvae_mixture({"rows": rows}).split())
    assert "the mixture raises the Fréchet distance" in words
    assert "from 200.00 to 250.00 (+25%) and lowers label fidelity from 0.850 to 0.800" in words
    with pytest.raises(ValueError, match="prior sampler"):
        doc_figures.cvae_mixture({"rows": rows[:2]})


def test_paragraphs_wrap_without_starting_a_list(doc_figures):
    text = doc_figures.paragraph(" ".join(["real + cgan 1. then - x"] * 20))
    lines = text.splitlines()
    assert len(lines) > 1 and all(len(line) <= doc_figures.WIDTH for line in lines)
    assert not any(line.startswith(("+ ", "- ", "1. ")) for line in lines)
    assert " ".join(lines) == " ".join(["real + cgan 1. then - x"] * 20)


def test_errors_name_the_problem(doc_figures, fake_repo):
    with pytest.raises(ValueError, match="unknown figures block 'nope'; known: cvae-mixture, demo-accuracy"):
        doc_figures.fill("<!-- figures:nope -->\n<!-- /figures -->\n", fake_repo)
    with pytest.raises(ValueError, match=r"x.md:1: block 'demo-seconds' has no <!-- /figures -->"):
        doc_figures.fill("<!-- figures:demo-seconds -->\ntext\n", fake_repo, "x.md")
    with pytest.raises(ValueError, match="cvae-mixture.*bench/results/quality.json"):
        doc_figures.fill("<!-- figures:cvae-mixture -->\n<!-- /figures -->\n", fake_repo)
