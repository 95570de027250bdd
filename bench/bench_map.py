"""The map at survey scale against its peers, in real JupyterLab (issue 21's targets).

``python -m bench map [--sizes 340e3,1e6,3e6] [--tools galwidget,jupyter-scatter,embedding-atlas]
[--peer-sizes 340e3,1e6] [--point-budget N] [--panzoom-sizes 8.7e6,76e6] [--lasso-sizes 8.7e6,76e6]
[--repeat 3] [--timeout 240] [--min-available-gb 3]``
writes ``bench/results/map.json`` (entries of earlier runs at other sizes, tools or budgets are
kept; an entry measured again replaces the old one) and prints the tables of bench/README.md.

Every tool draws the same layout-only map: ``n`` points in 30 seeded Gaussian blobs, generated once
per size into ``bench/data/map_<n>.npy`` (float32, 8 bytes a point) and loaded by the kernel
before the timed region, with string ids ``"0" … "n-1"`` built as one arrow array. galwidget shows
it with ``gw.Explorer.from_layout(ids, xy)`` (and ``point_budget=`` when its Explorer has that
option and ``--point-budget`` is given), jupyter-scatter with the coordinates galwidget draws (its
``[-1, 1]`` scales, as in bench_widget), embedding-atlas 0.22 (its last release drawing with
WebGL) with ``EmbeddingAtlasWidget(df, x="x", y="y")`` over the same ids and coordinates, in its
own virtual environment (``bench/.peer-venv``, ``make bench-peers``) and its own JupyterLab.
One JupyterLab runs at a time: first the shared environment's (galwidget, jupyter-scatter), then
the peer's; each opens one untimed notebook first (JupyterLab's first load is nobody's). Each measurement opens a fresh notebook (own page, own kernel) in one headless
Chromium (SwiftShader: no GPU here; GPU figures are unmeasured).

- ``first_frame_s``: from running the cell that builds and shows the widget until the tool's map
  canvas first shows ≥ :data:`PAINTED_CELLS` of 64×64 probe cells off its background: checked on
  every frame copied onto a 2-D canvas (regl-scatterplot's ``drawImage``) and every 50 ms on
  every map canvas (embedding-atlas draws into its WebGL canvas; its contexts are created with
  ``preserveDrawingBuffer`` so the page can read them).
- memory, 3 s after the first frame and a garbage collection (CDP ``HeapProfiler.collectGarbage``):
  ``renderer_pss_mb`` (sum of ``Pss`` in ``/proc/<pid>/smaps_rollup`` over Chromium's renderer
  processes: only the measured page is open, plus Chromium's spare renderer), ``gpu_process_pss_mb``
  (SwiftShader keeps WebGL buffers there), ``js_heap_mb`` (CDP ``Runtime.getHeapUsage`` of the
  page's main isolate); the kernel's ``VmRSS`` before the layout, after loading it and its ids,
  and after the first frame, and its peak (``VmHWM``).
- pan/zoom (``--panzoom-sizes``): three drags and four wheel steps into the map's centre; the
  longest main-thread task (Long Tasks API) from the first drag until the picture settled, and
  ``zoom_to_drawn_s``: from the first wheel step until the canvas last changed (it is then
  unchanged for :data:`QUIET_MS`).
- lasso (galwidget, ``--lasso-sizes``): a 24-gon over most of the map, drawn in lasso mode; from
  ``pointerup`` until ``w.selection`` is set in the kernel, and whether it equals numpy's even-odd
  point-in-polygon on the full layout. The data has no point within ±3% of the lasso's edges
  (points of that band are moved just outside it) so a canvas placed a pixel differently cannot
  change the set.

A measurement that fails or exceeds ``--timeout`` is recorded with its error, not dropped; one
that leaves the (shared) machine less than ``--min-available-gb`` is stopped (its kernel and
renderers killed by pid) and recorded as such.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.bench_widget import _circle, _page_polygon
from bench.lab import LONG_TASKS_JS, SENDS_JS, open_notebook
from galwidget.widget import LAYOUT_MARGIN

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results" / "map.json"
PEER_VENV = HERE / ".peer-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
TOOLS = ("galwidget", "jupyter-scatter", "embedding-atlas")
DEFAULT_SIZES = "340e3,1e6,3e6,8.7e6"
PROBE = 64
PAINTED_CELLS = 100
CHANGED_CELLS = 8  # probe cells that must change for the picture to count as changed
QUIET_MS = 1000
LONG_TASK_MS = 200
CHUNK = 4_000_000
BLOBS = 30
# The big lasso, in galwidget's drawn coordinates ([-1, 1], normalize_layout): a 24-gon.
LASSO_RADIUS, LASSO_VERTICES = 0.7, 24
LASSO = _circle((0.0, 0.0), LASSO_RADIUS, LASSO_VERTICES)

# The map canvas of each tool.
CANVAS = {
    "galwidget": ".gw-canvas",
    "jupyter-scatter": ".jp-OutputArea-output canvas",
    "embedding-atlas": "canvas",  # inside the widget's shadow root
}


# -- data --------------------------------------------------------------------------------------


def layout_path(n: int, seed: int = 0) -> Path:
    """The cached ``(n, 2)`` float32 layout of ``n`` points (generated on first use)."""
    path = DATA / f"map_{n}_seed{seed}.npy"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    xy = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(n, 2))
    centres = np.random.default_rng(seed).uniform(-4, 4, size=(BLOBS, 2))
    for start in range(0, n, CHUNK):
        rng = np.random.default_rng([seed, start])
        m = min(CHUNK, n - start)
        xy[start : start + m] = centres[rng.integers(0, BLOBS, m)] + rng.normal(
            scale=0.7, size=(m, 2)
        )
    # No point near the lasso's edges: those of a band around it move just outside it.
    low, high = xy.min(axis=0).astype(np.float64), xy.max(axis=0).astype(np.float64)
    scale = LAYOUT_MARGIN / (float((high - low).max()) / 2)
    centre = (low + high) / 2
    inner = LASSO_RADIUS * np.cos(np.pi / LASSO_VERTICES) * 0.97 / scale
    outer = LASSO_RADIUS * 1.03 / scale
    for start in range(0, n, CHUNK):
        block = xy[start : start + CHUNK].astype(np.float64)
        offset = block - centre
        distance = np.hypot(offset[:, 0], offset[:, 1])
        band = (distance > inner) & (distance < outer)
        block[band] = centre + offset[band] * (outer / distance[band])[:, None]
        xy[start : start + CHUNK] = block
    xy.flush()
    del xy
    partial.rename(path)
    return path


def inside_even_odd(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon of ``(m, 2)`` points (the crossing-number rule)."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    for (x1, y1), (x2, y2) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < at)
    return inside


# -- kernel code -------------------------------------------------------------------------------

# Runs in every tool's kernel (numpy, pandas and pyarrow only: the peer's environment has no
# galwidget). Not timed.
SETUP = """
import os, time
import numpy as np, pandas as pd, pyarrow as pa
def _kernel_memory():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {{key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}}
memory_start = _kernel_memory()
xy = np.load({path!r})
memory_layout = _kernel_memory()
ids = pd.Series(pa.array(np.arange(len(xy))).cast(pa.string()), dtype="str")
memory_input = _kernel_memory()
selection_times = []
"""

DISPLAY = {
    "galwidget": """import galwidget as gw
