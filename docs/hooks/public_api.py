"""galwidget's public API, and which parts of it have no docstring.

Used by the documentation build (``docs/hooks/build.py`` turns each finding into a warning, which
fails the strict build) and by ``tests/test_docs.py`` (which needs no MkDocs). Plain Python: it
imports galwidget and reads its source with :mod:`ast`, so it also sees the docstrings of
constants and type aliases (the string literal right below the assignment, as MkDocs shows it).

Public means: every module of galwidget with no ``_`` part in its dotted name, and in each the
names of its ``__all__`` (or, without ``__all__``, the functions and classes it defines whose
names do not start with ``_``); for each public class, its methods and properties whose names do
not start with ``_``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

PACKAGE = "galwidget"


def public_modules(package_name: str = PACKAGE) -> list[str]:
    """Dotted names of a package's public modules (galwidget's by default), the package first."""
    package = importlib.import_module(package_name)
    names = [package_name]
    for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def public_names(module_name: str) -> list[str]:
    """The public names of one module: its ``__all__``, or the functions and classes it defines."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module_name
    ]


@dataclass(frozen=True)
class Definition:
    """Where a public name is defined: its module and the top-level statement that binds it."""

    module: str
    node: ast.stmt
    docstring: str | None


@cache
def _tree(module_name: str) -> ast.Module:
    source = Path(inspect.getfile(importlib.import_module(module_name))).read_text("utf-8")
    return ast.parse(source)


def _binds(node: ast.stmt, name: str) -> bool:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    elif isinstance(node, ast.TypeAlias if sys.version_info >= (3, 12) else ()):
        targets = [node.name]
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return name in names


def _imported_from(module_name: str, node: ast.ImportFrom) -> str:
    """The absolute name of the module a ``from … import`` in ``module_name`` reads."""
    if not node.level:
        return node.module or ""
    is_package = hasattr(sys.modules[module_name], "__path__")
    package = module_name if is_package else module_name.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def definition(module_name: str, name: str) -> Definition | None:
    """The statement that defines ``module_name.name``, following ``from … import`` re-exports;
    ``None`` for a submodule or a name bound some other way."""
    body = _tree(module_name).body
    for i, node in enumerate(body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return Definition(module_name, node, ast.get_docstring(node))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _imported_from(module_name, node)
                    if f"{source}.{alias.name}" in sys.modules:
                        return None  # a submodule: checked as a module of its own
                    return definition(source, alias.name)
        elif _binds(node, name):
            following = body[i + 1] if i + 1 < len(body) else None
            docstring = None
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docstring = following.value.value
            return Definition(module_name, node, docstring)
    return None


def _class_members(node: ast.ClassDef) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Public methods and properties of a class (a property's setter is not counted again)."""
    for member in node.body:
        if not isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        decorators = {ast.unparse(d) for d in member.decorator_list}
        if member.name.startswith("_") or any(
            d.endswith((".setter", ".deleter")) or d in {"overload", "typing.overload"}
            for d in decorators
        ):
            continue
        yield member


def missing_docstrings(package_name: str = PACKAGE) -> list[str]:
    """Every public module, name, method and property without a docstring, as dotted names."""
    missing: list[str] = []
    seen: set[tuple[str, str]] = set()
    for module_name in public_modules(package_name):
        module: ModuleType = importlib.import_module(module_name)
        if not (module.__doc__ or "").strip():
            missing.append(module_name)
        for name in public_names(module_name):
            if not hasattr(module, name):
                missing.append(f"{module_name}.{name} (in __all__ but not defined)")
                continue
            if inspect.ismodule(getattr(module, name)):
                continue
            found = definition(module_name, name)
            if found is None:
                missing.append(f"{module_name}.{name} (definition not found)")
                continue
            key = (found.module, ast.unparse(found.node)[:200])
            if key in seen:
                continue
            seen.add(key)
            if not (found.docstring or "").strip():
                missing.append(f"{module_name}.{name}")
            if isinstance(found.node, ast.ClassDef):
                for member in _class_members(found.node):
                    if not (ast.get_docstring(member) or "").strip():
                        missing.append(f"{module_name}.{name}.{member.name}")
    return missing


def missing_from_reference(anchors: set[str], package_name: str = PACKAGE) -> list[str]:
    """Public names that none of ``anchors`` (dotted names the API reference shows) documents:
    neither ``module.name`` itself nor another module's name for the same object."""
    shown: dict[str, list[object]] = {}
    for anchor in anchors:
        module_name, _, name = anchor.rpartition(".")
        try:
            shown.setdefault(name, []).append(getattr(importlib.import_module(module_name), name))
        except (ImportError, AttributeError, ValueError):
            continue  # a class member, or the module itself
    missing = []
    modules = public_modules(package_name)
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            value = getattr(module, name, None)
            if inspect.ismodule(value):
                if value.__name__ not in anchors and value.__name__ not in modules:
                    missing.append(f"{module_name}.{name}")
                continue
            if f"{module_name}.{name}" not in anchors and not any(
                value is other for other in shown.get(name, [])
            ):
                missing.append(f"{module_name}.{name}")
    return missing
