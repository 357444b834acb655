"""The generators package imports in one direction: format -> base -> registry -> models -> synthaug.io.

Read from the source (no import is executed): no import inside a function (a hidden
dependency that the module graph does not show), no cycle among these modules, and the
bundle format below the models.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import synthaug

ROOT = Path(synthaug.__file__).parent
FILES = sorted((ROOT / "generators").glob("*.py")) + [ROOT / "io.py"]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in FILES}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path) -> tuple[set[str], list[str]]:
    """(synthaug modules imported at run time, descriptions of imports inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    nested: list[str] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                continue  # typing only, never run
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, getattr(child, "name", "<lambda>"))
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if function is not None:
                    nested.append(f"{path.name}:{child.lineno} in {function}()")
                if isinstance(child, ast.Import):
                    found.update(alias.name for alias in child.names)
                elif child.module and child.level == 0:
                    found.add(child.module)
                    # `from synthaug.generators import bundle` imports the submodule.
                    found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child, function)

    visit(tree, None)
    return {name for name in found if name in MODULES}, nested


GRAPH = {name: imports(path)[0] for name, path in MODULES.items()}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_import_inside_a_function(path):
    assert imports(path)[1] == []


def test_no_import_cycle():
    state: dict[str, str] = {}

    def walk(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == "open":
                cycle = trail[trail.index(dep) :] + [dep] if dep in trail else [name, dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                walk(dep, trail + [dep])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            walk(name, [name])


def test_the_bundle_format_sits_under_the_models():
    assert GRAPH["synthaug.generators.bundle"] == set(), "the bundle format imports no model, base or registry"


def test_config_base_and_registry_are_layered():
    assert GRAPH["synthaug.generators.config"] == set()
    assert GRAPH["synthaug.generators.base"] <= {"synthaug.generators.bundle", "synthaug.generators.config"}
    assert GRAPH["synthaug.generators.registry"] == {"synthaug.generators.base"}
    for family in ("cgan", "cvae", "dae", "wrapped"):
        assert "synthaug.io" not in GRAPH[f"synthaug.generators.{family}"]