w = gw.Explorer.from_layout(ids, xy, remember_selection=False{budget})
w""",
    "jupyter-scatter": """import jscatter
from galwidget.widget import normalize_layout
ndc = normalize_layout(xy).reshape(-1, 2)  # where galwidget draws each point
w = jscatter.Scatter(
    data=pd.DataFrame({"x": ndc[:, 0], "y": ndc[:, 1]}), x="x", y="y",
    x_scale=(-1, 1), y_scale=(-1, 1), size=1.5, opacity=0.5, height=560,
)
w.show()""",
    "embedding-atlas": """from embedding_atlas.widget import EmbeddingAtlasWidget
w = EmbeddingAtlasWidget(pd.DataFrame({"id": ids, "x": xy[:, 0], "y": xy[:, 1]}), x="x", y="y")
w""",
}

# galwidget's lasso: when the kernel set ``w.selection`` (time.time()) and its size.
# An observer of the trait, after galwidget's own (an `on_select` callback would add building the
# selected ids: 2.7 s for 70M of them).
WATCH = (
    "w.observe(lambda change: selection_times.append((time.time(), len(change['new']))),"
    " names='selection')"
)

# Even-odd point-in-polygon over the full layout in the drawn coordinates, by blocks.
CHECK = """
import sys
sys.path.insert(0, {repo!r})
from bench.bench_map import inside_even_odd
from galwidget.widget import normalize_layout
_bounds = (*xy.min(axis=0).tolist(), *xy.max(axis=0).tolist())
_polygon = np.array({polygon!r})
_inside = np.concatenate([
    inside_even_odd(normalize_layout(xy[s : s + {chunk}], _bounds).reshape(-1, 2), _polygon)
    for s in range(0, len(xy), {chunk})
])
lasso_check = {{
    "numpy_inside": int(_inside.sum()),
    "equal": bool(np.array_equal(np.flatnonzero(_inside), np.asarray(w.selection))),
}}
"""


# -- page --------------------------------------------------------------------------------------


def init_script(tool: str) -> str:
    """Installed before JupyterLab loads: the first-frame probe, long tasks, pointerup, sends."""
    webgl = tool == "embedding-atlas"  # draws into its WebGL canvas, not through drawImage
    return (
        f"""
