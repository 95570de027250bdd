"""NeighborIndex: exact PCA, exact kNN against scikit-learn brute force, ANN recall, disk cache."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.decomposition import PCA as SklearnPCA
from sklearn.neighbors import NearestNeighbors

import galwidget as gw
from galwidget.neighbors import NeighborIndex
from galwidget.neighbors import _index as index_module
from galwidget.pca import fit_pca

METRICS = ["euclidean", "cosine", "manhattan"]


def low_rank(n: int, d: int = 48, rank: int = 6, seed: int = 0, offset: float = 0.5) -> np.ndarray:
    """Rows near a random ``rank``-dimensional subspace, with decaying axis scales."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, rank)) * np.linspace(3.0, 0.5, rank)
    return latent @ rng.standard_normal((rank, d)) + 0.05 * rng.standard_normal((n, d)) + offset


def make_reps(n: int = 500, d: int = 48, seed: int = 0, **kwargs) -> gw.Representations:
    ids = [f"G{i:05d}" for i in range(n)]
    return gw.Representations.from_array(low_rank(n, d, seed=seed, **kwargs), ids=ids)


def brute_force(space: np.ndarray, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn exact neighbors of every row in float64, the row itself dropped."""
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric=metric)
    distances, indices = nn.fit(space.astype(np.float64)).kneighbors(space.astype(np.float64))
    not_self = indices != np.arange(len(space))[:, None]
    keep = np.cumsum(not_self, axis=1) <= k
    mask = not_self & keep
    return indices[mask].reshape(len(space), k), distances[mask].reshape(len(space), k)


# ----------------------------------------------------------------------------------------------
# PCA
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.5, 1000.0])
def test_pca_matches_sklearn(offset: float) -> None:
    x = low_rank(2000, 64, rank=8, offset=offset).astype(np.float32)
    ours = fit_pca(x, 5)
    theirs = SklearnPCA(5, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(ours.explained_variance, theirs.explained_variance_, rtol=1e-4)
    np.testing.assert_allclose(
        ours.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-4
    )
    np.testing.assert_allclose(ours.mean, theirs.mean_, rtol=1e-6, atol=1e-6)
    # Same axes up to sign: |cos| between matching components is 1.
    agreement = np.abs(np.sum(ours.components * theirs.components_, axis=1))
    np.testing.assert_allclose(agreement, 1.0, atol=1e-4)
    projected = ours.transform(x)
    signs = np.sign(np.sum(ours.components * theirs.components_, axis=1))
    np.testing.assert_allclose(projected, theirs.transform(x) * signs, atol=2e-3 * offset**0.5)


def test_pca_sign_convention_is_deterministic() -> None:
    x = low_rank(1000, 32).astype(np.float32)
    pca = fit_pca(x, 4)
    largest = np.argmax(np.abs(pca.components), axis=1)
    assert (pca.components[np.arange(4), largest] > 0).all()
    # Row order does not change the axes.
    shuffled = fit_pca(x[np.random.default_rng(1).permutation(len(x))], 4)
    np.testing.assert_allclose(shuffled.components, pca.components, atol=1e-5)


def test_index_exposes_pca(tmp_path) -> None:
    reps = make_reps(400, 40)
    idx = NeighborIndex(reps, n_components=6, cache_dir=tmp_path)
    assert idx.embedding.shape == (400, 6)
    assert idx.embedding.dtype == np.float32 and idx.embedding.flags.c_contiguous
    assert idx.explained_variance_ratio.shape == (6,)
    assert np.all(np.diff(idx.explained_variance_ratio) <= 0)
    np.testing.assert_allclose(idx.transform(reps.features[:7]), idx.embedding[:7], atol=1e-5)
    raw = NeighborIndex(reps, n_components=None, cache_dir=tmp_path)
    assert raw.explained_variance_ratio is None
    assert raw.embedding is reps.features


# ----------------------------------------------------------------------------------------------
# Exact search
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n_components", [8, None])
def test_exact_search_matches_sklearn_brute_force(tmp_path, metric: str, n_components) -> None:
    reps = make_reps(600, 40)
    idx = NeighborIndex(reps, n_components, metric=metric, backend="exact", cache_dir=tmp_path)
    indices, distances = idx.query_positions(np.arange(len(reps)), k=10)
    expected_indices, expected_distances = brute_force(idx.embedding, metric, 10)
    assert indices.dtype == np.int64 and distances.dtype == np.float32
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-6)
    assert (indices != np.arange(len(reps))[:, None]).all()
    assert (np.diff(distances, axis=1) >= 0).all()


def test_exact_search_survives_float32_cancellation(tmp_path) -> None:
    """Raw features far from the origin: float32 norms cancel, the float64 refinement must not."""
    reps = make_reps(500, 30, offset=3000.0)
    idx = NeighborIndex(reps, None, backend="exact", cache_dir=tmp_path)
    indices, distances = idx.query_positions(np.arange(500), k=8)
    expected_indices, expected_distances = brute_force(reps.features, "euclidean", 8)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    features=arrays(
        np.float32, st.tuples(st.integers(3, 40), st.integers(1, 4)), elements=st.integers(0, 3)
    ),
    metric=st.sampled_from(["euclidean", "manhattan"]),
    data=st.data(),
)
def test_ties_are_ordered_by_row(tmp_path_factory, features, metric, data) -> None:
    """Small integer features tie a lot; neighbors must come by distance, then row number."""
    reps = gw.Representations.from_array(features)
    n = len(features)
    k = data.draw(st.integers(1, n - 1))
    idx = NeighborIndex(
        reps, None, metric=metric, backend="exact", cache_dir=tmp_path_factory.mktemp("c")
    )
    indices, distances = idx.query_positions(np.arange(n), k)
    x = features.astype(np.float64)
    for row in range(n):
        diff = x - x[row]
        exact = np.sqrt((diff**2).sum(1)) if metric == "euclidean" else np.abs(diff).sum(1)
        exact[row] = np.inf
        order = np.lexsort((np.arange(n), exact))[:k]
        np.testing.assert_array_equal(indices[row], order)
        np.testing.assert_allclose(distances[row], exact[order], rtol=1e-6)


def test_query_returns_sorted_frame_without_the_query(tmp_path) -> None:
    reps = make_reps()
    idx = NeighborIndex(reps, 8, cache_dir=tmp_path)
    galaxy = reps.ids[17]
    frame = idx.query(galaxy, k=12)
    assert list(frame.columns) == ["id", "distance"]
    assert len(frame) == 12 and galaxy not in set(frame["id"])
    assert frame["distance"].is_monotonic_increasing
    indices, distances = idx.query_positions([17], k=12)
    assert list(frame["id"]) == list(reps.ids[indices[0]])
    np.testing.assert_allclose(frame["distance"], distances[0], rtol=1e-6)


def test_query_many_long_format(tmp_path) -> None:
    reps = make_reps()
    idx = NeighborIndex(reps, 8, cache_dir=tmp_path)
    queries = [reps.ids[3], reps.ids[250], reps.ids[499]]
    frame = idx.query_many(queries, k=5)
    assert list(frame.columns) == ["query", "rank", "id", "distance"]
    assert len(frame) == 15
    for query, group in frame.groupby("query", sort=False):
        single = idx.query(query, k=5)
        assert list(group["rank"]) == [1, 2, 3, 4, 5]
        assert list(group["id"]) == list(single["id"])
        np.testing.assert_allclose(group["distance"], single["distance"])


@pytest.mark.parametrize("metric", METRICS)
def test_query_vector_searches_the_projected_vector(tmp_path, metric: str) -> None:
    reps = make_reps()
    idx = NeighborIndex(reps, 8, metric=metric, cache_dir=tmp_path)
    vector = reps.features[42] + 0.01
    frame = idx.query_vector(vector, k=6)
    projected = idx.transform(vector).astype(np.float64)
    nn = NearestNeighbors(n_neighbors=6, algorithm="brute", metric=metric)
    distances, indices = nn.fit(idx.embedding.astype(np.float64)).kneighbors(projected)
    assert list(frame["id"]) == list(reps.ids[indices[0]])
    np.testing.assert_allclose(frame["distance"], distances[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_more_like_searches_the_centroid_and_excludes_inputs(tmp_path, metric: str) -> None:
    reps = make_reps()
    idx = NeighborIndex(reps, 8, metric=metric, cache_dir=tmp_path)
    chosen = [reps.ids[i] for i in (5, 6, 7, 300)]
    frame = idx.more_like(chosen, k=10)
    assert len(frame) == 10 and not set(chosen) & set(frame["id"])
    rows = idx.embedding[[5, 6, 7, 300]].astype(np.float64)
    if metric == "cosine":
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    centroid = rows.mean(axis=0, keepdims=True)
    nn = NearestNeighbors(n_neighbors=14, algorithm="brute", metric=metric)
    distances, indices = nn.fit(idx.embedding.astype(np.float64)).kneighbors(centroid)
    keep = ~np.isin(indices[0], [5, 6, 7, 300])
    assert list(frame["id"]) == list(reps.ids[indices[0][keep][:10]])
    np.testing.assert_allclose(frame["distance"], distances[0][keep][:10], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


def test_bad_arguments_raise_data_errors(tmp_path) -> None:
    reps = make_reps(50, 12)
    with pytest.raises(gw.DataError, match="unknown metric 'hamming'"):
        NeighborIndex(reps, 4, metric="hamming", cache_dir=tmp_path)
    with pytest.raises(gw.DataError, match="unknown backend 'annoy'"):
        NeighborIndex(reps, 4, backend="annoy", cache_dir=tmp_path)
    with pytest.raises(gw.DataError, match="n_components must be an integer between 1 and the 12"):
        NeighborIndex(reps, 13, cache_dir=tmp_path)
    idx = NeighborIndex(reps, 4, cache_dir=tmp_path)
    with pytest.raises(gw.DataError, match=r"unknown id ids: 'nope', 'G99999'"):
        idx.query_many([reps.ids[0], "nope", "G99999"])
    with pytest.raises(gw.DataError, match="unknown id ids: 'missing'"):
        idx.more_like(["missing"])
    with pytest.raises(gw.DataError, match=r"k = 50 is larger than n - 1 .*n = 50"):
        idx.query(reps.ids[0], k=50)
    assert len(idx.query(reps.ids[0], k=49)) == 49
    with pytest.raises(gw.DataError, match=r"k = 49 is larger than n - 2.*n = 50"):
        idx.more_like(reps.ids[:2], k=49)
    with pytest.raises(gw.DataError, match="k must be a positive integer"):
        idx.query(reps.ids[0], k=0)
    with pytest.raises(gw.DataError, match=r"length 12 .* got shape \(11,\)"):
        idx.query_vector(np.zeros(11))
    with pytest.raises(gw.DataError, match="out of range"):
        idx.query_positions([0, 50])


# ----------------------------------------------------------------------------------------------
# Approximate backends
# ----------------------------------------------------------------------------------------------


def recall(approximate: np.ndarray, exact: np.ndarray) -> float:
    hits = [len(set(a) & set(e)) for a, e in zip(approximate, exact, strict=True)]
    return sum(hits) / exact.size


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("backend", ["faiss", "faiss-ivf"])
def test_faiss_recall(tmp_path, metric: str, backend: str) -> None:
    reps = make_reps(4000, 48, seed=3)
    exact = NeighborIndex(reps, 10, metric=metric, backend="exact", cache_dir=tmp_path)
    ann = NeighborIndex(reps, 10, metric=metric, backend=backend, cache_dir=tmp_path)
    assert ann.backend == backend
    again = NeighborIndex(reps, 10, metric=metric, backend=backend, cache_dir=tmp_path)
    assert again.loaded_from_cache
    queries = np.arange(0, 4000, 4)
    found, distances = ann.query_positions(queries, 12)
    truth, _ = exact.query_positions(queries, 12)
    assert recall(found, truth) >= 0.99
    assert (found != queries[:, None]).all()
    assert (np.diff(distances, axis=1) >= 0).all()


@pytest.mark.parametrize("backend", ["faiss", "faiss-ivf"])
def test_a_click_searches_on_one_thread_and_a_batch_on_all(tmp_path, backend: str) -> None:
    faiss = pytest.importorskip("faiss")
    reps = make_reps(3000, 24, seed=6)
    ann = NeighborIndex(reps, 10, backend=backend, cache_dir=tmp_path)
    queries = np.arange(0, 3000, 50)
    batch, _ = ann.query_positions(queries, 12)
    assert faiss.omp_get_max_threads() == index_module._omp_threads()
    one = [ann.query_positions(queries[i : i + 1], 12)[0][0] for i in range(len(queries))]
    assert faiss.omp_get_max_threads() == 1  # this thread's setting; other threads keep theirs
    np.testing.assert_array_equal(np.array(one), batch)  # same answers either way


@pytest.mark.slow
def test_pynndescent_recall(tmp_path) -> None:
    reps = make_reps(3000, 48, seed=4)
    exact = NeighborIndex(reps, 10, backend="exact", cache_dir=tmp_path)
    ann = NeighborIndex(reps, 10, backend="pynndescent", cache_dir=tmp_path)
    queries = np.arange(0, 3000, 3)
    found, _ = ann.query_positions(queries, 12)
    assert recall(found, exact.query_positions(queries, 12)[0]) >= 0.99
    again = NeighborIndex(reps, 10, backend="pynndescent", cache_dir=tmp_path)
    assert again.loaded_from_cache
    np.testing.assert_array_equal(again.query_positions(queries, 12)[0], found)


def test_auto_backend_uses_faiss_above_threshold(tmp_path, monkeypatch) -> None:
    reps = make_reps(1500, 24, seed=5)
    assert NeighborIndex(reps, 8, cache_dir=tmp_path).backend == "exact"
    monkeypatch.setattr(index_module, "ANN_MIN_ROWS", 1000)
    idx = NeighborIndex(reps, 8, cache_dir=tmp_path)
    assert idx.backend == "faiss-ivf" and not idx.loaded_from_cache
    assert NeighborIndex(reps, None, cache_dir=tmp_path).backend == "faiss-ivf"
    monkeypatch.setattr(index_module, "ANN_MAX_DIM", 16)
    assert NeighborIndex(reps, None, cache_dir=tmp_path).backend == "exact"


def test_auto_backend_without_faiss_falls_back_to_exact_once(tmp_path, monkeypatch) -> None:
    reps = make_reps(300, 16)
    monkeypatch.setattr(index_module, "ANN_MIN_ROWS", 100)
    monkeypatch.setattr(index_module, "_warned_missing_faiss", False)
    monkeypatch.setitem(sys.modules, "faiss", None)  # makes `import faiss` fail
    with pytest.warns(UserWarning, match=r"pip install galwidget\[ann\]"):
        assert NeighborIndex(reps, 4, cache_dir=tmp_path).backend == "exact"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert NeighborIndex(reps, 4, cache_dir=tmp_path).backend == "exact"
    with pytest.raises(ImportError, match=r"pip install galwidget\[ann\]"):
        NeighborIndex(reps, 4, backend="faiss", cache_dir=tmp_path)


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


def test_second_construction_loads_from_cache(tmp_path) -> None:
    reps = make_reps(800, 32)
    first = NeighborIndex(reps, 6, backend="faiss", cache_dir=tmp_path)
    assert not first.loaded_from_cache
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        f"ann-{reps.fingerprint}-pca6-euclidean-faiss-M32-ef80.npz",
        f"pca-{reps.fingerprint}-c6.npz",
    ]
    again = gw.Representations.from_array(reps.features.copy(), ids=list(reps.ids))
    second = NeighborIndex(again, 6, backend="faiss", cache_dir=tmp_path)
    assert second.loaded_from_cache
    np.testing.assert_array_equal(second.embedding, first.embedding)
    np.testing.assert_array_equal(second.pca.components, first.pca.components)
    positions = np.arange(0, 800, 7)
    for a, b in zip(
        first.query_positions(positions, 9), second.query_positions(positions, 9), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # Other parameters or other data do not hit this cache.
    assert not NeighborIndex(reps, 5, backend="faiss", cache_dir=tmp_path).loaded_from_cache
    other = make_reps(800, 32, seed=9)
    assert not NeighborIndex(other, 6, backend="faiss", cache_dir=tmp_path).loaded_from_cache


def test_cache_dir_defaults_to_galwidget_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GALWIDGET_CACHE", str(tmp_path / "env-cache"))
    reps = make_reps(100, 8)
    NeighborIndex(reps, 3)
    assert (tmp_path / "env-cache" / f"pca-{reps.fingerprint}-c3.npz").exists()
    assert NeighborIndex(reps, 3).loaded_from_cache


@pytest.mark.parametrize("damage", ["garbage", "truncate", "flip"])
def test_corrupt_cache_file_is_ignored_and_refitted(tmp_path, damage: str) -> None:
    reps = make_reps(400, 24)
    first = NeighborIndex(reps, 5, backend="faiss", cache_dir=tmp_path)
    expected = first.query_positions(np.arange(400), 6)
    for path in tmp_path.glob("*.npz"):
        content = path.read_bytes()
        if damage == "garbage":
            content = b"not a cache file"
        elif damage == "truncate":
            content = content[: len(content) // 2]
        else:
            middle = len(content) // 2
            content = content[:middle] + bytes([content[middle] ^ 0xFF]) + content[middle + 1 :]
        path.write_bytes(content)
    with pytest.warns(UserWarning, match="ignoring cache file"):
        refitted = NeighborIndex(reps, 5, backend="faiss", cache_dir=tmp_path)
    assert not refitted.loaded_from_cache
    found = refitted.query_positions(np.arange(400), 6)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])
    # The refit rewrote good files.
    assert NeighborIndex(reps, 5, backend="faiss", cache_dir=tmp_path).loaded_from_cache


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_ivf_index_caches_its_lists_and_reloads_the_same_answers(
    tmp_path, capsys, metric: str
) -> None:
    faiss = pytest.importorskip("faiss")
    reps = make_reps(3000, 24, seed=8)
    built = NeighborIndex(
        reps, 10, metric=metric, backend="faiss-ivf", cache_dir=tmp_path, progress=True
    )
    assert "IVF index: 100%" in capsys.readouterr().err  # the build's progress bar
    lists = built._graph.quantizer.ntotal
    assert lists == int(np.sqrt(3000))
    (cached,) = tmp_path.glob("ann-*")
    stored = gw.cache.read_arrays(cached, reps.fingerprint)
    # the quantizer and each row's list, not a second copy of the vectors
    assert set(stored) == {"quantizer", "assignments"}
    assert stored["assignments"].shape == (3000,) and stored["assignments"].max() < lists
    # every row sits in the list of (one of) its nearest centroids
    centroids = built._graph.quantizer.reconstruct_n(0, lists)
    ord_ = 1 if metric == "manhattan" else 2
    to_centroids = np.linalg.norm(
        built.embedding[:, None, :] - centroids[None, :, :], ord=ord_, axis=2
    )
    own = to_centroids[np.arange(3000), stored["assignments"]]
    assert np.mean(own <= to_centroids.min(axis=1) + 1e-4) >= 0.95
    reloaded = NeighborIndex(reps, 10, metric=metric, backend="faiss-ivf", cache_dir=tmp_path)
    assert reloaded.loaded_from_cache
    queries = np.arange(0, 3000, 3)
    for a, b in zip(
        built.query_positions(queries, 12), reloaded.query_positions(queries, 12), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    reloaded.query_positions(queries[:1], 12)
    assert faiss.omp_get_max_threads() == 1  # a click leaves this thread at one OpenMP thread...
    NeighborIndex(reps, 9, metric=metric, backend="faiss-ivf", cache_dir=tmp_path)
    assert faiss.omp_get_max_threads() == index_module._omp_threads()  # ...a build uses all


def test_ivf_cache_with_wrong_lists_is_ignored_and_rebuilt(tmp_path) -> None:
    reps = make_reps(2000, 16, seed=2)
    first = NeighborIndex(reps, 6, backend="faiss-ivf", cache_dir=tmp_path)
    (cached,) = tmp_path.glob("ann-*")
    stored = gw.cache.read_arrays(cached, reps.fingerprint)
    gw.cache.write_arrays(
        cached,
        reps.fingerprint,
        quantizer=stored["quantizer"],
        assignments=stored["assignments"][:-1],
    )
    with pytest.warns(UserWarning, match=r"ignoring cache file .*1999 list assignments for 2000"):
        again = NeighborIndex(reps, 6, backend="faiss-ivf", cache_dir=tmp_path)
    assert not again.loaded_from_cache
    queries = np.arange(0, 2000, 10)
    np.testing.assert_array_equal(
        again.query_positions(queries, 5)[0], first.query_positions(queries, 5)[0]
    )


# ----------------------------------------------------------------------------------------------
# Streamed data: the one PCA, raw re-ranking
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def streamed(tmp_path) -> tuple[gw.Representations, np.ndarray]:
    from parquet_parts import raw_matrix, write_parts

    x = raw_matrix()
    write_parts(tmp_path / "parts", x)
    return gw.load_representations(tmp_path / "parts", reduce_to=8), x.astype(np.float32)


def test_streamed_data_shares_its_reduction(tmp_path, streamed) -> None:
    from galwidget.learn import learning_features

    reps, x = streamed
    index = NeighborIndex(reps, n_components=5, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(index.pca.components, reps.reduction.components[:5])
    np.testing.assert_array_equal(index.embedding, reps.features[:, :5])
    assert index.loaded_from_cache and not list((tmp_path / "cache").glob("pca-*"))
    # Raw vectors are projected by the reduction: a galaxy's own raw row finds itself.
    assert index.input_width == x.shape[1]
    found = index.query_vector(x[17], k=3)
    assert found["id"].iloc[0] == reps.ids[17] and found["distance"].iloc[0] < 1e-3
    np.testing.assert_array_equal(learning_features(reps, n_components=6), reps.features[:, :6])
    with pytest.raises(gw.DataError, match="between 1 and the 8"):
        NeighborIndex(reps, n_components=9, cache_dir=tmp_path / "cache")


def test_raw_rerank_finds_the_raw_space_neighbors(tmp_path, streamed) -> None:
    reps, x = streamed  # PCA-8 keeps 85% of the variance: PCA-space neighbors differ from raw
    queries = np.arange(0, 3000, 10)
    expected, _ = brute_force(x, "euclidean", 12)

    def recall(indices: np.ndarray) -> float:
        return np.mean(
            [len(set(a) & set(b)) / 12 for a, b in zip(indices, expected[queries], strict=True)]
        )

    plain = NeighborIndex(reps, n_components=8, cache_dir=tmp_path)
    index = NeighborIndex(reps, n_components=8, rerank="raw", cache_dir=tmp_path)
    indices, distances = index.query_positions(queries, k=12)
    assert (
        recall(indices) > 0.9 and recall(indices) > recall(plain.query_positions(queries)[0]) + 0.3
    )
    raw = np.linalg.norm(x[indices].astype(np.float64) - x[queries, None, :], axis=2)
    np.testing.assert_allclose(distances, raw, rtol=1e-5)  # reported distances are raw ones
    assert (np.diff(distances, axis=1) >= 0).all() and (indices != queries[:, None]).all()
    more = index.more_like([reps.ids[3], reps.ids[4]], k=5)
    centroid = x[[3, 4]].astype(np.float64).mean(axis=0)
    raw = np.linalg.norm(x[reps.positions(more["id"])] - centroid, axis=1)
    np.testing.assert_allclose(more["distance"], raw, rtol=1e-5)
    with pytest.raises(gw.DataError, match="rerank"):
        NeighborIndex(reps, rerank="pca", cache_dir=tmp_path)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("rerank", [None, "raw"])
def test_centroid_distances_measure_as_more_like_searches(tmp_path, metric, rerank) -> None:
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((400, 12)).astype(np.float32)
    reps = gw.Representations.from_array(raw)
    index = NeighborIndex(reps, 5, metric=metric, rerank=rerank, cache_dir=tmp_path)
    chosen = np.array([3, 17, 40, 41, 200, 399])
    space = raw.astype(np.float64) if rerank else index.embedding.astype(np.float64)
    rows = space[chosen]
    if metric == "cosine":
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    centroid = rows.mean(axis=0)

    def distance(vectors: np.ndarray) -> np.ndarray:
        if metric == "euclidean":
            return np.linalg.norm(vectors - centroid, axis=1)
        if metric == "manhattan":
            return np.abs(vectors - centroid).sum(axis=1)
        units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return 1.0 - units @ (centroid / np.linalg.norm(centroid))

    np.testing.assert_allclose(
        index.centroid_distances(chosen), distance(rows), rtol=1e-4, atol=1e-5
    )
    # more_like searches from the same centroid and reports distances the same way.
    found = index.more_like(reps.ids[chosen], k=3)
    outsiders = space[reps.positions(found["id"])]
    np.testing.assert_allclose(found["distance"], distance(outsiders), rtol=1e-4, atol=1e-5)


def test_the_gallery_orders_by_the_index_metric(tmp_path) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.standard_normal((300, 6)), columns=[f"feat_{i}" for i in range(6)])
    frame[["x", "y"]] = rng.standard_normal((300, 2))
    frame["id"] = [f"G{i}" for i in range(300)]
    w = gw.Explorer(frame, layout=("x", "y"), index={"n_components": 4, "metric": "manhattan"})
    chosen = np.arange(0, 300, 7)
    w.selection = chosen
    content, buffers = w._reply(
        {
            "type": "request",
            "kind": "selection_page",
            "request": 1,
            "order": "centroid",
            "column": None,
            "descending": True,
            "offset": 0,
            "limit": 500,
        }
    )
    assert content["ok"] and content["total"] == len(chosen)
    positions = np.frombuffer(buffers[0], "<u4")
    distances = w.index.centroid_distances(chosen)
    assert positions.tolist() == chosen[np.argsort(distances, kind="stable")].tolist()
