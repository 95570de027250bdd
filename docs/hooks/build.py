"""MkDocs hook of galwidget's documentation build (``mkdocs.yml``: ``hooks:``).

- Every public name of galwidget must have a docstring (``public_api.py`` beside this file): each
  one without is a warning, and the strict build fails on warnings.
- Every public name must appear in the API reference (an anchor of the built pages under its own
  name or a name that re-exports it); each one missing is a warning.
- The notebooks of ``notebooks/`` are executed (offline, in a scratch folder, in a kernel of this
  Python with this checkout's galwidget first on its path) and rendered with their outputs. They
  are committed without outputs, as ``tests/test_notebooks.py`` requires. An executed copy is kept
  in ``build/docs-notebooks/`` under a hash of the notebook and of galwidget's source, so a build
  after a change to neither runs nothing again. A cell that fails fails the build.
- The offline search's worker shim (``extra.polyfills`` in ``mkdocs.yml``) is copied from npm's
  ``iframe-worker`` in ``js/node_modules`` (``npm ci`` in ``js/`` brings it), not loaded from a CDN.
- ``CHANGELOG.md``, ``CONTRIBUTING.md`` and ``bench/README.md`` become the pages
  ``changelog.md``, ``contributing.md`` and ``guide/bench-results.md``, their ``docs/…`` links
  made relative to the site.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import mkdocs.plugins
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.plugins.galwidget")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "build" / "docs-notebooks"
CELL_TIMEOUT = 600  # seconds
ROOT_PAGES = {
    "changelog.md": "CHANGELOG.md",
    "contributing.md": "CONTRIBUTING.md",
    "guide/bench-results.md": "bench/README.md",
}
SEARCH_SHIM = "assets/javascripts/iframe-worker-shim.js"
SEARCH_SHIM_SOURCE = ROOT / "js" / "node_modules" / "iframe-worker" / "shim" / "index.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    '<p class="widget-note"><em>Here the notebook shows an interactive widget: run the notebook in '
    "Jupyter to use it. The user guide has pictures of it.</em></p>"
)


def _public_api() -> Any:
    spec = importlib.util.spec_from_file_location(
        "public_api", Path(__file__).with_name("public_api.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def on_pre_build(config: MkDocsConfig) -> None:
    """Warn (so fail the strict build) for each public name without a docstring."""
    sys.path.insert(0, str(ROOT))  # this checkout's galwidget, not an installed one
    try:
        for name in _public_api().missing_docstrings():
            log.warning("public name without a docstring: %s", name)
    finally:
        sys.path.remove(str(ROOT))


def on_post_build(config: MkDocsConfig) -> None:
    """Warn (so fail the strict build) for each public name the API reference does not show."""
    site = Path(config.site_dir)
    anchors = {
        anchor
        for page in (site / "reference").glob("*.html")
        for anchor in re.findall(r'id="(galwidget[\w.]*)"', page.read_text("utf-8"))
    }
    sys.path.insert(0, str(ROOT))
    try:
        for name in _public_api().missing_from_reference(anchors):
            log.warning("public name not in the API reference: %s", name)
    finally:
        sys.path.remove(str(ROOT))


@mkdocs.plugins.event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the executed notebooks, the root pages and the offline search's shim to the site's files."""
    if SEARCH_SHIM_SOURCE.is_file():
        files.append(File.generated(config, SEARCH_SHIM, abs_src_path=str(SEARCH_SHIM_SOURCE)))
    else:
        log.warning(
            "%s is missing: run `npm ci` in js/ (offline search needs it)", SEARCH_SHIM_SOURCE
        )
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        executed = _executed(notebook)  # <folder>/notebooks/<name>.ipynb
        files.append(
            File(
                f"notebooks/{notebook.name}",
                src_dir=str(executed.parents[1]),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
    for page, source in ROOT_PAGES.items():
        text = (ROOT / source).read_text("utf-8")
        text = re.sub(r"\]\(docs/", "](", text)  # docs/x.md in the repository is x.md in the site
        for other_page, other_source in ROOT_PAGES.items():  # a link to another of these files
            text = text.replace(f"]({other_source})", f"]({_relative(other_page, page)})")
        files.append(File.generated(config, page, content=text))
    return files


def _relative(target: str, page: str) -> str:
    """The link from site page ``page`` to site page ``target``."""
    return os.path.relpath(target, os.path.dirname(page) or ".")


def _source_hash(notebook: Path) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    for path in sorted((ROOT / "galwidget").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _executed(notebook: Path) -> Path:
    """``notebook`` executed, its widget views replaced by a note (a static page cannot run them)."""
    import nbformat
    from nbclient import NotebookClient

    target = EXECUTED / _source_hash(notebook) / "notebooks" / notebook.name
    if target.exists():
        return target
    log.info("executing %s for the documentation", notebook.relative_to(ROOT))
    node = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="galwidget-docs-") as scratch:
        env = {key: value for key, value in os.environ.items() if key != "GALWIDGET_REAL_DATA"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        for variable, folder in [
            ("GALWIDGET_CACHE", "cache"),
            ("GALWIDGET_DATA", "data"),
            ("GALWIDGET_LABELS_DIR", "labels"),
        ]:
            env[variable] = str(Path(scratch) / folder)
        client = NotebookClient(
            node,
            kernel_name="python3",
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": scratch}},
        )
        client.execute(cwd=scratch, env=env)  # raises CellExecutionError on a failing cell
    for cell in node.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": WIDGET_NOTE}
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(node, target)
    return target