window.__bench = {{ start: null, painted: null, pointerup: null, sends: [], dirty: false }};
const selector = {json.dumps(CANVAS[tool])};
if ({json.dumps(webgl)}) {{
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, attributes) {{
    if (type === "webgl" || type === "webgl2") {{
      attributes = {{ ...(attributes || {{}}), preserveDrawingBuffer: true }};
    }}
    return getContext.call(this, type, attributes);
  }};
}}
// A draw call into a canvas of the page marks the map as possibly changed.
{{
  for (const gl of [WebGLRenderingContext, WebGL2RenderingContext]) {{
    for (const name of ["drawArrays", "drawElements", "drawArraysInstanced",
                        "drawElementsInstanced"]) {{
      const draw = gl.prototype[name];
      if (!draw) continue;
      gl.prototype[name] = function (...args) {{
        if (this.canvas instanceof HTMLCanvasElement) {{
          window.__bench.dirty = true;
          window.__bench.drawn = this.canvas;
        }}
        return draw.apply(this, args);
      }};
    }}
  }}
}}
const probe = document.createElement("canvas");
probe.width = probe.height = {PROBE};
const probeContext = probe.getContext("2d", {{ willReadFrequently: true }});
const drawImage = CanvasRenderingContext2D.prototype.drawImage;
const cells = (canvas) => {{
  probeContext.clearRect(0, 0, {PROBE}, {PROBE});
  drawImage.call(probeContext, canvas, 0, 0, {PROBE}, {PROBE});
  return probeContext.getImageData(0, 0, {PROBE}, {PROBE}).data;
}};
const painted = (data) => {{
  let differing = 0;
  for (let i = 0; i < data.length; i += 4) {{
    if (Math.abs(data[i] - data[0]) + Math.abs(data[i + 1] - data[1])
        + Math.abs(data[i + 2] - data[2]) + Math.abs(data[i + 3] - data[3]) > 24) differing++;
  }}
  return differing >= {PAINTED_CELLS};
}};
// In an output area, through shadow roots (embedding-atlas renders inside one).
const inOutput = (element) => {{
  for (let node = element; node; node = node.parentElement || node.getRootNode().host) {{
    if (node.classList && node.classList.contains("jp-OutputArea")) return true;
  }}
  return false;
}};
const isMap = (canvas) => canvas instanceof HTMLCanvasElement && canvas.matches(selector)
  && canvas.isConnected && canvas.width >= 100 && canvas.height >= 100 && inOutput(canvas);
