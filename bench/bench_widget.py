"""Explorer front end at GZ DECaLS scale (340k galaxies) against jupyter-scatter, in real JupyterLab.

One JupyterLab server (``tests/browser/jupyterlab_harness.py``) and one headless Chromium serve
every run; each run opens a fresh notebook (own page, own kernel) per widget, alternating which
widget goes first. The kernel builds the same synthetic data for both (30 Gaussian blobs, a given
``(n, 2)`` layout, a continuous ``value`` column to colour by) outside the timed region. Both
widgets draw with regl-scatterplot, with point size 1.5, opacity 0.5 and height 560 px (the
Explorer's defaults for this many points; given explicitly to jupyter-scatter).

- ``first_frame_s``: from executing the cell that builds and displays the widget
  (``Explorer(frame, layout=layout, color="value")`` / ``jscatter.Scatter(...).show()``) until
  the first frame that shows the points. Both libraries (regl-scatterplot) render with WebGL
  off screen and copy each frame they draw onto a visible 2-D canvas with ``drawImage``; a
  wrapper of ``drawImage`` checks each frame copied onto a canvas of the output area right
  after the copy: scaled down onto a :data:`PROBE`-pixel square and read back, at least
  :data:`PAINTED_CELLS` of its pixels must differ from the corner (background). Only frames the
  widgets draw are read, so the check costs the page next to nothing.
- ``lasso_to_python_s``: from the browser's ``pointerup`` ending a lasso (the same 12-vertex
  polygon on both canvases) until the kernel has the selection: galwidget's ``on_select``
  callback after building ``w.selected``; jupyter-scatter's ``selection`` trait observer. Page
  (``Date.now()``) and kernel (``time.time()``) read the same system clock.
  ``lasso_browser_s`` is the part until the page sent the selection over the kernel websocket.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N = 340_000
RUNS = 3
PROBE = 64  # the canvas is scaled down to PROBE x PROBE pixels to be read cheaply
PAINTED_CELLS = 100
TIMEOUT_MS = 300_000


def _setup(n: int) -> str:
    """Kernel code that builds the data (not timed)."""
    return f"""
import sys, time
import pandas as pd
sys.path.insert(0, {str(REPO)!r})
from bench.bench_widget import _frame
frame, layout = _frame({n})
lasso_times = []
"""


DISPLAY = {
    "galwidget": """import galwidget as gw
# Every run starts from an empty selection, like jupyter-scatter, not from the previous run's.
w = gw.Explorer(frame, layout=layout, color="value", remember_selection=False)
w""",
    "jupyter-scatter": """import jscatter
xy = pd.DataFrame({"x": layout[:, 0], "y": layout[:, 1], "value": frame["value"]})
w = jscatter.Scatter(data=xy, x="x", y="y", color_by="value", size=1.5, opacity=0.5, height=560)
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
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {{
  const size = data.byteLength ?? data.size ?? data.length ?? 0;
  if (size > 10000) window.__bench.sends.push([Date.now(), size]);
  return send.call(this, data);
}};
window.addEventListener("pointerup", () => {{ window.__bench.pointerup = Date.now(); }}, true);
"""

RUN_DISPLAY_JS = """() => {
  window.__bench.start = performance.now();
  window.jupyterapp.commands.execute("notebook:run-all-cells");
}"""


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Galaxy-like table (ids, 4 features, ``value``) and its (n, 2) layout of 30 blobs."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(30, 2))
    layout = centres[rng.integers(0, 30, n)] + rng.normal(scale=0.7, size=(n, 2))
    frame = pd.DataFrame(
        rng.normal(size=(n, 4)).astype(np.float32), columns=[f"feat_{i}" for i in range(4)]
    )
    frame.insert(0, "id", [f"G{i:06d}" for i in range(n)])
    frame["value"] = layout[:, 0]
    return frame, layout


def _measure(browser: Any, server: Any, widget: str, run: int) -> dict[str, float]:
    from jupyterlab_harness import LabNotebook, write_notebook

    name = f"bench_{widget}_{run}.ipynb"
    write_notebook(server.root / name, [DISPLAY[widget]])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    notebook = LabNotebook(server=server, page=page, path=name)
    try:
        page.goto(f"{server.url}lab/tree/{name}?token={server.token}&reset", timeout=TIMEOUT_MS)
        notebook.wait_until_ready()
        notebook.kernel.execute(_setup(N), timeout=TIMEOUT_MS / 1000)
        page.evaluate(RUN_DISPLAY_JS)
        page.wait_for_function("window.__bench.painted !== null", timeout=TIMEOUT_MS, polling=100)
        first_frame = page.evaluate("window.__bench.painted - window.__bench.start") / 1000
        notebook.kernel.execute(WATCH[widget])
        page.wait_for_timeout(1000)  # let the display settle before the lasso
        box = page.locator(CANVAS[widget]).first.bounding_box()
        cx, cy = box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.5
        polygon = [(cx + 95 * np.cos(a), cy + 95 * np.sin(a)) for a in np.linspace(0, 6.2, 12)]
        page.mouse.move(*polygon[0])
        page.mouse.down()
        for vertex in polygon:
            page.mouse.move(*vertex)
            page.wait_for_timeout(30)
        page.evaluate("window.__bench.sends = []")
        page.mouse.up()
        notebook.kernel.wait_until("lasso_times", timeout=TIMEOUT_MS / 1000)
        arrived, count = notebook.kernel.eval_json("lasso_times[0]")
        pointerup = page.evaluate("window.__bench.pointerup")
        sends = page.evaluate("window.__bench.sends")
        errors = [e for e in notebook.errors if "favicon" not in e]
        if errors:
            raise RuntimeError(f"{widget}: errors in the page: {errors}")
        return {
            "first_frame_s": first_frame,
            "lasso_to_python_s": (arrived * 1000 - pointerup) / 1000,
            "lasso_browser_s": (sends[0][0] - pointerup) / 1000 if sends else float("nan"),
            "lasso_selected_points": count,
        }
    finally:
        notebook.close()


def main() -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from conftest import CHROMIUM_ARGS, chromium_path
    from jupyterlab_harness import start_jupyter_server, stop_jupyter_server
    from playwright.sync_api import sync_playwright

    widgets = list(DISPLAY)
    runs: dict[str, list[dict[str, float]]] = {widget: [] for widget in widgets}
    with tempfile.TemporaryDirectory(prefix="galwidget-bench-") as home:
        server = start_jupyter_server(Path(home))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(chromium_path()), args=CHROMIUM_ARGS
                )
                for run in range(RUNS):
                    for widget in widgets if run % 2 == 0 else widgets[::-1]:
                        runs[widget].append(_measure(browser, server, widget, run))
                        print(widget, runs[widget][-1], flush=True)
                browser.close()
        finally:
            stop_jupyter_server(server)
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
        "all_runs": runs,
    }
    out = HERE / "results" / "widget.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    started = time.perf_counter()
    print(json.dumps(main(), indent=2))
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)
