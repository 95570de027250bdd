"""Pan and zoom beyond the point budget (issue 21) in a real JupyterLab, headless Chromium with
SwiftShader (no GPU: GPU figures are unmeasured).

For each map size (and point budget), after the first frame of the density and the sample:

- ``wheel_to_points_s``: three mouse-wheel zooms over a cluster (in, out, in), each from the wheel
  until the page drew the points of the new view (its ``data-loaded`` / ``data-in-view`` changed); the median
  and the slowest.
- ``wheel_split_s``: each zoom's time split by the page's performance marks (js/src/detail.ts
  ``VIEW_MARKS``; a tree without them gives none): ``rest`` wheel → the view's request (the rest
  delay), ``kernel`` request → reply (the kernel and the websocket), ``merge`` reply → the sample
  and the view merged, ``draw`` merged → drawn (colors, regl-scatterplot's index and frame).
- ``long_tasks_ms``: the Long Tasks API's main-thread tasks over 50 ms during the zooms and three
  drags that follow (each loads another view), longest first.

``BENCH_LOD_SIZES`` picks the maps, ``n:budget`` separated by commas (budget 0: the default);
``BENCH_LOD_BASELINE`` the root of another galwidget source tree (its bundle built) to measure in
the same run, e.g. an export of ``main``, for ratios (the two alternate, ``BENCH_LOD_RUNS`` times
each; medians over runs); ``BENCH_LOD_RESULTS`` where the results go.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

from bench.lab import LONG_TASKS_JS, lab, open_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = tuple(
    tuple(int(v) for v in size.split(":"))
    for size in os.environ.get("BENCH_LOD_SIZES", "1000000:100000,8700000:0").split(",")
    if size
)
BASELINE = os.environ.get("BENCH_LOD_BASELINE", "")
RESULTS = Path(os.environ.get("BENCH_LOD_RESULTS", HERE / "results" / "lod_pan.json"))
TIMEOUT_MS = 300_000
WHEEL_DELTAS = (-300, 300, -300)
# The last load's marks after `start` (performance.now()): request, reply, merged, drawn.
SPLIT_JS = """(start) => {
  const last = (name) => performance.getEntriesByName(name).filter((e) => e.startTime >= start).at(-1)?.startTime;
  const [requested, replied, merged, drawn] = ["requested", "replied", "merged", "drawn"].map(
    (step) => last(`galwidget:view-${step}`));
  if ([requested, replied, merged, drawn].some((t) => t === undefined)) return null;
  return { rest: (requested - start) / 1000, kernel: (replied - requested) / 1000,
           merge: (merged - replied) / 1000, draw: (drawn - merged) / 1000 };
}"""
RUNS = int(os.environ.get("BENCH_LOD_RUNS", "2"))  # alternating which tree goes first

# Installed before JupyterLab loads: every long task, and when the widget's loaded points change.
INIT_SCRIPT = (
    LONG_TASKS_JS
    + """