const deepQuery = (root, found = []) => {{
  for (const element of root.querySelectorAll("*")) {{
    if (element.matches(selector)) found.push(element);
    if (element.shadowRoot) deepQuery(element.shadowRoot, found);
  }}
  return found;
}};
// The map canvas: the one last drawn into (jupyter-scatter has two of the same size), else the
// largest; kept once the first frame is in.
let mapCanvas = null;
window.__benchMap = () => {{
  const drawn = window.__bench.drawn;
  if (drawn && isMap(drawn)) return drawn;
  if (mapCanvas && isMap(mapCanvas)) return mapCanvas;
  const canvases = deepQuery(document).filter(isMap);
  canvases.sort((a, b) => b.width * b.height - a.width * a.height);
  if (window.__bench.painted !== null) mapCanvas = canvases[0] || null;
  return canvases[0] || null;
}};
window.__benchCells = () => {{
  const canvas = window.__benchMap();
  return canvas ? cells(canvas) : null;
}};
const check = (canvas) => {{
  const bench = window.__bench;
  if (bench.start !== null && bench.painted === null && isMap(canvas) && painted(cells(canvas))) {{
    bench.painted = performance.now();
  }}
}};
// regl-scatterplot copies each frame onto the visible 2-D canvas: check it there.
CanvasRenderingContext2D.prototype.drawImage = function (...args) {{
  const result = drawImage.apply(this, args);
  if (this.canvas !== probe && isMap(this.canvas)) {{
    window.__bench.dirty = true;
    window.__bench.drawn = this.canvas;
    if (window.__bench.painted === null) check(this.canvas);
  }}
  return result;
}};
// WebGL canvases: read back at most every 100 ms, and only after a draw call.
window.__benchPoll = () => {{
  if (!{json.dumps(webgl)}) return;
  const timer = setInterval(() => {{
    if (window.__bench.painted !== null) {{ clearInterval(timer); return; }}
    if (!window.__bench.dirty) return;
    window.__bench.dirty = false;
    const canvas = window.__benchMap();
    if (canvas) check(canvas);
  }}, 100);
}};
// Every 50 ms after a draw, compares the map canvas with its previous probe; records when it
// changed.
window.__benchWatch = () => {{
  window.__bench.changes = [];
  let previous = window.__benchCells();
  window.__bench.watch = setInterval(() => {{
    if (!window.__bench.dirty) return;
    window.__bench.dirty = false;
    const now = window.__benchCells();
    if (!now || !previous) {{ previous = now; return; }}
    let changed = 0;
    for (let i = 0; i < now.length; i += 4) {{
      if (Math.abs(now[i] - previous[i]) + Math.abs(now[i + 1] - previous[i + 1])
          + Math.abs(now[i + 2] - previous[i + 2]) + Math.abs(now[i + 3] - previous[i + 3])
          > 24) changed++;  // alpha too: jupyter-scatter draws black on transparent
    }}
    if (changed >= {CHANGED_CELLS}) window.__bench.changes.push(performance.now());
    previous = now;
  }}, 50);
}};
"""
        + SENDS_JS
        + LONG_TASKS_JS
    )


RUN_DISPLAY_JS = """() => {
  window.__bench.start = performance.now();
  window.__benchPoll();
  window.jupyterapp.commands.execute("notebook:run-all-cells");
}"""

# Resolves once the map canvas has not changed for ``quiet`` ms (or after ``limit`` ms): the time
# from ``since`` (performance.now()) until its last change seen by ``__benchWatch``.
SETTLE_JS = """async ([since, quiet, limit]) => {
  const begin = performance.now();
  const last = () => Math.max(since, ...window.__bench.changes.filter((t) => t >= since));
  while (performance.now() - begin < limit && performance.now() - last() < quiet) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { settled_ms: last() - since, timed_out: performance.now() - begin >= limit,
           changes: window.__bench.changes.filter((t) => t >= since).length };
}"""


# -- measurements ------------------------------------------------------------------------------


def _chromium_pids(kind: str) -> list[int]:
    """Pids of this bench's Chromium processes of a kind: ``renderer`` (pages),
    ``ui-renderer`` (Chromium's own top-level UI, ``--top-chrome-webui``) or ``gpu-process``."""
    pids = []
    for process in psutil.Process().children(recursive=True):
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            continue
        if not cmdline or "chrom" not in Path(cmdline[0]).name:
            continue
        ui = "--top-chrome-webui" in cmdline
        renderer = "--type=renderer" in cmdline
        if (
            (kind == "renderer" and renderer and not ui)
            or (kind == "ui-renderer" and renderer and ui)
            or (kind == "gpu-process" and "--type=gpu-process" in cmdline)
        ):
            pids.append(process.pid)
    return pids


def _chromium_pss() -> dict[str, float]:
    """PSS (MB) of this bench's Chromium processes by kind (see :func:`_chromium_pids`), and
    the renderers' anonymous memory (``renderer-anonymous``: unlike PSS, it does not shrink when
    a busy machine evicts Chromium's mapped files)."""
    totals = {"renderer": 0.0, "ui-renderer": 0.0, "gpu-process": 0.0, "renderer-anonymous": 0.0}
    for kind in ("renderer", "ui-renderer", "gpu-process"):
        for pid in _chromium_pids(kind):
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in rollup.splitlines():
                if line.startswith("Pss:"):
                    totals[kind] += int(line.split()[1]) / 1024
                elif line.startswith("Anonymous:") and kind == "renderer":
                    totals["renderer-anonymous"] += int(line.split()[1]) / 1024
    return totals


def _open(browser: Any, server: Any, tool: str, name: str, cells: list[str]) -> tuple[Any, Any]:
    notebook = open_notebook(browser, server, name, cells, init_script(tool), timeout_ms=120_000)
    return notebook.page, notebook


def _memory(page: Any, notebook: Any) -> dict[str, Any]:
    page.wait_for_timeout(3000)
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")
    cdp.detach()
    pss = _chromium_pss()
    kernel = notebook.kernel.eval_json(
        "{'start': memory_start, 'layout': memory_layout, 'input': memory_input,"
        " 'shown': _kernel_memory()}"
    )
    mb = 1024 * 1024
    return {
        "renderer_pss_mb": round(pss["renderer"], 1),
        "gpu_process_pss_mb": round(pss["gpu-process"], 1),
        "ui_renderer_pss_mb": round(pss["ui-renderer"], 1),
        "renderer_anonymous_mb": round(pss["renderer-anonymous"], 1),
        "js_heap_mb": round(heap["usedSize"] / mb, 1),
        "js_heap_total_mb": round(heap["totalSize"] / mb, 1),
        "js_heap_fields": heap,
        "kernel_rss_start_mb": round(kernel["start"]["VmRSS"] / mb, 1),
        "kernel_rss_layout_mb": round(kernel["layout"]["VmRSS"] / mb, 1),
        "kernel_rss_input_mb": round(kernel["input"]["VmRSS"] / mb, 1),
        "kernel_rss_shown_mb": round(kernel["shown"]["VmRSS"] / mb, 1),
        "kernel_peak_mb": round(kernel["shown"]["VmHWM"] / mb, 1),
        "kernel_above_input_mb": round(
            (kernel["shown"]["VmRSS"] - kernel["input"]["VmRSS"]) / mb, 1
        ),
        "kernel_peak_above_input_mb": round(
            (kernel["shown"]["VmHWM"] - kernel["input"]["VmRSS"]) / mb, 1
        ),
    }


def _pan_zoom(page: Any, tool: str) -> dict[str, Any]:
    """Long tasks while panning and zooming (nothing else reads the canvas meanwhile), then a
    separate zoom into the centre timed until the canvas settles."""
    box = page.evaluate(
        "(() => { const r = window.__benchMap().getBoundingClientRect();"
        " return { x: r.x, y: r.y, width: r.width, height: r.height }; })()"
    )
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    if tool == "galwidget":
        page.locator(".gw-button[data-mode=pan]").click()
    since = page.evaluate("performance.now()")
    for dx, dy in [(120, 40), (-200, -60), (80, 20)]:
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=10)
        page.mouse.up()
    page.mouse.move(cx, cy)
    for delta in [-240, -240, -240, 240, 240, 240]:
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(150)
    page.wait_for_timeout(3000)
    tasks = page.evaluate(
        f"window.__longTasks.filter(([start]) => start >= {since}).map(([, d]) => Math.round(d))"
    )
    page.evaluate("window.__benchWatch()")
    page.wait_for_timeout(500)
    zoom_start = page.evaluate("performance.now()")
    for _ in range(4):
        page.mouse.wheel(0, -240)
    zoom = page.evaluate(SETTLE_JS, [zoom_start, QUIET_MS, 60_000])
    page.evaluate("clearInterval(window.__bench.watch)")
    if tool == "galwidget":
        page.locator(".gw-button", has_text="Reset view").click()
        page.wait_for_timeout(1500)
    return {
        "longest_task_ms": max(tasks, default=0),
        f"tasks_over_{LONG_TASK_MS}ms": [d for d in tasks if d > LONG_TASK_MS],
        # None: the canvas never changed (the zoom did not reach the map).
        "zoom_to_drawn_s": zoom["settled_ms"] / 1000 if zoom["changes"] else None,
        "zoom_canvas_changes": zoom["changes"],
        "zoom_timed_out": zoom["timed_out"],
    }


