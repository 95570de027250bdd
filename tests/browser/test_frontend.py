"""The built front end in headless Chromium, driven by a real Explorer through the harness page.

Selections are made with the mouse and compared with the points that really lie inside the drawn
polygon, computed here from the coordinates the widget sent and the scatter's reset view.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from polygons import distance_to_boundary, inside_polygon
from scipy.spatial import cKDTree

import galwidget as gw
from galwidget import protocol
from galwidget.widget import Explorer

pytestmark = pytest.mark.browser

N = 5000
SELECTED_RGB = (0, 0, 0)  # selected points in the light theme (SELECTED_COLOR of scatter.ts)
STEP_MS = 30  # longer than the lasso's throttle, so every vertex is recorded


def blob_frame(n: int = N, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A DataFrame of galaxies (ids, 16 features, two meta columns) and a 2-D layout for them."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-3, 3, size=(6, 2))
    cluster = rng.integers(0, len(centres), size=n)
    layout = centres[cluster] + rng.normal(scale=0.8, size=(n, 2))
    features = np.hstack([layout, rng.normal(size=(n, 14))]).astype(np.float32)
    frame = pd.DataFrame(features, columns=[f"feat_{i}" for i in range(16)])
    frame.insert(0, "id", [f"G{i:05d}" for i in range(n)])
    frame["brightness"] = layout[:, 0] + layout[:, 1]
    frame["cluster"] = [f"group {c}" for c in cluster]
    return frame, layout


def screen_positions(widget: Explorer, page) -> np.ndarray:
    """Page pixel positions of every point in the scatter's reset view (regl-scatterplot maps
    [-1, 1] to the canvas height, centred, keeping the aspect ratio)."""
    box = page.locator(".gw-canvas").bounding_box()
    xy = np.frombuffer(widget._points, dtype=np.float32).reshape(-1, 2).astype(np.float64)
    width, height = box["width"], box["height"]
    ndc_x = xy[:, 0] * height / width
    return np.column_stack(
        [box["x"] + (ndc_x + 1) / 2 * width, box["y"] + (1 - xy[:, 1]) / 2 * height]
    )


def canvas_point(page, fx: float, fy: float) -> tuple[int, int]:
    """Whole-pixel page position at fractions (fx, fy) of the canvas."""
    box = page.locator(".gw-canvas").bounding_box()
    return round(box["x"] + fx * box["width"]), round(box["y"] + fy * box["height"])


def polygon_around(page, positions: np.ndarray, fx: float, fy: float, radius: float) -> list:
    """A heptagon of whole-pixel vertices around (fx, fy) of the canvas, turned until no point
    lies within 0.002 px of its edges (where float32 rounding could decide either way)."""
    cx, cy = canvas_point(page, fx, fy)
    for turn in np.linspace(0.3, 1.2, 30):
        angles = np.linspace(0, 2 * np.pi, 7, endpoint=False) + turn
        polygon = [(round(cx + radius * np.cos(a)), round(cy + radius * np.sin(a))) for a in angles]
        if distance_to_boundary(positions, polygon).min() > 0.002:
            return polygon
    raise AssertionError("no polygon clear of the points found")


def inside(points: np.ndarray, polygon: list[tuple]) -> np.ndarray:
    """Points inside ``polygon``, which must keep clear of every point."""
    assert distance_to_boundary(points, polygon).min() > 0.002, "a point lies on the polygon's edge"
    return inside_polygon(points, polygon)


def drag(page, path: list[tuple], modifier: str | None = None) -> None:
    """Press at path[0], move through every vertex (pausing so each is recorded), release."""
    page.mouse.move(*path[0])
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.down()
    for vertex in path:
        page.mouse.move(*vertex)
        page.wait_for_timeout(STEP_MS)
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)


def browser_selection(bridge) -> set[int]:
    return set(bridge.page.evaluate("harness.selection()"))


def wait_for_selection(bridge, expected: set[int]) -> None:
    bridge.wait_until(lambda: set(bridge.widget.selection.tolist()) == expected, timeout=10)


def canvas_pixels(page) -> np.ndarray:
    png = page.locator(".gw-canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.fixture
def blobs(render):
    frame, layout = blob_frame()
    widget = Explorer(frame, layout=layout, color="brightness")
    return frame, render(widget)


def test_first_render_draws_points_and_legend(blobs, page, artifacts):
    _, bridge = blobs
    pixels = canvas_pixels(page)
    drawn = (np.abs(pixels - 255).sum(axis=2) > 60).mean()
    assert 0.02 < drawn < 0.9, f"{drawn:.1%} of the canvas is colored"
    assert page.locator(".gw-legend-title").text_content() == "brightness"
    assert page.locator(".gw-count").text_content() == "0 of 5,000 selected"
    page.screenshot(path=str(artifacts / "blobs.png"))
    # The state went over the wire as ipywidgets sends it: binary buffers, not JSON numbers.
    state, buffer_paths, buffers = bridge.initial
    assert ["_points"] in buffer_paths and ["_color"] in buffer_paths
    assert "_points" not in state
    assert len(buffers[buffer_paths.index(["_points"])]) == 8 * N


def test_lasso_selects_exactly_the_points_inside(blobs, page):
    frame, bridge = blobs
    widget = bridge.widget
    positions = screen_positions(widget, page)
    radius = 0.265 * page.locator(".gw-canvas").bounding_box()["height"]  # 140 px of 528
    polygon = polygon_around(page, positions, 0.45, 0.5, radius)
    expected = set(np.flatnonzero(inside(positions, polygon)).tolist())
    assert 50 < len(expected) < N / 2

    drag(page, polygon)
    wait_for_selection(bridge, expected)
    assert browser_selection(bridge) == expected
    assert set(widget.selected_ids) == {f"G{i:05d}" for i in expected}
    assert frame["selected"].to_numpy().nonzero()[0].tolist() == sorted(expected)
    assert page.locator(".gw-count").text_content() == f"{len(expected):,} of 5,000 selected"


def test_shift_adds_alt_and_ctrl_remove_escape_clears(blobs, page):
    frame, bridge = blobs
    widget = bridge.widget
    positions = screen_positions(widget, page)
    first = polygon_around(page, positions, 0.3, 0.4, 90)
    second = polygon_around(page, positions, 0.6, 0.6, 90)
    third = polygon_around(page, positions, 0.45, 0.5, 110)
    fourth = polygon_around(page, positions, 0.3, 0.6, 60)
    a, b, c, d = (
        set(np.flatnonzero(inside(positions, p)).tolist()) for p in (first, second, third, fourth)
    )
    assert a and b and c & (a | b) and d

    drag(page, first)
    wait_for_selection(bridge, a)
    drag(page, second, "Shift")
    wait_for_selection(bridge, a | b)
    drag(page, third, "Alt")
    wait_for_selection(bridge, (a | b) - c)
    drag(page, fourth, "Shift")
    wait_for_selection(bridge, ((a | b) - c) | d)
    drag(page, fourth, "Control")
    wait_for_selection(bridge, (a | b) - c - d)
    assert browser_selection(bridge) == (a | b) - c - d

    page.keyboard.press("Escape")
    wait_for_selection(bridge, set())
    assert browser_selection(bridge) == set()
    assert not frame["selected"].any()


def test_box_mode_selects_the_rectangle(blobs, page):
    _, bridge = blobs
    page.locator(".gw-button[data-mode=box]").click()
    bridge.wait_until(lambda: bridge.widget.mode == "box")
    positions = screen_positions(bridge.widget, page)
    x1, y1 = canvas_point(page, 0.3, 0.3)
    x2, y2 = canvas_point(page, 0.55, 0.7)
    for _ in range(10):  # shift by whole pixels until no point lies on an edge
        rectangle = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        if distance_to_boundary(positions, rectangle).min() > 0.002:
            break
        x1, y1, x2, y2 = x1 + 1, y1 + 1, x2 + 1, y2 + 1
    expected = set(np.flatnonzero(inside(positions, rectangle)).tolist())
    assert expected
    drag(page, [(x1, y1), ((x1 + x2) // 2, (y1 + y2) // 2), (x2, y2)])
    wait_for_selection(bridge, expected)


def test_python_selection_and_callbacks_reach_the_browser(blobs, page):
    frame, bridge = blobs
    widget = bridge.widget
    seen = []
    widget.on_select(seen.append)
    widget.select("brightness > 2")
    expected = set(np.flatnonzero(frame["brightness"].to_numpy() > 2).tolist())
    bridge.wait_until(lambda: browser_selection(bridge) == expected)
    assert page.locator(".gw-count").text_content() == f"{len(expected):,} of 5,000 selected"
    assert [len(ids) for ids in seen] == [len(expected)]
    # A selection made in Python is drawn: selected points take the highlight color.
    assert highlighted(page) > 50
    widget.select(None)
    bridge.wait_until(lambda: browser_selection(bridge) == set())


def highlighted(page) -> int:
    """Canvas pixels in the selection color."""
    return int((np.abs(canvas_pixels(page) - np.array(SELECTED_RGB)).sum(axis=2) < 60).sum())


def test_a_large_selection_is_painted_in_the_codes_and_a_small_one_outlined(render, page):
    # Beyond 20,000 points (OUTLINED_SELECTION_MAX in scatter.ts) the selection is painted through
    # the color codes instead of regl-scatterplot's selection; both ways show it, and switching
    # between them leaves no highlight behind.
    n = 40_000
    frame, layout = blob_frame(n)
    bridge = render(Explorer(frame, layout=layout, color="cluster"))
    assert highlighted(page) == 0
    left = frame["brightness"].to_numpy() < np.median(frame["brightness"])
    for mask in (left, ~left, np.arange(n) < 300, np.arange(n) < 30_000, np.zeros(n, bool)):
        bridge.widget.select(mask)
        bridge.wait_until(
            lambda m=mask: browser_selection(bridge) == set(np.flatnonzero(m).tolist())
        )
        page.wait_for_timeout(300)
        pixels = canvas_pixels(page)
        is_highlight = np.abs(pixels - np.array(SELECTED_RGB)).sum(axis=2) < 60
        if not mask.any():
            assert is_highlight.sum() == 0
            continue
        assert is_highlight.sum() > 50
        # Highlighted pixels lie on selected points, not elsewhere.
        box = page.locator(".gw-canvas").bounding_box()
        selected = screen_positions(bridge.widget, page)[mask] - [box["x"], box["y"]]
        rows, columns = np.nonzero(is_highlight)
        distance, _ = cKDTree(selected).query(np.column_stack([columns + 0.5, rows + 0.5]))
        assert (distance < 4).mean() > 0.95


def test_color_change_repaints_and_shows_a_legend(blobs, page):
    _, bridge = blobs
    before = canvas_pixels(page)
    bridge.widget.color_by("cluster")
    bridge.wait_for_js("document.querySelectorAll('.gw-legend-row').length === 6")
    page.wait_for_timeout(200)
    after = canvas_pixels(page)
    changed = (np.abs(after - before).sum(axis=2) > 60).mean()
    assert changed > 0.01
    labels = page.locator(".gw-legend-label").all_text_contents()
    assert labels == [f"group {i}" for i in range(6)]
    # The legend folds away (and back) by its title so it never hides points for good.
    rows = page.locator(".gw-legend-row")
    page.locator(".gw-legend-title").click()
    assert not any(rows.nth(i).is_visible() for i in range(6))
    assert bridge.widget.selected_ids.empty  # the click folded the legend, selected nothing
    page.locator(".gw-legend-title").click()
    assert all(rows.nth(i).is_visible() for i in range(6))
    bridge.widget.color_by(None)
    bridge.wait_for_js("document.querySelector('.gw-legend').hidden")


@pytest.fixture
def galaxies(render):
    reps = gw.datasets.synthetic(1500, seed=3)
    widget = Explorer(reps, color="morphology", k=9)
    assert len(widget.index) == 1500  # built now: these tests time the front end, not the index
    return render(widget)


def test_focus_shows_neighbor_thumbnails_and_tiles_refocus(galaxies, page, artifacts):
    bridge = galaxies
    widget = bridge.widget
    target = widget.representations.ids[42]
    widget.focus(target)
    tiles = page.locator(".gw-panel .gw-tile")
    bridge.wait_for_js(
        "[...document.querySelectorAll('.gw-grid img')].filter(i => i.naturalWidth > 0).length === 9"
    )
    assert page.locator(".gw-panel-title").text_content() == f"Neighbors of {target}"
    shown = [tiles.nth(i).locator(".gw-caption-id").text_content() for i in range(9)]
    assert shown == widget.neighbors["id"].tolist()
    page.screenshot(path=str(artifacts / "explorer.png"))

    tiles.nth(2).click()
    bridge.wait_until(lambda: widget.focused == shown[2])
    bridge.wait_for_js(
        f"document.querySelector('.gw-panel-title').textContent === 'Neighbors of {shown[2]}'"
    )


def test_click_focuses_and_hover_shows_a_tooltip(galaxies, page):
    bridge = galaxies
    widget = bridge.widget
    positions = screen_positions(widget, page)
    # The point farthest from its nearest neighbor on screen: unambiguous under the mouse.
    distances = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    target = int(distances.min(axis=1).argmax())
    x, y = positions[target]
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=4)
    bridge.wait_for_js("document.querySelector('.gw-tooltip.gw-visible .gw-tooltip-id') !== null")
    tooltip_id = page.locator(".gw-tooltip-id").text_content()
    assert tooltip_id == widget.representations.ids[target]
    assert page.locator(".gw-tooltip-name").first.text_content() == "morphology"
    page.mouse.click(x, y)
    bridge.wait_until(lambda: widget.focused == tooltip_id)
    bridge.wait_for_js("document.querySelectorAll('.gw-panel .gw-tile').length === 9")


def test_failed_thumbnails_show_their_reason(render, page):
    frame, layout = blob_frame(300)

    def broken(galaxy_id: str) -> np.ndarray:
        raise FileNotFoundError(f"no file for {galaxy_id}")

    widget = Explorer(frame, layout=layout, images=broken, k=4)
    bridge = render(widget)
    widget.focus("G00001")
    bridge.wait_for_js("document.querySelectorAll('.gw-grid .gw-failed').length === 4")
    reasons = page.locator(".gw-grid .gw-failed").all_text_contents()
    assert all(reasons) and all("no file for" in r for r in reasons), reasons


def test_dark_theme_and_cleanup(page, render):
    page.evaluate("document.body.classList.add('dark')")
    frame, layout = blob_frame(500)
    bridge = render(Explorer(frame, layout=layout))
    assert page.evaluate("document.querySelector('.galwidget').classList.contains('gw-dark')")
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.galwidget')).backgroundColor"
    )
    assert background == "rgb(17, 17, 17)"
    page.evaluate("harness.destroy()")
    assert page.evaluate("document.querySelector('.galwidget')") is None
    assert page.evaluate("harness.model.listenerCount()") == 0
    bridge.pump()


def test_more_like_selection_fills_the_panel(galaxies, page):
    bridge = galaxies
    widget = bridge.widget
    ring_ids = widget.representations.ids[:3].tolist()
    widget.select(ring_ids)
    bridge.wait_for_js("!document.querySelector('.gw-button[title^=\"Find galaxies\"]').disabled")
    page.get_by_role("button", name="More like selection").click()
    bridge.wait_for_js(
        "document.querySelector('.gw-panel-title').textContent === 'More like the 3 selected'"
    )
    bridge.wait_for_js("document.querySelectorAll('.gw-panel .gw-caption-id').length === 9")
    shown = page.locator(".gw-panel .gw-caption-id").all_text_contents()
    assert shown == widget.index.more_like(ring_ids, k=9)["id"].tolist()


def test_toolbar_and_python_share_mode_size_and_opacity(blobs, page):
    _, bridge = blobs
    widget = bridge.widget
    page.locator(".gw-button[data-mode=pan]").click()
    bridge.wait_until(lambda: widget.mode == "pan")
    assert page.locator(".gw-toolbar .gw-button.gw-active").text_content() == "Pan"
    page.locator(".gw-slider").first.fill("8")
    bridge.wait_until(lambda: widget.point_size == 8)
    widget.opacity = 0.25
    bridge.wait_for_js("document.querySelectorAll('.gw-slider')[1].value === '0.25'")
    # In pan mode a drag moves the view instead of selecting.
    drag(page, [canvas_point(page, 0.3, 0.3), canvas_point(page, 0.6, 0.6)])
    page.wait_for_timeout(200)
    bridge.pump()
    assert widget.selected_ids.empty


# -- labelling ---------------------------------------------------------------------------------

CLASSES = ["ring", "not ring"]


@pytest.fixture
def labelling(render, tmp_path):
    reps = gw.datasets.synthetic(1500, seed=3)
    widget = Explorer(reps, k=9, classes=CLASSES, labels={"path": tmp_path / "labels.jsonl"})
    assert len(widget.index) == 1500
    return render(widget)


def class_buttons(page) -> list[str]:
    return page.locator(".gw-labelbar .gw-class").all_text_contents()


def isolated_point(positions: np.ndarray) -> int:
    """The point farthest from its nearest neighbor on screen (unambiguous under the mouse)."""
    gaps = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    return int(gaps.min(axis=1).argmax())


def test_keys_label_remove_undo_and_redo(labelling, page):
    bridge = labelling
    widget = bridge.widget
    store = widget.label_store
    assert class_buttons(page) == ["1 ring (0)", "2 not ring (0)"]
    target = widget.representations.ids[42]
    widget.focus(target)
    bridge.wait_for_js(
        "document.querySelectorAll('.gw-panel .gw-tile[data-position]').length === 9"
    )
    page.locator(".galwidget").focus()

    page.keyboard.press("1")
    bridge.wait_until(lambda: store.get(target) == "ring")
    bridge.wait_for_js("document.querySelector('.gw-saved').textContent === 'saved ✓'")
    assert class_buttons(page)[0] == "1 ring (1)"
    assert widget.labels.loc[target, "source"] == "key"

    page.keyboard.press("0")
    bridge.wait_until(lambda: store.get(target) is None)
    bridge.wait_for_js("document.querySelector('.gw-class').textContent === '1 ring (0)'")
    page.keyboard.press("z")
    bridge.wait_until(lambda: store.get(target) == "ring")
    bridge.wait_for_js("document.querySelector('.gw-class').textContent === '1 ring (1)'")
    page.keyboard.press("Shift+Z")
    bridge.wait_until(lambda: store.get(target) is None)
    page.keyboard.press("2")
    bridge.wait_until(lambda: store.get(target) == "not ring")
    bridge.wait_for_js(
        "[...document.querySelectorAll('.gw-class')].map(b => b.textContent).join('|')"
        " === '1 ring (0)|2 not ring (1)'"
    )


def test_label_selection_asks_before_a_large_batch(labelling, page):
    bridge = labelling
    widget = bridge.widget
    ids = widget.representations.ids
    widget.select(ids[:10])
    bridge.wait_for_js(
        "!document.querySelector('.gw-labelbar .gw-button[title^=\"Give\"]').disabled"
    )
    page.locator(".gw-labelbar select.gw-select").first.select_option("not ring")
    page.get_by_role("button", name="Label selection as").click()
    bridge.wait_until(lambda: len(widget.labels) == 10)  # 10 ≤ 50: no question asked
    assert set(widget.labels["label"]) == {"not ring"}

    widget.select(ids[100:220])
    bridge.wait_for_js("document.querySelector('.gw-count').textContent.startsWith('120 of')")
    page.locator(".gw-labelbar select.gw-select").first.select_option("ring")
    page.get_by_role("button", name="Label selection as").click()
    confirm = page.locator(".gw-confirm")
    confirm.wait_for()
    assert confirm.locator(".gw-confirm-text").text_content() == "Label 120 galaxies as ring?"
    page.get_by_role("button", name="Cancel").click()
    assert confirm.is_hidden()
    bridge.pump()
    assert len(widget.labels) == 10
    page.get_by_role("button", name="Label selection as").click()
    page.locator(".gw-confirm-yes").click()
    bridge.wait_until(lambda: len(widget.labels) == 130)
    assert (widget.labels.loc[ids[100:220], "source"] == "bulk").all()
    bridge.wait_for_js("document.querySelector('.gw-class').textContent === '1 ring (120)'")


def test_arrow_keys_walk_the_neighbor_panel(labelling, page):
    bridge = labelling
    widget = bridge.widget
    anchor = widget.representations.ids[7]
    widget.focus(anchor)
    bridge.wait_for_js(
        "document.querySelectorAll('.gw-panel .gw-tile[data-position]').length === 9"
    )
    shown = page.locator(".gw-panel .gw-caption-id").all_text_contents()
    assert shown == widget.neighbors["id"].tolist()
    page.locator(".galwidget").focus()
    for key, expected in [
        ("ArrowRight", 0),
        ("ArrowRight", 1),
        ("ArrowDown", 4),
        ("ArrowLeft", 3),
        ("ArrowUp", 0),
    ]:
        page.keyboard.press(key)
        bridge.wait_until(lambda expected=expected: widget.focused == shown[expected])
        bridge.wait_for_js(
            f"document.querySelector('.gw-tile.gw-current .gw-caption-id')?.textContent"
            f" === {shown[expected]!r}"
        )
    # Walking keeps the panel; Enter opens the walked-to galaxy's own neighbors.
    assert page.locator(".gw-panel-title").text_content() == f"Neighbors of {anchor}"
    page.keyboard.press("1")
    bridge.wait_until(lambda: widget.label_store.get(shown[0]) == "ring")
    bridge.wait_for_js(
        "document.querySelector('.gw-tile.gw-current .gw-badge').textContent === 'ring'"
    )
    page.keyboard.press("Enter")
    bridge.wait_for_js(
        f"document.querySelector('.gw-panel-title').textContent === 'Neighbors of {shown[0]}'"
    )


def test_suggestion_mode_labels_and_advances(labelling, page):
    bridge = labelling
    widget = bridge.widget
    meta = widget.representations.meta
    rings = meta.index[meta["is_ring"]][:5].tolist()
    others = meta.index[~meta["is_ring"]][:5].tolist()
    widget.set_labels({**dict.fromkeys(rings, "ring"), **dict.fromkeys(others, "not ring")})
    assert widget.training.result(timeout=60) is not None
    report = widget.model_report()
    quality = f"accuracy {report.accuracy:.2f} ± {report.accuracy_std:.2f}"
    learn = bridge.wait_for_js(
        f"(t => t.includes({quality!r}) && t)(document.querySelector('.gw-learn').textContent)"
    )
    assert f"AUC {report.roc_auc:.2f}" in learn and "(5 folds; " in learn
    page.locator(".gw-panel-modes .gw-button[data-panel-mode=suggestions]").click()
    bridge.wait_for_js("document.querySelectorAll('.gw-panel .gw-tile[data-position]').length > 10")
    suggested = list(widget.suggestions)
    shown = page.locator(".gw-panel .gw-caption-id").all_text_contents()
    assert shown == suggested
    assert page.locator(".gw-panel-title").text_content() == "Suggestions (uncertainty)"

    page.locator(".galwidget").focus()
    # The first suggestion shown is current: the first key labels it (issue 19).
    bridge.wait_until(lambda: widget.focused == shown[0])
    page.keyboard.press("1")  # labels the first suggestion and moves on to the next
    bridge.wait_until(lambda: widget.label_store.get(shown[0]) == "ring")
    bridge.wait_until(lambda: widget.focused == shown[1])
    page.keyboard.press("2")
    bridge.wait_until(lambda: widget.label_store.get(shown[1]) == "not ring")
    # The retrained queue replaces the list and leaves the new labels out.
    bridge.wait_until(lambda: widget.training.done() and shown[1] not in widget.suggestions)
    bridge.wait_for_js(
        f"![...document.querySelectorAll('.gw-panel .gw-caption-id')]"
        f".some(c => c.textContent === {shown[1]!r})"
    )
    widget.strategy = "random"
    bridge.wait_for_js("document.querySelector('.gw-strategy').value === 'random'")
    page.locator(".gw-strategy").select_option("top")
    bridge.wait_until(lambda: widget.strategy == "top")
    page.locator(".gw-strategy").select_option(label="active search")  # issue 20
    bridge.wait_until(lambda: widget.strategy == "active_search")
    # Class labels: an outcome of 1 for the target class ("ring"), 0 for any other.
    bridge.wait_until(
        lambda: widget.training.done() and getattr(widget.training.result(), "kind", "") == "search"
    )
    assert page.locator(".gw-strategy option:checked").text_content() == "active search"
    bridge.wait_for_js("document.querySelector('.gw-learn').textContent.startsWith('trained on')")
    assert not {shown[0], shown[1]} & set(widget.suggestions)


def test_click_focuses_without_touching_the_selection(labelling, page):
    bridge = labelling
    widget = bridge.widget
    positions = screen_positions(widget, page)
    target = isolated_point(positions)
    chosen = [i for i in range(20) if i != target]
    widget.select(widget.representations.ids[chosen])
    bridge.wait_until(lambda: browser_selection(bridge) == set(chosen))
    x, y = positions[target]
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y, steps=4)
    bridge.wait_for_js("document.querySelector('.gw-tooltip.gw-visible .gw-tooltip-id') !== null")
    page.mouse.click(x, y)
    bridge.wait_until(lambda: widget.focused == widget.representations.ids[target])
    page.wait_for_timeout(200)
    bridge.pump()
    assert set(widget.selection.tolist()) == set(chosen) == browser_selection(bridge)

    page.keyboard.down("Shift")
    page.mouse.click(x, y)
    page.keyboard.up("Shift")
    wait_for_selection(bridge, set(chosen) | {target})
    page.keyboard.down("Shift")
    page.mouse.click(x, y)
    page.keyboard.up("Shift")
    wait_for_selection(bridge, set(chosen))
    assert browser_selection(bridge) == set(chosen)


def test_labels_restored_and_colored_at_start(render, page, tmp_path):
    frame, layout = blob_frame(800)
    path = tmp_path / "labels.jsonl"
    first = Explorer(frame, layout=layout, classes=CLASSES, labels={"path": path})
    first.set_labels({"G00001": "ring", "G00002": "ring", "G00003": "not ring"})
    first.close()
    widget = Explorer(
        blob_frame(800)[0], layout=layout, classes=CLASSES, labels={"path": path}, color="label"
    )
    render(widget)
    assert class_buttons(page) == ["1 ring (2)", "2 not ring (1)"]
    labels = page.locator(".gw-legend-label").all_text_contents()
    assert labels == ["ring (2)", "not ring (1)", "unlabelled (797)"]  # every class counted


def test_a_read_only_label_log_says_so_and_keys_label_nothing(render, page, read_only_folder):
    folder, make_read_only = read_only_folder
    frame, layout = blob_frame(800)
    first = Explorer(
        frame, layout=layout, classes=CLASSES, labels={"path": folder / "labels.jsonl"}
    )
    first.set_labels({"G00001": "ring"})
    first.close()
    log = make_read_only() / "labels.jsonl"
    widget = Explorer(blob_frame(800)[0], layout=layout, classes=CLASSES, labels={"path": log})
    bridge = render(widget)
    widget.focus("G00002")
    bridge.wait_for_js("document.querySelector('.gw-panel').innerText.includes('G00002')")
    saved = page.locator(".gw-saved").text_content()
    assert saved == "read-only: labels are shown, not saved"
    assert page.locator(".gw-labelbar .gw-class").first.is_disabled()
    page.locator(".galwidget").focus()
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    bridge.pump()
    assert widget.label_store.get("G00002") is None
    assert class_buttons(page) == ["1 ring (1)", "2 not ring (0)"]


# -- wire protocol v2 --------------------------------------------------------------------------


def sent_selections(bridge) -> list[bytes]:
    """The ``_selection`` values the page sent to the kernel, as encoded bytes."""
    return [
        buffer
        for data, buffers in bridge.received_with_buffers
        if data.get("method") == "update"
        for path, buffer in zip(data.get("buffer_paths", []), buffers, strict=True)
        if path == ["_selection"]
    ]


def test_dense_lasso_travels_as_a_bitmask_or_runs(blobs, page):
    _, bridge = blobs
    widget = bridge.widget
    positions = screen_positions(widget, page)
    polygon = polygon_around(page, positions, 0.5, 0.5, 330)
    expected = set(np.flatnonzero(inside(positions, polygon)).tolist())
    assert len(expected) > N / 2
    drag(page, polygon)
    wait_for_selection(bridge, expected)
    assert browser_selection(bridge) == expected
    wire = sent_selections(bridge)[-1]
    assert wire[0] in (1, 2)  # BITMASK or RUNS: smaller than 4 bytes per position
    assert len(wire) <= 8 + (N + 7) // 8
    assert int.from_bytes(wire[4:8], "little") == len(expected)
    assert wire == protocol.encode_selection(sorted(expected), N)  # both sides encode alike


def test_a_selection_over_the_message_limit_is_refused_and_shown(render, page):
    frame, layout = blob_frame()
    widget = Explorer(frame, layout=layout)
    widget._config = {**widget._config, "max_message_bytes": 64}
    bridge = render(widget)
    positions = screen_positions(widget, page)
    polygon = polygon_around(page, positions, 0.45, 0.5, 140)
    assert inside(positions, polygon).sum() > 50  # 8 + 4 × 50 bytes and more: over 64
    drag(page, polygon)
    bridge.wait_for_js("document.querySelector('.gw-status.gw-error')?.hidden === false")
    notice = page.locator(".gw-status").text_content()
    assert "over the" in notice and "message limit: not sent" in notice, notice
    page.wait_for_timeout(200)
    bridge.pump()
    assert sent_selections(bridge) == []
    assert len(widget.selection) == 0 and browser_selection(bridge) == set()
    assert page.locator(".gw-count").text_content() == "0 of 5,000 selected"


def test_a_key_press_sends_only_what_changed_and_recolors_by_label(render, page, tmp_path):
    frame, layout = blob_frame()
    widget = Explorer(
        frame, layout=layout, classes=CLASSES, labels={"path": tmp_path / "l.jsonl"}, color="label"
    )
    bridge = render(widget)

    def ring_pixels() -> int:
        """Pixels in the first class's blue (#1f77b4, blended): unlabelled points are grey."""
        rgb = canvas_pixels(page)
        return int(((rgb[:, :, 2] - rgb[:, :, 0]) > 60).sum())

    before = ring_pixels()
    target = widget.representations.ids[isolated_point(screen_positions(widget, page))]
    widget.focus(target)
    bridge.wait_until(lambda: page.evaluate("harness.model.get('_focus')") >= 0)
    # The focus's own replies (its neighbors' positions and distances) are not the key press's.
    bridge.wait_until(
        lambda: any(
            data.get("content", {}).get("kind") == "neighbors" for _, data, _ in bridge.published
        )
    )
    published = len(bridge.published)
    page.locator(".galwidget").focus()
    page.keyboard.press("1")
    bridge.wait_until(lambda: widget.label_store.get(target) == "ring")
    bridge.wait_for_js("document.querySelector('.gw-saved').textContent === 'saved ✓'")
    bridge.wait_for_js(
        "[...document.querySelectorAll('.gw-legend-label')].pop().textContent"
        " === 'unlabelled (4,999)'"
    )
    after = bridge.published[published:]
    events = [m for m in after if m[1].get("content", {}).get("type") == "event"]
    assert [e[1]["content"]["kind"] for e in events] == ["labels"]
    assert [len(b) for b in events[0][2]] == [4, 1]  # one position, one code
    updated = {name for _, data, _ in after for name in data.get("state", {})}
    assert "_color" not in updated and "_points" not in updated
    assert sum(len(b) for _, _, buffers in after for b in buffers) < 64
    request = [d for d in bridge.received if d.get("content", {}).get("kind") == "label"]
    assert len(request) == 1 and request[0]["content"]["label"] == "ring"
    bridge.wait_until(lambda: ring_pixels() > before + 4)


