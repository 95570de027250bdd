"""The package's structure, checked from its source: no import cycles (imports inside functions
included, ``if TYPE_CHECKING:`` blocks aside) and no private name used outside its package.

The layering itself (which package may import which) is import-linter's contract in
``pyproject.toml``, run by ``make lint``; these two rules are what it does not check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "galwidget"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def package_of(module: str) -> str:
    """The package a module belongs to (a package's ``__init__`` belongs to itself)."""
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every galwidget import of
    ``module``, wherever it stands, except under ``if TYPE_CHECKING:``."""
    found: list[tuple[str, str | None, int]] = []
    package = package_of(module)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                if candidate in MODULES:  # `from galwidget import cache`: the module itself
                    found.append((candidate, None, node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(MODULES[module].read_text(encoding="utf-8")))
    return [(target, name, line) for target, name, line in found if target in MODULES]


def import_graph() -> dict[str, set[str]]:
    return {module: {target for target, _, _ in imports(module)} for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself
    (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_package_has_no_import_cycles() -> None:
    graph = import_graph()
    assert sum(len(targets) for targets in graph.values()) > 100  # the graph was really read
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert cycles(graph) == [["a", "b", "c"], ["d"]]


def private_uses() -> list[str]:
    """Imports of a private name or private module from outside the package that owns it."""
    bad = []
    for module in MODULES:
        package = package_of(module)
        for target, name, line in imports(module):
            owner = package_of(target)
            private_module = any(part.startswith("_") for part in target.split(".")[1:])
            if private_module and owner != package:
                bad.append(f"{module}:{line} imports {target}")
            elif name is not None and name.startswith("_") and not name.startswith("__"):
                if not (target.rpartition(".")[2].startswith("_") and owner == package):
                    bad.append(f"{module}:{line} imports {name} from {target}")
    return bad


def test_no_private_name_is_used_outside_its_package() -> None:
    assert private_uses() == []


@pytest.mark.parametrize(
    "package",
    [
        "galwidget.data",
        "galwidget.labels",
        "galwidget.neighbors",
        "galwidget.protocol",
        "galwidget.widget",
    ],
)
def test_packages_keep_their_code_in_private_modules(package: str) -> None:
    """A package is its ``__init__`` (what it offers) plus private ``_modules`` (how)."""
    inside = [m for m in MODULES if m.startswith(package + ".")]
    assert inside, package
    assert all(m.rpartition(".")[2].startswith("_") for m in inside), inside
