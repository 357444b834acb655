"""docs/api.md is what scripts/api_docs.py writes from the code today, and covers every public name."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_script

import synthaug

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def api_docs() -> ModuleType:
    return load_script(ROOT / "scripts" / "api_docs.py")


@pytest.fixture(scope="module")
def rendered(api_docs) -> str:
    return api_docs.render()


def test_docs_api_md_is_up_to_date(rendered):
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == rendered, "docs/api.md is stale: run `make api-docs` (python scripts/api_docs.py) and commit it"


def test_every_public_name_has_an_entry(api_docs, rendered):
    for module_name in api_docs.PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        assert f"\n## {module_name}\n" in rendered
        for name in getattr(module, "__all__", []):
            assert f"\n### `{module_name}.{name}`\n" in rendered, f"{module_name}.{name} is missing"
    assert set(synthaug.__all__) <= set(re.findall(r"^### `synthaug\.([^.`]+)`$", rendered, flags=re.M))


def test_rendering_is_deterministic(api_docs, rendered):
    assert api_docs.render() == rendered
    assert not re.search(r"0x[0-9a-fA-F]{6,}", rendered), "a memory address leaked into docs/api.md"


def test_signatures_keep_annotations_as_written(api_docs):
    def example(images: torch.Tensor, per_row: int = 8, *, title: str | None = None) -> Path:  # noqa: F821
        """Save a grid.

        More detail that is not the summary.
        """

    assert (
        api_docs.signature(example) == "(images: torch.Tensor, per_row: int = 8, *, title: str | None = None) -> Path"
    )
    assert api_docs.summary(example) == "Save a grid."
    sentinel = object()

    def with_object_default(value=sentinel):
        pass

    assert api_docs.signature(with_object_default) == "(value=<object object>)"


def test_classes_document_their_constructor_and_their_own_docstring(api_docs):
    class Base:
        """Base docstring."""

    class Child(Base):
        def __init__(self, size: int) -> None:
            pass

    assert api_docs.signature(Child) == "(size: int)"
    assert api_docs.summary(Child) == "(no docstring)"  # not the base's


def test_check_mode_reports_a_stale_file(api_docs, tmp_path, capsys):
    stale = tmp_path / "api.md"
    stale.write_text("old\n", encoding="utf-8")
    assert api_docs.main(["--check", "--output", str(stale)]) == 1
    assert "make api-docs" in capsys.readouterr().err
    assert api_docs.main(["--output", str(stale)]) == 0
    assert api_docs.main(["--check", "--output", str(stale)]) == 0
