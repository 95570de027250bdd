"""The built-in synthetic GZ DECaLS-like data set: population, features, thumbnails, Zenodo file."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import galwidget as gw
from galwidget.datasets import MORPHOLOGIES, SyntheticThumbnails
from galwidget.datasets.calibration import difficulty
from galwidget.datasets.synthetic import CHUNK_ROWS, _galactic_latitude, _unique_names

N = 4000
VOTE_COLUMNS = [
    "smooth-or-featured_smooth_fraction",
    "smooth-or-featured_featured-or-disk_fraction",
    "smooth-or-featured_artifact_fraction",
    "disk-edge-on_yes_fraction",
    "disk-edge-on_no_fraction",
    "has-spiral-arms_yes_fraction",
    "has-spiral-arms_no_fraction",
    "bar_strong_fraction",
    "bar_weak_fraction",
    "bar_no_fraction",
    "rings_yes_fraction",
    "merging_merger_fraction",
    "merging_none_fraction",
]


@pytest.fixture(scope="module")
def reps() -> gw.Representations:
    return gw.datasets.synthetic(n=N, seed=1, dim=1280)


@pytest.fixture(scope="module")
def morphology(reps: gw.Representations) -> np.ndarray:
    return reps.meta["morphology"].to_numpy(dtype=object)


# ----------------------------------------------------------------------------------------------
# Population, ids and catalogue columns
# ----------------------------------------------------------------------------------------------


def test_shapes_dtypes_and_columns(reps: gw.Representations, morphology: np.ndarray) -> None:
    assert len(reps) == N and reps.features.shape == (N, 1280)
    assert reps.features.dtype == np.float32 and reps.features.flags.c_contiguous
    assert np.isfinite(reps.features).all() and reps.features.min() >= 0
    assert reps.id_column == "iauname" and reps.ids.is_unique
    expected = ["iauname", "ra", "dec", "morphology", "is_ring", "redshift", "mag_r", "petro_th50"]
    assert set(expected + VOTE_COLUMNS) <= set(reps.meta.columns)
    assert list(reps.meta["iauname"]) == list(reps.ids)
    assert set(morphology) <= set(MORPHOLOGIES)
    assert (reps.meta["is_ring"].to_numpy() == (morphology == "ring")).all()
    assert isinstance(reps.images, SyntheticThumbnails)
    assert reps.meta["redshift"].between(0.01, 0.15).all()
    assert reps.meta["mag_r"].max() <= 17.77 and (reps.meta["petro_th50"] > 0).all()


def test_same_arguments_give_identical_data_and_prefixes_agree(reps: gw.Representations) -> None:
    again = gw.datasets.synthetic(n=N, seed=1, dim=1280)
    assert again.fingerprint == reps.fingerprint
    pd.testing.assert_frame_equal(again.meta, reps.meta)
    prefix = gw.datasets.synthetic(n=1500, seed=1, dim=1280)
    assert (prefix.ids == reps.ids[:1500]).all()
    np.testing.assert_array_equal(prefix.features, reps.features[:1500])
    pd.testing.assert_frame_equal(prefix.meta, reps.meta.iloc[:1500])
    other = gw.datasets.synthetic(n=1500, seed=2, dim=1280)
    assert not np.isin(other.ids, reps.ids).all()
    assert not np.allclose(other.features, prefix.features)


def test_prefix_agrees_across_chunks() -> None:
    short = gw.datasets.synthetic(n=300, seed=5, dim=8)
    long = gw.datasets.synthetic(n=CHUNK_ROWS + 300, seed=5, dim=8)
    assert (long.ids[:300] == short.ids).all()
    np.testing.assert_array_equal(long.features[:300], short.features)
    assert long.ids.is_unique


def test_iau_names_round_trip_to_positions_in_the_footprint(reps: gw.Representations) -> None:
    ra, dec = gw.parse_iauname(reps.ids)
    # Names truncate to 0.01 s of time in ra and 0.1 arcsec in dec.
    assert np.all((reps.meta["ra"] - ra >= -1e-9) & (reps.meta["ra"] - ra < 0.15 / 3600))
    assert np.all(np.abs(reps.meta["dec"] - dec) < 0.1 / 3600 + 1e-9)
    assert reps.meta["dec"].between(-20, 35).all()
    assert (np.abs(_galactic_latitude(ra, dec)) >= 17.9).all()
    np.testing.assert_allclose(reps.radec, reps.meta[["ra", "dec"]].to_numpy())


def test_clashing_names_are_redrawn_and_earlier_galaxies_keep_theirs() -> None:
    ra = np.array([10.0, 10.0, 20.0, 30.0])
    dec = np.array([5.0, 5.0, 6.0, 7.0])
    taken = {gw.format_iauname(30.0, 7.0)[0]}
    names = _unique_names(ra, dec, taken, np.random.default_rng(0))
    assert names[0] == gw.format_iauname(10.0, 5.0)[0]
    assert names[2] == gw.format_iauname(20.0, 6.0)[0]
    assert len(set(names)) == 4 and taken >= set(names) and len(taken) == 5
    np.testing.assert_array_equal(gw.format_iauname(ra, dec), names)


def test_class_proportions_are_plausible(morphology: np.ndarray) -> None:
    shares = pd.Series(morphology).value_counts(normalize=True)
    assert set(shares.index) == set(MORPHOLOGIES)
    assert 0.008 <= shares["ring"] <= 0.025
    assert 0.24 <= shares["smooth round"] <= 0.32
    assert 0.21 <= shares["spiral"] <= 0.29
    assert 0.07 <= shares["edge-on"] <= 0.11
    assert 0.01 <= shares["artefact"] <= 0.03


def test_vote_fractions_are_valid_and_follow_morphology(
    reps: gw.Representations, morphology: np.ndarray
) -> None:
    fractions = reps.meta[[c for c in reps.meta.columns if c.endswith("_fraction")]]
    assert fractions.notna().all().all()
    assert ((fractions >= 0) & (fractions <= 1)).all().all()
    questions = fractions.T.groupby(lambda c: c.split("_")[0]).sum().T
    np.testing.assert_allclose(questions.to_numpy(), 1.0, atol=1e-4)

    # Fine structure (arms, bars, rings) is judged on well-resolved galaxies: blurred ones hide it.
    resolved = reps.images.params["blur"].to_numpy() < 0.3

    def mean(column: str, *classes: str, where: np.ndarray | bool = True) -> float:
        return float(reps.meta.loc[np.isin(morphology, classes) & where, column].mean())

    spiral_yes = "has-spiral-arms_yes_fraction"
    spirals = ("spiral", "barred spiral")
    assert (
        mean(spiral_yes, *spirals, where=resolved) > 0.5 > 0.25 > mean(spiral_yes, "smooth round")
    )
    assert mean(spiral_yes, *spirals, where=~resolved) < mean(spiral_yes, *spirals, where=resolved)
    featured = "smooth-or-featured_featured-or-disk_fraction"
    assert mean(featured, "smooth round", "smooth cigar") < 0.3 < 0.7 < mean(featured, "spiral")
    assert (
        mean("disk-edge-on_yes_fraction", "edge-on")
        > 0.7
        > mean("disk-edge-on_yes_fraction", "spiral")
    )
    assert mean("bar_strong_fraction", "barred spiral", where=resolved) > 2 * mean(
        "bar_strong_fraction", "spiral", where=resolved
    )
    assert mean("bar_no_fraction", "spiral") > 0.6
    ring_yes = "rings_yes_fraction"
    assert mean(ring_yes, "ring", where=resolved) > 0.3 > 0.15 > mean(ring_yes, "spiral")
    assert mean(ring_yes, "ring", where=~resolved) < mean(ring_yes, "ring", where=resolved)
    assert (
        mean("merging_merger_fraction", "merger")
        > 0.4
        > 0.1
        > mean("merging_merger_fraction", "disk")
    )
    artifact = "smooth-or-featured_artifact_fraction"
    assert mean(artifact, "artefact") > 0.5 > 0.1 > mean(artifact, "smooth round")


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_difficulty_matches_the_real_gz_decals_features(seed: int) -> None:
    """Calibrated against Walmsley et al. (2022): PCA-10 variance 0.844, ring probe ~0.86."""
    figures = difficulty(gw.datasets.synthetic(n=20_000, seed=seed), seed=seed, repeats=10)
    assert 0.80 <= figures["pca10_variance"] <= 0.89
    assert 0.80 <= figures["ring_probe_accuracy"] <= 0.90
    assert 0.01 <= figures["ring_fraction"] <= 0.02
    # Neighbors share morphology often but not always; rings sit among rings far above chance.
    assert 0.75 <= figures["knn_same_class"] <= 0.92
    assert figures["knn_same_class_rings"] >= 5 * figures["ring_fraction"]


def test_bad_sizes_are_rejected() -> None:
    with pytest.raises(gw.DataError, match="n must be a positive integer"):
        gw.datasets.synthetic(n=0)
    with pytest.raises(gw.DataError, match="n must be a positive integer"):
        gw.datasets.synthetic(n=10.5)
    with pytest.raises(gw.DataError, match="dim must be a positive integer"):
        gw.datasets.synthetic(n=10, dim=0)
    with pytest.raises(gw.DataError, match="dim must be a positive integer"):
        gw.datasets.write_zenodo_like("unused.parquet", n=10, dim=-1)


# ----------------------------------------------------------------------------------------------
# Thumbnails
# ----------------------------------------------------------------------------------------------


def _luminance(image: np.ndarray) -> np.ndarray:
    lum = image.astype(np.float64).mean(axis=2)
    return lum - np.median(lum)


def _elongation(image: np.ndarray, radius: float) -> float:
    """Major/minor axis ratio from second moments of the isophote well above the sky noise,
    within ``radius`` of the centre."""
    lum = _luminance(image)
    size = len(lum)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    weight = ((np.hypot(x, y) < radius) & (lum > 25)).astype(np.float64)
    total = weight.sum()
    cx, cy = (weight * x).sum() / total, (weight * y).sum() / total
    dx, dy = x - cx, y - cy
    cov = np.array(
        [[(weight * dx * dx).sum(), (weight * dx * dy).sum()], [0, (weight * dy * dy).sum()]]
    )
    cov[1, 0] = cov[0, 1]
    small, large = np.linalg.eigvalsh(cov / total)
    return float(np.sqrt(large / small))


def _radial_profile(image: np.ndarray, radii: np.ndarray, width: float = 1.0) -> np.ndarray:
    lum = _luminance(image)
    size = len(lum)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    r = np.hypot(x, y)
    return np.array([np.median(lum[np.abs(r - ri) < width]) for ri in radii])


def _pick(params: pd.DataFrame, morphology: np.ndarray, kind: str, condition, count: int) -> list:
    chosen = params[(morphology == kind) & condition(params)]
    assert len(chosen) >= count, f"not enough {kind} galaxies in the sample"
    return list(chosen.index[:count])


def test_thumbnails_have_the_right_shape_and_are_deterministic(reps: gw.Representations) -> None:
    galaxy = reps.ids[0]
    image = reps.images(galaxy)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, reps.images(galaxy))
    fresh = SyntheticThumbnails(reps.images.params, seed=1)
    np.testing.assert_array_equal(image, fresh(galaxy))
    assert not np.array_equal(image, reps.images(reps.ids[1]))
    assert 0 < image.mean() < 128  # a dark sky with a galaxy on it
    small = SyntheticThumbnails(reps.images.params, size=96)(galaxy)
    assert small.shape == (96, 96, 3)


def test_unknown_ids_and_bad_sizes_raise_data_error(reps: gw.Representations) -> None:
    with pytest.raises(gw.DataError, match=r"J999999\.99\+999999\.9"):
        reps.images("J999999.99+999999.9")
    with pytest.raises(gw.DataError, match="size"):
        SyntheticThumbnails(reps.images.params, size=512)


def test_edge_on_disks_are_much_more_elongated_than_round_ellipticals(
    reps: gw.Representations, morphology: np.ndarray
) -> None:
    params = reps.images.params
    edge_on = _pick(params, morphology, "edge-on", lambda p: p["axis_ratio"] < 0.12, 5)
    round_ = _pick(params, morphology, "smooth round", lambda p: p["axis_ratio"] > 0.9, 5)
    edge_on_elongation = np.median([_elongation(reps.images(g), 40) for g in edge_on])
    round_elongation = np.median([_elongation(reps.images(g), 40) for g in round_])
    assert edge_on_elongation > 2.5
    assert round_elongation < 1.3


def test_rings_show_a_dip_between_centre_and_ring(
    reps: gw.Representations, morphology: np.ndarray
) -> None:
    # Seen face-on in good seeing: the same galaxies with axis ratio 0.95 and blur 0.2.
    params = reps.images.params.assign(axis_ratio=np.float32(0.95), blur=np.float32(0.2))
    images = SyntheticThumbnails(params, seed=1)

    def peak_over_dip(galaxy: str) -> float:
        p = params.loc[galaxy]
        r50 = p["extent"] * images.size
        radius = p["ring_radius"] * r50
        inside = _radial_profile(images(galaxy), np.linspace(0.3, 0.8, 6) * radius)
        ring = _radial_profile(images(galaxy), np.linspace(0.9, 1.1, 3) * radius)
        return ring.max() / max(inside.min(), 1.0)

    rings = _pick(params, morphology, "ring", lambda p: p["ring_strength"] > 0.7, 3)
    plain = _pick(
        params,
        morphology,
        "disk",
        lambda p: (p["ring_strength"] < 0.1) & (p["bar_strength"] < 0.2),
        3,
    )
    assert min(peak_over_dip(g) for g in rings) > 1.15
    assert max(peak_over_dip(g) for g in plain) < 1.05

    blurred = SyntheticThumbnails(params.assign(blur=np.float32(1.2)), seed=1)
    radii = np.linspace(0.3, 1.2, 10) * params.loc[rings[0], "ring_radius"]
    radii *= params.loc[rings[0], "extent"] * images.size

    def ring_contrast(image: np.ndarray) -> float:
        profile = _radial_profile(image, radii)
        return profile[-3:].max() / max(profile[:6].min(), 1.0)

    assert ring_contrast(blurred(rings[0])) < ring_contrast(images(rings[0])) - 0.1


# ----------------------------------------------------------------------------------------------
# Zenodo-like parquet
# ----------------------------------------------------------------------------------------------


def test_write_zenodo_like_round_trips_through_load_representations(tmp_path) -> None:
    path = gw.datasets.write_zenodo_like(
        tmp_path / "nested" / "reps.parquet", n=300, dim=64, seed=3
    )
    schema = pq.read_schema(path)
    assert schema.names == ["iauname", "png_loc"] + [f"feat_{j}_pred" for j in range(64)]
    assert (
        schema.field("iauname").type == pa.string() and schema.field("png_loc").type == pa.string()
    )
    assert all(schema.field(f"feat_{j}_pred").type == pa.float64() for j in range(64))

    loaded = gw.load_representations(path)
    expected = gw.datasets.synthetic(n=300, seed=3, dim=64)
    assert (loaded.ids == expected.ids).all() and loaded.id_column == "iauname"
    np.testing.assert_array_equal(loaded.features, expected.features)
    png_loc = loaded.meta["png_loc"].tolist()
    assert png_loc == [f"{name[:4]}/{name}.png" for name in expected.ids]
    assert list(loaded.meta.columns) == ["iauname", "png_loc"]


def test_timings_of_the_default_size_and_one_thumbnail() -> None:
    start = time.perf_counter()
    reps = gw.datasets.synthetic()
    generate = time.perf_counter() - start
    assert reps.features.shape == (20_000, 1280)
    reps.images(reps.ids[0])  # builds the id lookup
    start = time.perf_counter()
    images = [reps.images(galaxy) for galaxy in reps.ids[:50]]
    render = (time.perf_counter() - start) / len(images)
    assert all(image.shape == (128, 128, 3) for image in images)
    print(f"\nsynthetic(20_000): {generate:.2f} s; one 128 px thumbnail: {1000 * render:.1f} ms")