def test_filter_dims_or_hides_and_the_lasso_selects_only_shown_galaxies(blobs, page):
    frame, bridge = blobs
    widget = bridge.widget
    status = page.locator(".gw-filter")
    status_text = page.locator(".gw-filter-text")
    none = canvas_pixels(page)
    assert status.is_hidden()

    widget.filter(mode="dim", brightness=(None, 0))
    bridge.wait_for_js("document.querySelector('.galwidget').dataset.filter === 'dim'")
    page.wait_for_timeout(300)
    dim = canvas_pixels(page)
    widget.filter(mode="hide", brightness=(None, 0))
    bridge.wait_for_js("document.querySelector('.galwidget').dataset.filter === 'hide'")
    page.wait_for_timeout(300)
    hide = canvas_pixels(page)
    shown = frame["brightness"].to_numpy() <= 0
    assert status_text.text_content() == (
        f"{shown.sum():,} of 5,000 shown (brightness in […, 0]; others hidden)"
    )

    def changed(a: np.ndarray, b: np.ndarray) -> float:
        return (np.abs(a - b).sum(axis=2) > 60).mean()

    # Dimmed points still color the canvas faintly; hidden ones leave it white.
    assert changed(none, dim) > 0.01 and changed(dim, hide) > 0.001

    def white(pixels: np.ndarray) -> float:
        return (np.abs(pixels - 255).sum(axis=2) <= 10).mean()

    assert white(none) < white(dim) < white(hide)

    positions = screen_positions(widget, page)
    radius = 0.3 * page.locator(".gw-canvas").bounding_box()["height"]
    polygon = polygon_around(page, positions, 0.5, 0.5, radius)
    lassoed = inside(positions, polygon)
    expected = set(np.flatnonzero(lassoed & shown).tolist())
    assert expected and (lassoed & ~shown).any()
    drag(page, polygon)
    wait_for_selection(bridge, expected)
    assert browser_selection(bridge) == expected

    widget.filter()  # all shown again: the same lasso takes every point inside
    bridge.wait_for_js("document.querySelector('.galwidget').dataset.filter === 'none'")
    assert status.is_hidden()
    drag(page, polygon)
    wait_for_selection(bridge, set(np.flatnonzero(lassoed).tolist()))


