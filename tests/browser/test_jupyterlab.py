"""End-to-end tests in a real JupyterLab: browser interactions checked against kernel state."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from polygons import distance_to_boundary, inside_polygon

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

COUNTER_WIDGET = '''
import anywidget
import traitlets


class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const button = document.createElement("button");
      button.className = "smoke-counter";
      const show = () => { button.textContent = `count is ${model.get("value")}`; };
      button.addEventListener("click", () => {
        model.set("value", model.get("value") + 1);
        model.save_changes();
      });
      model.on("change:value", show);
      show();
      el.appendChild(button);
    }
    export default { render };
    """
    value = traitlets.Int(0).tag(sync=True)


counter = Counter()
counter
'''


def test_ipywidgets_slider_syncs_both_ways(open_notebook):
    nb = open_notebook(
        "slider.ipynb",
        [
            "import ipywidgets as widgets",
            "slider = widgets.IntSlider(value=5, min=0, max=100)\nslider",
        ],
    )
    nb.run_all()
    page = nb.page
    handle = page.locator(".widget-slider .noUi-handle")
    readout = page.locator(".widget-slider .widget-readout")
    handle.wait_for()

    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    expect(readout).to_have_text("8")
    nb.kernel.wait_until("slider.value == 8")  # the page shows it before the kernel has it

    track = page.locator(".widget-slider .noUi-target").bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 50, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    expect(readout).to_have_text("100")
    nb.kernel.wait_until("slider.value == 100")

    nb.kernel.execute("slider.value = 42")
    expect(readout).to_have_text("42")
    assert nb.kernel.eval_json("slider.value") == 42
    assert nb.errors == []


def test_inline_anywidget_counter_and_kernel_restart(open_notebook):
    nb = open_notebook("counter.ipynb", [COUNTER_WIDGET])
    nb.run_all()
    button = nb.page.locator("button.smoke-counter")
    button.wait_for()
    for _ in range(3):
        button.click()
    expect(button).to_have_text("count is 3")
    nb.kernel.wait_until("counter.value == 3")

    nb.kernel.execute("counter.value = 10")
    expect(button).to_have_text("count is 10")

    pid_before = nb.kernel.eval_json("__import__('os').getpid()")
    nb.restart_kernel_and_run_all()
    assert nb.kernel.eval_json("__import__('os').getpid()") != pid_before
    assert nb.kernel.eval_json("counter.value") == 0
    expect(button).to_have_count(1)
    expect(button).to_have_text("count is 0")
    button.click()
    expect(button).to_have_text("count is 1")
    nb.kernel.wait_until("counter.value == 1")
    assert nb.errors == []


EXPLORER_CELLS = [
    """\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n=2000, seed=0)
features = pd.DataFrame(reps.features, columns=[f"feat_{i}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)
idx = gw.NeighbourIndex(reps)""",
    """\
w = gw.Explorer(df, images=reps.images, color="morphology", k=12)
w""",
]
N_GALAXIES = 2000
K = 12
BUNDLE = Path(__file__).resolve().parents[2] / "galwidget" / "static" / "widget.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# regl-scatterplot records a lasso vertex at most every 10 ms: pause longer at each vertex.
LASSO_STEP_MS = 30
SELECTED_RGB = (0xFF, 0x2D, 0x6F)  # the widget's colour for selected points


def page_positions(points: np.ndarray, canvas_box: dict) -> np.ndarray:
    """Page pixel position of layout points ([-1, 1] coordinates) in the scatter's reset view.

    regl-scatterplot's reset camera maps y in [-1, 1] onto the canvas height and x onto the
    same scale, centred: x_ndc = x * height / width.
    """
    width, height = canvas_box["width"], canvas_box["height"]
    ndc_x = points[:, 0] * height / width
    return np.column_stack(
        [
            canvas_box["x"] + (ndc_x + 1) / 2 * width,
            canvas_box["y"] + (1 - points[:, 1]) / 2 * height,
        ]
    )


def lasso_polygon(points: np.ndarray, centre: tuple[float, float], radius: float) -> list:
    """Whole-pixel heptagon around ``centre``, turned until no point is within 0.01 px of an
    edge (there float rounding in the browser could decide either way)."""
    for turn in np.linspace(0.0, 0.8, 40):
        angles = np.linspace(0, 2 * np.pi, 7, endpoint=False) + turn
        polygon = [
            (round(centre[0] + radius * np.cos(a)), round(centre[1] + radius * np.sin(a)))
            for a in angles
        ]
        if distance_to_boundary(points, polygon).min() > 0.01:
            return polygon
    raise AssertionError("every candidate lasso passes within 0.01 px of a point")


def drag_lasso(page, polygon: list[tuple[int, int]]) -> None:
    """Press on the first vertex, visit every other vertex and come back, release."""
    page.mouse.move(*polygon[0])
    page.mouse.down()
    for vertex in [*polygon[1:], polygon[0]]:
        page.mouse.move(*vertex)
        page.wait_for_timeout(LASSO_STEP_MS)
    page.mouse.up()


def canvas_rgb(canvas) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)


def selected_pixels(rgb: np.ndarray) -> int:
    return int((np.abs(rgb - np.array(SELECTED_RGB)).sum(axis=2) < 40).sum())


def wait_for_canvas(canvas, predicate, timeout: float = 10.0) -> np.ndarray:
    """Screenshot the canvas until ``predicate(rgb)`` holds; return that screenshot."""
    deadline = time.monotonic() + timeout
    while not predicate(rgb := canvas_rgb(canvas)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the canvas did not change as expected within {timeout}s")
    return rgb


def most_isolated(positions: np.ndarray, allowed: np.ndarray) -> int:
    """Row of the allowed point farthest (in page pixels) from every other point."""
    gaps = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    nearest = gaps.min(axis=1)
    nearest[~allowed] = -1
    return int(nearest.argmax())


def test_explorer_lasso_neighbours_and_python_selection(open_notebook):
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    nb = open_notebook("explorer.ipynb", EXPLORER_CELLS, viewport=(1400, 1000))
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the widget
    nb.run_all()
    expect(page.locator(".galwidget")).to_have_attribute("data-state", "ready", timeout=60_000)
    count = page.locator(".galwidget .gw-count")
    expect(count).to_have_text(f"0 of {N_GALAXIES:,} selected")
    canvas = page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    layout = np.array(kernel.eval_json("np.frombuffer(w._points, np.float32).tolist()"))
    positions = page_positions(layout.reshape(-1, 2), box)
    ids = np.array(kernel.eval_json("w.representations.ids.tolist()"))
    assert kernel.eval_json("df['iauname'].tolist()") == ids.tolist()

    # Lasso: exactly the galaxies inside the drawn polygon are selected, in w and in df.
    centre = (box["x"] + 0.4 * box["width"], box["y"] + 0.5 * box["height"])
    polygon = lasso_polygon(positions, centre, 0.3 * box["height"])
    inside = inside_polygon(positions, polygon)
    assert 50 < inside.sum() < N_GALAXIES / 2
    drag_lasso(page, polygon)
    expect(count).to_have_text(f"{inside.sum():,} of {N_GALAXIES:,} selected")
    expected_ids = sorted(ids[inside].tolist())
    kernel.wait_until(f"sorted(w.selected_ids) == {expected_ids!r}")
    assert sorted(kernel.eval_json("w.selected.index.tolist()")) == expected_ids
    assert sorted(kernel.eval_json("df.loc[df['selected'], 'iauname'].tolist()")) == expected_ids

    # Click the most isolated point: the panel shows its k neighbours' images, as idx finds them.
    legend = page.locator(".galwidget .gw-legend").bounding_box()
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    allowed = ((relative > 0.1) & (relative < 0.9)).all(axis=1)
    if legend:
        allowed &= ~(
            (positions[:, 0] > legend["x"] - 20)
            & (positions[:, 1] < legend["y"] + legend["height"] + 20)
        )
    clicked = most_isolated(positions, allowed)
    page.mouse.move(*positions[clicked])
    expect(page.locator(".galwidget .gw-tooltip-id")).to_have_text(ids[clicked])
    page.mouse.down()
    page.mouse.up()
    kernel.wait_until(f"w.focused == {ids[clicked]!r}")
    # A click focuses: the lasso selection stays as it was.
    assert sorted(kernel.eval_json("w.selected_ids.tolist()")) == expected_ids
    expect(count).to_have_text(f"{inside.sum():,} of {N_GALAXIES:,} selected")
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text(f"Neighbours of {ids[clicked]}")
    page.wait_for_function(
        """(k) => {
            const tiles = [...document.querySelectorAll('.galwidget .gw-grid .gw-tile')];
            return tiles.length === k && tiles.every((tile) => {
                const img = tile.querySelector('img.gw-img');
                return img && img.complete && img.naturalWidth > 0;
            });
        }""",
        arg=K,
        timeout=30_000,
    )
    shown = page.locator(".galwidget .gw-grid .gw-caption-id").all_text_contents()
    assert shown == kernel.eval_json(f"idx.query({ids[clicked]!r}, {K})['id'].tolist()")
    assert ids[clicked] not in shown

    # Selecting from Python redraws the canvas and updates the count.
    page.mouse.move(1, 1)
    expect(page.locator(".galwidget .gw-tooltip")).to_be_hidden()
    kernel.execute("w.select(None)")
    expect(count).to_have_text(f"0 of {N_GALAXIES:,} selected")
    before = wait_for_canvas(canvas, lambda rgb: selected_pixels(rgb) < 20)
    kernel.execute("w.select(\"morphology == 'ring'\")")
    n_selected = kernel.eval_json("len(w.selected)")
    assert n_selected == kernel.eval_json("int((df['morphology'] == 'ring').sum())") > 20
    assert kernel.eval_json("int(df['selected'].sum())") == n_selected
    expect(count).to_have_text(f"{n_selected:,} of {N_GALAXIES:,} selected")
    baseline = max(selected_pixels(before), 1)
    after = wait_for_canvas(canvas, lambda rgb: selected_pixels(rgb) > 20 * baseline)
    changed = (np.abs(after - before).sum(axis=2) > 30).mean()
    assert changed > 0.002, f"only {changed:.3%} of the canvas changed"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jupyterlab_explorer.png"))

    # After a kernel restart the re-run notebook shows one working Explorer, and the selection
    # comes back (in the browser, in w.selected and in the new DataFrame's column).
    nb.restart_kernel_and_run_all()
    expect(page.locator(".galwidget")).to_have_count(1)
    expect(page.locator(".galwidget")).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(count).to_have_text(f"{n_selected:,} of {N_GALAXIES:,} selected")
    kernel = nb.kernel
    assert kernel.eval_json("bool((w.selected['morphology'] == 'ring').all())")
    assert kernel.eval_json("int(df['selected'].sum())") == n_selected
    kernel.execute("w.select(None)")
    expect(count).to_have_text(f"0 of {N_GALAXIES:,} selected")
    assert nb.errors == []


LABELLING_CELLS = [
    """\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n=1500, seed=1)
features = pd.DataFrame(reps.features, columns=[f"feat_{i}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)""",
    """\
w = gw.Explorer(
    df, images=reps.images, k=6, classes=["ring", "not ring"], labels_path={path!r}
)
w""",
]
CELL_TYPES_JS = "() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.type)"


def test_keyboard_labels_reach_the_kernel_and_survive_a_restart(open_notebook, tmp_path):
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    cells = [LABELLING_CELLS[0], LABELLING_CELLS[1].format(path=str(tmp_path / "labels.jsonl"))]
    nb = open_notebook("labelling.ipynb", cells, viewport=(1400, 1000))
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    widget = page.locator(".galwidget")
    expect(widget).to_have_attribute("data-state", "ready", timeout=60_000)
    buttons = page.locator(".galwidget .gw-labelbar .gw-class")
    expect(buttons).to_have_text(["1 ring (0)", "2 not ring (0)"])

    # Click a galaxy (focus), then label it with the keyboard.
    canvas = page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    layout = np.array(kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()", timeout=60))
    positions = page_positions(layout.reshape(-1, 2), box)
    ids = kernel.eval_json("w.representations.ids.tolist()")
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    clicked = most_isolated(positions, ((relative > 0.1) & (relative < 0.9)).all(axis=1))
    galaxy = ids[clicked]
    page.mouse.move(*positions[clicked])
    expect(page.locator(".galwidget .gw-tooltip-id")).to_have_text(galaxy)
    page.mouse.down()
    page.mouse.up()
    kernel.wait_until(f"w.focused == {galaxy!r}")
    saved = page.locator(".galwidget .gw-saved")

    page.keyboard.press("1")
    expect(saved).to_have_text("saved ✓")
    expect(buttons).to_have_text(["1 ring (1)", "2 not ring (0)"])
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{galaxy!r}: 'ring'}}")
    assert kernel.eval_json(f"df.loc[df['iauname'] == {galaxy!r}, 'label'].tolist()") == ["ring"]
    assert kernel.eval_json("int(df['label'].notna().sum())") == 1

    page.keyboard.press("z")
    expect(buttons).to_have_text(["1 ring (0)", "2 not ring (0)"])
    kernel.wait_until("w.labels.empty and df['label'].isna().all()")

    page.keyboard.press("2")
    expect(buttons).to_have_text(["1 ring (0)", "2 not ring (1)"])
    # Walk to the first neighbour in the panel and label it too.
    tiles = page.locator(".galwidget .gw-grid .gw-tile[data-position]")
    expect(tiles).to_have_count(6, timeout=30_000)
    neighbour = page.locator(".galwidget .gw-grid .gw-caption-id").first.text_content()
    page.keyboard.press("ArrowRight")
    kernel.wait_until(f"w.focused == {neighbour!r}")
    page.keyboard.press("1")
    expect(buttons).to_have_text(["1 ring (1)", "2 not ring (1)"])
    expected = {galaxy: "not ring", neighbour: "ring"}
    kernel.wait_until(f"w.labels['label'].to_dict() == {expected!r}")
    assert kernel.eval_json("df.set_index('iauname')['label'].dropna().to_dict()") == expected
    # The keys labelled galaxies: JupyterLab's command-mode shortcuts (1 = heading, z = undo
    # cell operation, arrows = move between cells) did not act on the notebook.
    assert page.evaluate(CELL_TYPES_JS) == ["code", "code"]

    nb.restart_kernel_and_run_all()
    expect(page.locator(".galwidget")).to_have_count(1)
    expect(page.locator(".galwidget")).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(buttons).to_have_text(["1 ring (1)", "2 not ring (1)"])
    kernel = nb.kernel
    assert kernel.eval_json("w.labels['label'].to_dict()") == expected
    assert kernel.eval_json("df.set_index('iauname')['label'].dropna().to_dict()") == expected
    assert nb.errors == []
