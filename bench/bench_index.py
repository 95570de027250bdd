"""PCA compression and neighbor search on 340k × 1280 features, against W+22's similarity-app path.

Ours: ``fit_pca`` (one float64 covariance pass + ``eigh``) to 40 dimensions, then
``gw.NeighborIndex`` with the exact backend, with faiss IVF-Flat (the ``auto`` choice at this
size) and with the faiss HNSW graph, timed from a fresh cache folder, and again when reloaded from it. Click latency is
``query_positions([row], k=12)`` for :data:`N_QUERIES` random galaxies, one at a time; recall@12 of
the graph is measured against the exact backend on the same queries. The raw 1280-d space is also
timed (exact), with how many of its neighbors the PCA-40 neighbors share.

Baseline (W+22's similarity-search app), in the same run: scikit-learn ``IncrementalPCA`` to 10
dimensions (default batch size), fitted on the first :data:`BASELINE_FIT_ROWS` rows and
extrapolated linearly to all rows (its cost is linear in rows: one batch SVD after another), then
a manhattan ``BallTree`` on all rows, queried one galaxy at a time.

Set ``BENCH_PYNNDESCENT=1`` to add the pynndescent backend (it needs several minutes of numba
compilation and graph building at this size).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import IncrementalPCA
from sklearn.neighbors import BallTree

import galwidget as gw
from bench.bench_load import zenodo_like_file
from galwidget.pca import fit_pca

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "index.json"
N_COMPONENTS = 40
K = 12
N_QUERIES = 200
N_RAW_QUERIES = 30
BASELINE_FIT_ROWS = 68_000
BASELINE_COMPONENTS = 10


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def latencies_ms(query: Callable[[int], Any], rows: np.ndarray) -> dict[str, float]:
    """p50/p90 milliseconds of ``query(row)`` over ``rows`` (after one warm-up query)."""
    query(int(rows[0]))
    seconds = [timed(lambda row=row: query(int(row)))[1] for row in rows]
    p50, p90 = np.percentile(seconds, [50, 90]) * 1e3
    return {"p50_ms": float(p50), "p90_ms": float(p90)}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(a) & set(b)) for a, b in zip(found, truth, strict=True))
    return hits / truth.size


def ours(reps: gw.Representations, rows: np.ndarray, cache: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    pca, results["pca40_fit_s"] = timed(lambda: fit_pca(reps.features, N_COMPONENTS, False))
    _, results["pca40_projection_s"] = timed(lambda: pca.transform(reps.features, False))
    results["pca40_explained_variance"] = float(pca.explained_variance_ratio.sum())
    print("PCA", results, flush=True)

    exact, results["exact_build_s"] = timed(
        lambda: gw.NeighborIndex(
            reps, N_COMPONENTS, backend="exact", cache_dir=cache, progress=False
        )
    )
    truth = exact.query_positions(rows, K)[0]
    results["exact"] = latencies_ms(lambda row: exact.query_positions([row], K), rows)
    print("exact", results["exact"], flush=True)

    backends = ["faiss-ivf", "faiss"]
    backends += ["pynndescent"] if os.environ.get("BENCH_PYNNDESCENT") else []
    for backend in backends:
        index, build_s = timed(
            lambda backend=backend: gw.NeighborIndex(
                reps, N_COMPONENTS, backend=backend, cache_dir=cache, progress=False
            )
        )
        reloaded, reload_s = timed(
            lambda backend=backend: gw.NeighborIndex(
                reps, N_COMPONENTS, backend=backend, cache_dir=cache, progress=False
            )
        )
        assert reloaded.loaded_from_cache
        results[backend] = {
            "build_s (PCA from cache)": build_s,
            "reload_from_cache_s": reload_s,
            **latencies_ms(lambda row, index=index: index.query_positions([row], K), rows),
            "recall@12": recall(index.query_positions(rows, K)[0], truth),
        }
        print(backend, results[backend], flush=True)
    auto = gw.NeighborIndex(reps, N_COMPONENTS, cache_dir=cache, progress=False)
    results["auto_backend"] = auto.backend
    ids = reps.ids
    results["auto_query_dataframe"] = latencies_ms(lambda row: auto.query(ids[row], K), rows)

    raw = gw.NeighborIndex(reps, None, backend="exact", cache_dir=cache, progress=False)
    raw_rows = rows[:N_RAW_QUERIES]
    results["raw_1280d_exact"] = {
        **latencies_ms(lambda row: raw.query_positions([row], K), raw_rows),
        "neighbors_shared_with_pca40": recall(
            truth[:N_RAW_QUERIES], raw.query_positions(raw_rows, K)[0]
        ),
    }
    print("raw", results["raw_1280d_exact"], flush=True)
    return results


def baseline(reps: gw.Representations, rows: np.ndarray) -> dict[str, Any]:
    n = len(reps)
    model = IncrementalPCA(n_components=BASELINE_COMPONENTS)
    _, fit_s = timed(lambda: model.fit(reps.features[:BASELINE_FIT_ROWS]))
    embedding, transform_s = timed(lambda: model.transform(reps.features))
    tree, tree_s = timed(lambda: BallTree(embedding, metric="manhattan"))
    results = {
        "incremental_pca10_fit_rows": BASELINE_FIT_ROWS,
        "incremental_pca10_fit_s_measured": fit_s,
        "incremental_pca10_fit_s_all_rows_extrapolated": fit_s * n / BASELINE_FIT_ROWS,
        "incremental_pca10_transform_s": transform_s,
        "balltree_manhattan_build_s": tree_s,
        "balltree_manhattan": latencies_ms(
            lambda row: tree.query(embedding[row : row + 1], K + 1), rows
        ),
    }
    print("baseline", results, flush=True)
    return results


def main() -> dict[str, Any]:
    reps = gw.load_representations(zenodo_like_file(), progress=False)
    rows = np.random.default_rng(0).choice(len(reps), N_QUERIES, replace=False)
    with tempfile.TemporaryDirectory(prefix="galwidget-bench-") as cache:
        our = ours(reps, rows, cache)
    base = baseline(reps, rows)
    click = our[our["auto_backend"]]
    results = {
        "rows": len(reps),
        "features": reps.n_features,
        "k": K,
        "queries": N_QUERIES,
        "ours": our,
        "baseline_w22": base,
        "click_query_p50_ms": click["p50_ms"],
        "click_query_recall@12": click.get("recall@12", 1.0),
        "pca_fit_speedup_vs_incremental_pca": base["incremental_pca10_fit_s_all_rows_extrapolated"]
        / our["pca40_fit_s"],
        "click_p50_speedup_vs_balltree": base["balltree_manhattan"]["p50_ms"] / click["p50_ms"],
        "exact_p50_speedup_vs_balltree": base["balltree_manhattan"]["p50_ms"]
        / our["exact"]["p50_ms"],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