def test_layout_menu_switches_layouts_and_the_lasso_follows(render, page):
    frame, layout = blob_frame()
    layouts = {"blobs": layout, "features": ("feat_2", "feat_3")}
    widget = Explorer(frame, layout="blobs", layouts=layouts, color="brightness")
    bridge = render(widget)
    menu = page.locator(".gw-layout-select")
    assert menu.locator("option").all_text_contents() == ["blobs", "features"]
    widget.select(["G00001", "G00002"])
    before, points = canvas_pixels(page), widget._points

    menu.select_option("features")
    bridge.wait_until(lambda: widget.layout_name == "features" and widget._points != points)
    bridge.wait_for_js("document.querySelector('.galwidget').dataset.state === 'ready'")
    page.wait_for_timeout(300)
    assert (np.abs(canvas_pixels(page) - before).sum(axis=2) > 60).mean() > 0.01
    assert set(widget.selected_ids) == {"G00001", "G00002"}

    # The lasso tests the new coordinates.
    positions = screen_positions(widget, page)
    radius = 0.2 * page.locator(".gw-canvas").bounding_box()["height"]
    polygon = polygon_around(page, positions, 0.5, 0.5, radius)
    expected = set(np.flatnonzero(inside(positions, polygon)).tolist())
    assert expected
    drag(page, polygon)
    wait_for_selection(bridge, expected)

    widget.layout_name = "blobs"  # from Python: the menu follows
    bridge.wait_for_js("document.querySelector('.gw-layout-select').value === 'blobs'")
