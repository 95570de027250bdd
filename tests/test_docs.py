"""The documentation: every public name has a docstring, the examples in the docstrings of the
entry points and the code on the user-guide pages run, and the site builds strictly.

The docstring check is ``docs/hooks/public_api.py``, the same code the site build runs; it needs
no MkDocs. The strict build needs the ``docs`` extra (MkDocs and its plugins).
"""

from __future__ import annotations

import doctest
import gc
import importlib.util
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

import galwidget as gw

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
ENTRY_POINTS = {
    "load_representations": gw.load_representations,
    "Representations": gw.Representations,
    "NeighborIndex": gw.NeighborIndex,
    "layout": gw.layout,
    "Explorer": gw.Explorer,
    "LabelStore": gw.LabelStore,
    "learn.simulate": gw.learn.simulate,
    "datasets.synthetic": gw.datasets.synthetic,
}
# A guide code block whose first line starts so needs what a test does not have (the network,
# your files, a server); it says what in the rest of the line.
NOT_RUN = "# needs:"


def load_public_api() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "public_api", ROOT / "docs" / "hooks" / "public_api.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


public_api = load_public_api()


def test_every_public_name_has_a_docstring():
    assert public_api.missing_docstrings() == []


def test_a_public_name_without_a_docstring_is_reported(tmp_path, monkeypatch):
    """The check finds each kind of missing docstring, and follows re-exports to the source."""
    package = tmp_path / "docpkg"
    (package / "_impl").mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""A package."""\n'
        "from docpkg._impl.core import Thing, helper, LIMIT, documented\n"
        '__all__ = ["LIMIT", "Thing", "documented", "helper"]\n'
    )
    (package / "_impl" / "__init__.py").write_text("")
    (package / "_impl" / "core.py").write_text(
        textwrap.dedent(
            '''
            LIMIT = 3

            def helper():
                return 1

            def documented():
                """Has one."""

            class Thing:
                """A thing."""

                def method(self):
                    return 2

                @property
                def size(self):
                    """Has one."""
                    return 1

                def _private(self):
                    return 3
            '''
        )
    )
    (package / "plain.py").write_text("def no_doc():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert public_api.missing_docstrings("docpkg") == [
        "docpkg.LIMIT",
        "docpkg.Thing.method",
        "docpkg.helper",
        "docpkg.plain",
        "docpkg.plain.no_doc",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_examples_run(name: str, tmp_path, monkeypatch):
    """The ``Examples:`` of each main entry point's docstring run and print what they show."""
    monkeypatch.chdir(tmp_path)
    obj = ENTRY_POINTS[name]
    (test,) = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    assert test.examples, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def code_blocks(page: Path) -> list[str]:
    """The Python code blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text("utf-8"), flags=re.S | re.M)


GUIDE_PAGES = sorted(page.name for page in GUIDE.glob("*.md") if code_blocks(page))


def test_the_guide_has_code_on_every_task_page():
    expected = {
        "install.md",
        "first-map.md",
        "loading-data.md",
        "exploring.md",
        "labelling.md",
        "active-learning.md",
        "survey-scale.md",
        "sharing.md",
        "errors.md",
    }
    assert expected <= set(GUIDE_PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("page", GUIDE_PAGES)
def test_guide_code_runs(page: str, tmp_path, monkeypatch):
    """The page's code blocks run in order in one namespace, in a scratch folder, offline;
    blocks marked ``# needs: …`` (a download, your files, a server) are left out."""
    pytest.importorskip("bqplot", reason="the guide's linked views need galwidget[views]")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__guide__"}
    blocks = code_blocks(GUIDE / page)
    ran = 0
    for number, block in enumerate(blocks, 1):
        if block.startswith(NOT_RUN):
            continue
        code = compile(block, f"{page} block {number}", "exec")
        exec(code, namespace)
        ran += 1
    assert ran, f"every code block of {page} is marked {NOT_RUN!r}"
    for widget in [obj for obj in gc.get_objects() if isinstance(obj, gw.Explorer)]:
        widget.close()  # also those the page replaced: their label watchers stop


@pytest.mark.slow
def test_strict_site_build(docs_site: Path):
    """``mkdocs build --strict`` succeeds: no broken link, no missing reference, no public name
    without a docstring or missing from the API reference, every notebook runs; no page loads a
    script from the network."""
    site = docs_site
    for page in ("index.html", "reference/widget.html", "notebooks/quickstart.html"):
        assert (site / page).is_file(), page
    reference = (site / "reference" / "widget.html").read_text("utf-8")
    assert 'id="galwidget.widget.Explorer.select"' in reference
    remote = {
        f"{page.relative_to(site)}: {src}"
        for page in site.rglob("*.html")
        for src in re.findall(r'<script[^>]* src="(https?:[^"]*)"', page.read_text("utf-8"))
    }
    assert not remote
