"""Nearest neighbors of galaxies in representation space: fast exact PCA, exact and approximate kNN.

:class:`NeighborIndex` compresses the features with an exact PCA (one float64 covariance pass over
row blocks plus ``numpy.linalg.eigh``, seconds for 340k × 1280) and answers "galaxies like this one"
queries in that space. Search is exact by default: blocked float32 distances pick candidates, whose
distances are then recomputed in float64, so returned distances are accurate, ties are ordered by
row, and a float32 rounding bound guarantees no true neighbor is missed. For large data an
index (faiss IVF-Flat or HNSW, optional extra ``galwidget[ann]``) or pynndescent answers clicks in
well under a millisecond; its candidates are refined with the same exact distances.

The PCA, its embedding and any ANN graph are saved in the cache folder
(:func:`galwidget.cache.cache_dir`), keyed by ``reps.fingerprint`` and the parameters, so the
second construction on the same data loads instead of refitting.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Iterable
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from tqdm.auto import tqdm

from galwidget import cache
from galwidget.cache import read_arrays, warn_unusable_file, write_arrays
from galwidget.data import Representations, load_or_fit_pca
from galwidget.errors import DataError
from galwidget.pca import PCA
from galwidget.util import PROGRESS_THRESHOLD, preview

__all__ = ["NeighborIndex"]

Metric = Literal["euclidean", "cosine", "manhattan"]
Backend = Literal["auto", "exact", "faiss", "faiss-ivf", "pynndescent"]
METRICS: tuple[str, ...] = ("euclidean", "cosine", "manhattan")
BACKENDS: tuple[str, ...] = ("auto", "exact", "faiss", "faiss-ivf", "pynndescent")

# backend="auto" uses a faiss index (IVF-Flat) from this many rows on, for search spaces of at most
# ANN_MAX_DIM dimensions (bench/bench_index.py: exact search on 340k PCA-40 rows takes ~6 ms per
# click; raw 1280-d indexes take minutes to build).
ANN_MIN_ROWS = 200_000
ANN_MAX_DIM = 128
# HNSW parameters: graph degree, build and search beam widths (recall@12 ≥ 0.99 after refinement).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96
# IVF-Flat (backend "faiss-ivf", the "auto" choice; bench/README.md "Index build"): √n lists,
# k-means on IVF_TRAIN_PER_LIST rows a list for IVF_KMEANS_ITERATIONS iterations, then every row is
# assigned to its list through a two-level quantizer: √lists groups of lists, the nearest
# IVF_GROUPS_PROBED groups searched, so a row is compared with ~3·√lists centroids, not all lists
# (at 8.7M rows: 2,949 lists, ~215 comparisons a row instead of 2,949). A click scans IVF_NPROBE
# lists. Only the quantizer and each row's list are cached: the vectors are the searched points.
IVF_LISTS_PER_SQRT_N = 1
IVF_TRAIN_PER_LIST = 30
IVF_KMEANS_ITERATIONS = 8
IVF_GROUPS_PROBED = 3
IVF_NPROBE = 16
# Rows assigned to their lists per step of the build's progress bar.
IVF_ASSIGN_ROWS = 100_000
# Up to this many queries search on one OpenMP thread (the calling thread's setting; batches use
# every core): for a click, faiss's parallel region costs more than the search itself, and far
# more while another process keeps a core busy (8.7M rows, IVF: 0.4 ms p50 on one thread, 16 ms
# on two; bench/README.md).
FEW_QUERIES = 16
PYNNDESCENT_NEIGHBORS = 30
PYNNDESCENT_EPSILON = 0.2
# Extra candidates fetched beyond k (plus excluded rows) before exact refinement.
CANDIDATE_MARGIN = 12
# rerank="raw": candidates found in PCA space per neighbor asked for, re-ranked in raw space.
RERANK_POOL = 4
# Rows per block when accumulating the covariance and when projecting.
# Upper bound on the float32 distance block held in memory during exact search (elements).
DISTANCE_BLOCK_ELEMENTS = 1 << 25
UNIT_ROUNDOFF = float(np.finfo(np.float32).eps) / 2

_warned_missing_faiss = False


# ----------------------------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Exact search with float32 candidates and float64 refinement
# ----------------------------------------------------------------------------------------------


class _Space:
    """The searched points with what each metric needs for blocked float32 distances.

    ``approximate`` gives float32 distances (squared for euclidean) whose rounding error is bounded
    by ``lower_bound``: every exact distance is at least ``lower_bound`` of its float32 value.
    ``exact`` recomputes distances of chosen candidates in float64.
    """

    def __init__(self, embedding: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.embedding = embedding
        c = embedding.shape[1]
        self.dim = c
        if metric == "cosine":
            self.points = _normalize(embedding)
        else:
            self.points = embedding
        if metric == "euclidean":
            self.sq_norms = np.einsum("ij,ij->i", embedding, embedding, dtype=np.float32)
            self.max_norm = float(np.sqrt(self.sq_norms.max(initial=0.0)))
        if metric == "manhattan":
            self.block_rows = max(1, (1 << 22) // c)

    def __len__(self) -> int:
        return len(self.points)

    def queries(self, vectors: np.ndarray) -> np.ndarray:
        """Query vectors (embedding space) as compared against ``points``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return _normalize(vectors) if self.metric == "cosine" else vectors

    def approximate(self, queries: np.ndarray) -> np.ndarray:
        if self.metric == "euclidean":
            distances = queries @ self.points.T
            distances *= -2.0
            distances += self.sq_norms
            distances += np.einsum("ij,ij->i", queries, queries)[:, None]
            return distances
        if self.metric == "cosine":
            distances = queries @ self.points.T
            np.subtract(1.0, distances, out=distances)
            return distances
        distances = np.empty((len(queries), len(self.points)), dtype=np.float32)
        rows = max(1, self.block_rows // len(queries))
        for start in range(0, len(self.points), rows):
            block = self.points[start : start + rows]
            np.abs(queries[:, None, :] - block[None, :, :]).sum(
                axis=2, out=distances[:, start : start + rows]
            )
        return distances

    def lower_bound(self, queries: np.ndarray, approximate: np.ndarray) -> np.ndarray:
        """A lower bound of the exact distances given float32 ``approximate`` ones (same shape)."""
        slack = 4.0 * (self.dim + 4) * UNIT_ROUNDOFF
        if self.metric == "manhattan":
            return approximate * (1.0 - slack)
        if self.metric == "cosine":
            return approximate - slack
        query_norms = np.sqrt(np.einsum("ij,ij->i", queries, queries, dtype=np.float64))
        error = slack * (query_norms + self.max_norm) ** 2
        return approximate - error.reshape((-1,) + (1,) * (approximate.ndim - 1))

    def exact(self, vectors: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Float64 distances (squared for euclidean) from each vector to its candidate rows."""
        rows = self.embedding[candidates].astype(np.float64)
        vectors = np.asarray(vectors, dtype=np.float64)[:, None, :]
        if self.metric == "euclidean":
            return np.square(rows - vectors).sum(axis=2)
        if self.metric == "manhattan":
            return np.abs(rows - vectors).sum(axis=2)
        unit_rows = _normalize(rows)
        unit_vectors = _normalize(vectors)
        return 1.0 - np.einsum("mkc,mkc->mk", unit_rows, np.broadcast_to(unit_vectors, rows.shape))

    def finish(self, distances: np.ndarray) -> np.ndarray:
        """Turn internal distances into reported ones (square roots for euclidean)."""
        if self.metric == "euclidean":
            return np.sqrt(np.maximum(distances, 0.0))
        if self.metric == "cosine":
            return np.maximum(distances, 0.0)
        return distances


def _normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length along the last axis; zero rows stay zero."""
    norms = np.sqrt(np.einsum("...i,...i->...", vectors, vectors))[..., None]
    return vectors / np.where(norms > 0, norms, 1).astype(vectors.dtype)


def _select(
    space: _Space,
    vectors: np.ndarray,
    candidates: np.ndarray,
    exclude: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest of each row's candidates by exact distance, ties by row, ``exclude``d
    rows (and negative candidates) skipped; returns (indices, internal distances), inf if short."""
    valid = candidates >= 0
    distances = space.exact(vectors, np.where(valid, candidates, 0))
    distances[~valid | _excluded(candidates, exclude)] = np.inf
    order = np.lexsort((candidates, distances), axis=1)[:, :k]
    return np.take_along_axis(candidates, order, 1), np.take_along_axis(distances, order, 1)


def _excluded(candidates: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    if exclude.shape[1] <= 64:
        return (candidates[:, :, None] == exclude[:, None, :]).any(axis=2)
    return np.stack([np.isin(row, drop) for row, drop in zip(candidates, exclude, strict=True)])


def _exact_search(
    space: _Space, vectors: np.ndarray, exclude: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows (internal distances), excluding ``exclude[i]`` for query ``i``.

    Float32 distances pick ``k + excluded + margin`` candidates per query, refined in float64.
    Rows outside the candidates have float32 distances at least the largest candidate's; when even
    its lower bound does not clear the k-th exact distance, the query is redone with every row
    whose lower bound does, so the result is exact despite float32 rounding.
    """
    n, m = len(space), len(vectors)
    indices = np.empty((m, k), dtype=np.int64)
    distances = np.empty((m, k), dtype=np.float64)
    wanted = min(n, k + exclude.shape[1] + CANDIDATE_MARGIN)
    block = max(1, DISTANCE_BLOCK_ELEMENTS // n)
    queries = space.queries(vectors)
    for start in range(0, m, block):
        rows = slice(start, min(m, start + block))
        approximate = space.approximate(queries[rows])
        if wanted == n:
            candidates = np.broadcast_to(np.arange(n), approximate.shape)
            indices[rows], distances[rows] = _select(
                space, vectors[rows], candidates, exclude[rows], k
            )
            continue
        candidates = np.argpartition(approximate, wanted - 1, axis=1)[:, :wanted]
        found, found_distances = _select(space, vectors[rows], candidates, exclude[rows], k)
        boundary = np.take_along_axis(approximate, candidates[:, -1:], axis=1)
        lower = space.lower_bound(queries[rows], boundary)[:, 0]
        for row in np.flatnonzero(lower <= found_distances[:, -1]):
            query = slice(start + row, start + row + 1)
            bound = space.lower_bound(queries[query], approximate[row : row + 1])
            wider = np.flatnonzero(bound[0] <= found_distances[row, -1])[None, :]
            widened = _select(space, vectors[query], wider, exclude[query], k)
            found[row], found_distances[row] = widened[0][0], widened[1][0]
        indices[rows], distances[rows] = found, found_distances
    return indices, distances


# ----------------------------------------------------------------------------------------------
# Approximate backends
# ----------------------------------------------------------------------------------------------


class _Faiss:
    """What the faiss indexes share: (de)serialisation and size."""

    def __init__(self, index: Any) -> None:
        self.index = index

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], points: np.ndarray) -> Self:
        import faiss

        return cls(faiss.deserialize_index(arrays["graph"]))

    def to_arrays(self) -> dict[str, np.ndarray]:
        import faiss

        return {"graph": faiss.serialize_index(self.index)}

    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, count: int, parameters: Any) -> np.ndarray:
        """Positions of the ``count`` nearest points to each query, on one OpenMP thread for
        up to :data:`FEW_QUERIES` queries and on every core for more."""
        import faiss

        faiss.omp_set_num_threads(1 if len(queries) <= FEW_QUERIES else _omp_threads())
        return self.index.search(queries, count, params=parameters)[1].astype(np.int64)


def _faiss_metric(metric: str) -> int:
    import faiss

    return faiss.METRIC_L1 if metric == "manhattan" else faiss.METRIC_L2


def _kmeans(points: np.ndarray, k: int, metric: str, iterations: int) -> np.ndarray:
    """``(k, dim)`` k-means centroids of ``points`` (assigned by ``metric``), seeded."""
    import faiss

    clustering = faiss.Clustering(points.shape[1], k)
    clustering.niter = iterations
    clustering.seed = 0
    clustering.min_points_per_centroid = 1  # the caller sizes the sample; no warning
    clustering.max_points_per_centroid = len(points)  # no second sub-sample
    assigner = faiss.IndexFlat(points.shape[1], _faiss_metric(metric))
    clustering.train(np.ascontiguousarray(points, dtype=np.float32), assigner)
    return faiss.vector_to_array(clustering.centroids).reshape(k, points.shape[1])


def _two_level_quantizer(centroids: np.ndarray, metric: str) -> Any:
    """An index over ``centroids`` that finds a vector's nearest ones by comparing it with √k
    group centres, then with the centroids of the :data:`IVF_GROUPS_PROBED` nearest groups."""
    import faiss

    k, dim = centroids.shape
    groups = max(1, int(np.sqrt(k)))
    quantizer = faiss.IndexIVFFlat(
        faiss.IndexFlat(dim, _faiss_metric(metric)), dim, groups, _faiss_metric(metric)
    )
    quantizer.cp.min_points_per_centroid = 1
    quantizer.cp.seed = 0
    quantizer.train(centroids)
    quantizer.add(centroids)
    quantizer.nprobe = min(groups, IVF_GROUPS_PROBED)
    return quantizer


def _omp_threads() -> int:
    """The OpenMP threads a batch search uses: ``OMP_NUM_THREADS``, else the usable cores."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else len(os.sched_getaffinity(0))


class _FaissGraph(_Faiss):
    """faiss ``IndexHNSWFlat`` over the search points (L2; L1 for manhattan)."""

    name = "faiss"

    @classmethod
    def build(cls, points: np.ndarray, metric: str, progress: bool) -> Self:
        import faiss

        index = faiss.IndexHNSWFlat(points.shape[1], HNSW_M, _faiss_metric(metric))
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        step = max(10_000, len(points) // 50)
        with tqdm(total=len(points), desc="HNSW graph", unit="rows", disable=not progress) as bar:
            for start in range(0, len(points), step):
                index.add(points[start : start + step])
                bar.update(min(step, len(points) - start))
        return cls(index)

    def candidates(self, queries: np.ndarray, count: int) -> np.ndarray:
        import faiss

        # faiss's stubs lack SearchParametersHNSW, which its SWIG module defines
        parameters = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            efSearch=max(HNSW_EF_SEARCH, count)
        )
        return self.search(queries, count, parameters)


class _FaissIVF(_Faiss):
    """faiss ``IndexIVFFlat``: √n k-means lists, each query scans the :data:`IVF_NPROBE` nearest
    (L2; L1 for manhattan). Built in under a minute at 8.7M rows where an HNSW graph of millions of
    rows takes many minutes (bench/README.md)."""

    name = "faiss-ivf"

    def __init__(self, index: Any, quantizer: Any, assignments: np.ndarray) -> None:
        super().__init__(index)
        self.quantizer = quantizer  # the index uses it but does not own it
        self.assignments = assignments

    @classmethod
    def build(cls, points: np.ndarray, metric: str, progress: bool) -> Self:
        import faiss

        n = len(points)
        lists = max(1, min(n // IVF_TRAIN_PER_LIST, int(IVF_LISTS_PER_SQRT_N * np.sqrt(n))))
        sample = np.sort(
            np.random.default_rng(0).choice(n, min(n, IVF_TRAIN_PER_LIST * lists), replace=False)
        )
        faiss.omp_set_num_threads(_omp_threads())  # a click may have left this thread at one
        with tqdm(
            total=len(sample) + n, desc="IVF index", unit="rows", disable=not progress
        ) as bar:
            centroids = _kmeans(points[sample], lists, metric, IVF_KMEANS_ITERATIONS)
            bar.update(len(sample))
            quantizer = _two_level_quantizer(centroids, metric)
            assignments = np.empty(n, np.int32)
            for start in range(0, n, IVF_ASSIGN_ROWS):
                stop = min(n, start + IVF_ASSIGN_ROWS)
                assignments[start:stop] = quantizer.search(points[start:stop], 1)[1][:, 0]
                bar.update(stop - start)
        return cls.assemble(quantizer, points, assignments, metric)

    @classmethod
    def assemble(
        cls, quantizer: Any, points: np.ndarray, assignments: np.ndarray, metric: str
    ) -> Self:
        """The index over ``points``, each in list ``assignments[i]`` of ``quantizer``."""
        import faiss

        if len(assignments) != len(points) or not (
            0 <= assignments.min(initial=0) and assignments.max(initial=0) < quantizer.ntotal
        ):
            raise ValueError(
                f"{len(assignments)} list assignments for {len(points)} rows and "
                f"{quantizer.ntotal} lists"
            )
        index = faiss.IndexIVFFlat(
            quantizer, points.shape[1], quantizer.ntotal, _faiss_metric(metric)
        )
        lists = np.ascontiguousarray(assignments, dtype=np.int64)
        points = np.ascontiguousarray(points, dtype=np.float32)
        faiss.omp_set_num_threads(_omp_threads())  # each thread fills its share of the lists
        index.add_core(len(points), faiss.swig_ptr(points), None, faiss.swig_ptr(lists))
        return cls(index, quantizer, assignments)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], points: np.ndarray) -> Self:
        import faiss

        quantizer = faiss.deserialize_index(arrays["quantizer"])
        metric = "manhattan" if quantizer.metric_type == faiss.METRIC_L1 else "euclidean"
        return cls.assemble(quantizer, points, arrays["assignments"], metric)

    def to_arrays(self) -> dict[str, np.ndarray]:
        import faiss

        return {"quantizer": faiss.serialize_index(self.quantizer), "assignments": self.assignments}

    def candidates(self, queries: np.ndarray, count: int) -> np.ndarray:
        import faiss

        # A query's lists are the nearest of all (the build's two levels only spare time per
        # row); the quantizer's parameters must outlive the search (faiss keeps a raw pointer).
        every_group = faiss.SearchParametersIVF()
        every_group.nprobe = self.quantizer.nlist
        parameters = faiss.SearchParametersIVF()
        parameters.nprobe = IVF_NPROBE
        parameters.quantizer_params = every_group
        return self.search(queries, count, parameters)


class _NNDescentGraph:
    """pynndescent ``NNDescent`` over the search points (euclidean; manhattan for manhattan)."""

    name = "pynndescent"

    def __init__(self, index: Any) -> None:
        self.index = index

    @classmethod
    def build(cls, points: np.ndarray, metric: str, progress: bool) -> Self:
        from pynndescent import NNDescent

        index = NNDescent(
            points,
            metric="manhattan" if metric == "manhattan" else "euclidean",
            n_neighbors=PYNNDESCENT_NEIGHBORS,
            random_state=0,
            verbose=progress,
        )
        index.prepare()
        return cls(index)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], points: np.ndarray) -> Self:
        return cls(pickle.loads(arrays["graph"].tobytes()))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"graph": np.frombuffer(pickle.dumps(self.index, protocol=5), dtype=np.uint8)}

    def size(self) -> int:
        return int(self.index._raw_data.shape[0])

    def candidates(self, queries: np.ndarray, count: int) -> np.ndarray:
        indices, _ = self.index.query(queries, k=count, epsilon=PYNNDESCENT_EPSILON)
        return indices.astype(np.int64)


GRAPHS: dict[str, type[_FaissGraph] | type[_FaissIVF] | type[_NNDescentGraph]] = {
    "faiss": _FaissGraph,
    "faiss-ivf": _FaissIVF,
    "pynndescent": _NNDescentGraph,
}


def _resolve_backend(backend: str, n: int, dim: int) -> str:
    global _warned_missing_faiss
    if backend not in BACKENDS:
        raise DataError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        if n < ANN_MIN_ROWS or dim > ANN_MAX_DIM:
            return "exact"
        if _importable("faiss"):
            return "faiss-ivf"
        if not _warned_missing_faiss:
            _warned_missing_faiss = True
            warnings.warn(
                f"{n} galaxies: a faiss index would answer neighbor queries ~10× faster; "
                "using exact search (install it with `pip install galwidget[ann]`)",
                stacklevel=3,
            )
        return "exact"
    module = "faiss" if backend.startswith("faiss") else backend
    if backend != "exact" and not _importable(module):
        extra = "ann" if module == "faiss" else "umap"
        raise ImportError(
            f"backend={backend!r} needs the {backend} package: pip install galwidget[{extra}]"
        )
    return backend


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------------------------
# The index
# ----------------------------------------------------------------------------------------------


class NeighborIndex:
    """k-nearest-neighbor search over galaxies, in PCA space (default) or raw feature space.

    Args:
        reps: the galaxies.
        n_components: PCA dimensions searched; ``None`` searches the raw features.
        metric: ``"euclidean"``, ``"cosine"`` (1 − cosine similarity) or ``"manhattan"``.
        backend: ``"exact"``, ``"faiss"`` (HNSW graph), ``"faiss-ivf"`` (IVF-Flat),
            ``"pynndescent"``, or ``"auto"``: faiss IVF-Flat from :data:`ANN_MIN_ROWS` rows on
            when the space has at most :data:`ANN_MAX_DIM` dimensions, else exact. Approximate
            candidates are re-ranked by exact distance.
        cache_dir: where the PCA and graph are saved (default :func:`galwidget.cache.cache_dir`).
        progress: show progress bars (default: for large inputs).
        rerank: ``"raw"`` re-ranks :data:`RERANK_POOL` × k candidates found in PCA space by their
            exact distances between raw feature rows (:meth:`Representations.raw_rows`, read back
            from the files for streamed data); reported distances are then raw-space ones.

    For streamed data (``reps.reduction`` set) the PCA is that reduction: the first
    ``n_components`` reduced columns are searched, nothing is refitted.

    Every query excludes the query galaxy itself (``more_like``: all given galaxies); results are
    sorted by distance, ties by row order.

    Raises:
        DataError: an unknown ``metric`` or ``backend``, ``rerank`` other than ``None``/``"raw"``
            or without a PCA space; later, unknown ids or ``k`` larger than the data.
        ImportError: a faiss or pynndescent backend asked for but not installed
            (``pip install 'galwidget[ann]'``).

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=500, seed=0)
        >>> index = gw.NeighborIndex(reps, n_components=20, metric="cosine")
        >>> found = index.query(reps.ids[0], k=5)
        >>> list(found.columns), len(found), reps.ids[0] in set(found["id"])
        (['id', 'distance'], 5, False)
        >>> len(index.more_like(reps.ids[:3], k=5))
        5
    """

    def __init__(
        self,
        reps: Representations,
        n_components: int | None = 40,
        metric: Metric = "euclidean",
        backend: Backend = "auto",
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
        rerank: Literal["raw"] | None = None,
    ) -> None:
        if metric not in METRICS:
            raise DataError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
        if rerank not in (None, "raw"):
            raise DataError(f"rerank must be None or 'raw', got {rerank!r}")
        if rerank == "raw" and n_components is None and reps.reduction is None:
            raise DataError("rerank='raw' needs a PCA space (n_components) to find candidates in")
        self.rerank = rerank
        d = reps.n_features
        if n_components is not None and not (
            isinstance(n_components, (int, np.integer)) and 1 <= n_components <= d
        ):
            raise DataError(
                f"n_components must be an integer between 1 and the {d} features, or None for "
                f"the raw features; got {n_components!r}"
            )
        self.reps = reps
        self.metric: str = metric
        self.n_components = None if n_components is None else int(n_components)
        self._cache_dir = cache_dir
        show = progress if progress is not None else len(reps) * d > PROGRESS_THRESHOLD
        if self.n_components is None:
            self.pca: PCA | None = None
            self.embedding = reps.features
            pca_cached = True
        else:
            self.pca, self.embedding, pca_cached = load_or_fit_pca(
                reps, self.n_components, cache_dir, show
            )
        self._space = _Space(self.embedding, metric)
        self.backend = _resolve_backend(backend, len(reps), self.embedding.shape[1])
        self._graph: _FaissGraph | _FaissIVF | _NNDescentGraph | None = None
        graph_cached = True
        if self.backend != "exact":
            self._graph, graph_cached = self._load_or_build_graph(show)
        #: True when everything this index needed (PCA, graph) was read from ``cache_dir``.
        self.loaded_from_cache = (self.pca is not None or self._graph is not None) and (
            pca_cached and graph_cached
        )

    def __len__(self) -> int:
        return len(self.reps)

    def __repr__(self) -> str:
        space = "raw features" if self.pca is None else f"PCA-{self.n_components}"
        return (
            f"NeighborIndex({len(self)} galaxies, {space}, metric={self.metric!r}, "
            f"backend={self.backend!r})"
        )

    @property
    def input_width(self) -> int:
        """Length of the vectors :meth:`transform` and :meth:`query_vector` take: the raw
        feature width (also for streamed data, whose ``features`` are already reduced)."""
        return self.reps.n_features if self.pca is None else len(self.pca.mean)

    @property
    def explained_variance_ratio(self) -> np.ndarray | None:
        """Share of the feature variance along each PCA component (``None`` for raw features)."""
        return None if self.pca is None else self.pca.explained_variance_ratio

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Project rows of the original feature space into the searched space: ``(m, c)`` float32."""
        matrix = np.asarray(features, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[None, :]
        d = self.input_width
        if matrix.ndim != 2 or matrix.shape[1] != d:
            raise DataError(
                f"expected vectors of length {d} (the feature dimension), got shape {matrix.shape}"
            )
        if not np.isfinite(matrix).all():
            raise DataError("vectors must be finite (no NaN or inf)")
        if self.pca is None:
            return np.ascontiguousarray(matrix)
        return self.pca.transform(matrix)

    # -- queries -----------------------------------------------------------------------------

    def query_positions(
        self, positions: npt.ArrayLike, k: int = 12
    ) -> tuple[np.ndarray, np.ndarray]:
        """Neighbors of the galaxies at row ``positions``: ``(indices int64 (m, k), distances
        float32 (m, k))``, each row sorted, the query row itself excluded."""
        rows = np.atleast_1d(np.asarray(positions))
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise DataError(f"positions must be integers, got {rows.dtype} of shape {rows.shape}")
        outside = rows[(rows < 0) | (rows >= len(self))]
        if len(outside):
            raise DataError(
                f"positions out of range 0..{len(self) - 1}: {preview(outside.tolist())}"
            )
        rows = rows.astype(np.int64)
        self._check_k(k, excluded=1)
        raw = self.reps.raw_rows(rows) if self.rerank else None
        indices, distances = self._search(self.embedding[rows], rows[:, None], k, raw)
        return indices, distances.astype(np.float32)

    def query(self, galaxy_id: str, k: int = 12) -> pd.DataFrame:
        """The ``k`` galaxies nearest to ``galaxy_id``: DataFrame with columns ``id``, ``distance``."""
        position = self.reps.positions([galaxy_id])
        indices, distances = self.query_positions(position, k)
        return self._frame(indices[0], distances[0])

    def query_many(self, galaxy_ids: Iterable[str], k: int = 12) -> pd.DataFrame:
        """Neighbors of several galaxies in long format: one row per (query, neighbor), columns
        ``query`` (the query id), ``rank`` (1 = nearest), ``id``, ``distance``."""
        ids = [str(i) for i in ([galaxy_ids] if isinstance(galaxy_ids, str) else galaxy_ids)]
        positions = self.reps.positions(ids)
        indices, distances = self.query_positions(positions, k)
        m = len(ids)
        return pd.DataFrame(
            {
                "query": np.repeat(np.asarray(ids, dtype=object), k),
                "rank": np.tile(np.arange(1, k + 1), m),
                "id": self.reps.ids.array.take(indices.ravel()),
                "distance": distances.ravel().astype(np.float64),
            }
        )

    def query_vector(self, vector: np.ndarray, k: int = 12) -> pd.DataFrame:
        """The ``k`` galaxies nearest to a ``(d,)`` vector of the original feature space."""
        vector = np.asarray(vector)
        d = self.input_width
        if vector.shape != (d,):
            raise DataError(
                f"expected a vector of length {d} (the feature dimension), got shape {vector.shape}"
            )
        self._check_k(k, excluded=0)
        raw = vector[None, :].astype(np.float32) if self.rerank else None
        indices, distances = self._search(
            self.transform(vector), np.empty((1, 0), np.int64), k, raw
        )
        return self._frame(indices[0], distances[0])

    def more_like(self, galaxy_ids: Iterable[str], k: int = 12) -> pd.DataFrame:
        """The ``k`` galaxies nearest to the centroid of ``galaxy_ids`` (in the searched space;
        of the unit vectors for cosine), excluding those galaxies."""
        positions = np.unique(self.reps.positions(galaxy_ids))
        if not len(positions):
            raise DataError("more_like needs at least one galaxy id")
        self._check_k(k, excluded=len(positions))
        centroid, raw = self._centroid(positions)
        indices, distances = self._search(centroid[None, :], positions[None, :], k, raw)
        return self._frame(indices[0], distances[0])

    def centroid_distances(self, positions: np.ndarray) -> np.ndarray:
        """How far each galaxy at row ``positions`` lies from their centroid, the point
        :meth:`more_like` searches from: in this index's metric and space (the raw features with
        ``rerank="raw"``), as :meth:`query` reports distances; float64, in ``positions``' order."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return np.empty(0, np.float64)
        centroid, raw = self._centroid(positions)
        if raw is None:
            space, query, rows = self._space, centroid[None, :], positions[None, :]
        else:
            space = _Space(self.reps.raw_rows(positions), self.metric)
            query, rows = raw, np.arange(len(positions))[None, :]
        return np.asarray(space.finish(space.exact(query, rows))[0], dtype=np.float64)

    # -- internals ---------------------------------------------------------------------------

    def _centroid(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The centroid of rows ``positions`` in the searched space, and in the raw space as a
        ``(1, d)`` query when re-ranking raw (else ``None``); unit vectors for cosine."""
        centroid = self._space.queries(self.embedding[positions]).mean(axis=0, dtype=np.float64)
        if not self.rerank:
            return centroid, None
        rows = self.reps.raw_rows(positions)
        rows = _normalize(rows) if self.metric == "cosine" else rows
        return centroid, rows.mean(axis=0, dtype=np.float64)[None, :]

    def _check_k(self, k: int, excluded: int) -> None:
        n = len(self)
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise DataError(f"k must be a positive integer, got {k!r}")
        if k > n - excluded:
            what = "n - 1 (the query itself is excluded)" if excluded == 1 else f"n - {excluded}"
            raise DataError(f"k = {k} is larger than {what}, with n = {n} galaxies")

    def _search(
        self, vectors: np.ndarray, exclude: np.ndarray, k: int, raw: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices and reported distances of the k nearest rows to each vector (embedding space);
        with ``raw`` query vectors, candidates are re-ranked by raw-space distances."""
        if raw is not None:
            pool = min(len(self) - exclude.shape[1], RERANK_POOL * k)
            candidates, _ = self._search(vectors, exclude, pool)
            rows, local = np.unique(candidates, return_inverse=True)
            space = _Space(self.reps.raw_rows(rows), self.metric)
            local = local.reshape(candidates.shape)
            indices, distances = _select(space, raw, local, np.empty((len(raw), 0), np.int64), k)
            return rows[indices], space.finish(distances)
        if self._graph is None:
            indices, distances = _exact_search(self._space, vectors, exclude, k)
        else:
            count = min(len(self), k + exclude.shape[1] + CANDIDATE_MARGIN)
            candidates = self._graph.candidates(self._space.queries(vectors), count)
            indices, distances = _select(self._space, vectors, candidates, exclude, k)
            short = np.flatnonzero(~np.isfinite(distances[:, -1]))
            if len(short):
                indices[short], distances[short] = _exact_search(
                    self._space, vectors[short], exclude[short], k
                )
        return indices, self._space.finish(distances)

    def _frame(self, indices: np.ndarray, distances: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "id": self.reps.ids.array.take(indices),
                "distance": np.asarray(distances, dtype=np.float64),
            }
        )

    def _load_or_build_graph(
        self, progress: bool
    ) -> tuple[_FaissGraph | _FaissIVF | _NNDescentGraph, bool]:
        graph_type = GRAPHS[self.backend]
        space = "raw" if self.pca is None else f"pca{self.n_components}"
        if self.backend == "faiss":
            settings = f"M{HNSW_M}-ef{HNSW_EF_CONSTRUCTION}"
        elif self.backend == "faiss-ivf":
            settings = f"ivf{IVF_LISTS_PER_SQRT_N}sqrt-{IVF_KMEANS_ITERATIONS}it-lists"
        else:
            settings = f"nn{PYNNDESCENT_NEIGHBORS}"
        name = f"ann-{self.reps.fingerprint}-{space}-{self.metric}-{self.backend}-{settings}.npz"
        path = cache.cache_dir(self._cache_dir) / name
        stored = read_arrays(path, self.reps.fingerprint)
        if stored is not None:
            try:
                graph = graph_type.from_arrays(stored, self._space.points)
            except Exception as error:  # a foreign library's deserialiser: any failure means stale
                warn_unusable_file(path, f"{type(error).__name__}: {error}")
            else:
                if graph.size() == len(self):
                    return graph, True
                warn_unusable_file(path, f"it indexes {graph.size()} rows, not {len(self)}")
        graph = graph_type.build(self._space.points, self.metric, progress)
        write_arrays(path, self.reps.fingerprint, **graph.to_arrays())
        return graph, False
