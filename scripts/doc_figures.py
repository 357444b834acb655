"""Fill the figure blocks of README.md and docs/*.md from the committed results files.

    python scripts/doc_figures.py            # rewrite every block  (also: make doc-figures)
    python scripts/doc_figures.py --check    # exit 1 naming each stale file and block

A block is the lines between ``<!-- figures:NAME -->`` and ``<!-- /figures -->``;
:data:`BLOCKS` says which results file under ``bench/results/`` feeds NAME and how it is
written. Text outside the blocks is left alone. A figure is never copied by hand: rerun the
command that writes its results file (named in the block), then this script.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from synthaug.demo import DemoReport

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "make doc-figures"

WIDTH = 90  # prose is wrapped like the hand-written text around it
START = re.compile(r"^<!-- figures:(?P<name>[\w-]+) -->$")
END = "<!-- /figures -->"


class Block(NamedTuple):
    """Where a block's figures come from (relative to the repository root) and how they read."""

    results: str
    render: Callable[[dict[str, Any]], str]


def paragraph(text: str) -> str:
    """``text`` wrapped at :data:`WIDTH`, never starting a line with a markdown list marker."""
    kept = re.sub(r" ([-+*]|\d+\.) ", "\0\\1\0", text)  # no line break beside " + " or " 1. "
    return textwrap.fill(kept, WIDTH, break_long_words=False, break_on_hyphens=False).replace("\0", " ")


# ---- the README's demo (bench/results/demo.json: `make demo-results`) ----


def _demo_report(results: dict[str, Any]) -> DemoReport:
    # The tables exactly as `synthaug demo` prints them and writes runs/demo/summary.md.
    return DemoReport(accuracy=results["accuracy"], seconds=results["seconds"])


def demo_accuracy(results: dict[str, Any]) -> str:
    machine = results["machine"]
    test_size = results["test_size"]
    errors = ", ".join(f"{name} {round((1 - acc) * test_size)}" for name, acc in results["accuracy"].items())
    provenance = paragraph(
        f"Result of `make demo` on {machine['date']} (synthaug {machine['synthaug']}, torch {machine['torch']}, "
        f"{machine['threads']} CPU threads), kept in `bench/results/demo.json` (`make demo-results` reruns the "
        "demo and copies its `runs/demo/summary.json` there). The run is seeded: the accuracies repeat."
    )
    return "\n\n".join(
        [
            provenance,
            _demo_report(results).accuracy_table(),
            paragraph(f"Errors on the {test_size} test images: {errors}."),
        ]
    )


def demo_seconds(results: dict[str, Any]) -> str:
    return _demo_report(results).seconds_table()


# ---- docs/generators.md: the cVAE's latent mixture against its prior (bench/results/quality.json) ----

_CVAE_ROW = re.compile(r"^cvae \((?P<epochs>\d+) epochs, (?P<sampler>gmm|prior) sampler\)$")


def cvae_mixture(results: dict[str, Any]) -> str:
    rows: dict[str, dict[str, Any]] = {}
    for row in results["rows"]:
        match = _CVAE_ROW.match(row["name"])
        if match:
            rows[match["sampler"]] = {**row, "epochs": int(match["epochs"])}
    missing = {"gmm", "prior"} - set(rows)
    if missing:
        raise ValueError(f"no row 'cvae (N epochs, {' / '.join(sorted(missing))} sampler)' in the results")
    gmm, prior = rows["gmm"], rows["prior"]
    distance, fidelity = (
        "lowers" if gmm["frechet_distance"] < prior["frechet_distance"] else "raises",
        "raises" if gmm["label_fidelity"] > prior["label_fidelity"] else "lowers",
    )
    change = gmm["frechet_distance"] / prior["frechet_distance"] - 1
    return paragraph(
        f"For the cVAE trained {gmm['epochs']} epochs on full Fashion-MNIST, the mixture {distance} the Fréchet "
        f"distance (in a real-data classifier's feature space) from {prior['frechet_distance']:.2f} to "
        f"{gmm['frechet_distance']:.2f} ({change:+.0%}) and {fidelity} label fidelity from "
        f"{prior['label_fidelity']:.3f} to {gmm['label_fidelity']:.3f} against the prior "
        "(`bench/quality.py`, `bench/results/quality.json`; table in [benchmarks.md](benchmarks.md))."
    )


