"""A Griffe extension: galwidget's docstrings cross-reference with Sphinx roles
(``:class:`~galwidget.DataError```, ``:meth:`color_by```); this turns each into a Markdown link
to the object's page in the API reference.

A role naming a galwidget object that does not exist is reported as a warning, so the strict
build fails on it (a stale reference after a rename, a typo). Relative names are looked up the way
Python would from the docstring's place: the object itself, then each enclosing class and module,
including what that module imports. A role naming another project's object (``pandas.Series``)
stays code. So does one naming a galwidget object that the reference does not show (private, or
without a docstring); a constant's value is shown beside it.
"""

from __future__ import annotations

import ast
import logging
import re
from typing import Any

import griffe

log = logging.getLogger("mkdocs.plugins.galwidget.sphinx_roles")

ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|obj|exc|const|type):`(~?)([^`<>]+)`")


def _member(scope: griffe.Object | griffe.Alias, dotted: str) -> griffe.Object | None:
    """``scope.a.b.c`` for ``dotted="a.b.c"``, followed through aliases; ``None`` if absent."""
    current: Any = scope
    for part in dotted.split("."):
        try:
            current = current.final_target if isinstance(current, griffe.Alias) else current
            current = current.members[part]
        except (KeyError, AttributeError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
    try:
        return current.final_target if isinstance(current, griffe.Alias) else current
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def resolve(obj: griffe.Object, target: str) -> griffe.Object | None:
    """The object ``target`` names in a docstring of ``obj``."""
    scope: griffe.Object | None = obj
    while scope is not None:
        found = _member(scope, target)
        if found is not None:
            return found
        scope = scope.parent
    root, _, rest = target.partition(".")
    collection = obj.modules_collection
    if root in collection.members:
        return _member(collection.members[root], rest) if rest else collection.members[root]
    return None


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles in docstrings into autorefs Markdown links."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = ROLE.sub(lambda m, o=obj: _link(o, m), obj.docstring.value)


def _objects(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _shown(obj: griffe.Object) -> bool:
    """Whether the API reference shows ``obj``: public, with a docstring, in a shown class."""
    if obj.is_module:
        return True
    if not obj.is_public or obj.docstring is None or obj.parent is None:
        return False
    return obj.parent.is_module or _shown(obj.parent)


def _constant(obj: griffe.Object) -> str | None:
    """A module-level constant's value when it is a plain literal (``200_000``, ``"ls-dr10"``)."""
    value = getattr(obj, "value", None)
    if not obj.is_attribute or value is None or obj.parent is None or not obj.parent.is_module:
        return None
    try:
        ast.literal_eval(str(value))
    except (ValueError, SyntaxError):
        return None
    return str(value)


def _link(obj: griffe.Object, match: re.Match[str]) -> str:
    short, target = match.group(1) == "~", match.group(2).strip()
    text = target.rsplit(".", 1)[-1] if short else target
    found = resolve(obj, target)
    if found is None:
        if target.partition(".")[0] in obj.modules_collection.members or "." not in target:
            log.warning("%s: the docstring refers to %r, which does not exist", obj.path, target)
        return f"`{text}`"
    if not _shown(found):
        return f"`{text} = {_constant(found)}`" if _constant(found) else f"`{text}`"
    return f"[`{text}`][{found.path}]"