def _lasso(page: Any, notebook: Any, timeout_s: float) -> dict[str, Any]:
    page.locator(".gw-button[data-mode=lasso]").click()
    page.wait_for_timeout(1000)
    notebook.kernel.execute(WATCH)
    box = page.locator(CANVAS["galwidget"]).first.bounding_box()
    vertices = _page_polygon(box, LASSO)
    page.mouse.move(*vertices[0])
    page.mouse.down()
    for vertex in [*vertices, vertices[0]]:
        page.mouse.move(*vertex)
        page.wait_for_timeout(30)
    page.mouse.up()
    notebook.kernel.wait_until("selection_times", timeout=timeout_s)
    arrived, count = notebook.kernel.eval_json("selection_times[0]")
    pointerup = page.evaluate("window.__bench.pointerup")
    notebook.kernel.execute(
        CHECK.format(repo=str(REPO), polygon=LASSO.tolist(), chunk=CHUNK), timeout=600
    )
    check = notebook.kernel.eval_json("lasso_check")
    n = notebook.kernel.eval_json("len(xy)")
    return {
        "lasso_to_selection_s": (arrived * 1000 - pointerup) / 1000,
        "selected": count,
        "selected_fraction": count / n,
        "numpy_inside": check["numpy_inside"],
        "equals_numpy": check["equal"],
    }


