"""Astronomers' catalogues: FITS / VOTable / Table / CSV / parquet reading, joins and crossmatch."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord, match_coordinates_sky
from astropy.table import MaskedColumn, Table

import galwidget as gw
from galwidget.catalogues import read_catalogue

RING_CATALOGUE = Path("zoobot_ring_catalog_basic") / "example_ring_catalog_basic.csv"
NAME_SAMPLE = Path("gz_decals_nsa_name_radec_sample") / "gordon_galaxies_sample_2_unique.csv"
DESI_PCA = Path("galaxy_explorer_desi_50k_pca2") / "50k_pca_2n.parquet"


@pytest.fixture(scope="module")
def reps() -> gw.Representations:
    return gw.datasets.synthetic(n=500, seed=4, dim=8)


def masked_table(ids: list[str]) -> Table:
    """A catalogue as astronomers write them: big-endian FITS-style columns, masked values."""
    n = len(ids)
    table = Table()
    table["iauname"] = np.array(ids, dtype="S19")
    table["t01_smooth_or_features_a02_features_or_disk_debiased"] = np.linspace(0, 1, n).astype(
        ">f8"
    )
    table["total_votes"] = MaskedColumn(np.arange(n, dtype=">i4"), mask=np.arange(n) % 7 == 0)
    table["gz2_class"] = MaskedColumn(
        np.array(["Sc+t", "Er", "SBb"] * n)[:n], mask=np.arange(n) % 5 == 0
    )
    table["score"] = MaskedColumn(np.ones(n, dtype=">f4"), mask=np.arange(n) % 3 == 0)
    return table


def check_converted(frame: pd.DataFrame, ids: list[str], *, text_mask: bool = True) -> None:
    assert frame["iauname"].tolist() == ids  # bytes decoded
    for column in frame.columns:
        assert getattr(frame[column].dtype, "byteorder", "=") in ("=", "|")  # native byte order
    votes = frame["total_votes"]
    assert votes.dtype == "Int32" and votes.isna().tolist() == [i % 7 == 0 for i in range(len(ids))]
    assert votes[1] == 1
    assert frame["gz2_class"][1] == "Er"
    # A VOTable has no null value for text: astropy writes masked text as an empty string.
    assert pd.isna(frame["gz2_class"][0]) if text_mask else frame["gz2_class"][0] == ""
    assert frame["score"].isna().sum() == len(range(0, len(ids), 3))
    assert frame["t01_smooth_or_features_a02_features_or_disk_debiased"].iloc[-1] == 1.0


@pytest.mark.parametrize(("suffix", "kind"), [(".fits", "fits"), (".vot", "votable")])
def test_fits_and_votable_files_written_by_astropy(tmp_path, reps, suffix, kind) -> None:
    ids = list(reps.ids[:40])
    path = tmp_path / f"gz2_hart16{suffix}"
    masked_table(ids).write(path, format=kind)
    check_converted(read_catalogue(path), ids, text_mask=kind != "votable")
    check_converted(read_catalogue(str(path)), ids, text_mask=kind != "votable")
    packed = path.with_name(path.name + ".gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    check_converted(read_catalogue(packed), ids, text_mask=kind != "votable")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 460 of 500 galaxies are not in the catalogue
        joined = reps.join(path, on="iauname")
    assert joined.meta.loc[ids[1], "gz2_class"] == "Er"
    assert joined.meta.loc[ids[1], "total_votes"] == 1.0
    assert pd.isna(joined.meta.loc[reps.ids[100], "total_votes"])


def test_tables_frames_csv_and_parquet(tmp_path, reps) -> None:
    ids = list(reps.ids[:30])
    check_converted(read_catalogue(masked_table(ids)), ids)
    frame = pd.DataFrame({"iauname": ids, "z": np.arange(30.0)})
    assert read_catalogue(frame) is frame
    frame.to_csv(tmp_path / "cat.csv", index=False)
    frame.to_parquet(tmp_path / "cat.parquet")
    for name in ("cat.csv", "cat.parquet"):
        pd.testing.assert_frame_equal(read_catalogue(tmp_path / name), frame)
    with pytest.warns(UserWarning, match="470 of 500 galaxies have no catalogue row"):
        joined = reps.join(tmp_path / "cat.parquet")
    assert joined.meta["z"].iloc[:30].tolist() == list(range(30))


def test_bad_catalogues_are_clear_errors(tmp_path) -> None:
    with pytest.raises(gw.DataError, match=r"catalogue file not found: .*nope\.fits"):
        read_catalogue(tmp_path / "nope.fits")
    with pytest.raises(gw.DataError, match=r"cat\.txt: unknown catalogue format '\.txt'"):
        read_catalogue(tmp_path / "cat.txt")
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"SIMPLE  = this is not a FITS file")
    with pytest.raises(gw.DataError, match=r"cannot read catalogue .*broken\.fits"):
        read_catalogue(broken)
    wide = Table({"id": ["a", "b"], "flux": np.ones((2, 3))})
    with pytest.raises(gw.DataError, match=r"column 'flux' holds \(3,\) values per row"):
        read_catalogue(wide)
    with pytest.raises(gw.DataError, match="must be a DataFrame, an astropy Table or a path"):
        read_catalogue([1, 2])


def test_crossmatch_keeps_the_nearest_source_within_the_radius(tmp_path, reps) -> None:
    radec = reps.radec
    rng = np.random.default_rng(0)
    # Sources 0.1–0.9 arcsec from galaxies 0..199, 3–5 arcsec from 200..299, none for the rest;
    # galaxy 1's source sits exactly on galaxy 0's position too (galaxies 0 and 1 are apart).
    offset = np.concatenate([rng.uniform(0.1, 0.9, 200), rng.uniform(3, 5, 100)]) / 3600
    angle = rng.uniform(0, 2 * np.pi, 300)
    ra = radec[:300, 0] + offset * np.cos(angle) / np.cos(np.radians(radec[:300, 1]))
    dec = radec[:300, 1] + offset * np.sin(angle)
    catalogue = Table({"RA": ra, "DEC": dec, "source": np.arange(300), "dec": np.zeros(300)})
    catalogue.write(tmp_path / "sources.fits")
    with pytest.warns(UserWarning, match="300 of 500 galaxies have no catalogue source within 1.0"):
        matched = reps.crossmatch(tmp_path / "sources.fits", ra="RA", dec="DEC")
    meta = matched.meta
    assert meta["source"].iloc[:200].tolist() == list(range(200))
    assert meta["source"].iloc[200:].isna().all()
    assert "dec_cat" in meta and meta["dec"].equals(reps.meta["dec"])  # clashing name: suffixed
    expected = SkyCoord(radec[:200, 0], radec[:200, 1], unit="deg").separation(
        SkyCoord(ra[:200], dec[:200], unit="deg")
    )
    np.testing.assert_allclose(meta["separation_arcsec"].iloc[:200], expected.arcsec, atol=1e-6)
    assert meta["separation_arcsec"].iloc[200:].isna().all()
    assert (matched.ids == reps.ids).all() and matched.features is reps.features

    # A radius wider than the sky: every galaxy matches one of two sources (many-to-one).
    two = pd.DataFrame({"ra": radec[:2, 0], "dec": radec[:2, 1], "source": [0, 1]})
    with pytest.warns(
        UserWarning,
        match=r"2 catalogue sources are the nearest match of several "
        r"galaxies \(500 galaxies in all: many-to-one\)",
    ):
        wide = reps.crossmatch(two, radius_arcsec=3600 * 360)
    assert wide.meta["separation_arcsec"].notna().all()
    assert wide.meta["source"].iloc[:2].tolist() == [0, 1]


def test_crossmatch_errors(reps) -> None:
    far = pd.DataFrame({"ra": [0.0], "dec": [-89.0]})
    with pytest.raises(gw.DataError, match=r"no catalogue source lies within 1\.0 arcsec"):
        reps.crossmatch(far)
    with pytest.raises(gw.DataError, match="no position column 'RAJ2000'"):
        reps.crossmatch(far, ra="RAJ2000")
    with pytest.raises(gw.DataError, match="row 0 is 'north'"):
        reps.crossmatch(pd.DataFrame({"ra": [1.0], "dec": ["north"]}))
    with pytest.raises(gw.DataError, match="radius_arcsec must be a positive number"):
        reps.crossmatch(far, radius_arcsec=0)
    anonymous = gw.Representations.from_array(np.ones((3, 2), dtype=np.float32))
    with pytest.raises(gw.DataError, match="these galaxies have no positions"):
        anonymous.crossmatch(far)


def test_crossmatch_real_coordinates(shared_data: Path) -> None:
    """GZ DECaLS ring-catalogue galaxies (positions from their IAU names) against the real
    NSA-name sample: the two galaxies in both, and nothing else, match within 1 arcsec."""
    rings = pd.read_csv(shared_data / RING_CATALOGUE)
    reps = gw.Representations(
        ids=pd.Index(rings["id_str"], name="iauname"),
        features=rings.filter(like="_fraction").to_numpy(np.float32),
        meta=rings.drop(columns=["id_str"]),
    )
    sample = shared_data / NAME_SAMPLE
    in_both = set(reps.ids) & set(pd.read_csv(sample)["sdss_id"])
    assert len(in_both) == 2
    with pytest.warns(UserWarning, match="468 of 470 galaxies have no catalogue source"):
        matched = reps.crossmatch(sample, radius_arcsec=1.0)
    found = matched.meta["sdss_id"].dropna()
    assert set(found.index) == in_both and (found.index == found).all()
    assert (matched.meta["separation_arcsec"].dropna() < 0.3).all()  # IAU names truncate


def test_crossmatch_agrees_with_astropy_on_real_positions(shared_data: Path) -> None:
    desi = pd.read_parquet(shared_data / DESI_PCA).iloc[:20_000]
    reps = gw.Representations(
        ids=pd.Index(desi["id_str"], name="id_str"),
        features=desi[["pca_0", "pca_1"]].to_numpy(np.float32),
        meta=desi[["ra", "dec"]],
    )
    rng = np.random.default_rng(1)
    shifted = desi.sample(5000, random_state=1)[["ra", "dec"]].copy()
    shifted["ra"] += rng.normal(0, 2 / 3600, len(shifted))
    shifted["dec"] += rng.normal(0, 2 / 3600, len(shifted))
    shifted["row"] = np.arange(len(shifted))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matched = reps.crossmatch(shifted, radius_arcsec=5.0)
    index, separation, _ = match_coordinates_sky(
        SkyCoord(desi["ra"], desi["dec"], unit="deg"),
        SkyCoord(shifted["ra"], shifted["dec"], unit="deg"),
    )
    within = separation < 5.0 * u.arcsec
    assert within.sum() >= 5000 * 0.9
    np.testing.assert_array_equal(matched.meta["row"].notna(), within)
    np.testing.assert_array_equal(matched.meta["row"][within], index[within])
    np.testing.assert_allclose(
        matched.meta["separation_arcsec"][within], separation[within].arcsec, atol=1e-5
    )


# ----------------------------------------------------------------------------------------------
# Catalogues as astronomers hand them over
# ----------------------------------------------------------------------------------------------

OBJIDS = [1237648720693755918, 1237648720693755919, 1237648720693755920, 1237648720693755921]


def test_a_masked_int64_fits_key_stays_an_exact_integer_key(tmp_path) -> None:
    # 19-digit SDSS objids that float64 cannot tell apart, one of them masked
    table = Table()
    table["dr7objid"] = MaskedColumn(
        np.array(OBJIDS, dtype=">i8"), mask=[False, False, True, False]
    )
    table["t01"] = [0.1, 0.2, 0.3, 0.4]
    path = tmp_path / "hart16.fits"
    table.write(path)
    frame = read_catalogue(path)
    assert frame["dr7objid"].dtype == "Int64"
    assert frame["dr7objid"].tolist()[:2] == OBJIDS[:2] and pd.isna(frame["dr7objid"][2])
    reps = gw.Representations.from_array(
        np.eye(4, dtype=np.float32), ids=pd.Index([str(i) for i in OBJIDS], name="dr7objid")
    )
    with pytest.warns(UserWarning) as caught:
        joined = reps.join(path, on="dr7objid")
    messages = " ".join(str(w.message) for w in caught)
    assert "1 catalogue rows have no 'dr7objid' (masked or missing, e.g. row 2)" in messages
    assert joined.meta["t01"].tolist()[:2] == [0.1, 0.2] and joined.meta["t01"].iloc[3] == 0.4
    assert pd.isna(joined.meta["t01"].iloc[2])


def test_float_keys_that_lost_digits_are_refused_whole_floats_join(reps) -> None:
    ids = reps.ids[:3].tolist()
    lost = pd.DataFrame({"objid": np.array(OBJIDS[:3], dtype=np.float64), "z": [1.0, 2.0, 3.0]})
    frame = pd.DataFrame({"objid": [str(i) for i in OBJIDS[:3]]})
    numbered = gw.Representations.from_array(reps.features[:3], ids=ids, meta=frame)
    with pytest.raises(gw.DataError, match=r"'objid' holds floating-point keys such as 1\.23"):
        numbered.join(lost, on="objid")
    small = pd.DataFrame({"objid": [1.0, np.nan, 3.0], "z": [1.0, 2.0, 3.0]})
    numbered = gw.Representations.from_array(
        reps.features[:3], ids=ids, meta=pd.DataFrame({"objid": ["1", "2", "3"]})
    )
    with pytest.warns(UserWarning, match="1 catalogue rows have no 'objid'"):
        joined = numbered.join(small, on="objid")
    assert joined.meta["z"].tolist()[::2] == [1.0, 3.0] and pd.isna(joined.meta["z"].iloc[1])


def test_a_catalogue_in_radians_gets_a_hint_about_units(reps) -> None:
    radec = reps.radec[:50]
    radians = pd.DataFrame({"RA": np.radians(radec[:, 0]), "DEC": np.radians(radec[:, 1])})
    with pytest.raises(
        gw.DataError,
        match=r"catalogue's 'RA'/'DEC' values lies within ±π: are they in radians\? .*degrees",
    ):
        reps.crossmatch(radians, ra="RA", dec="DEC")
    far = pd.DataFrame({"ra": [0.0, 10.0], "dec": [-89.0, -88.0]})
    with pytest.raises(gw.DataError, match="no catalogue source lies within") as error:
        reps.crossmatch(far)
    assert "radians" not in str(error.value)


def test_positions_outside_the_sphere_are_refused(reps) -> None:
    with pytest.raises(gw.DataError, match=r"'dec' must hold degrees within ±90; row 1 is 91.5"):
        reps.crossmatch(pd.DataFrame({"ra": [1.0, 2.0], "dec": [0.0, 91.5]}))
    with pytest.raises(gw.DataError, match=r"'ra' must hold degrees within ±360; row 0 is 400"):
        reps.crossmatch(pd.DataFrame({"ra": [400.0, 2.0], "dec": [0.0, 1.5]}))