window.__loadedAt = [];
new MutationObserver((records) => {
  for (const record of records) {
    const target = record.target;
    if (target.classList?.contains("galwidget")) window.__loadedAt.push(performance.now());
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-loaded", "data-in-view"] });
"""
)


def _setup(n: int, budget: int, root: str) -> str:
    """Kernel code: the galwidget of ``root`` and a clustered layout of ``n`` points (not timed)."""
    option = f", point_budget={budget}" if budget else ""
    return f"""
import sys
sys.path.insert(0, {root!r})
import numpy as np
import galwidget as gw
assert gw.__file__.startswith({root!r}), gw.__file__
rng = np.random.default_rng(0)
centres = np.array([[-0.5, 0.4], [0.45, 0.35], [0.0, -0.45], [-0.55, -0.5], [0.6, -0.4]])
xy = centres[rng.integers(0, len(centres), {n})] + rng.normal(scale=0.12, size=({n}, 2))
xy = xy.astype(np.float32)
ids = np.arange({n}).astype(str)
w = gw.Explorer.from_layout(ids, xy{option}, remember_selection=False)
"""


def _measure(
    browser: Any, server: Any, n: int, budget: int, root: str, name: str
) -> dict[str, Any]:
    notebook = open_notebook(browser, server, name, ["w"], INIT_SCRIPT, timeout_ms=TIMEOUT_MS)
    page = notebook.page
    try:
        notebook.kernel.execute(_setup(n, budget, root), timeout=TIMEOUT_MS / 1000)
        notebook.run_all()
        widget = page.locator(".galwidget")
        page.wait_for_function(
            "document.querySelector('.galwidget')?.dataset.detail === 'sample'", timeout=TIMEOUT_MS
        )
        page.wait_for_timeout(2000)
        box = page.locator(".gw-canvas").bounding_box()
        # Over the cluster at (0.45, 0.35) of the [-1, 1] square (y spans the canvas's height).
        scale = box["height"] / 2
        cx = box["x"] + box["width"] / 2 + 0.45 * scale
        cy = box["y"] + box["height"] / 2 - 0.35 * scale
        since = page.evaluate("performance.now()")
        waits, splits = [], []
        # In, out, in: each view reaches beyond what is loaded, so each loads (or drops) points.
        for delta in WHEEL_DELTAS:
            page.mouse.move(cx, cy)
            marks = page.evaluate("window.__loadedAt.length")
            start = page.evaluate("performance.now()")
            page.mouse.wheel(0, delta)
            page.wait_for_function(
                f"window.__loadedAt.length > {marks}", timeout=TIMEOUT_MS, polling=50
            )
            page.wait_for_timeout(1500)  # a later change of the same view counts too
            waits.append((page.evaluate("window.__loadedAt.at(-1)") - start) / 1000)
            splits.append(page.evaluate(SPLIT_JS, start))
        page.locator(".gw-button[data-mode=pan]").click()
        for dx, dy in [(150, 60), (-250, -80), (120, 30)]:
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + dx, cy + dy, steps=10)
            page.mouse.up()
            page.wait_for_timeout(1500)
        long_tasks = page.evaluate(
            f"window.__longTasks.filter(([start]) => start >= {since}).map(([, d]) => Math.round(d))"
        )
        errors = [e for e in notebook.errors if "favicon" not in e]
        if errors:
            raise RuntimeError(f"errors in the page: {errors}")
        return {
            "n_points": n,
            "point_budget": budget or "default",
            "loaded_points": int(widget.get_attribute("data-loaded") or 0),
            "wheel_to_points_s": waits,
            "wheel_to_points_median_s": statistics.median(waits),
            "wheel_split_s": splits,
            "long_tasks_ms": sorted(long_tasks, reverse=True),
            "longest_task_ms": max(long_tasks, default=0),
        }
    finally:
        notebook.close()


def main() -> dict[str, Any]:
    roots = {"galwidget": str(REPO)} | ({"baseline": BASELINE} if BASELINE else {})
    results: dict[str, Any] = {"sizes": []}
    with lab() as (browser, server):
        for n, budget in SIZES:
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in roots}
            for run in range(RUNS):
                order = list(roots.items())
                for label, root in order if run % 2 == 0 else order[::-1]:
                    name = f"lod_{label}_{n}_{run}.ipynb"
                    runs[label].append(_measure(browser, server, n, budget, root, name))
                    print(label, runs[label][-1], flush=True)
            entry: dict[str, Any] = {"n_points": n, "point_budget": budget or "default"}
            for label, measured in runs.items():
                entry[label] = {
                    "wheel_to_points_median_s": statistics.median(
                        t for m in measured for t in m["wheel_to_points_s"]
                    ),
                    "wheel_to_points_max_s": max(
                        t for m in measured for t in m["wheel_to_points_s"]
                    ),
                    "longest_task_ms": statistics.median(m["longest_task_ms"] for m in measured),
                    "runs": measured,
                }
            if BASELINE:
                ours, theirs = entry["galwidget"], entry["baseline"]
                for key in ("wheel_to_points_median_s", "longest_task_ms"):
                    entry[f"{key}_ratio"] = ours[key] / max(theirs[key], 1e-9)
            results["sizes"].append(entry)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
