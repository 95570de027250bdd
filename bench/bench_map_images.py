"""Thumbnails in the map (issue 21): zoom into 20k galaxies whose thumbnails the kernel renders.

One JupyterLab server (``tests/support/jupyterlab_harness.py``) and one headless Chromium; each
run opens a fresh notebook (own page, own kernel, so the kernel's and the page's image caches are
cold) showing ``gw.Explorer(gw.datasets.synthetic(n=20_000, seed=run), show_images=…)``: the
synthetic galaxies' thumbnails are rendered by the kernel (numpy, 128 px, PNG) on request. The
page is zoomed by one mouse-wheel turn over the densest part of the map (the 2-D histogram's
fullest bin, from the kernel's layout) to about ×7 (about 4,000 galaxies in view).

- ``first_image_s`` / ``fifty_images_s``: from the wheel turn until the map's image layer has
  drawn its first / its 50th thumbnail (a MutationObserver on the layer's ``data-images``).
- ``all_images_s``: until every placed image is drawn (``data-images == data-placed``).
- ``longest_task_ms``: the longest main-thread task (Long Tasks API, tasks over 50 ms) from the
  wheel turn until all images are drawn (or 5 s). The baseline is the same zoom with
  ``show_images="never"`` in the same run (points only), over the same time.
- ``harness``: the same widget, data and zoom in the bare test page (``tests/browser/
  harness.html``: the bundle with the kernel's widget in this process, no JupyterLab), to tell
  the front end's own work from JupyterLab's handling of the kernel's messages.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from bench.lab import LONG_TASKS_JS, lab, open_notebook, use_test_support

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N = 20_000
RUNS = int(os.environ.get("BENCH_MAP_IMAGES_RUNS", "3"))
WANTED = 50
WHEEL = -1000  # one wheel turn: about ×7
SETTLE_MS = 5000
TIMEOUT_MS = 300_000
RESULTS = Path(os.environ.get("BENCH_MAP_IMAGES_RESULTS", HERE / "results" / "map_images.json"))
CELL = """\
import numpy as np
import galwidget as gw

