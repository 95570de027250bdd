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
idx = gw.NeighborIndex(reps)""",
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
SELECTED_RGB = (0, 0, 0)  # the widget's color for selected points (light theme)


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


def test_explorer_lasso_neighbors_and_python_selection(open_notebook):
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

    # Click the most isolated point: the panel shows its k neighbors' images, as idx finds them.
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
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text(f"Neighbors of {ids[clicked]}")
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
    df, images=reps.images, k=6, classes=["ring", "not ring"], labels={{"path": {path!r}}}
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
    # Walk to the first neighbor in the panel and label it too.
    tiles = page.locator(".galwidget .gw-grid .gw-tile[data-position]")
    expect(tiles).to_have_count(6, timeout=30_000)
    neighbor = page.locator(".galwidget .gw-grid .gw-caption-id").first.text_content()
    page.keyboard.press("ArrowRight")
    kernel.wait_until(f"w.focused == {neighbor!r}")
    page.keyboard.press("1")
    expect(buttons).to_have_text(["1 ring (1)", "2 not ring (1)"])
    expected = {galaxy: "not ring", neighbor: "ring"}
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


TWO_VIEWS_CELLS = [
    LABELLING_CELLS[0],
    LABELLING_CELLS[1],
    "import ipywidgets\n\nipywidgets.VBox([w])",
]


def test_two_views_of_one_explorer_each_get_their_own_replies(open_notebook, tmp_path):
    """One Explorer shown twice: both views number their requests from 1 and every reply reaches
    both, so each must take only the replies to its own view id (neighbor tiles, label saves)."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    path = str(tmp_path / "labels.jsonl")
    cells = [cell.format(path=path) if "{path" in cell else cell for cell in TWO_VIEWS_CELLS]
    nb = open_notebook("two_views.ipynb", cells, viewport=(1400, 1000))
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    views = page.locator(".galwidget")
    expect(views).to_have_count(2, timeout=60_000)
    for i in range(2):
        expect(views.nth(i)).to_have_attribute("data-state", "ready", timeout=60_000)
    layout = np.array(kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()", timeout=60))
    ids = kernel.eval_json("w.representations.ids.tolist()")

    def click_a_galaxy(view, avoid: set[int]) -> str:
        canvas = view.locator(".gw-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        positions = page_positions(layout.reshape(-1, 2), box)
        relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
        allowed = ((relative > 0.15) & (relative < 0.85)).all(axis=1)
        allowed[list(avoid)] = False
        clicked = most_isolated(positions, allowed)
        page.mouse.move(*positions[clicked])
        expect(view.locator(".gw-tooltip-id")).to_have_text(ids[clicked])
        page.mouse.down()
        page.mouse.up()
        kernel.wait_until(f"w.focused == {ids[clicked]!r}")
        return ids[clicked]

    def each_view_shows_the_neighbors_of(galaxy: str) -> None:
        neighbors = kernel.eval_json("w.neighbors['id'].tolist()")
        assert len(neighbors) == 6 and galaxy not in neighbors
        for i in range(2):
            captions = views.nth(i).locator(".gw-grid .gw-caption-id")
            expect(captions).to_have_text(neighbors, timeout=30_000)
            tiles = views.nth(i).locator(".gw-grid .gw-tile[data-position]")
            expect(tiles).to_have_count(6)

    first = click_a_galaxy(views.nth(0), set())
    each_view_shows_the_neighbors_of(first)
    second = click_a_galaxy(views.nth(1), {ids.index(first)})
    each_view_shows_the_neighbors_of(second)

    saved = views.nth(1).locator(".gw-saved")
    page.keyboard.press("1")  # the second view has the keyboard focus
    expect(saved).to_have_text("saved ✓")
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{second!r}: 'ring'}}")
    for i in range(2):
        buttons = views.nth(i).locator(".gw-labelbar .gw-class")
        expect(buttons).to_have_text(["1 ring (1)", "2 not ring (0)"])
    time.sleep(1.0)  # let late replies arrive: none may land in the other view
    for i in range(2):
        text = views.nth(i).inner_text()
        assert "reply of kind" not in text and "not saved" not in text, text
        assert views.nth(i).locator(".gw-error:visible").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    for i in range(2):
        views.nth(i).screenshot(path=str(ARTIFACTS / f"two_views_{i}.png"))
    assert nb.errors == []


