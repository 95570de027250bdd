"""The kernel's part of a large map's first frame, and its memory, before and after a change.

For each size (default 8.7M and 76M, bench_map's layouts and ids: ``"0" … "n-1"`` as one
arrow-backed ``str`` Series), a fresh subprocess per measurement loads the layout and ids (not
timed), then times what the page's first frame waits for in the kernel, step by step:

- ``from_layout``: ``Explorer.from_layout(ids, xy, remember_selection=False)``;
- ``state``: the widget's state as displaying it sends it (``get_state``);
- ``density``: the ``map_density`` reply of the whole map (what the page asks first);
- ``sample``: the ``map_view`` reply of the whole square with the sample's limit;
- ``first_frame``: the sum, from ``from_layout`` until both replies are ready;
- ``lasso``: then at once a ``map_lasso`` over 90% of the map (bench_map's 24-gon), until
  ``w.selection`` is set or refused (a selection over the message limit is, at 76M: the error is
  recorded), its count checked against matplotlib's point-in-polygon over every point;
- ``background_built``: from ``from_layout`` until the id lookup and the grid index (built in
  the background) are both ready; ``lasso_settled``: the same lasso again after that.

Memory: the process's ``VmHWM`` (peak RSS) above its ``VmRSS`` once the layout and ids are loaded,
after the first frame and after the lasso. ``--baseline DIR`` runs the same steps with ``DIR``
first on ``PYTHONPATH`` (e.g. ``git archive main galwidget | tar -x -C /tmp/base``) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "first_frame.json"
SIZES = (8_700_000, 76_000_000)

CHILD = r"""
import json, sys, time
import numpy as np, pandas as pd, pyarrow as pa

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024  # MB

xy = np.load(sys.argv[1])
ids = pd.Series(pa.array(np.arange(len(xy))).cast(pa.string()), dtype="str")
import galwidget as gw
from galwidget.protocol import Request
from galwidget.widget._lod import sample_size
loaded = status("VmRSS")
times = {}
started = time.perf_counter()
w = gw.Explorer.from_layout(ids, xy, remember_selection=False)
times["from_layout"] = time.perf_counter() - started
step = time.perf_counter()
w.get_state()
times["state"] = time.perf_counter() - step
step = time.perf_counter()
density = w._on_map_density(Request("map_density", 1, {"size": 512, "layer": "all"}))
times["density"] = time.perf_counter() - step
step = time.perf_counter()
whole = {"x0": -1.0, "y0": -1.0, "x1": 1.0, "y1": 1.0}
params = {**whole, "limit": sample_size(w.point_budget), "from_rank": 0}
sample = w._on_map_view(Request("map_view", 2, params))
times["sample"] = time.perf_counter() - step
times["first_frame"] = time.perf_counter() - started
peak_first = status("VmHWM") - loaded
angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
polygon = np.column_stack([0.7 * np.cos(angles), 0.7 * np.sin(angles)]).astype("<f4")
step = time.perf_counter()
error = None
try:
    lasso = w._on_map_lasso(
        Request("map_lasso", 3, {"mode": "replace"}, [memoryview(polygon.tobytes())])
    )
    selected = lasso.fields["count"]
except Exception as refused:  # e.g. a selection over the message limit
    error = str(refused)
times["lasso"] = time.perf_counter() - step
peak_lasso = status("VmHWM") - loaded
if error is not None:  # what the kernel found all the same
    detail = w._map_detail
    if hasattr(detail, "in_polygon"):
        selected = len(detail.in_polygon(w.layout_name, polygon))
    else:
        selected = len(detail.index(w.layout_name).in_polygon(polygon))
# Once the id lookup and the index are built (a lasso made some seconds after the first frame).
waited = time.perf_counter()
beyond = len(xy) > w.point_budget  # else no index is built
while not (w.representations.id_lookup_ready and (w._map_detail._indexes or not beyond)):
    if time.perf_counter() - waited > 600:
        break
    time.sleep(0.2)
times["background_built"] = time.perf_counter() - started
step = time.perf_counter()
try:
    w._on_map_lasso(Request("map_lasso", 4, {"mode": "replace"}, [memoryview(polygon.tobytes())]))
except Exception:  # refused alike
    pass
times["lasso_settled"] = time.perf_counter() - step
peak_all = status("VmHWM") - loaded
rss_end = status("VmRSS") - loaded
drawn = np.frombuffer(w._layouts.points(w.layout_name), "<f4").reshape(-1, 2)
from matplotlib.path import Path as MplPath
expected = 0
for start in range(0, len(drawn), 1 << 22):
    expected += int(MplPath(polygon).contains_points(drawn[start:start + (1 << 22)]).sum())
print(json.dumps({
    "seconds": {k: round(v, 3) for k, v in times.items()},
    "loaded_mb": round(loaded),
    "peak_above_loaded_mb": {
        "first_frame": round(peak_first), "lasso": round(peak_lasso), "all": round(peak_all)
    },
    "rss_above_loaded_mb_at_end": round(rss_end),
    "sample_points": sample.fields["count"], "density_max": density.fields["max"],
    "lasso_selected": selected, "lasso_expected": expected, "lasso_error": error,
}))
"""


def measure(n: int, path: Path, pythonpath: str) -> dict[str, Any]:
    """One subprocess's measurement of size ``n`` with ``pythonpath`` first on its path."""
    labels = tempfile.mkdtemp(prefix="bench-first-frame-")  # no label log: a first session
    env = {**os.environ, "PYTHONPATH": pythonpath, "GALWIDGET_LABELS_DIR": labels}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        env=env,
        capture_output=True,
        cwd=tempfile.gettempdir(),  # not this checkout: ``-c`` puts the working directory first
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"the measurement of {n:,} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(options: list[str] | None = None) -> dict[str, Any]:
    """Measure every size with this checkout (and the baseline checkout, when given)."""
    from bench.bench_map import layout_path

    parser = argparse.ArgumentParser(prog="python -m bench first_frame")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--baseline", help="a checkout of galwidget to measure first")
    arguments = parser.parse_args(options or [])
    sizes = [int(float(s)) for s in arguments.sizes.split(",")]
    current = str(HERE.parent)
    results: dict[str, Any] = {}
    for n in sizes:
        path = layout_path(n)
        runs = [("baseline", arguments.baseline)] if arguments.baseline else []
        for name, where in [*runs, ("current", current)]:
            result = measure(n, path, str(where))
            results.setdefault(str(n), {})[name] = result
            print(n, name, json.dumps(result), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
