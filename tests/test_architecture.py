"""The layering of docs/architecture.md, enforced: who may import whom.

Reads every module of the package with ``ast`` (nothing is imported) and fails when

* a module imports a module of a higher layer (at module level or inside a function);
* a module below the application layer imports synthaug code inside a function (a hidden
  import is how circles were held together), outside the deprecated aliases listed here;
* module-level imports form a circle.

Imports under ``if TYPE_CHECKING:`` run only for type checkers and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "synthaug"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("synthaug._version", "synthaug.errors", "synthaug.validation", "synthaug.utils")),
    ("losses", ("synthaug.losses",)),
    ("generators", ("synthaug.generators", "synthaug.io")),
    ("viz", ("synthaug.viz",)),
    ("data", ("synthaug.data",)),
    ("transforms", ("synthaug.transforms",)),
    ("export", ("synthaug.export",)),
    ("metrics", ("synthaug.metrics",)),
    ("training", ("synthaug.training",)),
    ("tuning", ("synthaug.tuning",)),
    # The package's front doors: the top-level namespace, the CLI and demo, and the
    # compatibility facades that keep old import paths working.
    (
        "application",
        (
            "synthaug",
            "synthaug.__main__",
            "synthaug.cli",
            "synthaug.demo",
            "synthaug.filters",
            "synthaug.albumentations",
            "synthaug.sharding",
        ),
    ),
]

# Deprecated aliases that reach up a layer on first use; each is removed in 0.3.
DEPRECATED_ALIASES = {
    ("synthaug.data.synthetic", "synthaug.export.reader"),  # SyntheticDataset.from_export
    ("synthaug.data.exported", "synthaug.export.reader"),  # the module's old home
    ("synthaug.data", "synthaug.export.reader"),  # synthaug.data.ExportedDataset
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, level = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    assert level is not None, f"{module} is in no layer of LAYERS: add it (and to docs/architecture.md)"
    return level


def resolve(target: str) -> str:
    """The synthaug module an import names (``from synthaug.data import mixing`` names synthaug.data.mixing)."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str | None = None, is_package: bool = False) -> list[tuple[str, bool, int]]:
    """``(imported synthaug module, inside a function, line)`` for every import in ``module``."""
    if source is None:
        source, is_package = MODULES[module].read_text(), MODULES[module].name == "__init__.py"
    tree = ast.parse(source)
    package = module if is_package else module.rsplit(".", 1)[0]
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in child.names] or [base]
            elif (
                isinstance(child, ast.Call)
                and getattr(child.func, "attr", getattr(child.func, "id", "")) == "import_module"
                and child.args
                and isinstance(child.args[0], ast.Constant)
            ):
                names = [str(child.args[0].value)]
            for name in names:
                if name == "synthaug" or name.startswith("synthaug."):
                    found.append((resolve(name), nested, child.lineno))
            visit(child, nested)

    visit(tree, False)
    return [(target, nested, line) for target, nested, line in found if target != module]


GRAPH = {module: imports_of(module) for module in MODULES}


def upward(module: str, imports: list[tuple[str, bool, int]]) -> list[str]:
    here = layer_of(module)
    return [
        f"line {line}: {target} ({LAYERS[layer_of(target)][0]})"
        for target, _, line in imports
        if layer_of(target) > here and (module, target) not in DEPRECATED_ALIASES
    ]


def hidden(module: str, imports: list[tuple[str, bool, int]]) -> list[str]:
    if LAYERS[layer_of(module)][0] == "application":
        return []  # the CLI imports lazily so that `synthaug --help` starts fast
    return [
        f"line {line}: {target}"
        for target, nested, line in imports
        if nested and (module, target) not in DEPRECATED_ALIASES
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    found = upward(module, GRAPH[module])
    assert not found, f"{module} ({LAYERS[layer_of(module)][0]}) imports a higher layer: {found}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_hidden_imports_below_the_application_layer(module):
    found = hidden(module, GRAPH[module])
    assert not found, f"{module} imports synthaug code inside a function: {found}"


def test_module_level_imports_form_no_circle():
    edges = {module: sorted({t for t, nested, _ in GRAPH[module] if not nested and t in MODULES}) for module in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in edges[module]:
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                walk(target)
        stack.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            walk(module)


def test_the_checker_catches_what_it_should():
    """The rules are not vacuous: yesterday's circles are caught in a module's text."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from synthaug.data.counts import check_count\n"
        "if TYPE_CHECKING:\n    from synthaug.metrics import SmallCNN\n"
        "def auto():\n    from synthaug.tuning import tune\n"
        "def lazy():\n    from .synthetic import SyntheticDataset\n"
    )
    imports = imports_of("synthaug.data.mixing", source)
    assert [(t, n) for t, n, _ in imports] == [
        ("synthaug.data.counts", False),
        ("synthaug.tuning", True),
        ("synthaug.data.synthetic", True),
    ]
    assert upward("synthaug.data.mixing", imports) == ["line 6: synthaug.tuning (tuning)"]
    assert len(hidden("synthaug.data.mixing", imports)) == 2
    assert any(target == "synthaug.data.mixing" for target, _, _ in GRAPH["synthaug.tuning"])


def test_architecture_doc_lists_every_layer():
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    for name, prefixes in LAYERS:
        assert name in text, name
        for prefix in prefixes:
            assert f"`{prefix}" in text or prefix == "synthaug", prefix
