"""Explorer front end against jupyter-scatter at 340k points, and alone at millions, in real JupyterLab.

One JupyterLab server (``tests/browser/jupyterlab_harness.py``) and one headless Chromium serve
every run; each run opens a fresh notebook (own page, own kernel) per widget, alternating which
widget goes first. The kernel builds the data outside the timed region: 30 Gaussian blobs as an
``(n, 2)`` layout, a continuous ``value`` column to color by, and the layout as galwidget scales
it into [-1, 1] (``normalize_layout``). jupyter-scatter gets exactly those coordinates with fixed
scales ``(-1, 1)``, so both widgets put every point at the same place relative to their canvas
(regl-scatterplot maps y ∈ [-1, 1] onto the canvas height and x onto the same scale, centred):
the same lasso in data coordinates, mapped onto each canvas, selects **the same points** (the
340k data has no point within a few percent of that lasso's edges, so a canvas placed a pixel
differently cannot change the set; checked: ``same_lasso_selection``). Both
draw with regl-scatterplot, point size 1.5, opacity 0.5, height 560 px.

- ``first_frame_s``: from executing the cell that builds and displays the widget until the
  first frame that shows the points. Both libraries render with WebGL off screen and copy each
  frame onto a visible 2-D canvas with ``drawImage``; a wrapper of ``drawImage`` scales each frame
  copied onto a canvas of the output area down to :data:`PROBE` pixels square and reads it back:
  at least :data:`PAINTED_CELLS` pixels must differ from the corner (background).
- ``lasso_to_python_s``: from the browser's ``pointerup`` ending a lasso until the kernel has the
  selection: galwidget's ``on_select`` callback after building ``w.selected``; jupyter-scatter's
  ``selection`` trait observer. Page (``Date.now()``) and kernel (``time.time()``) read the same
  system clock. ``lasso_browser_s`` is the part until the page sent the selection.
- At 1M, 3M and 8.7M points (galwidget alone): first frame, a lasso over most points (≥ 2.5M at 3M) →
  ``w.selected``, and the Long Tasks API's tasks over 200 ms on the page's main thread while
  panning and zooming after the first frame.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.lab import LONG_TASKS_JS, SENDS_JS, lab, open_notebook
from galwidget.widget import LAYOUT_MARGIN

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N = 340_000
RUNS = 3
# BENCH_WIDGET_LARGE=1000000,3000000 picks the sizes galwidget is measured alone at ("" for none);
# BENCH_WIDGET_RESULTS where the results go.
LARGE = tuple(
    int(n) for n in os.environ.get("BENCH_WIDGET_LARGE", "1000000,3000000,8700000").split(",") if n
)
RESULTS = Path(os.environ.get("BENCH_WIDGET_RESULTS", HERE / "results" / "widget.json"))
LONG_TASK_MS = 200
PROBE = 64  # the canvas is scaled down to PROBE x PROBE pixels to be read cheaply
PAINTED_CELLS = 100
TIMEOUT_MS = 300_000


def _setup(n: int, gap: bool = False) -> str:
    """Kernel code that builds the data (not timed)."""
    return f"""
import sys, time
import pandas as pd
sys.path.insert(0, {str(REPO)!r})
from bench.bench_widget import _frame
from galwidget.widget import normalize_layout
frame, layout = _frame({n}, gap={gap})
ndc = normalize_layout(layout).reshape(-1, 2)  # where both widgets draw each point
lasso_times = []
"""


DISPLAY = {
    "galwidget": """import galwidget as gw
# Every run starts from an empty selection, like jupyter-scatter, not from the previous run's.
w = gw.Explorer(frame, layout=layout, color="value", remember_selection=False)
w""",
    "jupyter-scatter": """import jscatter
xy = pd.DataFrame({"x": ndc[:, 0], "y": ndc[:, 1], "value": frame["value"]})
w = jscatter.Scatter(
    data=xy, x="x", y="y", x_scale=(-1, 1), y_scale=(-1, 1), color_by="value",
    size=1.5, opacity=0.5, height=560,
)
w.show()""",
}

# Kernel-side arrival of a lasso selection: (time.time(), number of points).
WATCH = {
    "galwidget": """w.on_select(lambda ids: (w.selected, lasso_times.append((time.time(), len(ids)))))""",
    "jupyter-scatter": """w.widget.observe(
    lambda change: lasso_times.append((time.time(), len(change["new"]))), names="selection")
