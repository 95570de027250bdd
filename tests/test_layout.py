"""gw.layout: PCA and UMAP maps, reuse of the index's PCA, disk cache."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA as SklearnPCA

import galwidget as gw


def make_reps(n: int = 600, d: int = 32, seed: int = 0) -> gw.Representations:
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 5)) * np.array([4.0, 2.0, 1.0, 0.5, 0.3])
    features = latent @ rng.standard_normal((5, d)) + 0.05 * rng.standard_normal((n, d))
    return gw.Representations.from_array(features, ids=[f"G{i}" for i in range(n)])


def test_pca_layout_is_the_first_two_components(tmp_path) -> None:
    reps = make_reps()
    xy = gw.layout(reps, cache_dir=tmp_path)
    assert xy.shape == (600, 2) and xy.dtype == np.float32 and xy.flags.c_contiguous
    expected = SklearnPCA(2).fit_transform(reps.features.astype(np.float64))
    for axis in range(2):
        sign = np.sign(np.dot(xy[:, axis], expected[:, axis]))
        np.testing.assert_allclose(xy[:, axis] * sign, expected[:, axis], atol=2e-3)


def test_pca_layout_reuses_the_index_pca(tmp_path) -> None:
    reps = make_reps()
    index = gw.NeighborIndex(reps, n_components=4, cache_dir=tmp_path / "index")
    xy = gw.layout(reps, index=index, cache_dir=tmp_path / "layout")
    np.testing.assert_array_equal(xy, index.embedding[:, :2])
    # Without index=, a PCA already cached in the same folder is reused as well.
    assert (gw.layout(reps, cache_dir=tmp_path / "index") == index.embedding[:, :2]).all()


def test_layout_is_cached_on_disk(tmp_path) -> None:
    reps = make_reps()
    first = gw.layout(reps, cache_dir=tmp_path)
    (path,) = tmp_path.glob("layout-*.npz")
    assert path.name == f"layout-{reps.fingerprint}-pca.npz"
    modified = path.stat().st_mtime_ns
    np.testing.assert_array_equal(gw.layout(reps, cache_dir=tmp_path), first)
    assert path.stat().st_mtime_ns == modified
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="ignoring cache file"):
        np.testing.assert_array_equal(gw.layout(reps, cache_dir=tmp_path), first)


def test_layout_errors(tmp_path, monkeypatch) -> None:
    reps = make_reps()
    with pytest.raises(gw.DataError, match="unknown layout method 'tsne'"):
        gw.layout(reps, method="tsne", cache_dir=tmp_path)
    other = gw.NeighborIndex(make_reps(seed=1), n_components=3, cache_dir=tmp_path)
    with pytest.raises(gw.DataError, match="different data"):
        gw.layout(reps, index=other, cache_dir=tmp_path)
    monkeypatch.setitem(sys.modules, "umap", None)  # makes `import umap` fail
    with pytest.raises(ImportError, match=r"pip install galwidget\[umap\]"):
        gw.layout(reps, method="umap", cache_dir=tmp_path)


@pytest.mark.slow
def test_umap_layout_separates_clusters_and_is_cached(tmp_path) -> None:
    pytest.importorskip("umap", reason="umap-learn is an optional extra")
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((3, 20)) * 10
    labels = np.repeat(np.arange(3), 200)
    features = centres[labels] + rng.standard_normal((600, 20))
    reps = gw.Representations.from_array(features)
    xy = gw.layout(reps, method="umap", cache_dir=tmp_path, umap_options={"n_neighbors": 10})
    assert xy.shape == (600, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    # Each cluster's points lie nearer their own cluster centre than any other.
    means = np.stack([xy[labels == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((xy[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == labels).mean() > 0.99
    # UMAP ran on the cached PCA-20 (d = 20 < 40): the second call only reads files.
    names = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.npz"))
    assert names == ["layout", "pca"]
    again = gw.layout(reps, method="umap", cache_dir=tmp_path, umap_options={"n_neighbors": 10})
    np.testing.assert_array_equal(again, xy)


def test_streamed_data_is_mapped_with_its_own_reduction(tmp_path) -> None:
    from parquet_parts import raw_matrix, write_parts

    write_parts(tmp_path / "parts", raw_matrix())
    reps = gw.load_representations(tmp_path / "parts", reduce_to=5)
    xy = gw.layout(reps, "pca", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(xy, reps.features[:, :2])
    assert not list((tmp_path / "cache").glob("pca-*"))  # nothing was refitted


@pytest.mark.slow
def test_umap_above_the_sample_size_is_fitted_on_a_sample_and_applied_to_the_rest(tmp_path):
    pytest.importorskip("umap", reason="umap-learn is an optional extra")
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((3, 10)) * 10
    labels = np.repeat(np.arange(3), 300)
    reps = gw.Representations.from_array(centres[labels] + rng.standard_normal((900, 10)))
    options = {"n_neighbors": 10}
    xy = gw.layout(reps, "umap", cache_dir=tmp_path, umap_options=options, umap_sample=300)
    assert xy.shape == (900, 2) and np.isfinite(xy).all()
    means = np.stack([xy[labels == c].mean(axis=0) for c in range(3)])
    nearest = np.argmin(((xy[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    assert (nearest == labels).mean() > 0.99  # transformed rows land in their cluster
    assert len(list(tmp_path.glob("layout-*-fit300.npz"))) == 1


def test_sky_layout_is_an_equal_area_hammer_aitoff_projection() -> None:
    from galwidget.layout import SKY_BOUNDS, graticule, sky_projection

    xy = sky_projection(np.array([180.0, 90.0, 270.0, 0.0, 180.0]), np.array([0, 0, 0, 0, 90.0]))
    np.testing.assert_allclose(xy[0], [0, 0], atol=1e-12)  # the centre
    assert xy[1, 0] > 0 > xy[2, 0]  # RA increases to the left
    np.testing.assert_allclose(abs(xy[3, 0]), 2 * np.sqrt(2))  # RA 0 is the edge
    np.testing.assert_allclose(xy[4], [0, np.sqrt(2)], atol=1e-12)  # the pole
    # Equal area: uniform points on the sphere fill the ellipse uniformly (a quarter of the
    # galaxies in each quadrant, ~the same density in an inner and an outer box).
    rng = np.random.default_rng(0)
    ra, dec = rng.uniform(0, 360, 200_000), np.degrees(np.arcsin(rng.uniform(-1, 1, 200_000)))
    points = sky_projection(ra, dec)
    assert (np.abs(points) <= np.array(SKY_BOUNDS[2:]) + 1e-9).all()
    inner = (np.abs(points[:, 0]) < 0.5) & (np.abs(points[:, 1]) < 0.5)
    outer = (np.abs(points[:, 0] - 1.5) < 0.5) & (np.abs(points[:, 1] - 0.3) < 0.5)
    assert inner.sum() == pytest.approx(outer.sum(), rel=0.05)
    lines = graticule()
    assert len(lines) == 2 + 11 + 5  # the edge, meridians but the edge's, parallels
    assert all(line.shape[1] == 2 and np.isfinite(line).all() for line in lines)


def test_sky_layout_of_data_and_without_ra_dec(tmp_path) -> None:
    reps = gw.datasets.synthetic(n=500)
    xy = gw.layout(reps, "sky", cache_dir=tmp_path)
    from galwidget.layout import sky_projection

    radec = reps.radec
    np.testing.assert_allclose(xy, sky_projection(radec[:, 0], radec[:, 1]), rtol=1e-6)
    plain = gw.load_representations(np.random.default_rng(0).normal(size=(50, 4)))
    with pytest.raises(gw.DataError, match=r"'sky' layout needs sky positions: .*no 'ra'/'dec'"):
        gw.layout(plain, "sky", cache_dir=tmp_path)
