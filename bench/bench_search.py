"""``w.find``'s search (galwidget.search.Finder) on 10M galaxies, against a linear scan.

Data: :data:`N` DESI-DR8-style ids (``{brickid}_{objid}``, 19 characters at most) with uniform sky
positions, built in memory (seeded). Ours: the Finder's two indexes built once (sorted UTF-8 id
bytes; cKDTree on unit vectors), then :data:`N_QUERIES` prefix completions, exact ids and sky
positions, one at a time. Baseline, in the same run: what a search without an index does per
query — ``pandas`` ``ids.str.startswith(prefix)`` for a prefix and a vectorised numpy great-circle
distance to every galaxy for a sky position (:data:`N_BASELINE` queries each: they are slow).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import galwidget as gw
from galwidget.search import Finder

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "search.json"
N = int(os.environ.get("BENCH_SEARCH_N", 10_000_000))
N_QUERIES = 200
N_BASELINE = 3
SEED = 0


def galaxies(n: int) -> gw.Representations:
    rng = np.random.default_rng(SEED)
    bricks = rng.integers(100_000, 700_000, n).astype(str)
    objects = rng.integers(0, 10_000, n).astype(str)
    ids = pd.Index(np.char.add(np.char.add(bricks, "_"), objects)).unique()
    n = len(ids)
    meta = pd.DataFrame(
        {"ra": rng.uniform(0, 360, n), "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n)))}
    )
    return gw.Representations.from_array(np.zeros((n, 1), np.float32), ids=ids, meta=meta)


def median_seconds(call: Any, queries: list[Any]) -> float:
    times = []
    for query in queries:
        start = time.perf_counter()
        call(query)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> dict[str, Any]:
    reps = galaxies(N)
    rng = np.random.default_rng(SEED + 1)
    ids = reps.ids
    picked = ids[rng.integers(0, len(ids), N_QUERIES)]
    prefixes = [str(i)[:5] for i in picked]
    positions = [f"{r:.5f} {d:+.5f}" for r, d in rng.uniform([0, -60], [360, 60], (N_QUERIES, 2))]
    finder = Finder(reps)

    start = time.perf_counter()
    finder.complete("1")
    id_build = time.perf_counter() - start
    start = time.perf_counter()
    finder.nearest(0.0, 0.0)
    sky_build = time.perf_counter() - start
    ours = {
        "prefix": median_seconds(finder.find, prefixes),
        "exact id": median_seconds(finder.find, [str(i) for i in picked]),
        "sky position": median_seconds(finder.find, positions),
    }

    radec = np.radians(reps.meta[["ra", "dec"]].to_numpy())

    def scan_sky(text: str) -> int:
        ra, dec = np.radians([float(v) for v in text.split()])
        cos = np.sin(dec) * np.sin(radec[:, 1]) + np.cos(dec) * np.cos(radec[:, 1]) * np.cos(
            radec[:, 0] - ra
        )
        return int(np.argmax(cos))

    baseline = {
        "prefix": median_seconds(lambda p: ids[ids.str.startswith(p)], prefixes[:N_BASELINE]),
        "sky position": median_seconds(scan_sky, positions[:N_BASELINE]),
    }
    agree = all(scan_sky(p) == finder.find(p).position for p in positions[:N_BASELINE])
    results = {
        "n": len(reps),
        "build_seconds": {"ids": id_build, "sky": sky_build},
        "median_query_seconds": ours,
        "baseline_median_query_seconds": baseline,
        "speedup": {kind: baseline[kind] / ours[kind] for kind in baseline},
        "nearest_agrees_with_scan": agree,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
