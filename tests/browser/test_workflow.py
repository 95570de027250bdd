"""The labelling workflow in a real JupyterLab: the selection gallery, search, tap to focus.

One JupyterLab server, page and notebook (1500 synthetic galaxies with IAU-name ids, ra/dec and
two label classes) are shared by the tests of this module; each test starts from an empty
selection and the Selection view as it left it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from playwright.sync_api import expect
from polygons import inside_polygon
from test_jupyterlab import drag_lasso, lasso_polygon, page_positions

if TYPE_CHECKING:
    from jupyterlab_harness import LabNotebook

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

N = 1500
ROOT = Path(__file__).resolve().parents[2]
# Screenshots of each run (git-ignored); docs/gallery.png and docs/search.png are copies of them.
SCREENSHOTS = ROOT / "tests" / "browser" / "artifacts"
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
    labels={{"path": {path!r}}}, hover_columns=["morphology", "redshift", "mag_r"],
)
w""",
]


@pytest.fixture(scope="module")
def nb(chromium, jupyter_server, tmp_path_factory) -> Iterator[LabNotebook]:
    """The Explorer's notebook, open and run once for the whole module."""
    from jupyterlab_harness import open_widget_notebook  # the plugin, imported by pytest

    labels = tmp_path_factory.mktemp("workflow") / "labels.jsonl"
    cells = [CELLS[0].format(n=N), CELLS[1].format(path=str(labels))]
    notebook = open_widget_notebook(chromium, jupyter_server, "workflow.ipynb", cells)
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
    # The first page waits for the neighbor index (built on first need).
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
    assert len(marked) >= 3 and len(marked) % 3 == 0 and set(marked) <= set(shown)  # whole rows
    page.keyboard.press("0")
    left = {galaxy: label for galaxy, label in expected.items() if galaxy not in marked}
    kernel.wait_until(f"w.labels['label'].to_dict() == {left!r}")

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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".galwidget").screenshot(path=str(SCREENSHOTS / "gallery.png"))

    # Wide: the gallery takes the whole widget; back again.
    page.locator(".galwidget .gw-gallery .gw-button", has_text="Wide").click()
    expect(page.locator(".galwidget .gw-plot")).to_be_hidden()
    page.wait_for_function(
        "(n) => document.querySelectorAll('.galwidget .gw-gallery-tile').length > n", arg=len(shown)
    )
    page.locator(".galwidget .gw-gallery .gw-button", has_text="Wide").click()
    expect(page.locator(".galwidget .gw-plot")).to_be_visible()
    assert lab.errors == []


def test_search_by_name_and_by_position_focuses_and_links_out(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    by_name, by_sky = kernel.eval_json("w.representations.ids[[17, 402]].tolist()")
    ra, dec = kernel.eval_json("df.loc[402, ['ra', 'dec']].tolist()")
    box = page.locator(".galwidget .gw-search-input")
    result = page.locator(".galwidget .gw-search-result")

    box.fill(by_name)
    box.press("Enter")
    kernel.wait_until(f"w.focused == {by_name!r}")
    expect(result).to_have_text(by_name)
    card = page.locator(".galwidget .gw-focus-card")
    expect(card.locator(".gw-focus-id")).to_have_text(by_name)
    expect(card.locator("img.gw-img")).to_be_visible(timeout=30_000)
    legacy = card.locator("a.gw-focus-link", has_text="Legacy Survey")
    ra17, dec17 = kernel.eval_json("df.loc[17, ['ra', 'dec']].tolist()")
    expect(legacy).to_have_attribute(
        "href",
        f"https://www.legacysurvey.org/viewer?ra={ra17:.6f}&dec={dec17:+.6f}&layer=ls-dr10&zoom=16".replace(
            "+", "%2B"
        ),
    )
    for link in card.locator("a.gw-focus-link").all():
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert link.get_attribute("target") == "_blank"

    # "ra dec" one arcsec north of a galaxy: that galaxy, 1.00″ away.
    query = f"{ra:.6f} {dec + 1 / 3600:.6f}"
    box.fill(query)
    box.press("Enter")
    kernel.wait_until(f"w.focused == {by_sky!r}")
    expect(result).to_have_text(f"{by_sky}, 1.00″ from {query}")
    expect(card.locator(".gw-focus-id")).to_have_text(by_sky)
    page.wait_for_timeout(600)  # the pan to it
    page.locator(".galwidget").screenshot(path=str(SCREENSHOTS / "search.png"))

    box.fill("no such galaxy")
    box.press("Enter")
    expect(result).to_have_class("gw-search-result gw-error")
    assert kernel.eval_json("w.focused") == by_sky
    assert lab.errors == []


def test_a_tap_with_no_hover_focuses_the_nearest_galaxy(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    positions, ids, box = layout_on_page(lab)
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    inner = ((relative > 0.1) & (relative < 0.6)).all(axis=1)
    gaps = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    nearest = np.where(inner, gaps.min(axis=1), -1)
    target = int(nearest.argmax())
    assert nearest[target] > 8  # no other galaxy within the pick radius of the tap
    page.mouse.move(1, 1)  # nothing hovered
    expect(page.locator(".galwidget .gw-tooltip")).to_be_hidden()

    def tap(x: float, y: float) -> None:
        canvas = page.locator(".galwidget .gw-canvas")
        init = {"clientX": x, "clientY": y, "bubbles": True, "isPrimary": True}
        canvas.dispatch_event("pointerdown", {**init, "pointerType": "touch"})
        canvas.dispatch_event("click", init)

    # 3 px off the galaxy, with no pointer movement (a touch tap): it is focused.
    tap(positions[target][0] + 3, positions[target][1])
    kernel.wait_until(f"w.focused == {ids[target]!r}")
    # A tap far from every galaxy focuses nothing new.
    empty = positions[target] + [nearest[target] / 2, 0]
    if np.hypot(*(positions - empty).T).min() > 8:
        tap(*empty)
        page.wait_for_timeout(300)
        assert kernel.eval_json("w.focused") == ids[target]
    assert lab.errors == []


def test_color_menu_and_zoom_to_selection_mirror_python(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    menu = page.locator(".galwidget .gw-color-select")
    expect(menu).to_have_value("morphology")
    menu.select_option("redshift")
    kernel.wait_until("w._color_meta.get('column') == 'redshift'")
    assert kernel.eval_json("w._color_meta['kind']") == "continuous"
    kernel.execute("w.color_by('label')")
    expect(menu).to_have_value("label")

    kernel.execute("w.select(\"morphology == 'edge-on'\")")
    zoom = page.locator(".galwidget .gw-zoom-selection")
    expect(zoom).to_be_enabled()
    canvas = page.locator(".galwidget .gw-canvas")
    page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    page.mouse.move(1, 1)
    page.wait_for_timeout(600)
    before = canvas.screenshot()
    zoom.click()
    page.wait_for_timeout(800)
    zoomed = canvas.screenshot()
    assert zoomed != before
    page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    page.wait_for_timeout(600)
    assert canvas.screenshot() == before
    kernel.execute("w.zoom_to_selection()")  # the same from Python
    page.wait_for_timeout(800)
    assert canvas.screenshot() == zoomed
    kernel.execute("w.color_by('morphology')")
    expect(menu).to_have_value("morphology")
    assert lab.errors == []
