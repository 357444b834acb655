# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv (once; re-installed when pyproject.toml changes) and install synthaug.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synthaug-installed

.PHONY: install demo test test-fast coverage lint format clean
.PHONY: api-docs api-docs-check doc-figures doc-figures-check demo-results wheel

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "synthaug needs Python >= 3.10, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The version lives in synthaug/_version.py (pyproject reads it): a new version re-installs
# too, so the installed metadata (importlib.metadata.version) never lags behind.
$(STAMP): synthaug/_version.py

demo: $(STAMP)
	$(BIN)/synthaug demo

# PYTEST_ARGS adds options: CI runs `make test PYTEST_ARGS=--cov` (see .ci/run).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# The full suite with line and branch coverage of synthaug (the figure in the README).
coverage: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

# ruff (lint + format check) and mypy, as CI runs them before the tests.
lint: $(STAMP)
	$(BIN)/ruff check synthaug tests bench examples scripts
	$(BIN)/ruff format --check synthaug tests bench examples scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix synthaug tests bench examples
	$(BIN)/ruff format synthaug tests bench examples

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml *.egg-info

# docs/api.md from the docstrings and signatures of the public names (tests/test_api_docs.py
# fails when it is stale).
api-docs: $(STAMP)
	$(BIN)/python scripts/api_docs.py

api-docs-check: $(STAMP)
	$(BIN)/python scripts/api_docs.py --check

# The figure blocks (<!-- figures:NAME -->) of README.md and docs/*.md from the committed
# results files in bench/results/ (tests/test_doc_figures.py fails when one is stale).
doc-figures: $(STAMP)
	$(BIN)/python scripts/doc_figures.py

doc-figures-check: $(STAMP)
	$(BIN)/python scripts/doc_figures.py --check

# bench/results/demo.json, the source of the README's demo tables: `make demo`, then its
# summary kept (then `make doc-figures`). Accuracies are seeded; seconds depend on the machine.
demo-results: $(STAMP)
	$(BIN)/synthaug demo
	cp runs/demo/summary.json bench/results/demo.json

# A wheel in dist/, built with the installed setuptools (offline, no build isolation).
wheel: $(STAMP)
	$(BIN)/python -m pip wheel . --no-deps --no-build-isolation --no-index -w dist