w.mouse(mode="lasso")""",
}

CANVAS = {"galwidget": ".gw-canvas", "jupyter-scatter": ".jp-OutputArea-output canvas"}

# Installed before JupyterLab loads: records big websocket sends and pointerup times, and checks
# every frame copied onto a visible 2-D canvas of the output area for painted points.
INIT_SCRIPT = f"""
window.__bench = {{ sends: [], pointerup: null, painted: null, start: null }};
const probe = document.createElement("canvas");
probe.width = probe.height = {PROBE};
const probeContext = probe.getContext("2d");
const drawImage = CanvasRenderingContext2D.prototype.drawImage;
const showsPoints = (canvas) => {{
  probeContext.clearRect(0, 0, {PROBE}, {PROBE});
  drawImage.call(probeContext, canvas, 0, 0, {PROBE}, {PROBE});
  const data = probeContext.getImageData(0, 0, {PROBE}, {PROBE}).data;
  let differing = 0;
  for (let i = 0; i < data.length; i += 4) {{
    if (Math.abs(data[i] - data[0]) + Math.abs(data[i + 1] - data[1])
        + Math.abs(data[i + 2] - data[2]) + Math.abs(data[i + 3] - data[3]) > 24) differing++;
  }}
  return differing >= {PAINTED_CELLS};
}};
CanvasRenderingContext2D.prototype.drawImage = function (...args) {{
  const result = drawImage.apply(this, args);
  const bench = window.__bench;
  const canvas = this.canvas;
  if (bench.start !== null && bench.painted === null && canvas.isConnected
      && canvas.closest(".jp-OutputArea") && showsPoints(canvas)) {{
    bench.painted = performance.now();
  }}
  return result;
}};
"""
INIT_SCRIPT += SENDS_JS + LONG_TASKS_JS

RUN_DISPLAY_JS = """() => {
  window.__bench.start = performance.now();
  window.jupyterapp.commands.execute("notebook:run-all-cells");
}"""


def _frame(n: int, seed: int = 0, gap: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Galaxy-like table (ids, 4 features, ``value``) and its (n, 2) layout of 30 blobs.

    ``gap``: no point lies near the edges of :data:`SMALL_LASSO` (those in a band around it
    move just outside it), so a canvas placed a pixel differently selects the same points.
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(30, 2))
    layout = centres[rng.integers(0, 30, n)] + rng.normal(scale=0.7, size=(n, 2))
    if gap:
        # normalize_layout's affine map, inverted for the lasso's circle.
        low, high = layout.min(axis=0), layout.max(axis=0)
        scale = LAYOUT_MARGIN / (float((high - low).max()) / 2)
        centre = np.array(SMALL_CENTRE) / scale + (low + high) / 2
        inner = SMALL_RADIUS * np.cos(np.pi / SMALL_VERTICES) * 0.97 / scale
        outer = SMALL_RADIUS * 1.03 / scale
        offset = layout - centre
        distance = np.hypot(*offset.T)
        band = (distance > inner) & (distance < outer)
        layout[band] = centre + offset[band] * (outer / distance[band])[:, None]
    frame = pd.DataFrame(
        rng.normal(size=(n, 4)).astype(np.float32), columns=[f"feat_{i}" for i in range(4)]
    )
    frame.insert(0, "id", [f"G{i:06d}" for i in range(n)])
    frame["value"] = layout[:, 0]
    return frame, layout


def _page_polygon(box: dict, polygon: np.ndarray) -> list[tuple[float, float]]:
    """Page pixels of data-space ([-1, 1]) vertices in a canvas's reset view."""
    width, height = box["width"], box["height"]
    return [
        (box["x"] + (x * height / width + 1) / 2 * width, box["y"] + (1 - y) / 2 * height)
        for x, y in polygon
    ]


def _lasso(page: Any, notebook: Any, canvas: str, polygon: np.ndarray) -> dict[str, float]:
    """Draw ``polygon`` (data space) on the canvas; time pointerup → selection in the kernel."""
    box = page.locator(canvas).first.bounding_box()
    vertices = _page_polygon(box, polygon)
    page.mouse.move(*vertices[0])
    page.mouse.down()
    for vertex in vertices:
        page.mouse.move(*vertex)
        page.wait_for_timeout(30)
    page.evaluate("window.__bench.sends = []")
    page.mouse.up()
    notebook.kernel.wait_until("lasso_times", timeout=TIMEOUT_MS / 1000)
    arrived, count = notebook.kernel.eval_json("lasso_times[0]")
    pointerup = page.evaluate("window.__bench.pointerup")
    sends = page.evaluate("window.__bench.sends")
    return {
        "lasso_to_python_s": (arrived * 1000 - pointerup) / 1000,
        "lasso_browser_s": (sends[0][0] - pointerup) / 1000 if sends else float("nan"),
        "lasso_selected_points": count,
        "lasso_message_bytes": max((size for _, size in sends), default=0),
    }


def _circle(centre: tuple[float, float], radius: float, vertices: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    return np.column_stack(
        [centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)]
    )


