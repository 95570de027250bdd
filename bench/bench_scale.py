"""Survey scale: streaming PCA of millions of galaxies, Dask vs in process, neighbors, rescoring.

Data: ``N × 128`` float32 representations (``feat_<i>_pred`` columns, ``id_str`` ids) in parquet
part files of :data:`FILE_ROWS` rows (row groups of :data:`GROUP_ROWS`), generated once under
``bench/data/`` (git-ignored): 400 Gaussian clusters in a 24-d latent space mapped to 128-d, plus
noise, so PCA-40 keeps most of the variance and neighborhoods are structured like real ones.

Sections (``BENCH_SCALE_N=1000000,3000000`` picks the sizes, ``BENCH_SCALE_PARTS`` the sections):

- ``stream``: ``gw.load_representations(folder, reduce_to=40)`` in a fresh subprocess: wall time
  and peak RSS above the RSS after imports and a warm-up load of 2000 rows, against the bound 1.5 × reduced matrix + 512 MiB; the
  baseline is the time of one plain pyarrow read of the feature columns (same files, same run);
  CPU seconds of both (all threads). ``BENCH_SCALE_BEFORE=<folder with another galwidget>`` also
  times that version's load in the same run (``before``; also for ``zenodo``).
- ``dask``: the same with ``engine="dask"`` on a ``LocalCluster(n_workers=2, threads_per_worker=1)``
  (started in the subprocess, not timed): wall time, client and worker peak RSS.
- ``neighbors``: on the streamed PCA-40 matrix: faiss IVF-Flat, then ``gw.NeighborIndex``
  end to end with it (``backend="faiss-ivf"``, exact refinement; build, click, reload), then faiss
  HNSW (M 32; the slowest build last; up to :data:`HNSW_MAX_ROWS` rows): build time and click latency (one query at a time) p50/p90
  with recall@12 against exact search (faiss ``IndexFlatL2``) for :data:`N_QUERIES` galaxies.
- ``clicks``: the click latency of galwidget's IVF index alone, loaded from the cache ``neighbors``
  wrote (to re-measure the queries without rebuilding).
- ``zenodo``: a generated 2M × 1280 float64 file in the Zenodo schema (``write_zenodo_like``, one
  file as published, 20 GB) streamed with ``reduce_to=40``: time, peak extra RSS against the same bound.
- ``build``: ``gw.NeighborIndex`` (backend "auto", IVF-Flat) on an in-memory ``n × 40`` matrix
  shaped like the PCA-40 reduction: build, reload from the cache, clicks p50/p90, recall@12;
  with ``baseline`` in the parts also the previous IVF build (4·√n lists, 25 k-means iterations,
  flat assignment) in the same run.
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
ZENODO_ROWS = 2_000_000
HNSW_MAX_ROWS = 1_000_000  # HNSW builds 2.6x slower than IVF-Flat at 1M: not built beyond
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
folder, engine, out, warmup, meta = sys.argv[1:6]
meta = json.loads(meta)
result = {}
if engine == "baseline":  # one plain pyarrow read of the feature columns, file by file
    path = __import__("pathlib").Path(folder)
    paths = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    columns = [c for c in pq.read_schema(paths[0]).names if c.startswith("feat_")]
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=columns):
            pass
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - cpu
    print(json.dumps(result)); sys.exit()
client = None
if engine == "dask":
    import distributed
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    client.run(lambda: __import__("galwidget.data._dask"))
# Warm up on a small file, so that library code pages loaded on first use are not counted.
gw.load_representations(warmup, reduce_to=40, columns=["ra"], engine=engine, progress=False)
before = rss()
started, cpu = time.perf_counter(), time.process_time()
reps = gw.load_representations(folder, reduce_to=40, columns=meta, engine=engine, progress=False)
result["seconds"] = time.perf_counter() - started
result["cpu_seconds"] = time.process_time() - cpu
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


def run_child(
    folder: Path,
    engine: str,
    out: str = "-",
    columns: tuple[str, ...] = ("ra",),
    galwidget_path: str | None = None,
) -> dict[str, Any]:
    """Run :data:`CHILD` in a fresh process; ``galwidget_path`` puts another galwidget checkout
    (e.g. the previous commit) first on its path."""
    warmup = str(dataset(WARMUP_ROWS))
    env = None if galwidget_path is None else {**os.environ, "PYTHONPATH": galwidget_path}
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), engine, out, warmup, json.dumps(columns)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def stream(n: int, engine: str) -> dict[str, Any]:
    folder = dataset(n)
    out = str(DATA / f"scale-{n}-pca{COMPONENTS}.npy") if engine == "local" else "-"
    result = _with_bound(run_child(folder, engine, out), n, folder if engine == "local" else None)
    return _with_before(result, folder, engine)


def _with_before(
    result: dict[str, Any], folder: Path, engine: str, columns: tuple[str, ...] = ("ra",)
) -> dict[str, Any]:
    """With ``BENCH_SCALE_BEFORE`` (a folder holding another ``galwidget`` package, e.g. the
    previous commit's ``git archive``), the same load by that version, in the same run."""
    before = os.environ.get("BENCH_SCALE_BEFORE")
    if before and engine == "local":
        result["before"] = run_child(folder, engine, columns=columns, galwidget_path=before)
        if "baseline_pyarrow_read_s" in result:
            result["before"]["ratio_to_pyarrow_read"] = (
                result["before"]["seconds"] / result["baseline_pyarrow_read_s"]
            )
    return result


def _with_bound(result: dict[str, Any], n: int, baseline: Path | None) -> dict[str, Any]:
    """Add the memory bound (and, for ``baseline`` files, the plain-read baseline) to ``result``."""
    bound = 1.5 * n * COMPONENTS * 4 + 512 * MiB
    result["bound_bytes"] = bound
    result["within_bound"] = result["peak_extra_bytes"] <= bound
    if baseline is not None:
        read = run_child(baseline, "baseline")
        result["baseline_pyarrow_read_s"] = read["seconds"]
        result["baseline_pyarrow_read_cpu_s"] = read["cpu_seconds"]
        result["ratio_to_pyarrow_read"] = result["seconds"] / result["baseline_pyarrow_read_s"]
    return result


def zenodo(n: int = ZENODO_ROWS) -> dict[str, Any]:
    """Stream ``n`` × 1280 float64 rows in the Zenodo schema (one file, as published)."""
    from galwidget.datasets import write_zenodo_like

    path = DATA / f"zenodo-{n}x1280.parquet"
    if not path.exists():
        started = time.perf_counter()
        write_zenodo_like(path.with_suffix(".tmp"), n, progress=True).rename(path)
        print(f"  generated {path.name} in {time.perf_counter() - started:.0f} s", flush=True)
    result = run_child(path, "local", columns=("png_loc",))
    result["file_bytes"] = path.stat().st_size
    return _with_before(_with_bound(result, n, path), path, "local", ("png_loc",))


def latencies(search, queries: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Clicks one at a time; faiss on one OpenMP thread for them, as galwidget searches a click
    (with two threads and the other core busy, a click took 16 ms instead of 0.4 ms)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return _latencies(search, queries)
    finally:
        faiss.omp_set_num_threads(threads)


def _latencies(search, queries: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
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


def neighbors(n: int, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """IVF-Flat sweep, galwidget end to end with it, then the HNSW sweep (slowest build last);
    ``save`` is called after each stage so a long build never loses the earlier figures."""
    import faiss

    features = np.load(DATA / f"scale-{n}-pca{COMPONENTS}.npy")
    rng = np.random.default_rng(1)
    rows = rng.choice(n, N_QUERIES, replace=False)
    queries = np.ascontiguousarray(features[rows])
    truth, seconds = exact_neighbors(features, rows)
    results: dict[str, Any] = {"exact_flat_300_queries_s": seconds}

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

    results |= galwidget_clicks(features, rows, truth, rebuild=True)
    print(n, "galwidget ivf", results, flush=True)
    save(results)
    if n > HNSW_MAX_ROWS:
        return results

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


def galwidget_clicks(
    features: np.ndarray, rows: np.ndarray, truth: np.ndarray, *, rebuild: bool
) -> dict[str, Any]:
    """``gw.NeighborIndex(backend="faiss-ivf")`` on ``features``: (re)build or load from the
    cache, click latency and recall@12 for the query ``rows``, and the reload time."""
    import galwidget as gw

    reps = gw.Representations.from_array(features, ids=[f"G{i}" for i in range(len(features))])
    cache = DATA / "cache"
    results: dict[str, Any] = {}
    if rebuild:
        for path in cache.glob(f"ann-{reps.fingerprint}-*"):
            path.unlink()
    started = time.perf_counter()
    index = gw.NeighborIndex(reps, None, backend="faiss-ivf", cache_dir=cache, progress=False)
    results["galwidget_ivf_build_s" if rebuild else "galwidget_ivf_reload_s"] = (
        time.perf_counter() - started
    )
    found, timing = latencies(lambda q, ours=index: ours.query_positions(q, K)[0], rows)
    results["galwidget_ivf"] = {**timing, "recall@12": recall(found, truth)}
    if rebuild:
        started = time.perf_counter()
        gw.NeighborIndex(reps, None, backend="faiss-ivf", cache_dir=cache, progress=False)
        results["galwidget_ivf_reload_s"] = time.perf_counter() - started
    return results


def clicks(n: int) -> dict[str, Any]:
    """Click latency of galwidget's cached IVF index alone (built by ``neighbors`` before)."""
    features = np.load(DATA / f"scale-{n}-pca{COMPONENTS}.npy")
    rows = np.random.default_rng(1).choice(n, N_QUERIES, replace=False)
    return galwidget_clicks(features, rows, exact_neighbors(features, rows)[0], rebuild=False)


def exact_neighbors(features: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """The exact :data:`K` nearest rows to each of ``rows`` (itself left out; faiss
    ``IndexFlatL2``), and the seconds the search took."""
    import faiss

    exact = faiss.IndexFlatL2(COMPONENTS)
    exact.add(features)
    started = time.perf_counter()
    found = exact.search(np.ascontiguousarray(features[rows]), K + 1)[1][:, 1:]
    return found, time.perf_counter() - started


def pca_like(n: int, seed: int = 0) -> np.ndarray:
    """``n × 40`` float32 rows shaped like a PCA-40 reduction of clustered representations: the
    generator of :func:`dataset` (400 clusters in a 24-d latent space plus noise) mapped to 40-d,
    columns ordered by falling variance. Made in memory: the index never reads files."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, LATENT)) * 3.0
    mixing = rng.standard_normal((LATENT, COMPONENTS)).astype(np.float32) / np.sqrt(LATENT)
    features = np.empty((n, COMPONENTS), np.float32)
    for start in range(0, n, FILE_ROWS):
        rows = min(FILE_ROWS, n - start)
        latent = centres[rng.integers(0, CLUSTERS, rows)] + rng.standard_normal((rows, LATENT))
        noise = rng.standard_normal((rows, COMPONENTS)).astype(np.float32)
        features[start : start + rows] = latent.astype(np.float32) @ mixing + 0.3 * noise
    return features[:, np.argsort(-features[: min(n, 100_000)].var(axis=0))]


def build(n: int, *, baseline: bool) -> dict[str, Any]:
    """``gw.NeighborIndex(reps, None)`` (backend "auto": IVF-Flat) on :func:`pca_like` rows, from
    an empty cache folder: build time, reload time from the cache, click p50/p90 and recall@12
    against exact search. ``baseline``: the build this replaced (4·√n lists, k-means on 40 rows a
    list for faiss's default 25 iterations, every row compared with every list), same run."""
    import tempfile

    import faiss

    import galwidget as gw

    features = pca_like(n)
    rows = np.random.default_rng(1).choice(n, N_QUERIES, replace=False)
    truth, _ = exact_neighbors(features, rows)
    reps = gw.Representations.from_array(features, ids=[f"G{i}" for i in range(n)])
    assert reps.fingerprint  # computed before the timed builds
    results: dict[str, Any] = {"rows": n, "threads": faiss.omp_get_max_threads()}
    with tempfile.TemporaryDirectory(dir=DATA) as cache:
        started = time.perf_counter()
        index = gw.NeighborIndex(reps, None, cache_dir=cache, progress=False)
        results["build_s"] = time.perf_counter() - started
        results["backend"] = index.backend
        found, timing = latencies(lambda q, ours=index: ours.query_positions(q, K)[0], rows)
        results["clicks"] = {**timing, "recall@12": recall(found, truth)}
        del index
        started = time.perf_counter()
        again = gw.NeighborIndex(reps, None, cache_dir=cache, progress=False)
        results["reload_s"] = time.perf_counter() - started
        assert again.loaded_from_cache
        found, timing = latencies(lambda q, ours=again: ours.query_positions(q, K)[0], rows)
        results["clicks_after_reload"] = {**timing, "recall@12": recall(found, truth)}
        del again
    if baseline:
        nlist = int(4 * np.sqrt(n))
        started = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(COMPONENTS), COMPONENTS, nlist)
        sample = np.random.default_rng(0).choice(n, min(n, 40 * nlist), replace=False)
        ivf.train(features[np.sort(sample)])
        ivf.add(features)
        results["baseline_build_s"] = time.perf_counter() - started
        results["baseline_nlist"] = nlist
    print(n, "build", results, flush=True)
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
    parts = os.environ.get("BENCH_SCALE_PARTS", "stream,dask,neighbors,rescore").split(",")
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
        if "neighbors" in parts:

            def save(figures: dict[str, Any], entry: dict[str, Any] = entry) -> None:
                entry["neighbors"] = figures
                RESULTS.write_text(json.dumps(results, indent=2))

            neighbors(n, save)
        if "build" in parts:
            entry["build"] = build(n, baseline="baseline" in parts)
        if "clicks" in parts:
            entry.setdefault("neighbors", {}).update(clicks(n))
            print(n, "clicks", entry["neighbors"]["galwidget_ivf"], flush=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    if "zenodo" in parts:
        results["zenodo"] = zenodo()
        print("zenodo", results["zenodo"], flush=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    if "rescore" in parts:
        results["rescore"] = rescore()
        print("rescore", results["rescore"], flush=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