# ---- docs/denoising.md and the README: Denoise against corrupted inputs (bench/results/robustness/) ----


def robustness_tables(results: dict[str, Any]) -> str:
    return f"Written by `{results['command']}` (`bench/results/robustness/summary.json`).\n\n" + results[
        "markdown"
    ].rstrip("\n")


def robustness_readme(results: dict[str, Any]) -> str:
    shares = [v for v in results["recovered_strongest"].values() if v is not None]
    cost = results["clean_cost"]
    targets = results["targets"]
    return paragraph(
        f"On Fashion-MNIST, `Denoise` in front of a classifier trained on clean images wins back "
        f"{min(shares):.0%} to {max(shares):.0%} of the accuracy lost to synthaug's four corruptions at their two "
        f"strongest levels, and costs {cost['denoise'] * 100:.2f} points on clean images "
        f"({cost['denoise_gated'] * 100:.2f} with the gate); {targets['reached']} of its {targets['total']} targets "
        "are reached (`python bench/robustness.py`, tables in docs/denoising.md)."
    )


BLOCKS: dict[str, Block] = {
    "robustness-tables": Block("bench/results/robustness/summary.json", robustness_tables),
    "robustness-readme": Block("bench/results/robustness/summary.json", robustness_readme),
    "demo-accuracy": Block("bench/results/demo.json", demo_accuracy),
    "demo-seconds": Block("bench/results/demo.json", demo_seconds),
    "cvae-mixture": Block("bench/results/quality.json", cvae_mixture),
}


def documents(root: Path) -> list[Path]:
    """The markdown files that may hold blocks: README.md and docs/*.md."""
    return [path for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if path.is_file()]


def render(name: str, root: Path) -> str:
    """The body of block ``name`` (blank lines around it) from its results file under ``root``."""
    if name not in BLOCKS:
        raise ValueError(f"unknown figures block {name!r}; known: {', '.join(sorted(BLOCKS))}")
    block = BLOCKS[name]
    path = root / block.results
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        text = block.render(results)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"block {name!r}: cannot read its figures from {block.results}: {e!r}") from e
    return f"\n{text}\n\n"


def fill(text: str, root: Path, where: str = "<text>") -> tuple[str, list[str]]:
    """``text`` with every block rendered afresh, and the names of the blocks that changed."""
    out: list[str] = []
    stale: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        out.append(lines[i])
        start = START.match(lines[i].rstrip("\n"))
        i += 1
        if not start:
            continue
        end = next((j for j in range(i, len(lines)) if lines[j].rstrip("\n") == END), None)
        if end is None or any(START.match(line.rstrip("\n")) for line in lines[i:end]):
            raise ValueError(f"{where}:{i}: block {start['name']!r} has no {END} before the next block")
        body = render(start["name"], root)
        if "".join(lines[i:end]) != body:
            stale.append(start["name"])
        out.append(body)
        i = end
    return "".join(out), stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale instead of writing it")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    stale_blocks = 0
    for path in documents(args.root):
        current = path.read_text(encoding="utf-8")
        where = str(path.relative_to(args.root))
        text, stale = fill(current, args.root, where)
        stale_blocks += len(stale)
        for name in stale:
            source = BLOCKS[name].results
            if args.check:
                print(f"{where}: block {name!r} is stale ({source} says otherwise): run `{COMMAND}`", file=sys.stderr)
            else:
                print(f"{where}: rewrote block {name!r} from {source}")
        if stale and not args.check:
            path.write_text(text, encoding="utf-8", newline="\n")
    return 1 if args.check and stale_blocks else 0


if __name__ == "__main__":
    sys.exit(main())
