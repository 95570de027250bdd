"""A map beyond the point budget in a real JupyterLab: 1M galaxies with the budget at 100k. The
first frame is a density under a sample, a mouse-wheel zoom loads the points in view, and a lasso
across loaded and unloaded parts selects exactly what numpy's point-in-polygon finds over every
galaxy."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from test_jupyterlab import BUNDLE, drag_lasso, page_positions

if TYPE_CHECKING:
    from jupyterlab_harness import LabNotebook

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
N = 1_000_000
BUDGET = 100_000
SUPPORT = str(Path(__file__).resolve().parents[1] / "support")

CELLS = [
    f"""\
import sys

import numpy as np
import pandas as pd

import galwidget as gw

sys.path.insert(0, {SUPPORT!r})  # tests/support/polygons.py
from polygons import inside_polygon

n = {N}
rng = np.random.default_rng(0)
centres = np.array([[-0.5, 0.4], [0.45, 0.35], [0.0, -0.45], [-0.55, -0.5], [0.6, -0.4]])
xy = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.12, size=(n, 2))
ids = [f"G{{i:07d}}" for i in range(n)]
meta = pd.DataFrame({{"kind": np.where(xy[:, 0] > 0, "east", "west")}})""",
    """\
w = gw.Explorer.from_layout(
    ids, xy, meta=meta, color="kind", point_budget={budget}, classes=["ring", "other"],
    labels={{"path": {path!r}}}, remember_selection=False,
)
w""",
]

# How many pixels of the density canvas are painted, and of which layer color.
DENSITY_PIXELS_JS = """(canvas) => {
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0, dark = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        painted++;
        if (data[i] + data[i + 1] + data[i + 2] < 60 && data[i + 3] > 150) dark++;
    }
    return [painted, dark, canvas.width * canvas.height];
}"""


def screenshot(locator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"), dtype=np.int16)


def reddish(image: np.ndarray) -> int:
    """Pixels of the west galaxies' red (the legend's)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return int(((r > 150) & (g < 110) & (b < 110)).sum())


def greenish(image: np.ndarray) -> int:
    """Pixels of the east galaxies' green (the legend's)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return int(((g > 120) & (r < 110) & (b < 110)).sum())


def grayish(image: np.ndarray) -> int:
    """Pixels of the density's gray (not white, not colored)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return int(((spread < 16) & (r < 235) & (r > 60)).sum())


def changed(a: np.ndarray, b: np.ndarray) -> int:
    return int((np.abs(a - b).sum(axis=2) > 40).sum())


