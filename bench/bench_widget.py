"""Explorer front end at GZ DECaLS scale (340k galaxies) in headless Chromium.

Measures (median of a few runs, same page harness and kernel-side bridge as the browser tests):

- ``first_frame_s``: from handing the widget state to the page until the scatter has drawn every
  point (the view's ``data-state`` turns ``ready``), including decoding the binary buffers;
- ``lasso_to_python_s``: from releasing the mouse after a lasso around ~80k points until the
  selection has arrived in Python (``Explorer.selected_ids``) and the user's DataFrame column.

No jupyter-scatter baseline: rendering it needs its own widget-manager front end, which the
harness does not provide; ``baseline`` says so in the results.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N = 340_000
RUNS = 3


def _frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-4, 4, size=(30, 2))
    layout = centres[rng.integers(0, 30, n)] + rng.normal(scale=0.7, size=(n, 2))
    frame = pd.DataFrame(
        rng.normal(size=(n, 4)).astype(np.float32), columns=[f"feat_{i}" for i in range(4)]
    )
    frame.insert(0, "id", [f"G{i:06d}" for i in range(n)])
    frame["value"] = layout[:, 0]
    return frame, layout


def main() -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    import functools
    import threading
    from http.server import ThreadingHTTPServer

    from conftest import CHROMIUM_ARGS, PageBridge, _QuietHandler, chromium_path
    from playwright.sync_api import sync_playwright

    from galwidget import Explorer

    frame, layout = _frame(N)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(REPO))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tests/browser/harness.html"
    first_frame, lasso, selected = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path()), args=CHROMIUM_ARGS
        )
        for _ in range(RUNS):
            frame.drop(columns=["selected"], errors="ignore", inplace=True)
            widget = Explorer(frame, layout=layout, color="value")
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(url)
            start = time.perf_counter()
            bridge = PageBridge(page, widget)
            bridge.wait_for_js(
                "document.querySelector('.galwidget')?.dataset.state === 'ready'", 300
            )
            first_frame.append(time.perf_counter() - start)
            box = page.locator(".gw-canvas").bounding_box()
            cx, cy = box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.5
            polygon = [(cx + 95 * np.cos(a), cy + 95 * np.sin(a)) for a in np.linspace(0, 6.2, 12)]
            page.mouse.move(*polygon[0])
            page.mouse.down()
            for vertex in polygon:
                page.mouse.move(*vertex)
                page.wait_for_timeout(30)
            start = time.perf_counter()
            page.mouse.up()
            bridge.wait_until(lambda w=widget: len(w.selected_ids) > 0, 120)
            lasso.append(time.perf_counter() - start)
            selected.append(int(frame["selected"].sum()))
            page.close()
            widget.close()
        browser.close()
    server.shutdown()
    results = {
        "n_points": N,
        "runs": RUNS,
        "first_frame_s": statistics.median(first_frame),
        "lasso_to_python_s": statistics.median(lasso),
        "lasso_selected_points": statistics.median(selected),
        "baseline": "jupyter-scatter not measured: it needs a full widget-manager front end",
    }
    out = HERE / "results" / "widget.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
