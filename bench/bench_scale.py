"""Survey scale: streaming PCA of millions of galaxies, Dask vs in process, neighbours, rescoring.

Data: ``N × 128`` float32 representations (``feat_<i>_pred`` columns, ``id_str`` ids) in parquet
part files of :data:`FILE_ROWS` rows (row groups of :data:`GROUP_ROWS`), generated once under
``bench/data/`` (git-ignored): 400 Gaussian clusters in a 24-d latent space mapped to 128-d, plus
noise, so PCA-40 keeps most of the variance and neighbourhoods are structured like real ones.

Sections (``BENCH_SCALE_N=1000000,3000000`` picks the sizes, ``BENCH_SCALE_PARTS`` the sections):

- ``stream``: ``gw.load_representations(folder, reduce_to=40)`` in a fresh subprocess: wall time
  and peak RSS above the RSS after imports and a warm-up load of 2000 rows, against the bound 1.5 × reduced matrix + 512 MiB; the
  baseline is the time of one plain pyarrow read of the feature columns (same files, same run).
- ``dask``: the same with ``engine="dask"`` on a ``LocalCluster(n_workers=2, threads_per_worker=1)``
  (started in the subprocess, not timed): wall time, client and worker peak RSS.
- ``neighbours``: on the streamed PCA-40 matrix: faiss IVF-Flat, then ``gw.NeighbourIndex``
  end to end with it (``backend="faiss-ivf"``, exact refinement; build, click, reload), then faiss
  HNSW (M 32; the slowest build last): build time and click latency (one query at a time) p50/p90
  with recall@12 against exact search (faiss ``IndexFlatL2``) for :data:`N_QUERIES` galaxies.
- ``rescore``: ``gw.learn.Learner`` (logistic regression) retrain on 200 labels + rescore of all n
  PCA-40 rows, measured directly at 8.7M (a generated in-memory matrix: rescoring never reads files).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
DATA = HERE / "data"
RESULTS = Path(os.environ.get("BENCH_SCALE_RESULTS", HERE / "results" / "scale.json"))
D = 128
COMPONENTS = 40
FILE_ROWS = 250_000
GROUP_ROWS = 50_000
CLUSTERS = 400
LATENT = 24
N_QUERIES = 300
K = 12
GZ_DESI = 8_700_000
MiB = 1 << 20
WARMUP_ROWS = 2000


def dataset(n: int) -> Path:
    """The generated part files of ``n`` rows (made once, reused)."""
    folder = DATA / f"scale-{n}x{D}"
    done = folder / "DONE"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, LATENT)) * 3.0
    mixing = rng.standard_normal((LATENT, D)).astype(np.float32) / np.sqrt(LATENT)
    for k, start in enumerate(range(0, n, FILE_ROWS)):
        rows = min(FILE_ROWS, n - start)
        labels = rng.integers(0, CLUSTERS, rows)
        latent = centres[labels] + rng.standard_normal((rows, LATENT))
        x = (latent.astype(np.float32) @ mixing) + 0.3 * rng.standard_normal((rows, D)).astype(
            np.float32
        )
        ids = pa.array(np.char.add("G", np.arange(start, start + rows).astype("U12")))
        columns = {"id_str": ids, "ra": rng.uniform(0, 360, rows)}
        columns |= {f"feat_{j}_pred": x[:, j] for j in range(D)}
        pq.write_table(
            pa.table(columns), folder / f"part-{k:04d}.parquet", row_group_size=GROUP_ROWS
        )
        print(f"  generated {start + rows:,}/{n:,} rows", flush=True)
    done.touch()
    return folder


CHILD = r"""
import json, resource, sys, time
import numpy as np
import pyarrow.parquet as pq
import galwidget as gw

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
folder, engine, out, warmup = sys.argv[1:5]
result = {}
if engine == "baseline":  # one plain pyarrow read of the feature columns, file by file
    columns = [f"feat_{j}_pred" for j in range(128)]
    started = time.perf_counter()
    for path in sorted(__import__("pathlib").Path(folder).glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=columns):
            pass
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result)); sys.exit()
client = None
if engine == "dask":
    import distributed
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    client.run(lambda: __import__("galwidget.dask_reduce"))
# Warm up on a small file, so that library code pages loaded on first use are not counted.
gw.load_representations(warmup, reduce_to=40, columns=["ra"], engine=engine, progress=False)
before = rss()
started = time.perf_counter()
reps = gw.load_representations(folder, reduce_to=40, columns=["ra"], engine=engine, progress=False)
result["seconds"] = time.perf_counter() - started
result["peak_extra_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
result["rows"] = len(reps)
result["explained_variance"] = float(reps.reduction.explained_variance_ratio.sum())
started = time.perf_counter()
reps.raw_rows(np.random.default_rng(0).integers(0, len(reps), 12))
result["raw_rows_12_random_s"] = time.perf_counter() - started
started = time.perf_counter()
reps.fingerprint
result["fingerprint_s"] = time.perf_counter() - started
if client is not None:
    peaks = client.run(lambda: __import__("resource").getrusage(0).ru_maxrss * 1024)
    result["worker_peak_bytes"] = sorted(peaks.values())
    client.close(); cluster.close()
if out != "-":
    np.save(out, reps.features)
print(json.dumps(result))
"""


def run_child(folder: Path, engine: str, out: str = "-") -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), engine, out, str(dataset(WARMUP_ROWS))],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def stream(n: int, engine: str) -> dict[str, Any]:
    folder = dataset(n)
    out = str(DATA / f"scale-{n}-pca{COMPONENTS}.npy") if engine == "local" else "-"
    result = run_child(folder, engine, out)
    bound = 1.5 * n * COMPONENTS * 4 + 512 * MiB
    result["bound_bytes"] = bound
    result["within_bound"] = result["peak_extra_bytes"] <= bound
    if engine == "local":
        result["baseline_pyarrow_read_s"] = run_child(folder, "baseline")["seconds"]
        result["ratio_to_pyarrow_read"] = result["seconds"] / result["baseline_pyarrow_read_s"]
    return result


def latencies(search, queries: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    search(queries[:1])
    found = []
    seconds = []
    for row in range(len(queries)):
        started = time.perf_counter()
        found.append(search(queries[row : row + 1]))
        seconds.append(time.perf_counter() - started)
    p50, p90 = np.percentile(seconds, [50, 90]) * 1e3
    return np.concatenate(found), {"p50_ms": float(p50), "p90_ms": float(p90)}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))


def neighbours(n: int, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """IVF-Flat sweep, galwidget end to end with it, then the HNSW sweep (slowest build last);
    ``save`` is called after each stage so a long build never loses the earlier figures."""
    import faiss

    import galwidget as gw

    features = np.load(DATA / f"scale-{n}-pca{COMPONENTS}.npy")
    rng = np.random.default_rng(1)
    rows = rng.choice(n, N_QUERIES, replace=False)
    queries = np.ascontiguousarray(features[rows])
    exact = faiss.IndexFlatL2(COMPONENTS)
    exact.add(features)
    started = time.perf_counter()
    truth = exact.search(queries, K + 1)[1][:, 1:]  # the query itself comes first
    results: dict[str, Any] = {"exact_flat_300_queries_s": time.perf_counter() - started}
    del exact

    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatL2(COMPONENTS)
    ivf = faiss.IndexIVFFlat(quantizer, COMPONENTS, nlist)
    started = time.perf_counter()
    ivf.train(features[np.sort(rng.choice(n, min(n, 40 * nlist), replace=False))])
    ivf.add(features)
    results["ivf_flat_nlist"] = nlist
    results["ivf_flat_build_s"] = time.perf_counter() - started
    for nprobe in (8, 16, 32, 64):
        ivf.nprobe = nprobe
        found, timing = latencies(lambda q, index=ivf: index.search(q, K + 1)[1], queries)
        results[f"ivf_flat_nprobe{nprobe}"] = {**timing, "recall@12": recall(found[:, 1:], truth)}
    print(n, "ivf", results, flush=True)
    del ivf, quantizer
    save(results)

    reps = gw.Representations.from_array(features, ids=[f"G{i}" for i in range(n)])
    cache = DATA / "cache"
    for path in cache.glob(f"ann-{reps.fingerprint}-*"):
        path.unlink()
    started = time.perf_counter()
    index = gw.NeighbourIndex(reps, None, backend="faiss-ivf", cache_dir=cache, progress=False)
    results["galwidget_ivf_build_s"] = time.perf_counter() - started
    found, timing = latencies(lambda q, ours=index: ours.query_positions(q, K)[0], rows)
    results["galwidget_ivf"] = {**timing, "recall@12": recall(found, truth)}
    started = time.perf_counter()
    gw.NeighbourIndex(reps, None, backend="faiss-ivf", cache_dir=cache, progress=False)
    results["galwidget_ivf_reload_s"] = time.perf_counter() - started
    print(n, "galwidget ivf", results, flush=True)
    del index, reps
    save(results)

    hnsw = faiss.IndexHNSWFlat(COMPONENTS, 32)
    hnsw.hnsw.efConstruction = 80
    started = time.perf_counter()
    hnsw.add(features)
    results["hnsw_build_s"] = time.perf_counter() - started
    for ef in (32, 64, 96, 128):
        params = faiss.SearchParametersHNSW(efSearch=ef)
        found, timing = latencies(
            lambda q, p=params, index=hnsw: index.search(q, K + 1, params=p)[1], queries
        )
        results[f"hnsw_ef{ef}"] = {**timing, "recall@12": recall(found[:, 1:], truth)}
    print(n, "hnsw", results, flush=True)
    save(results)
    return results


def rescore(n: int = GZ_DESI) -> dict[str, Any]:
    from galwidget.learn import Learner

    rng = np.random.default_rng(2)
    features = rng.standard_normal((n, COMPONENTS), dtype=np.float32)
    positions = rng.choice(n, 200, replace=False)
    labels = np.where(features[positions, 0] > 0.5, "ring", "other")
    learner = Learner(features, report=False)
    seconds = [learner.retrain((positions, labels)).seconds for _ in range(3)]
    return {"rows": n, "retrain_rescore_s": seconds, "median_s": float(np.median(seconds))}


def main() -> dict[str, Any]:
    sizes = [int(s) for s in os.environ.get("BENCH_SCALE_N", "1000000").split(",")]
    parts = os.environ.get("BENCH_SCALE_PARTS", "stream,dask,neighbours,rescore").split(",")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for n in sizes:
        entry = results.setdefault(str(n), {})
        if "stream" in parts:
            entry["stream"] = stream(n, "local")
            print(n, "stream", entry["stream"], flush=True)
        if "dask" in parts:
            entry["dask"] = stream(n, "dask")
            entry["dask"]["ratio_to_in_process"] = (
                entry["dask"]["seconds"] / entry["stream"]["seconds"]
            )
            print(n, "dask", entry["dask"], flush=True)
        if "neighbours" in parts:

            def save(figures: dict[str, Any], entry: dict[str, Any] = entry) -> None:
                entry["neighbours"] = figures
                RESULTS.write_text(json.dumps(results, indent=2))

            neighbours(n, save)
        RESULTS.write_text(json.dumps(results, indent=2))
    if "rescore" in parts:
        results["rescore"] = rescore()
        print("rescore", results["rescore"], flush=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