def _measure(
    browser: Any, server: Any, tool: str, n: int, options: argparse.Namespace
) -> dict[str, Any]:
    budget = ""
    if tool == "galwidget" and options.point_budget is not None:
        budget = f", point_budget={options.point_budget}"
    setup = SETUP.format(path=str(layout_path(n)))
    name = f"map_{tool}_{n}.ipynb"
    result: dict[str, Any] = {
        "tool": tool,
        "n": n,
        "variant": _variant(tool, options),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    timeout_ms = options.timeout * 1000
    page, notebook = _open(browser, server, tool, name, [DISPLAY[tool].replace("{budget}", budget)])
    guard = None
    try:
        notebook.kernel.execute(setup, timeout=600)
        guard = MemoryGuard(notebook.kernel.eval_json("os.getpid()"), options.min_available_gb)
        page.evaluate(RUN_DISPLAY_JS)
        try:
            page.wait_for_function(
                "window.__bench.painted !== null", timeout=timeout_ms, polling=200
            )
        except Exception as error:
            result["error"] = f"no first frame within {options.timeout:.0f} s: {error}"[:400]
            if guard.tripped:
                result["error"] = guard.tripped
            result["kernel"] = _kernel_state(notebook)
            result["peak_seen"] = guard.peak
            return result
        result["first_frame_s"] = (
            page.evaluate("window.__bench.painted - window.__bench.start") / 1000
        )
        result["memory"] = _memory(page, notebook)
        if n in options.panzoom_sizes:
            result["pan_zoom"] = _pan_zoom(page, tool)
        if tool == "galwidget" and n in options.lasso_sizes:
            result["lasso"] = _lasso(page, notebook, options.timeout)
        errors = [e for e in notebook.errors if "favicon" not in e]
        if errors:
            result["page_errors"] = errors[:5]
        result["peak_seen"] = guard.peak
        return result
    except Exception as error:
        result["error"] = (guard and guard.tripped) or f"{type(error).__name__}: {error}"[:600]
        traceback.print_exc()
        return result
    finally:
        if guard is not None:
            guard.stop()
        try:
            notebook.close()
        except Exception:
            traceback.print_exc()


class MemoryGuard:
    """Watches the machine while a tool draws (it is shared): when its available memory falls
    below ``min_available_gb``, kills this measurement's kernel and Chromium renderers (processes
    this bench started, by pid) and says so in :attr:`tripped`. :attr:`peak` is the largest
    kernel RSS and renderer PSS (MB) seen, sampled every second."""

    def __init__(self, kernel_pid: int, min_available_gb: float) -> None:
        self.kernel_pid = kernel_pid
        self.min_available = min_available_gb * 2**30
        self.tripped: str | None = None
        self.peak = {"kernel_rss_mb": 0.0, "renderer_pss_mb": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                kernel = psutil.Process(self.kernel_pid).memory_info().rss / 2**20
            except psutil.Error:
                kernel = 0.0
            renderer = _chromium_pss()["renderer"]
            self.peak["kernel_rss_mb"] = max(self.peak["kernel_rss_mb"], round(kernel, 1))
            self.peak["renderer_pss_mb"] = max(self.peak["renderer_pss_mb"], round(renderer, 1))
            available = psutil.virtual_memory().available
            if available < self.min_available:
                self.tripped = (
                    f"aborted: the machine's available memory fell to {available / 2**30:.1f} GB"
                    f" (kernel RSS {kernel:.0f} MB, renderer PSS {renderer:.0f} MB)"
                )
                for pid in [self.kernel_pid, *_chromium_pids("renderer")]:
                    try:
                        psutil.Process(pid).kill()
                    except psutil.Error:
                        pass
                return

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        self._thread.join()


def _warm_up(browser: Any, server: Any) -> None:
    """One untimed notebook first, so that no tool pays for JupyterLab's first load."""
    _, notebook = _open(browser, server, "galwidget", "warm_up.ipynb", ["1 + 1"])
    try:
        notebook.run_all()
    finally:
        notebook.close()


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median first frame, with every run's first frame."""
    timed = sorted((r for r in runs if "first_frame_s" in r), key=lambda r: r["first_frame_s"])
    if not timed:
        return runs[-1]
    chosen = dict(timed[(len(timed) - 1) // 2])
    chosen["first_frame_runs_s"] = [r.get("first_frame_s") for r in runs]
    return chosen


def _kernel_state(notebook: Any) -> dict[str, Any]:
    """The kernel's memory when the first frame did not come (it may still be busy)."""
    try:
        return notebook.kernel.eval_json(
            "{'input': memory_input, 'now': _kernel_memory()}", timeout=10
        )
    except Exception as error:
        return {"unavailable": f"{type(error).__name__}: {error}"[:200]}


def _variant(tool: str, options: argparse.Namespace) -> str:
    if tool != "galwidget":
        return "peer"
    if options.point_budget is None:
        if not options.has_point_budget:
            return "baseline (no point budget)"
        return f"point_budget={options.default_point_budget} (default)"
    return f"point_budget={options.point_budget}"


def _point_budget_default() -> int | None:
    """The Explorer's default ``point_budget``; None when it has no such option (today's main)."""
    import galwidget as gw

    parameter = inspect.signature(gw.Explorer.__init__).parameters.get("point_budget")
    return None if parameter is None else parameter.default


def _peer_version() -> str | None:
    if not PEER_PYTHON.exists():
        return None
    out = subprocess.run(
        [
            str(PEER_PYTHON),
            "-c",
            "import importlib.metadata as m; print(m.version('embedding-atlas'))",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or None


def _servers(tools: list[str]) -> list[tuple[Path | None, list[str]]]:
    """Which JupyterLab (None: this environment's; else a python) serves which tools."""
    ours = [t for t in tools if t != "embedding-atlas"]
    groups: list[tuple[Path | None, list[str]]] = [(None, ours)] if ours else []
    if "embedding-atlas" in tools:
        if PEER_PYTHON.exists():
            groups.append((PEER_PYTHON, ["embedding-atlas"]))
        else:
            print(f"embedding-atlas skipped: no {PEER_VENV} (`make bench-peers` makes it)")
    return groups


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench map", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=_sizes(DEFAULT_SIZES))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--peer-sizes",
        type=_sizes,
        default=None,
        help="sizes the peers are measured at (default: --sizes up to 3M)",
    )
    parser.add_argument("--point-budget", type=int, default=None)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per tool and size (the median is kept)"
    )
    parser.add_argument("--panzoom-sizes", type=_sizes, default=_sizes("8.7e6,76e6"))
    parser.add_argument("--lasso-sizes", type=_sizes, default=_sizes("8.7e6,76e6"))
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per first frame")
    parser.add_argument(
        "--min-available-gb",
        type=float,
        default=3.0,
        help="abort a measurement when the machine has less memory available (it is shared)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the JSON file to merge into")
    options = parser.parse_args(argv)
    options.tools = [t for t in options.tools.split(",") if t]
    unknown = set(options.tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")
    if options.peer_sizes is None:
        options.peer_sizes = [n for n in options.sizes if n <= 3_000_000]
    options.default_point_budget = _point_budget_default()
    options.has_point_budget = options.default_point_budget is not None
    if options.point_budget is not None and not options.has_point_budget:
        parser.error("this galwidget's Explorer has no point_budget option")
    return options


def _merge(entries: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """Earlier results with these entries replacing those of the same tool, size and variant."""
    previous = json.loads(path.read_text()) if path.exists() else {"entries": []}
    key = lambda e: (e["tool"], e["n"], e["variant"])  # noqa: E731
    fresh = {key(e) for e in entries}
    kept = [e for e in previous.get("entries", []) if key(e) not in fresh]
    merged = sorted(kept + entries, key=lambda e: (e["n"], TOOLS.index(e["tool"]), e["variant"]))
    return {**meta, "entries": merged}


def _seconds(value: float | None) -> str:
    return "no change seen" if value is None else f"{value:.2f} s"


def table(results: dict[str, Any]) -> str:
    """Markdown rows: one per tool, size and variant."""
    rows = [
        "| n | tool | first frame | renderer PSS | GPU process PSS | JS heap | kernel above input (peak) |"
        " longest task pan/zoom | zoom → drawn | lasso → `w.selection` (= numpy) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in results["entries"]:
        tool = e["tool"] if e["variant"] == "peer" else f"{e['tool']} ({e['variant']})"
        if "first_frame_s" not in e:
            rows.append(f"| {e['n']:,} | {tool} | {e.get('error', '?')[:80]} | | | | | | | |")
            continue
        m, p, lasso = e.get("memory", {}), e.get("pan_zoom"), e.get("lasso")
        rows.append(
            f"| {e['n']:,} | {tool} | {e['first_frame_s']:.2f} s | {m.get('renderer_pss_mb', 0):.0f} MB"
            f" | {m.get('gpu_process_pss_mb', 0):.0f} MB | {m.get('js_heap_mb', 0):.0f} MB"
            f" | {m.get('kernel_above_input_mb', 0):.0f} MB ({m.get('kernel_peak_above_input_mb', 0):.0f} MB)"
            + (f" | {p['longest_task_ms']} ms | {_seconds(p['zoom_to_drawn_s'])}" if p else " | | ")
            + (
                f" | {lasso['lasso_to_selection_s']:.2f} s ({lasso['selected']:,},"
                f" {'equal' if lasso['equals_numpy'] else 'NOT equal'})"
                if lasso
                else " |"
            )
            + " |"
        )
    return "\n".join(rows)


def _save(entries: list[dict[str, Any]], options: argparse.Namespace) -> dict[str, Any]:
    """Merge ``entries`` into the results file (after every measurement: a crash keeps them)."""
    meta = {
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "chromium": "headless, SwiftShader (no GPU: GPU figures unmeasured)",
        },
        "embedding_atlas_version": _peer_version(),
        "galwidget_has_point_budget": options.has_point_budget,
        "last_run": {
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": os.getloadavg(),
            "argv": sys.argv[1:],
        },
    }
    results = _merge(entries, meta, options.results)
    options.results.parent.mkdir(exist_ok=True)
    options.results.write_text(json.dumps(results, indent=2, default=str))
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, merge into ``bench/results/map.json``, return the merged results."""
    options = parse(argv or [])
    sys.path[:0] = [str(REPO / "tests" / "browser"), str(REPO / "tests" / "support")]
    from conftest import CHROMIUM_ARGS, chromium_path
    from jupyterlab_harness import start_jupyter_server, stop_jupyter_server
    from playwright.sync_api import sync_playwright

    for n in sorted(set(options.sizes)):
        started = time.perf_counter()
        layout_path(n)
        print(f"layout {n:,}: {time.perf_counter() - started:.1f} s", flush=True)
    entries: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=CHROMIUM_ARGS
        )
        for python, tools in _servers(options.tools):
            with tempfile.TemporaryDirectory(prefix="galwidget-bench-map-") as home:
                server = start_jupyter_server(Path(home), python=python)
                try:
                    _warm_up(browser, server)
                    for i, n in enumerate(options.sizes):
                        for tool in tools if i % 2 == 0 else tools[::-1]:
                            if tool != "galwidget" and n not in options.peer_sizes:
                                continue
                            runs = []
                            for _ in range(options.repeat):
                                runs.append(_measure(browser, server, tool, n, options))
                                print(json.dumps(runs[-1], default=str), flush=True)
                            entries.append(_median_run(runs))
                            _save(entries, options)
                finally:
                    stop_jupyter_server(server)
        browser.close()
    results = _save(entries, options)
    print(table(results), flush=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
