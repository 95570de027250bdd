"""The labelling workflow in a real JupyterLab: the selection gallery, search, tap to focus.

One JupyterLab server, page and notebook (1500 synthetic galaxies with IAU-name ids, ra/dec and
two label classes) are shared by the tests of this module; each test starts from an empty
selection and the Selection view as it left it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jupyterlab_harness import LabNotebook, write_notebook
from playwright.sync_api import expect
from polygons import inside_polygon
from test_jupyterlab import drag_lasso, lasso_polygon, page_positions

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

N = 1500
ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "galwidget" / "static" / "widget.js"
DOCS = ROOT / "docs"
CELLS = [
    """\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n={n}, seed=1)
features = pd.DataFrame(reps.features, columns=[f"feat_{{i}}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)""",
    """\
w = gw.Explorer(
    df, images=reps.images, color="morphology", k=6, classes=["ring", "not ring"],
    labels_path={path!r}, hover_columns=["morphology", "redshift", "mag_r"],
)
w""",
]


@pytest.fixture(scope="module")
def nb(chromium, jupyter_server, tmp_path_factory) -> LabNotebook:
    """The Explorer's notebook, open and run once for the whole module."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    labels = tmp_path_factory.mktemp("workflow") / "labels.jsonl"
    cells = [CELLS[0].format(n=N), CELLS[1].format(path=str(labels))]
    write_notebook(jupyter_server.root / "workflow.ipynb", cells)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    notebook = LabNotebook(server=jupyter_server, page=context.new_page(), path="workflow.ipynb")
    notebook.page.goto(
        f"{jupyter_server.url}lab/tree/workflow.ipynb?token={jupyter_server.token}&reset"
    )
    notebook.wait_until_ready()
    notebook.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    notebook.run_all()
    expect(notebook.page.locator(".galwidget")).to_have_attribute(
        "data-state", "ready", timeout=60_000
    )
    yield notebook
    notebook.close()


@pytest.fixture
def lab(nb: LabNotebook) -> LabNotebook:
    """The shared notebook with nothing selected, nothing focused, no labels."""
    nb.kernel.execute("w.select(None); w.focus(None)")
    expect(nb.page.locator(".galwidget .gw-count")).to_have_text(f"0 of {N:,} selected")
    return nb


def layout_on_page(nb: LabNotebook) -> tuple[np.ndarray, np.ndarray, dict]:
    """Page pixel position of every galaxy (reset view), their ids, the canvas box."""
    canvas = nb.page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    nb.page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    nb.page.wait_for_timeout(300)
    box = canvas.bounding_box()
    layout = np.array(nb.kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()"))
    ids = np.array(nb.kernel.eval_json("w.representations.ids.tolist()"))
    return page_positions(layout.reshape(-1, 2), box), ids, box


def gallery_ids(page, which: str = ".gw-gallery-tile") -> list[str]:
    """Ids of the gallery tiles in the DOM (``which``: all, or e.g. the marked ones), in order."""
    return page.evaluate(
        """(which) => [...document.querySelectorAll(`.galwidget ${which}`)]
            .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index))
            .map((tile) => tile.querySelector('.gw-caption-id').textContent)""",
        which,
    )


def test_gallery_shows_the_lasso_and_labels_tiles(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    positions, _ids, box = layout_on_page(lab)
    page.locator(".gw-panel-modes .gw-button[data-panel-mode=selection]").click()
    expect(page.locator(".galwidget .gw-gallery-note")).to_contain_text("Lasso")

    centre = (box["x"] + 0.45 * box["width"], box["y"] + 0.5 * box["height"])
    polygon = lasso_polygon(positions, centre, 0.3 * box["height"])
    inside = inside_polygon(positions, polygon)
    assert 100 < inside.sum() < N / 2
    drag_lasso(page, polygon)
    total = int(inside.sum())
    kernel.wait_until(f"len(w.selection) == {total}")
    # The first page waits for the neighbour index (built on first need).
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text(
        f"Selection: {total:,} galaxies", timeout=60_000
    )
    tiles = page.locator(".galwidget .gw-gallery-tile")
    expect(tiles.first).to_be_visible(timeout=30_000)
    selected = set(kernel.eval_json("w.selected_ids.tolist()"))
    shown = gallery_ids(page)
    assert shown and set(shown) <= selected
    assert len(shown) < total  # virtualised: only the tiles in view exist
    # The first tiles are the galaxies nearest the selection's centroid, as the kernel orders them.
    first = kernel.eval_json(
        "w.representations.ids[w._pages.page(w.selection, order='centroid', limit=3).positions]"
        ".tolist()"
    )
    assert shown[:3] == first
    # Scrolled to the end, the last page arrives: the last tiles too are selected galaxies.
    viewport = page.locator(".galwidget .gw-gallery-viewport")
    viewport.evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
    expect(page.locator(f".galwidget .gw-gallery-tile[data-index='{total - 1}']")).to_have_count(1)
    assert set(gallery_ids(page)) <= selected
    viewport.evaluate("(el) => { el.scrollTop = 0; }")
    expect(page.locator(".galwidget .gw-gallery-tile[data-index='0']")).to_have_count(1)

    # A key on a tile labels that galaxy (and moves on to the next tile).
    tile = lambda i: page.locator(f".galwidget .gw-gallery-tile[data-index='{i}']")  # noqa: E731
    tile(0).click()
    kernel.wait_until(f"w.focused == {shown[0]!r}")
    page.keyboard.press("1")
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{shown[0]!r}: 'ring'}}")
    kernel.wait_until(f"w.focused == {shown[1]!r}")
    expect(tile(0).locator(".gw-badge")).to_have_text("ring")

    # Ctrl-click and shift-click mark several tiles; one key labels them all.
    tile(2).click()
    tile(3).click(modifiers=["Control"])
    tile(6).click(modifiers=["Shift"])
    expect(page.locator(".galwidget .gw-gallery-tile.gw-marked")).to_have_count(5)
    page.keyboard.press("2")
    expected = {shown[0]: "ring", **{shown[i]: "not ring" for i in (2, 3, 4, 5, 6)}}
    kernel.wait_until(f"w.labels['label'].to_dict() == {expected!r}")
    expect(page.locator(".galwidget .gw-gallery-tile.gw-marked")).to_have_count(0)

    # "Mark page" then a key labels every tile wholly in view.
    page.locator(".galwidget .gw-gallery .gw-button", has_text="Mark page").click()
    marked = gallery_ids(page, ".gw-gallery-tile.gw-marked")
    assert len(marked) >= 6 and marked == shown[: len(marked)]
    page.keyboard.press("0")
    kernel.wait_until("w.labels.empty")

    # × takes a galaxy out of the selection.
    tile(1).hover()
    tile(1).locator(".gw-tile-remove").click()
    kernel.wait_until(f"len(w.selection) == {total - 1}")
    assert shown[1] not in kernel.eval_json("w.selected_ids.tolist()")
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text(
        f"Selection: {total - 1:,} galaxies"
    )

    # Ordered by a numeric column, highest first (ties in position order).
    page.locator(".galwidget .gw-gallery-order").select_option("column:redshift")
    top = kernel.eval_json(
        "w.selected_ids[np.argsort(-w.selected['redshift'].to_numpy(), kind='stable')][:4].tolist()"
    )
    expect(page.locator(".galwidget .gw-gallery-tile .gw-caption-id").first).to_have_text(top[0])
    assert gallery_ids(page)[:4] == top
    page.locator(".galwidget .gw-gallery-size").evaluate(
        "(el) => { el.value = '72'; el.dispatchEvent(new Event('input')); }"
    )
    page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    page.mouse.move(1, 1)
    page.wait_for_timeout(600)
    DOCS.mkdir(exist_ok=True)
    page.locator(".galwidget").screenshot(path=str(DOCS / "gallery.png"))

    # Wide: the gallery takes the whole widget; back again.
    page.locator(".galwidget .gw-gallery .gw-button", has_text="Wide").click()
    expect(page.locator(".galwidget .gw-plot")).to_be_hidden()
    assert len(gallery_ids(page)) > len(shown)
    page.locator(".galwidget .gw-gallery .gw-button", has_text="Wide").click()
    expect(page.locator(".galwidget .gw-plot")).to_be_visible()
    assert lab.errors == []