reps = gw.datasets.synthetic(n={n}, seed={seed})
w = gw.Explorer(reps, color="morphology", show_images={mode!r})
w"""
WATCH_JS = """(wanted) => {
  const layer = document.querySelector(".galwidget .gw-map-images");
  const bench = (window.__images = { start: performance.now(), first: null, wanted: null, all: null });
  new MutationObserver(() => {
    const drawn = Number(layer.dataset.images);
    const now = performance.now();
    if (drawn > 0 && bench.first === null) bench.first = now;
    if (drawn >= wanted && bench.wanted === null) bench.wanted = now;
    if (drawn > 0 && drawn === Number(layer.dataset.placed) && bench.all === null) bench.all = now;
  }).observe(layer, { attributes: true });
}"""


def _densest(kernel: Any, box: dict) -> tuple[float, float]:
    """Page pixel of the densest part of the map (reset view)."""
    from test_jupyterlab import page_positions

    xy = np.array(kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()")).reshape(-1, 2)
    counts, xs, ys = np.histogram2d(xy[:, 0], xy[:, 1], bins=12)
    i, j = np.unravel_index(counts.argmax(), counts.shape)
    centre = np.array([[(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2]])
    x, y = page_positions(centre, box)[0]
    return float(x), float(y)


def _measure(browser: Any, server: Any, mode: str, run: int) -> dict[str, Any]:
    name = f"bench_images_{mode}_{run}.ipynb"
    cells = [CELL.format(n=N, seed=run, mode=mode)]
    notebook = open_notebook(browser, server, name, cells, LONG_TASKS_JS, timeout_ms=TIMEOUT_MS)
    page = notebook.page
    try:
        page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        notebook.run_all()
        page.wait_for_selector(".galwidget[data-state=ready]", timeout=TIMEOUT_MS)
        page.wait_for_timeout(1500)  # let the first frames and the kernel settle
        canvas = page.locator(".galwidget .gw-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        page.mouse.move(*_densest(notebook.kernel, box))
        page.wait_for_timeout(500)
        page.evaluate(WATCH_JS, WANTED)
        page.mouse.wheel(0, WHEEL)
        if mode == "never":
            page.wait_for_timeout(SETTLE_MS)
        else:
            page.wait_for_function(
                "window.__images.all !== null || performance.now() - window.__images.start > 5000",
                timeout=TIMEOUT_MS,
                polling=50,
            )
        timings = _timings(page)
        layer = page.locator(".galwidget .gw-map-images")
        zoom = page.locator(".galwidget .gw-scale-label").text_content()
        return {
            "zoom": zoom,
            "placed": int(layer.get_attribute("data-placed") or 0),
            "drawn": int(layer.get_attribute("data-images") or 0),
            **timings,
        }
    finally:
        notebook.close()


def _timings(page: Any) -> dict[str, Any]:
    """Image times (s after the wheel turn) and the long tasks from the wheel turn until every
    image was drawn (or :data:`SETTLE_MS`), as ``WATCH_JS`` recorded them."""
    bench = page.evaluate("window.__images")
    end = bench["all"] if bench["all"] is not None else bench["start"] + SETTLE_MS
    tasks = [
        (t - bench["start"], d)
        for t, d in page.evaluate("window.__longTasks")
        if bench["start"] <= t <= end + 200
    ]

    def since(key: str) -> float | None:
        return None if bench[key] is None else (bench[key] - bench["start"]) / 1000

    return {
        "first_image_s": since("first"),
        "fifty_images_s": since("wanted"),
        "all_images_s": since("all"),
        "longest_task_ms": max((d for _, d in tasks), default=0.0),
        "long_tasks": len(tasks),
        "long_tasks_at_ms": [[round(t), d] for t, d in tasks],  # (start after the wheel, duration)
        "window_s": (end - bench["start"]) / 1000,
    }


def _measure_harness(browser: Any, url: str, run: int) -> dict[str, Any]:
    """The same zoom in the bare harness page (see the module's docstring)."""
    from conftest import PageBridge
    from test_jupyterlab import page_positions

    import galwidget as gw

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LONG_TASKS_JS)
    page = context.new_page()
    widget = gw.Explorer(gw.datasets.synthetic(n=N, seed=run), color="morphology")
    try:
        page.goto(url)
        bridge = PageBridge(page, widget)
        bridge.ready()
        page.wait_for_timeout(1000)
        box = page.locator(".gw-canvas").bounding_box()
        xy = np.frombuffer(widget._points, "float32").reshape(-1, 2)
        counts, xs, ys = np.histogram2d(xy[:, 0], xy[:, 1], bins=12)
        i, j = np.unravel_index(counts.argmax(), counts.shape)
        centre = np.array([[(xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2]])
        x, y = page_positions(centre, box)[0]
        page.mouse.move(float(x), float(y))
        page.wait_for_timeout(500)
        page.evaluate(WATCH_JS, WANTED)
        page.mouse.wheel(0, WHEEL)
        deadline = time.monotonic() + SETTLE_MS / 1000
        while time.monotonic() < deadline and page.evaluate("window.__images.all === null"):
            bridge.pump()
            page.wait_for_timeout(10)
        timings = _timings(page)
        del timings["window_s"]  # the harness run reports images and tasks only
        layer = page.locator(".gw-map-images")
        return {"placed": int(layer.get_attribute("data-placed") or 0), **timings}
    finally:
        widget.close()
        context.close()


def _serve_repo() -> tuple[Any, str]:
    from conftest import _QuietHandler

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(REPO))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}/tests/browser/harness.html"


def _median(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if len(known) == len(values) else None


def main() -> dict[str, Any]:
    use_test_support()  # _serve_repo's handler is the tests'
    modes = ["auto", "never"]
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in [*modes, "harness"]}
    http, url = _serve_repo()
    try:
        with lab() as (browser, server):
            for run in range(RUNS):
                for mode in modes if run % 2 == 0 else modes[::-1]:
                    runs[mode].append(_measure(browser, server, mode, run))
                    print(mode, runs[mode][-1], flush=True)
                runs["harness"].append(_measure_harness(browser, url, run))
                print("harness", runs["harness"][-1], flush=True)
    finally:
        http.shutdown()
    keys = ["first_image_s", "fifty_images_s", "all_images_s", "longest_task_ms", "placed"]
    medians = {mode: {k: _median([r[k] for r in runs[mode]]) for k in keys} for mode in runs}
    images, points = medians["auto"], medians["never"]
    results = {
        "n_points": N,
        "runs": RUNS,
        "wheel_delta": WHEEL,
        "images": images,
        "points_only_baseline": points,
        "harness": medians["harness"],
        "longest_task_ratio": (
            images["longest_task_ms"] / points["longest_task_ms"]
            if images["longest_task_ms"] and points["longest_task_ms"]
            else None
        ),
        "targets": {"fifty_images_s": 2.0, "longest_task_ms": 100.0},
        "all_runs": runs,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results