MILLIONS = 3_000_000
DISC_FRACTION = 0.9
BIG_CELLS = [
    f"""\
import sys

import numpy as np

import galwidget as gw
from galwidget.images import NoImages

sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "support")!r})  # tests/support/polygons.py
from polygons import inside_polygon

n, disc = {MILLIONS}, {int(MILLIONS * DISC_FRACTION)}
rng = np.random.default_rng(0)
# A disc holding 90% of the points and, past an empty gap, a ring with the rest: a lasso drawn
# in the gap has no point near its edges, so the browser and Python must agree on every point.
radius = np.sqrt(rng.uniform(0, 1, n)) * 0.6
radius[disc:] = rng.uniform(0.85, 1.0, n - disc)
angle = rng.uniform(0, 2 * np.pi, n)
layout = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]).astype(np.float32)
features = np.hstack([layout, rng.standard_normal((n, 14), dtype=np.float32)])""",
    """\
w = gw.Explorer(
    features,
    layout=layout,
    images=NoImages(n, 128),
    classes=["ring", "not ring"],
    labels={{"path": {path!r}}},
    remember_selection=False,
    point_budget=n,  # every point in the browser: this is the page's own lasso at millions
)
w""",
]
# The kernel computes the page position of every point (regl-scatterplot's reset view, as
# page_positions does) and the radii of the disc's outermost and the ring's innermost point.
GAP_JS = """\
box = {box!r}
xy = np.frombuffer(w._points, np.float32).reshape(-1, 2).astype(np.float64)
page_xy = np.column_stack([
    box["x"] + (xy[:, 0] * box["height"] / box["width"] + 1) / 2 * box["width"],
    box["y"] + (1 - xy[:, 1]) / 2 * box["height"],
])
centre = (page_xy.min(axis=0) + page_xy.max(axis=0)) / 2
gap_radii = np.hypot(*(page_xy - centre).T)
gap = [centre.tolist(), float(gap_radii[:disc].max()), float(gap_radii[disc:].min())]"""
KERNEL_EXECUTE_JS = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({ code });
    let text = "";
    future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") text += msg.content.text; };
    const reply = await future.done;
    return [reply.content.status, text];
}"""


@pytest.mark.slow
def test_lasso_over_millions_and_a_key_press_at_millions(open_notebook, tmp_path):
    """3M points: a lasso of 2.7M reaches Python exactly (no message over the server's limit,
    the page's kernel connection stays up) and a key press sends a few bytes, not O(n)."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    frames: list[tuple[str, bytes]] = []
    closed: list[str] = []

    def watch(page) -> None:
        def on_socket(socket) -> None:
            size = lambda payload: payload if isinstance(payload, bytes) else payload.encode()  # noqa: E731
            socket.on("framesent", lambda payload: frames.append(("sent", size(payload))))
            socket.on("framereceived", lambda payload: frames.append(("received", size(payload))))
            socket.on("close", lambda s: closed.append(s.url))

        page.on("websocket", on_socket)

    cells = [BIG_CELLS[0], BIG_CELLS[1].format(path=str(tmp_path / "labels.jsonl"))]
    nb = open_notebook("millions.ipynb", cells, viewport=(1400, 1000), on_page=watch)
    begun = time.monotonic()
    page = nb.page
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    kernel = nb.kernel
    widget = page.locator(".galwidget")
    expect(widget).to_have_attribute("data-state", "ready", timeout=180_000)
    count = page.locator(".galwidget .gw-count")
    expect(count).to_have_text(f"0 of {MILLIONS:,} selected")
    canvas = page.locator(".galwidget .gw-canvas")
    print(f"drawn {time.monotonic() - begun:.1f} s after the notebook opened")

    # A key press sends and receives a few bytes, not O(n). In the suggestions panel focus asks
    # for no neighbors (no index over 3M points is built for this test).
    page.locator(".gw-panel-modes .gw-button[data-panel-mode=suggestions]").click()
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text("No suggestions yet")
    galaxy = kernel.eval_json("str(w.representations.ids[5])")
    kernel.execute("w.focus(w.representations.ids[5])")
    kernel.wait_until(f"w.focused == {galaxy!r}")
    page.wait_for_timeout(500)
    frames.clear()
    page.locator(".galwidget").focus()
    started = time.monotonic()
    page.keyboard.press("1")
    # (Saving one label at 3M rows takes the label store seconds: wait for the kernel's state,
    # not for the page's "saved ✓", which gives up after the request timeout.)
    kernel.wait_until(f"w.labels['label'].to_dict() == {{{galaxy!r}: 'ring'}}", timeout=180)
    buttons = page.locator(".galwidget .gw-labelbar .gw-class")
    expect(buttons).to_have_text(["1 ring (1)", "2 not ring (0)"], timeout=30_000)
    print(f"label saved {time.monotonic() - started:.1f} s after the key press")
    request = [
        p for way, p in frames if way == "sent" and b'"kind":"label"' in p.replace(b" ", b"")
    ]
    event = [
        p for way, p in frames if way == "received" and b'"kind":"labels"' in p.replace(b" ", b"")
    ]
    assert len(request) == 1 and len(event) == 1, [(way, len(p)) for way, p in frames]
    assert len(request[0]) < 4096 and len(event[0]) < 4096
    assert max(len(p) for _, p in frames) < 4096
    assert closed == []

    # A lasso in the gap between the disc and the ring: 2.7M points, every one far from its edges
    # (a 24-gon's edges stay between cos(π/24) of its radius and its radius, ±1 px of rounding).
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()  # focusing the widget may have scrolled the notebook
    kernel.execute(GAP_JS.format(box=box), timeout=120)
    (cx, cy), disc_edge, ring_edge = kernel.eval_json("gap")
    radius = (disc_edge + ring_edge) / 2
    assert disc_edge + 2 < radius * np.cos(np.pi / 24) and radius + 2 < ring_edge, (
        disc_edge,
        ring_edge,
    )
    polygon = [
        (round(cx + radius * np.cos(a)), round(cy + radius * np.sin(a)))
        for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ]
    kernel.execute(
        f"polygon = {polygon!r}\nexpected = np.flatnonzero(inside_polygon(page_xy, polygon))",
        timeout=300,
    )
    expected = kernel.eval_json("len(expected)")
    assert expected >= 2_400_000
    print(f"lasso ready {time.monotonic() - begun:.1f} s after the notebook opened")
    drag_lasso(page, polygon)
    expect(count).to_have_text(f"{expected:,} of {MILLIONS:,} selected", timeout=60_000)
    kernel.wait_until(f"len(w.selected) == {expected}", timeout=60)
    assert kernel.eval_json("bool(np.array_equal(w.selection, expected))")
    # The page's own connection to the kernel is alive: it runs code and sees the selection.
    status, text = page.evaluate(KERNEL_EXECUTE_JS, "print(len(w.selection))")
    assert (status, text.strip()) == ("ok", str(expected))
    assert closed == []
    sent = [len(payload) for way, payload in frames if way == "sent"]
    assert 8 < max(sent) < 8 + MILLIONS // 8 + 4096  # the selection: a bitmask at most
    assert nb.errors == []