def open_map(open_notebook: Any, tmp_path: Path, name: str) -> LabNotebook:
    """The notebook of a map of N galaxies over the budget, run, its first sample drawn."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    cells = [CELLS[0], CELLS[1].format(budget=BUDGET, path=str(tmp_path / "labels.jsonl"))]
    nb = open_notebook(name, cells, viewport=(1400, 1000))
    nb.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    widget = nb.page.locator(".galwidget")
    expect(widget).to_have_attribute("data-state", "ready", timeout=120_000)
    expect(widget).to_have_attribute("data-detail", "sample")
    return nb


def test_density_first_then_points_in_view_and_an_exact_lasso(open_notebook, tmp_path):
    nb = open_map(open_notebook, tmp_path, "level_of_detail.ipynb")
    page, kernel = nb.page, nb.kernel
    widget = page.locator(".galwidget")
    assert kernel.eval_json("len(w._points)") == 0  # no point went to the browser whole
    expect(widget).to_have_attribute("data-loaded", str(BUDGET // 2))
    expect(widget.locator(".gw-count")).to_have_text(f"0 of {N:,} selected")

    # First frame: the density of every galaxy is painted under the sample, and it is on screen.
    plot = widget.locator(".gw-plot")
    plot.scroll_into_view_if_needed()
    density = widget.locator(".gw-density")
    page.wait_for_function(
        "(c) => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height)"
        ".data.some((v, i) => i % 4 === 3 && v > 0)",
        arg=density.element_handle(),
        timeout=60_000,
    )
    painted, _, area = density.evaluate(DENSITY_PIXELS_JS)
    assert 0.05 * area < painted < 0.9 * area, (painted, area)
    first = screenshot(plot)
    page.screenshot(path=str(ARTIFACTS / "level_of_detail_density.png"))
    density.evaluate("(c) => { c.hidden = true; }")
    without = screenshot(plot)
    density.evaluate("(c) => { c.hidden = false; }")
    assert changed(first, without) > 0.03 * first.shape[0] * first.shape[1], "no density on screen"

    # Zoom in with the mouse wheel over a cluster: the points in view are loaded and drawn.
    canvas = widget.locator(".gw-canvas")
    box = canvas.bounding_box()
    nearest = "int(np.argmin(np.hypot(xy[:, 0] - 0.45, xy[:, 1] - 0.35)))"  # a cluster's centre
    cluster = kernel.eval_json(f"w._map_detail.index(w.layout_name).points[{nearest}].tolist()")
    centre = np.round(page_positions(np.array([cluster]), box)[0])  # the pointer is on whole pixels
    page.mouse.move(*centre)
    page.mouse.wheel(0, -300)
    expect(widget).to_have_attribute("data-detail", "view", timeout=60_000)
    loaded = int(widget.get_attribute("data-loaded"))
    assert BUDGET // 2 < loaded <= BUDGET, loaded
    # The view holds more galaxies than its share of the budget: part of it is density only.
    in_view, total = map(int, widget.get_attribute("data-in-view").split(" of "))
    assert in_view == BUDGET // 2 < total, (in_view, total)
    zoomed = screenshot(plot)
    page.screenshot(path=str(ARTIFACTS / "level_of_detail_zoomed.png"))
    assert changed(first, zoomed) > 0.05 * first.shape[0] * first.shape[1]

    # A lasso across the loaded view and the density around it: the kernel selects exactly.
    radius = 0.3 * box["height"]
    polygon = [
        (round(centre[0] + radius * np.cos(a)), round(centre[1] + 1.2 * radius * np.sin(a)))
        for a in np.linspace(0, 2 * np.pi, 9, endpoint=False)
    ]
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    drag_lasso(page, polygon)
    kernel.wait_until("w._lasso is not None and len(w.selection) > 0", timeout=60)
    # The page polygon in map coordinates: the view after the zoom is the reset view scaled about
    # the wheel's position (a zoom keeps the point under the pointer, to a pixel's rounding): fit
    # that scale and that fixed point from the lasso the page sent; the fit is exact for every vertex.
    drawn = np.array(kernel.eval_json("w._lasso[1].tolist()"))
    assert len(drawn) == len(polygon)
    # regl-scatterplot records the vertices from the first move on: the press's vertex comes last.
    page_polygon = np.roll(np.array(polygon, dtype=float), -1, axis=0)
    reset = page_positions(drawn, box) - centre  # the drawn vertices without the zoom
    design = np.zeros((2 * len(reset), 3))
    design[:, 0] = reset.reshape(-1)
    design[0::2, 1] = design[1::2, 2] = 1
    (scale, *shift), *_ = np.linalg.lstsq(design, (page_polygon - centre).reshape(-1), rcond=None)
    fitted = centre + reset * scale + shift
    assert np.abs(fitted - page_polygon).max() < 0.1 and np.abs(shift).max() < 1.0 * scale
    zoom_label = widget.locator(".gw-scale-label").text_content()
    assert zoom_label and abs(scale - float(zoom_label.split("×")[1])) < 0.06 * scale
    kernel.execute(
        f"drawn = w._map_detail.index(w.layout_name).points.astype(np.float64)\n"
        f"polygon = np.array({drawn.tolist()!r})\n"
        f"expected = np.flatnonzero(inside_polygon(drawn, polygon))",
        timeout=300,
    )
    expected = kernel.eval_json("len(expected)")
    assert loaded < expected < N  # more galaxies than the page holds
    expect(widget.locator(".gw-count")).to_have_text(
        f"{expected:,} of {N:,} selected", timeout=60_000
    )
    assert kernel.eval_json("bool(np.array_equal(w.selection, expected))")

    # The selection is drawn as density where points are not loaded.
    page.wait_for_function(
        f"(c) => ({DENSITY_PIXELS_JS})(c)[1] > 100", arg=density.element_handle(), timeout=60_000
    )
    page.screenshot(path=str(ARTIFACTS / "level_of_detail_selection.png"))

    # A loaded galaxy is hovered, clicked (focused) and labelled by key as anywhere else.
    widget.locator(".gw-button", has_text="Clear").click()
    expect(widget.locator(".gw-count")).to_have_text(f"0 of {N:,} selected")
    tooltip = widget.locator(".gw-tooltip-id")
    for dx in range(0, 60, 3):  # the first spot with a point under the pointer
        page.mouse.move(centre[0] + dx, centre[1] - 2 * box["height"] / 10)
        page.wait_for_timeout(250)
        if tooltip.is_visible():
            break
    hovered = tooltip.text_content()
    assert hovered and hovered.startswith("G"), hovered
    page.mouse.down()
    page.mouse.up()
    kernel.wait_until(f"w._focus == {int(hovered[1:])}")
    page.keyboard.press("1")
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{hovered!r}: 'ring'}}")

    # A filter hides the loaded points it leaves out (the density stays).
    before = screenshot(plot)
    kernel.execute("w.filter(kind=['west'], mode='hide')")
    expect(widget).to_have_attribute("data-filter", "hide", timeout=30_000)
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    for _ in range(40):  # the redraw of the loaded points can take a while on a busy machine
        page.wait_for_timeout(250)
        hidden = screenshot(plot)
        if greenish(hidden) < 0.2 * greenish(before):
            break
    page.screenshot(path=str(ARTIFACTS / "level_of_detail_filter.png"))
    # The filter's note may take a line from the plot, so compare what is drawn, not pixel by
    # pixel: only the west galaxies are shown, so the east ones' green points are gone, the west
    # ones' red stay, and so does the density (gray).
    assert greenish(hidden) < 0.2 * greenish(before), (greenish(hidden), greenish(before))
    assert reddish(hidden) > 0.5 * reddish(before), (reddish(hidden), reddish(before))
    assert grayish(hidden) > 0.5 * grayish(before), (grayish(hidden), grayish(before))
    assert nb.errors == []


def test_a_lasso_over_most_of_the_map_reaches_python_and_shows_as_density(open_notebook, tmp_path):
    """Issue 21 at survey scale, scaled down: a lasso over most of a map beyond the budget selects
    far more galaxies than the page holds (a bitmask over the wire, never expanded in the page);
    the kernel holds it exactly, the page shows its count and its density, and moving the view
    afterwards loads points without asking for the selection's density again."""
    nb = open_map(open_notebook, tmp_path, "level_of_detail_big_lasso.ipynb")
    page, kernel = nb.page, nb.kernel
    widget = page.locator(".galwidget")
    # Count the density images the kernel computes of the selection from now on.
    kernel.execute(
        "selection_densities = []\n"
        "_density = w._map_detail.density\n"
        "def _counted(layout, size, positions):\n"
        "    selection_densities.append(positions is not None)\n"
        "    return _density(layout, size, positions)\n"
        "w._map_detail.density = _counted"
    )
    plot = widget.locator(".gw-plot")
    plot.scroll_into_view_if_needed()
    density = widget.locator(".gw-density")
    canvas = widget.locator(".gw-canvas")
    box = canvas.bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    radius = 0.36 * box["height"]  # most of the map, not its far edges
    polygon = [
        (round(centre[0] + 1.1 * radius * np.cos(a)), round(centre[1] + radius * np.sin(a)))
        for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ]
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    drag_lasso(page, polygon)
    kernel.wait_until("w._lasso is not None and len(w.selection) > 0", timeout=60)
    drawn = np.array(kernel.eval_json("w._lasso[1].tolist()"))
    kernel.execute(
        f"points = w._map_detail.index(w.layout_name).points.astype(np.float64)\n"
        f"expected = np.flatnonzero(inside_polygon(points, np.array({drawn.tolist()!r})))",
        timeout=300,
    )
    expected = kernel.eval_json("len(expected)")
    assert 0.6 * N < expected < 0.99 * N, (
        expected
    )  # most of the map: 6× to 10× what the page may hold
    assert kernel.eval_json("bool(np.array_equal(w.selection, expected))")
    # Sent to the page as a bitmask or as runs (whichever is smaller), not as 4-byte positions.
    assert kernel.eval_json("w._selection[0]") in (1, 2)
    expect(widget.locator(".gw-count")).to_have_text(
        f"{expected:,} of {N:,} selected", timeout=60_000
    )
    # Its density is painted (dark over the light theme) over most of the map, and on screen.
    page.wait_for_function(
        f"(c) => ({DENSITY_PIXELS_JS})(c)[1] > 1000", arg=density.element_handle(), timeout=60_000
    )
    selected_on_screen = screenshot(plot)
    page.screenshot(path=str(ARTIFACTS / "level_of_detail_big_lasso.png"))
    density.evaluate("(c) => { c.hidden = true; }")
    without = screenshot(plot)
    density.evaluate("(c) => { c.hidden = false; }")
    assert changed(selected_on_screen, without) > 0.05 * without.shape[0] * without.shape[1]
    assert kernel.eval_json("selection_densities") == [True]

    # Zoom in: the view's points load, and the selection's density is not computed again.
    page.mouse.move(*centre)
    page.mouse.wheel(0, -300)
    expect(widget).to_have_attribute("data-detail", "view", timeout=60_000)
    page.wait_for_timeout(1000)
    assert kernel.eval_json("selection_densities") == [True]
    expect(widget.locator(".gw-count")).to_have_text(f"{expected:,} of {N:,} selected")

    # Clear: the selection empties in Python, and its density leaves the map.
    widget.locator(".gw-button", has_text="Clear").click()
    expect(widget.locator(".gw-count")).to_have_text(f"0 of {N:,} selected")
    kernel.wait_until("len(w.selection) == 0")
    page.wait_for_function(
        f"(c) => ({DENSITY_PIXELS_JS})(c)[1] === 0", arg=density.element_handle(), timeout=30_000
    )
    assert nb.errors == []
