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

import galwidget as gw
from galwidget.widget import Explorer

pytestmark = pytest.mark.browser

N = 5000
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
        if edge_distance(positions, polygon).min() > 0.002:
            return polygon
    raise AssertionError("no polygon clear of the points found")


def edges(polygon: list[tuple]) -> list[tuple]:
    return list(zip(polygon, polygon[1:] + polygon[:1], strict=True))


def edge_distance(points: np.ndarray, polygon: list[tuple]) -> np.ndarray:
    """Distance of each point to the polygon's boundary."""
    x, y = points[:, 0], points[:, 1]
    closest = np.full(len(points), np.inf)
    for (x1, y1), (x2, y2) in edges(polygon):
        dx, dy = x2 - x1, y2 - y1
        t = np.clip(((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy), 0, 1)
        closest = np.minimum(closest, np.hypot(x - (x1 + t * dx), y - (y1 + t * dy)))
    return closest


def inside(points: np.ndarray, polygon: list[tuple]) -> np.ndarray:
    """Even-odd rule point-in-polygon."""
    assert edge_distance(points, polygon).min() > 0.002, "a point lies on the polygon's edge"
    x, y = points[:, 0], points[:, 1]
    result = np.zeros(len(points), dtype=bool)
    for (x1, y1), (x2, y2) in edges(polygon):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        result ^= crosses & (x < at)
    return result


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
    bridge.wait_until(lambda: set(bridge.widget._positions.tolist()) == expected, timeout=10)


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
    assert 0.02 < drawn < 0.9, f"{drawn:.1%} of the canvas is coloured"
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
    polygon = polygon_around(page, positions, 0.45, 0.5, 140)
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
    x1, y1 = canvas_point(page, 0.3, 0.3)
    x2, y2 = canvas_point(page, 0.55, 0.7)
    rectangle = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    expected = set(
        np.flatnonzero(inside(screen_positions(bridge.widget, page), rectangle)).tolist()
    )
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
    # A selection made in Python is drawn: selected points take the highlight colour.
    pixels = canvas_pixels(page)
    highlight = (np.abs(pixels - np.array([255, 45, 111])).sum(axis=2) < 60).sum()
    assert highlight > 50
    widget.select(None)
    bridge.wait_until(lambda: browser_selection(bridge) == set())


def test_colour_change_repaints_and_shows_a_legend(blobs, page):
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
    bridge.widget.color_by(None)
    bridge.wait_for_js("document.querySelector('.gw-legend').hidden")


@pytest.fixture
def galaxies(render):
    reps = gw.datasets.synthetic(1500, seed=3)
    widget = Explorer(reps, color="morphology", k=9)
    assert len(widget.index) == 1500  # built now: these tests time the front end, not the index
    return render(widget)


def test_focus_shows_neighbour_thumbnails_and_tiles_refocus(galaxies, page, artifacts):
    bridge = galaxies
    widget = bridge.widget
    target = widget.representations.ids[42]
    widget.focus(target)
    tiles = page.locator(".gw-panel .gw-tile")
    bridge.wait_for_js(
        "[...document.querySelectorAll('.gw-panel img')].filter(i => i.naturalWidth > 0).length === 9"
    )
    assert page.locator(".gw-panel-title").text_content() == f"Neighbours of {target}"
    shown = [tiles.nth(i).locator(".gw-caption-id").text_content() for i in range(9)]
    assert shown == widget.neighbours["id"].tolist()
    page.screenshot(path=str(artifacts / "explorer.png"))

    tiles.nth(2).click()
    bridge.wait_until(lambda: widget.focused == shown[2])
    bridge.wait_for_js(
        f"document.querySelector('.gw-panel-title').textContent === 'Neighbours of {shown[2]}'"
    )


def test_click_focuses_and_hover_shows_a_tooltip(galaxies, page):
    bridge = galaxies
    widget = bridge.widget
    positions = screen_positions(widget, page)
    # The point farthest from its nearest neighbour on screen: unambiguous under the mouse.
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
    bridge.wait_for_js("document.querySelectorAll('.gw-panel .gw-failed').length === 4")
    reasons = page.locator(".gw-panel .gw-failed").all_text_contents()
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
    assert page.locator(".gw-button.gw-active").text_content() == "Pan"
    page.locator(".gw-slider").first.fill("8")
    bridge.wait_until(lambda: widget.point_size == 8)
    widget.opacity = 0.25
    bridge.wait_for_js("document.querySelectorAll('.gw-slider')[1].value === '0.25'")
    # In pan mode a drag moves the view instead of selecting.
    drag(page, [canvas_point(page, 0.3, 0.3), canvas_point(page, 0.6, 0.6)])
    page.wait_for_timeout(200)
    bridge.pump()
    assert widget.selected_ids.empty
