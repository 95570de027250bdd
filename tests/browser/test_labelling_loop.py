"""The labelling loop as a person meets it in a real JupyterLab (issue 19).

One notebook, long enough to scroll (text above and below the widget), with 1500 synthetic
galaxies and two label classes, shared by the tests of this module; each test starts from an
empty selection, no focus and no labels. What a person does (drag with shift held, press keys in
the gallery, open Suggestions) is checked in the kernel and on the screen.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import expect
from polygons import distance_to_boundary, inside_polygon
from test_jupyterlab import drag_lasso, page_positions

if TYPE_CHECKING:
    from jupyterlab_harness import LabNotebook

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

N = 1500
ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "galwidget" / "static" / "widget.js"
SCREENSHOTS = ROOT / "tests" / "browser" / "artifacts"
CELLS = [
    """\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n={n}, seed=1)
features = pd.DataFrame(reps.features, columns=[f"feat_{{i}}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)""",
    "print('\\n'.join(f'line {i} above the widget' for i in range(60)))",
    """\
w = gw.Explorer(
    df, images=reps.images, color="morphology", k=6, classes=["ring", "not ring"],
    labels={{"path": {path!r}}}, remember_selection=False,
)
w""",
    "print('\\n'.join(f'line {i} below the widget' for i in range(120)))",
]
TRACKER_SETTINGS = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
# The notebook's own scroller: the nearest ancestor of the widget that scrolls.
SCROLLER_JS = """() => {
    let el = document.querySelector('.galwidget').parentElement;
    while (el && !(el.scrollHeight > el.clientHeight + 1
            && /(auto|scroll)/.test(getComputedStyle(el).overflowY))) el = el.parentElement;
    return el;
}"""


@pytest.fixture(scope="module")
def nb(chromium, jupyter_server, tmp_path_factory) -> Iterator[LabNotebook]:
    from jupyterlab_harness import open_widget_notebook  # the plugin, imported by pytest

    # JupyterLab's default: windowed notebooks (cells out of view are detached), as users have.
    tracker = jupyter_server.root.parent / "settings" / TRACKER_SETTINGS
    tracker.write_text(json.dumps({"windowingMode": "full"}))
    labels = tmp_path_factory.mktemp("loop") / "labels.jsonl"
    cells = [CELLS[0].format(n=N), CELLS[1], CELLS[2].format(path=str(labels)), CELLS[3]]
    notebook = open_widget_notebook(
        chromium, jupyter_server, "loop.ipynb", cells, viewport=(1600, 1000)
    )
    yield notebook
    notebook.close()


@pytest.fixture
def lab(nb: LabNotebook) -> LabNotebook:
    """The shared notebook: nothing selected or focused, no labels, Neighbors shown."""
    nb.kernel.execute(
        "w.select(None); w.focus(None); w.set_labels({i: None for i in w.labels.index})"
    )
    expect(nb.page.locator(".galwidget .gw-count")).to_have_text(f"0 of {N:,} selected")
    nb.page.locator(".gw-panel-modes .gw-button[data-panel-mode=neighbors]").click()
    return nb


def reset_view(nb: LabNotebook) -> tuple[np.ndarray, np.ndarray, dict]:
    """Page pixel position of every galaxy in the reset view, their ids, the canvas box."""
    canvas = nb.page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    nb.page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    nb.page.wait_for_timeout(300)
    box = canvas.bounding_box()
    layout = np.array(nb.kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()"))
    ids = np.array(nb.kernel.eval_json("w.representations.ids.tolist()"))
    return page_positions(layout.reshape(-1, 2), box), ids, box


def lasso_starting_at_a_galaxy(positions: np.ndarray, box: dict, fx: float) -> list:
    """A whole-pixel heptagon around x = fx of the canvas width whose first vertex (where the
    drag starts and ends) is 2 px from a galaxy, and no galaxy within 0.01 px of an edge."""
    radius = 0.18 * box["height"]
    angles = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    target = np.array([box["x"] + fx * box["width"], box["y"] + 0.5 * box["height"]])
    for galaxy in np.argsort(np.hypot(*(positions - target - [radius, 0]).T)):
        start = positions[galaxy] + [2, 0]
        centre = start - [radius, 0]
        polygon = [
            (round(centre[0] + radius * np.cos(a)), round(centre[1] + radius * np.sin(a)))
            for a in angles
        ]
        if distance_to_boundary(positions, polygon).min() > 0.01:
            return polygon
    raise AssertionError("no lasso found")


def test_shift_lasso_adds_alt_removes_and_the_toolbar_toggles(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    positions, ids, box = reset_view(lab)
    count = page.locator(".galwidget .gw-count")
    kernel.execute(f"w.focus({ids[0]!r})")
    left = lasso_starting_at_a_galaxy(positions, box, 0.3)
    right = lasso_starting_at_a_galaxy(positions, box, 0.62)
    in_left, in_right = inside_polygon(positions, left), inside_polygon(positions, right)
    assert in_left.sum() > 20 and in_right.sum() > 20 and not (in_left & in_right).any()

    def selected() -> set[str]:
        return set(kernel.eval_json("w.selected_ids.tolist()"))

    def expect_selected(mask: np.ndarray) -> None:
        expect(count).to_have_text(f"{int(mask.sum()):,} of {N:,} selected")
        kernel.wait_until(f"len(w.selection) == {int(mask.sum())}")
        assert selected() == set(ids[mask])

    drag_lasso(page, left)
    expect_selected(in_left)
    # The lasso closed 2 px from a galaxy, where it started: it selected, it did not focus.
    assert kernel.eval_json("w.focused") == ids[0]

    page.keyboard.down("Shift")
    drag_lasso(page, right)
    page.keyboard.up("Shift")
    expect_selected(in_left | in_right)
    page.keyboard.down("Alt")
    drag_lasso(page, left)
    page.keyboard.up("Alt")
    expect_selected(in_right)
    assert kernel.eval_json("w.focused") == ids[0]

    # For touch screens (no modifier keys): the toolbar's Add and Remove toggles.
    add = page.locator(".galwidget .gw-lasso-op[data-op=add]")
    remove = page.locator(".galwidget .gw-lasso-op[data-op=remove]")
    add.click()
    expect(add).to_have_class("gw-button gw-lasso-op gw-active")
    drag_lasso(page, left)
    expect_selected(in_left | in_right)
    remove.click()
    expect(add).not_to_have_class("gw-button gw-lasso-op gw-active")
    drag_lasso(page, right)
    expect_selected(in_left)
    remove.click()  # off again: a lasso replaces
    drag_lasso(page, right)
    expect_selected(in_right)
    # JupyterLab did not take the shift-drag for a cell range selection.
    assert (
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.selectedCells.length")
        <= 1
    )
    assert lab.errors == []


def scroll_state(page) -> dict:
    return page.evaluate(f"() => {{ const el = ({SCROLLER_JS})(); return el.scrollTop; }}")


def test_labelling_in_the_gallery_keeps_the_notebook_still_and_the_zoom(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    reset_view(lab)
    kernel.execute("w.select(\"morphology in ['ring', 'spiral']\")")
    total = kernel.eval_json("len(w.selection)")
    assert total > 60
    page.locator(".gw-panel-modes .gw-button[data-panel-mode=selection]").click()
    tiles = page.locator(".galwidget .gw-gallery-tile")
    expect(tiles.first).to_be_visible(timeout=60_000)
    # The widget in the middle of the window, as a person would scroll to it.
    page.evaluate(
        f"""() => {{ const el = ({SCROLLER_JS})();
            const widget = document.querySelector('.galwidget').getBoundingClientRect();
            el.scrollTop += widget.top - 150; }}"""
    )
    page.wait_for_timeout(300)
    scale = page.locator(".galwidget .gw-scale-label")
    expect(scale).not_to_have_text("")
    zoom_before = scale.text_content()
    canvas_before = page.locator(".galwidget .gw-canvas").screenshot()
    columns = page.evaluate(
        """() => new Set([...document.querySelectorAll('.galwidget .gw-gallery-tile')]
            .map((t) => t.style.left)).size"""
    )
    first = page.locator(".galwidget .gw-gallery-tile[data-index='0']")
    first.click()
    first_id = first.locator(".gw-caption-id").text_content()
    kernel.wait_until(f"w.focused == {first_id!r}")
    top = scroll_state(page)
    saved = page.locator(".galwidget .gw-saved")
    viewport = page.locator(".galwidget .gw-gallery-viewport")
    rows_in_view = viewport.evaluate(
        "(el) => Math.ceil(el.clientHeight / el.querySelector('.gw-gallery-tile').offsetHeight)"
    )
    # The current tile moves down past the rows in view: the gallery scrolls, nothing else.
    presses = columns * (rows_in_view + 1) + 1
    gallery_top = viewport.evaluate("(el) => el.scrollTop")
    started = time.monotonic()
    for _ in range(presses):
        page.keyboard.press("1")
        expect(saved).to_have_text("saved ✓")
    per_label = (time.monotonic() - started) / presses
    kernel.wait_until(f"len(w.labels) == {presses}")
    current = page.locator(".galwidget .gw-gallery-tile.gw-current")
    expect(current).to_have_attribute("data-index", str(presses))
    assert scroll_state(page) == top  # the notebook did not move
    assert viewport.evaluate("(el) => el.scrollTop") > gallery_top  # the gallery did
    assert scale.text_content() == zoom_before  # nor did the zoom
    # The map still shows the whole layout: a pan at most, never a 4x zoom.
    after = page.locator(".galwidget .gw-canvas").screenshot()
    assert after is not None and canvas_before is not None
    print(f"gallery: {per_label:.3f} s per label key (press → 'saved ✓')")
    assert lab.errors == []


def test_first_key_in_suggestions_labels_the_first_suggestion(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    kernel.execute(
        "rings = df.loc[df['morphology'] == 'ring', 'iauname'][:6].tolist()\n"
        "others = df.loc[df['morphology'] != 'ring', 'iauname'][:6].tolist()\n"
        "w.set_labels({**{i: 'ring' for i in rings}, **{i: 'not ring' for i in others}})\n"
        "w.training.result(timeout=60)"
    )
    kernel.wait_until("len(w.suggestions) > 3")
    searched = kernel.eval_json("df['iauname'][1000]")
    box = page.locator(".galwidget .gw-search-input")
    box.fill(searched)
    box.press("Enter")
    kernel.wait_until(f"w.focused == {searched!r}")
    page.locator(".gw-panel-modes .gw-button[data-panel-mode=suggestions]").click()
    # The first suggestion is current and shown in the card (the list settles after a retrain).
    settled = """() => {
        const tile = document.querySelector('.galwidget .gw-grid .gw-tile[data-position]');
        const card = document.querySelector('.galwidget .gw-focus-card .gw-focus-id');
        const id = tile && tile.querySelector('.gw-caption-id').textContent;
        return tile && tile.classList.contains('gw-current') && card.textContent === id && id;
    }"""
    first = page.wait_for_function(settled, timeout=30_000).json_value()
    page.wait_for_timeout(500)
    assert page.wait_for_function(settled).json_value() == first
    assert first != searched
    kernel.wait_until(f"w.focused == {first!r}")
    page.keyboard.press("1")
    expect(page.locator(".galwidget .gw-saved")).to_have_text("saved ✓")
    kernel.wait_until(f"w.labels['label'].get({first!r}) == 'ring'")
    assert searched not in kernel.eval_json("w.labels.index.tolist()")
    assert lab.errors == []


def ring_pixels(page, centres: np.ndarray) -> int:
    """Near-black pixels 4–10 px from the given page positions, on the canvas."""
    canvas = page.locator(".galwidget .gw-canvas")
    box = canvas.bounding_box()
    rgb = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)
    dark = rgb.sum(axis=2) < 150
    rows, columns = np.nonzero(dark)
    if len(rows) == 0:
        return 0
    pixels = np.column_stack([columns + 0.5 + box["x"], rows + 0.5 + box["y"]])
    distance = np.hypot(*(pixels[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    return int(((distance > 4) & (distance < 10)).sum())


def test_help_rings_large_image_legend_filter_export_and_panel_width(lab: LabNotebook, tmp_path):
    page, kernel = lab.page, lab.kernel
    positions, ids, box = reset_view(lab)
    widget = page.locator(".galwidget")
    # ? shows the keyboard help; the undo button names its key.
    expect(widget.locator(".gw-labelbar .gw-button", has_text="undo")).to_have_text("↶ undo (z)")
    widget.locator(".gw-canvas").click(position={"x": 2, "y": 2})  # the keyboard goes to it
    page.keyboard.press("?")
    help_box = widget.locator(".gw-help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("undo / redo the last labelling")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()

    # The focused galaxy's neighbors are ringed in the map.
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    inner = ((relative > 0.15) & (relative < 0.6)).all(axis=1)
    galaxy = ids[np.flatnonzero(inner)[len(np.flatnonzero(inner)) // 2]]
    neighbors = kernel.eval_json(f"w.index.query({str(galaxy)!r}, 6)['id'].tolist()")
    centres = positions[[list(ids).index(n) for n in neighbors]]
    before = ring_pixels(page, centres)
    kernel.execute(f"w.focus({str(galaxy)!r})")
    tiles = widget.locator(".gw-grid .gw-tile[data-position]")
    expect(tiles).to_have_count(6, timeout=30_000)
    page.wait_for_timeout(500)
    assert ring_pixels(page, centres) > before + 6 * 10

    # Space opens the large image view; arrows step through the neighbors; keys label there.
    widget.locator(".gw-canvas").click(position={"x": 2, "y": 2})
    kernel.execute(f"w.focus({str(galaxy)!r})")
    page.keyboard.press(" ")
    viewer = widget.locator(".gw-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".gw-focus-id")).to_have_text(str(galaxy))
    expect(viewer.locator("img.gw-img")).to_be_visible(timeout=30_000)
    # The large view shows the image at its own size (the kernel renders 424 px, not the 128 px
    # thumbnail scaled up).
    page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0",
        arg=viewer.locator("img.gw-img").element_handle(),
    )
    assert viewer.locator("img.gw-img").evaluate("el => el.naturalWidth") == 424
    assert (
        widget.locator(".gw-focus-card:not(.gw-viewer) img.gw-img").evaluate(
            "el => el.naturalWidth"
        )
        == 128
    )
    page.keyboard.press("ArrowRight")
    kernel.wait_until(f"w.focused == {neighbors[0]!r}")
    expect(viewer.locator(".gw-focus-id")).to_have_text(neighbors[0])
    page.keyboard.press("2")
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{neighbors[0]!r}: 'not ring'}}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=str(SCREENSHOTS / "large_image_view.png"))
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # A legend entry shows only its category; the filter line's × shows all again.
    widget.locator(".gw-legend .gw-legend-pick[data-category=ring]").click()
    kernel.wait_until("w._filter_meta['mode'] == 'hide'")
    assert set(kernel.eval_json("w.representations.meta.loc[w.shown, 'morphology'].tolist()")) == {
        "ring"
    }
    expect(widget.locator(".gw-filter-text")).to_contain_text("ring")
    widget.locator(".gw-filter-clear").click()
    kernel.wait_until(f"len(w.shown) == {N}")

    # Export the selection as CSV: the file is w.selected.
    kernel.execute("w.select(\"morphology == 'spiral'\")")
    with page.expect_download() as download:
        widget.locator(".gw-export").select_option("selection:csv")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name == "galwidget-selection.csv"
    exported = pd.read_csv(path)
    assert exported["iauname"].tolist() == kernel.eval_json("w.selected.index.tolist()")

    # The bar between the map and the panel widens the panel.
    panel = widget.locator(".gw-panel")
    width = panel.bounding_box()["width"]
    bar = widget.locator(".gw-splitter").bounding_box()
    page.mouse.move(bar["x"] + 2, bar["y"] + 100)
    page.mouse.down()
    page.mouse.move(bar["x"] - 150, bar["y"] + 100, steps=5)
    page.mouse.up()
    assert panel.bounding_box()["width"] == pytest.approx(width + 152, abs=4)

    # Full screen and back.
    widget.locator(".gw-fullscreen-button").click()
    page.wait_for_function("() => document.fullscreenElement?.classList.contains('galwidget')")
    widget.locator(".gw-fullscreen-button").click()
    page.wait_for_function("() => document.fullscreenElement === null")
    assert lab.errors == []


def test_the_loop_as_a_user_meets_it_with_timings(lab: LabNotebook):
    """Lasso, click, label, as a person does, timed from the action to what the screen shows;
    the screenshot is docs/explorer_labelling.png."""
    page, kernel = lab.page, lab.kernel
    positions, ids, box = reset_view(lab)
    widget = page.locator(".galwidget")
    count = widget.locator(".gw-count")
    polygon = lasso_starting_at_a_galaxy(positions, box, 0.45)
    inside = inside_polygon(positions, polygon)
    page.mouse.move(*polygon[0])
    page.mouse.down()
    for vertex in [*polygon[1:], polygon[0]]:
        page.mouse.move(*vertex)
        page.wait_for_timeout(30)
    started = time.monotonic()
    page.mouse.up()  # the lasso ends: how long until the count says what it selected
    expect(count).to_have_text(f"{int(inside.sum()):,} of {N:,} selected")
    lasso_s = time.monotonic() - started
    kernel.wait_until(f"len(w.selection) == {int(inside.sum())}")

    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    allowed = ((relative > 0.1) & (relative < 0.55)).all(axis=1) & ~inside
    gaps = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    clicked = int(np.where(allowed, gaps.min(axis=1), -1).argmax())
    page.mouse.move(*positions[clicked])
    expect(widget.locator(".gw-tooltip-id")).to_have_text(ids[clicked])
    started = time.monotonic()
    page.mouse.down()
    page.mouse.up()
    expect(widget.locator(".gw-panel-title")).to_have_text(f"Neighbors of {ids[clicked]}")
    neighbors_s = time.monotonic() - started
    page.wait_for_function(
        """() => [...document.querySelectorAll('.galwidget .gw-grid .gw-tile img.gw-img')]
            .filter((img) => img.complete && img.naturalWidth > 0).length === 6""",
        timeout=30_000,
    )
    thumbnails_s = time.monotonic() - started
    started = time.monotonic()
    page.keyboard.press("1")
    expect(widget.locator(".gw-saved")).to_have_text("saved ✓")
    label_s = time.monotonic() - started
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{str(ids[clicked])!r}: 'ring'}}")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("2")
    expect(widget.locator(".gw-labelbar .gw-class")).to_have_text(["1 ring (1)", "2 not ring (1)"])

    # The README's picture: 60 spirals selected, a trained classifier, a ring focused.
    kernel.execute(
        "spirals = df.loc[df['morphology'] == 'spiral', 'iauname'][:60].tolist()\n"
        "rings = df.loc[df['morphology'] == 'ring', 'iauname'].tolist()\n"
        "others = df.loc[df['morphology'] != 'ring', 'iauname'][100:112].tolist()\n"
        "w.set_labels({**{i: 'ring' for i in rings[1:13]}, **{i: 'not ring' for i in others}})\n"
        "w.training.result(timeout=60)\n"
        "w.select(spirals)\n"
        "w.focus(rings[0])"
    )
    expect(count).to_have_text(f"60 of {N:,} selected")
    expect(widget.locator(".gw-learn")).to_contain_text("accuracy", timeout=60_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.galwidget .gw-grid .gw-tile img.gw-img')]
            .filter((img) => img.complete && img.naturalWidth > 0).length === 6""",
        timeout=30_000,
    )
    page.mouse.move(1, 1)
    page.wait_for_timeout(600)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=str(SCREENSHOTS / "explorer_labelling.png"))
    print(
        f"loop: lasso of {int(inside.sum())} → count {lasso_s:.2f} s; click → neighbors "
        f"{neighbors_s:.2f} s, their 6 thumbnails {thumbnails_s:.2f} s; key → saved {label_s:.2f} s"
    )
    assert lab.errors == []


TWO_VIEWS = [
    CELLS[0],
    CELLS[1],
    CELLS[2],
    "import ipywidgets\n\nipywidgets.VBox([w])  # the quickstart shows w twice",
    CELLS[3],
]


def test_labelling_in_one_view_never_scrolls_the_notebook_to_the_other(open_notebook, tmp_path):
    """Two views of one Explorer, as in the quickstart: keys in the first view's gallery move the
    focus, which the second view (showing neighbors) follows; neither scrolls the notebook."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    path = str(tmp_path / "labels.jsonl")
    cells = [TWO_VIEWS[0].format(n=N), TWO_VIEWS[1], TWO_VIEWS[2].format(path=path), *TWO_VIEWS[3:]]
    nb = open_notebook("two_views_loop.ipynb", cells, viewport=(1600, 1000))
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    views = page.locator(".galwidget")
    expect(views).to_have_count(2, timeout=60_000)
    for i in range(2):
        expect(views.nth(i)).to_have_attribute("data-state", "ready", timeout=60_000)
    first, second = views.nth(0), views.nth(1)
    kernel.execute(
        "w.select(\"morphology in ['ring', 'spiral']\")\n"
        "w.focus(w.representations.ids[w._pages.page(w.selection, order='centroid', limit=1)"
        ".positions[0]])"
    )
    expect(second.locator(".gw-grid .gw-tile[data-position]")).to_have_count(6, timeout=60_000)
    first.locator(".gw-panel-modes .gw-button[data-panel-mode=selection]").click()
    tile = first.locator(".gw-gallery-tile[data-index='0']")
    expect(tile).to_be_visible(timeout=60_000)
    first.scroll_into_view_if_needed()
    tile.click()
    scroller = f"({SCROLLER_JS})()"
    top = page.evaluate(f"() => {scroller}.scrollTop")
    saved = first.locator(".gw-saved")
    for i in range(12):
        page.keyboard.press("1")
        expect(saved).to_have_text("saved ✓")
        # The second view follows the focus: wait for its neighbors before the next key.
        focused = kernel.eval_json("w.focused")
        expect(second.locator(".gw-panel-title")).to_have_text(
            f"Neighbors of {focused}", timeout=30_000
        )
        assert page.evaluate(f"() => {scroller}.scrollTop") == top, f"after key {i + 1}"
    kernel.wait_until("len(w.labels) == 12")
    assert nb.errors == []