# The 340k comparison's lasso, in data space: 12 vertices, left of the centre.
SMALL_CENTRE, SMALL_RADIUS, SMALL_VERTICES = (-0.15, 0.0), 0.34, 12
SMALL_LASSO = _circle(SMALL_CENTRE, SMALL_RADIUS, SMALL_VERTICES)
# A lasso over most of the cloud.
LARGE_LASSO = _circle((0.0, 0.0), 0.8, 24)


def _open(browser: Any, server: Any, name: str, cells: list[str]) -> tuple[Any, Any]:
    notebook = open_notebook(browser, server, name, cells, INIT_SCRIPT, timeout_ms=TIMEOUT_MS)
    return notebook.page, notebook


def _first_frame(page: Any, notebook: Any, n: int, gap: bool = False) -> float:
    notebook.kernel.execute(_setup(n, gap), timeout=TIMEOUT_MS / 1000)
    page.evaluate(RUN_DISPLAY_JS)
    page.wait_for_function("window.__bench.painted !== null", timeout=TIMEOUT_MS, polling=100)
    return page.evaluate("window.__bench.painted - window.__bench.start") / 1000


def _check_errors(notebook: Any, widget: str) -> None:
    errors = [e for e in notebook.errors if "favicon" not in e]
    if errors:
        raise RuntimeError(f"{widget}: errors in the page: {errors}")


def _measure(browser: Any, server: Any, widget: str, run: int) -> dict[str, float]:
    page, notebook = _open(browser, server, f"bench_{widget}_{run}.ipynb", [DISPLAY[widget]])
    try:
        first_frame = _first_frame(page, notebook, N, gap=True)
        notebook.kernel.execute(WATCH[widget])
        page.wait_for_timeout(1000)  # let the display settle before the lasso
        lasso = _lasso(page, notebook, CANVAS[widget], SMALL_LASSO)
        _check_errors(notebook, widget)
        return {"first_frame_s": first_frame, **lasso}
    finally:
        notebook.close()


def _measure_large(browser: Any, server: Any, n: int) -> dict[str, Any]:
    """galwidget alone at ``n`` points: first frame, pan/zoom long tasks, a lasso over most."""
    page, notebook = _open(browser, server, f"bench_large_{n}.ipynb", [DISPLAY["galwidget"]])
    try:
        first_frame = _first_frame(page, notebook, n)
        page.wait_for_timeout(2000)
        box = page.locator(CANVAS["galwidget"]).bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        since = page.evaluate("performance.now()")
        page.locator(".gw-button[data-mode=pan]").click()
        for dx, dy in [(120, 40), (-200, -60), (80, 20)]:
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + dx, cy + dy, steps=10)
            page.mouse.up()
        page.mouse.move(cx, cy)
        for delta in [-300, -300, 300, 300, -200, 200]:
            page.mouse.wheel(0, delta)
            page.wait_for_timeout(150)
        page.locator(".gw-button", has_text="Reset view").click()
        page.wait_for_timeout(1500)
        long_tasks = page.evaluate(
            f"window.__longTasks.filter(([start, d]) => start >= {since} && d > {LONG_TASK_MS})"
            ".map(([, d]) => Math.round(d))"
        )
        page.locator(".gw-button[data-mode=lasso]").click()
        page.wait_for_timeout(1000)
        notebook.kernel.execute(WATCH["galwidget"])
        lasso = _lasso(page, notebook, CANVAS["galwidget"], LARGE_LASSO)
        _check_errors(notebook, "galwidget")
        return {
            "n_points": n,
            "first_frame_s": first_frame,
            f"pan_zoom_long_tasks_over_{LONG_TASK_MS}ms": long_tasks,
            **lasso,
        }
    finally:
        notebook.close()


def main() -> dict[str, Any]:
    widgets = list(DISPLAY)
    runs: dict[str, list[dict[str, float]]] = {widget: [] for widget in widgets}
    with lab() as (browser, server):
        for run in range(RUNS):
            for widget in widgets if run % 2 == 0 else widgets[::-1]:
                runs[widget].append(_measure(browser, server, widget, run))
                print(widget, runs[widget][-1], flush=True)
        large = []
        for n in LARGE:
            large.append(_measure_large(browser, server, n))
            print(large[-1], flush=True)
    medians = {
        widget: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for widget, results in runs.items()
    }
    ours, theirs = medians["galwidget"], medians["jupyter-scatter"]
    results = {
        "n_points": N,
        "runs": RUNS,
        "galwidget": ours,
        "jupyter-scatter": theirs,
        "first_frame_ratio": ours["first_frame_s"] / theirs["first_frame_s"],
        "lasso_to_python_ratio": ours["lasso_to_python_s"] / theirs["lasso_to_python_s"],
        "same_lasso_selection": ours["lasso_selected_points"] == theirs["lasso_selected_points"],
        "large": large,
        "all_runs": runs,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    started = time.perf_counter()
    print(json.dumps(main(), indent=2))
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)
