"""Loading, validating and describing representations (galwidget.data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galwidget as gw

# Precision of an IAU name: 0.01 s of right ascension, 0.1 arcsec of declination.
RA_STEP = 0.01 * 15 / 3600
DEC_STEP = 0.1 / 3600


def zenodo_table(n: int, d: int, seed: int = 0, id_column: str = "iauname") -> pa.Table:
    """A table in the Zenodo 5536995 schema: ids, png_loc, float64 feat_<i>_pred columns."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = rng.uniform(-20, 35, n)
    names = gw.format_iauname(ra, dec)
    columns = {
        id_column: pa.array(names.tolist(), pa.string()),
        "png_loc": pa.array([f"{s[:4]}/{s}.png" for s in names], pa.string()),
    }
    values = rng.normal(size=(n, d))
    for i in range(d):
        columns[f"feat_{i}_pred"] = pa.array(values[:, i], pa.float64())
    return pa.table(columns)


# ----------------------------------------------------------------------------------------------
# IAU names
# ----------------------------------------------------------------------------------------------


def test_parse_iauname_matches_catalogue_radec(shared_data: Path) -> None:
    sample = pd.read_csv(
        shared_data / "gz_decals_nsa_name_radec_sample/gordon_galaxies_sample_2_unique.csv"
    )
    ra, dec = gw.parse_iauname(sample["sdss_id"])
    assert len(ra) == 1077
    # The catalogue stores float32-rounded positions that differ from the names' own (truncated)
    # positions by under an arcsecond: every galaxy must land within 1", most far closer.
    d_ra = (sample["ra"].to_numpy() - ra) * np.cos(np.radians(dec))
    separation = np.hypot(d_ra, sample["dec"].to_numpy() - dec) * 3600
    assert separation.max() < 1.0
    assert np.median(separation) < 0.2


def test_ring_catalogue_ids_parse(shared_data: Path) -> None:
    rings = pd.read_csv(shared_data / "zoobot_ring_catalog_basic/example_ring_catalog_basic.csv")
    ra, dec = gw.parse_iauname(rings["id_str"])
    assert len(ra) == 470
    assert np.all((ra >= 0) & (ra < 360)) and np.all(np.abs(dec) <= 90)
    assert gw.parse_iauname("J000411.19+020924.0") == pytest.approx(
        (15 * (4 / 60 + 11.19 / 3600), 2 + 9 / 60 + 24.0 / 3600)
    )


@given(
    ra=st.floats(0, 359.9999, allow_nan=False),
    dec=st.floats(-89.9999, 89.9999, allow_nan=False),
)
def test_format_then_parse_round_trips_within_name_precision(ra: float, dec: float) -> None:
    (name,) = gw.format_iauname(ra, dec)
    ra_back, dec_back = gw.parse_iauname(name)
    assert -1e-9 <= ra - ra_back < RA_STEP + 1e-9 or abs(ra - ra_back - 360) < RA_STEP
    assert abs(dec - dec_back) < DEC_STEP + 1e-9
    assert (name[10] == "-") == (dec < 0)


@given(st.text(max_size=25))
def test_parse_iauname_rejects_malformed_names(text: str) -> None:
    try:
        ra, dec = gw.parse_iauname([text])
    except gw.DataError as error:
        assert "row 0" in str(error)
    else:  # hypothesis found a valid name: it must parse to a real position
        assert 0 <= ra[0] < 360 and -90 <= dec[0] <= 90


def test_parse_iauname_names_bad_rows() -> None:
    with pytest.raises(gw.DataError, match=r"row 1: 'J256011\.19\+020924\.0'.*row 2: 'M31'"):
        gw.parse_iauname(["J000411.19+020924.0", "J256011.19+020924.0", "M31"])


# ----------------------------------------------------------------------------------------------
# Loading the Zenodo schema
# ----------------------------------------------------------------------------------------------


def test_load_zenodo_parquet_orders_features_numerically(tmp_path: Path) -> None:
    table = zenodo_table(50, 12)
    # Shuffle the feature columns: lexical order would put feat_10 before feat_2.
    order = ["png_loc", "feat_10_pred", "iauname", *(f"feat_{i}_pred" for i in (3, 1, 0, 11, 2))]
    order += [f"feat_{i}_pred" for i in (4, 5, 6, 7, 8, 9)]
    pq.write_table(table.select(order), tmp_path / "cnn_features_decals.parquet", row_group_size=16)
    reps = gw.load_representations(tmp_path / "cnn_features_decals.parquet", batch_rows=7)

    expected = np.column_stack([table[f"feat_{i}_pred"].to_numpy() for i in range(12)])
    assert reps.features.dtype == np.float32 and reps.features.flags.c_contiguous
    np.testing.assert_array_equal(reps.features, expected.astype(np.float32))
    assert reps.id_column == "iauname"
    assert list(reps.ids) == table["iauname"].to_pylist()
    assert list(reps.meta.columns) == ["png_loc", "iauname"]
    assert reps.meta.index.equals(reps.ids.rename(None))
    ra, dec = gw.parse_iauname(reps.ids)
    np.testing.assert_allclose(reps.radec, np.column_stack([ra, dec]))


def test_gz2_integer_objids_keep_every_digit(tmp_path: Path) -> None:
    objids = [587722981736120347, 587722981736120348, 588848899919495174]
    frame = pd.DataFrame(
        {"id_str": objids, "feat_0_pred": [0.1, 0.2, 0.3], "feat_1_pred": [1.0, 2, 3]}
    )
    frame.to_parquet(tmp_path / "cnn_features_gz2.parquet")
    reps = gw.load_representations(tmp_path / "cnn_features_gz2.parquet")
    assert list(reps.ids) == [str(i) for i in objids]
    assert reps.radec is None


def test_float_ids_are_refused() -> None:
    frame = pd.DataFrame({"id_str": [5.877e17, 5.878e17], "feat_0": [0.1, 0.2]})
    with pytest.raises(gw.DataError, match="floating point"):
        gw.load_representations(frame)


def test_csv_dataframe_and_array_sources_agree(tmp_path: Path) -> None:
    frame = zenodo_table(30, 5).to_pandas()
    frame.to_csv(tmp_path / "reps.csv", index=False)
    from_csv = gw.load_representations(tmp_path / "reps.csv")
    from_frame = gw.load_representations(frame)
    features = frame[[f"feat_{i}_pred" for i in range(5)]].to_numpy()
    from_array = gw.load_representations(features)
    np.testing.assert_array_equal(from_csv.features, from_frame.features)
    np.testing.assert_array_equal(from_array.features, from_frame.features)
    assert from_csv.fingerprint == from_frame.fingerprint
    assert list(from_array.ids[:3]) == ["0", "1", "2"]
    assert gw.load_representations(from_frame) is from_frame


def test_plain_feat_columns_and_prefix(tmp_path: Path) -> None:
    frame = pd.DataFrame({"iauname": ["a", "b"], "feat_1": [1.0, 2.0], "feat_0": [3.0, 4.0]})
    reps = gw.Representations.from_dataframe(frame)
    np.testing.assert_array_equal(reps.features, [[3, 1], [4, 2]])
    custom = pd.DataFrame(
        {"name": ["a", "b"], "z2": [1.0, 2.0], "z10": [3.0, 4.0], "z1": [5.0, 6.0]}
    )
    reps = gw.Representations.from_dataframe(custom, features="z", id_column="name")
    np.testing.assert_array_equal(reps.features, [[5, 1, 3], [6, 2, 4]])


@pytest.mark.parametrize("fixed", [True, False])
def test_single_list_column(tmp_path: Path, fixed: bool) -> None:
    values = np.arange(12, dtype=np.float64).reshape(4, 3)
    kind = pa.list_(pa.float64(), 3) if fixed else pa.list_(pa.float64())
    table = pa.table(
        {"iauname": ["a", "b", "c", "d"], "features": pa.array(values.tolist(), type=kind)}
    )
    pq.write_table(table, tmp_path / "list.parquet")
    reps = gw.load_representations(tmp_path / "list.parquet", batch_rows=3)
    np.testing.assert_array_equal(reps.features, values.astype(np.float32))
    assert list(reps.meta.columns) == ["iauname"]
    from_frame = gw.load_representations(table.to_pandas())
    np.testing.assert_array_equal(from_frame.features, reps.features)


def test_parquet_progress_bar_for_large_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pq.write_table(zenodo_table(20, 3), tmp_path / "small.parquet")
    gw.load_representations(tmp_path / "small.parquet", progress=True)
    assert "loading small.parquet" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Bad input: clear errors that name the problem
# ----------------------------------------------------------------------------------------------


def test_missing_id_column() -> None:
    with pytest.raises(gw.DataError, match=r"no id column found.*iauname, id_str"):
        gw.load_representations(pd.DataFrame({"feat_0": [1.0], "name": ["x"]}))
    with pytest.raises(gw.DataError, match="id column 'objname' not found"):
        gw.load_representations(pd.DataFrame({"feat_0": [1.0]}), id_column="objname")


def test_duplicate_ids_are_listed(tmp_path: Path) -> None:
    frame = pd.DataFrame({"iauname": ["a", "b", "a", "c", "c"], "feat_0": np.arange(5.0)})
    frame.to_parquet(tmp_path / "dup.parquet")
    with pytest.raises(
        gw.DataError, match=r"duplicate ids in 'iauname': 'a', 'c' \(rows 0, 2, 3, 4\)"
    ):
        gw.load_representations(tmp_path / "dup.parquet")


def test_non_numeric_feature_columns_are_named(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"iauname": ["a", "b"], "feat_0_pred": [1.0, 2.0], "feat_1_pred": ["x", "y"]}
    )
    frame.to_parquet(tmp_path / "text.parquet")
    with pytest.raises(gw.DataError, match=r"not: .feat_1_pred"):
        gw.load_representations(tmp_path / "text.parquet")
    with pytest.raises(gw.DataError, match=r"not: .feat_1_pred"):
        gw.load_representations(frame)


def test_no_feature_columns() -> None:
    with pytest.raises(gw.DataError, match="no feature columns found"):
        gw.load_representations(pd.DataFrame({"iauname": ["a"], "ra": [1.0]}))
    with pytest.raises(gw.DataError, match="no columns start with 'emb_'"):
        gw.load_representations(pd.DataFrame({"iauname": ["a"], "ra": [1.0]}), features="emb_")


def test_feature_index_twice() -> None:
    frame = pd.DataFrame({"iauname": ["a"], "feat_0": [1.0], "feat_0_pred": [2.0]})
    with pytest.raises(gw.DataError, match="feature 0 appears twice"):
        gw.load_representations(frame)


def test_empty_tables(tmp_path: Path) -> None:
    pq.write_table(zenodo_table(3, 2).slice(0, 0), tmp_path / "empty.parquet")
    with pytest.raises(gw.DataError, match="empty"):
        gw.load_representations(tmp_path / "empty.parquet")
    with pytest.raises(gw.DataError, match="empty"):
        gw.load_representations(pd.DataFrame({"iauname": [], "feat_0": []}))
    with pytest.raises(gw.DataError, match="empty"):
        gw.load_representations(np.zeros((0, 3)))


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(gw.DataError, match="no such file"):
        gw.load_representations(tmp_path / "nope.parquet")
    (tmp_path / "reps.h5").write_bytes(b"")
    with pytest.raises(gw.DataError, match=r"expected a \.parquet or \.csv"):
        gw.load_representations(tmp_path / "reps.h5")


def test_mismatched_lengths() -> None:
    with pytest.raises(gw.DataError, match="2 ids but 3 feature rows"):
        gw.Representations.from_array(np.zeros((3, 2)), ids=["a", "b"])
    with pytest.raises(gw.DataError, match="1 meta rows but 3 feature rows"):
        gw.Representations.from_array(np.zeros((3, 2)), meta=pd.DataFrame({"x": [1]}))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 40),
    bad=st.sets(st.integers(0, 39), max_size=8),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    batch_rows=st.integers(1, 16),
)
def test_invalid_features_are_reported_or_dropped(
    tmp_path: Path, n: int, bad: set[int], value: float, batch_rows: int
) -> None:
    bad_rows = sorted(r for r in bad if r < n)
    table = zenodo_table(n, 4, seed=n)
    values = np.column_stack([table[f"feat_{i}_pred"].to_numpy() for i in range(4)])
    values[bad_rows, 2] = value
    table = table.set_column(4, "feat_2_pred", pa.array(values[:, 2]))
    path = tmp_path / f"invalid-{n}.parquet"
    pq.write_table(table, path)
    if not bad_rows:
        assert len(gw.load_representations(path, batch_rows=batch_rows)) == n
        return
    with pytest.raises(gw.DataError, match=f"NaN or infinite features at row {bad_rows[0]} "):
        gw.load_representations(path, batch_rows=batch_rows)
    if len(bad_rows) == n:
        with pytest.warns(UserWarning), pytest.raises(gw.DataError, match="every row is invalid"):
            gw.load_representations(path, on_invalid="drop")
        return
    with pytest.warns(UserWarning, match="dropped"):
        reps = gw.load_representations(path, on_invalid="drop", batch_rows=batch_rows)
    keep = np.setdiff1d(np.arange(n), bad_rows)
    np.testing.assert_array_equal(reps.features, values[keep].astype(np.float32))
    assert list(reps.ids) == [table["iauname"][int(i)].as_py() for i in keep]
    assert len(reps.meta) == len(keep)


def test_on_invalid_must_be_known() -> None:
    with pytest.raises(gw.DataError, match="on_invalid must be"):
        gw.load_representations(np.array([[np.nan, 1.0], [1.0, 2.0]]), on_invalid="ignore")


# ----------------------------------------------------------------------------------------------
# Ids, positions, join, fingerprint
# ----------------------------------------------------------------------------------------------


def test_positions_and_unknown_ids() -> None:
    reps = gw.Representations.from_array(np.eye(4), ids=["a", "b", "c", "d"])
    np.testing.assert_array_equal(reps.positions(["c", "a"]), [2, 0])
    np.testing.assert_array_equal(reps.positions("d"), [3])
    with pytest.raises(gw.DataError, match="unknown id ids: 'x', 'y'"):
        reps.positions(["a", "x", "y"])


def test_join_catalogue(shared_data: Path) -> None:
    rings = pd.read_csv(shared_data / "zoobot_ring_catalog_basic/example_ring_catalog_basic.csv")
    ids = [*rings["id_str"].iloc[:20], "J000000.00+000000.0"]
    reps = gw.Representations.from_array(
        np.random.default_rng(0).normal(size=(21, 3)), ids=pd.Index(ids, name="iauname")
    )
    with pytest.warns(UserWarning, match="1 of 21 galaxies have no catalogue row"):
        joined = reps.join(rings.rename(columns={"id_str": "iauname"}), on="iauname")
    assert joined.features is reps.features
    assert joined.meta["ring"].iloc[:20].tolist() == rings["ring"].iloc[:20].tolist()
    assert np.isnan(joined.meta["ring"].iloc[20])
    with pytest.raises(gw.DataError, match="no column 'objid' to join on"):
        reps.join(rings, on="objid")
    with pytest.raises(gw.DataError, match="duplicate keys"):
        reps.join(pd.concat([rings, rings.iloc[:2]]).rename(columns={"id_str": "iauname"}))
    with pytest.raises(gw.DataError, match="no catalogue row matches"):
        reps.join(pd.DataFrame({"iauname": ["nobody"], "z": [0.1]}))


def test_join_suffixes_existing_columns() -> None:
    reps = gw.Representations.from_dataframe(
        pd.DataFrame({"iauname": ["a", "b"], "z": [0.1, 0.2], "feat_0": [1.0, 2.0]})
    )
    joined = reps.join(pd.DataFrame({"iauname": ["b", "a"], "z": [9.0, 8.0], "mag": [17, 18]}))
    assert joined.meta[["z", "z_cat", "mag"]].to_numpy().tolist() == [[0.1, 8, 18], [0.2, 9, 17]]


def test_fingerprint_tracks_features_and_ids() -> None:
    features = np.random.default_rng(1).normal(size=(500, 8))
    base = gw.Representations.from_array(features)
    assert base.fingerprint == gw.Representations.from_array(features.copy()).fingerprint
    changed = features.copy()
    changed[123, 4] += 1.0  # a row the strided sample skips still changes the column sums
    assert gw.Representations.from_array(changed).fingerprint != base.fingerprint
    renamed = gw.Representations.from_array(features, ids=[f"g{i}" for i in range(500)])
    assert renamed.fingerprint != base.fingerprint


def test_radec_prefers_columns() -> None:
    frame = pd.DataFrame(
        {"iauname": ["J000411.19+020924.0"], "ra": [1.0466], "dec": [2.1567], "feat_0": [1.0]}
    )
    np.testing.assert_array_equal(gw.load_representations(frame).radec, [[1.0466, 2.1567]])


def test_radec_parses_the_ids_that_are_iau_names() -> None:
    reps = gw.Representations.from_array(np.eye(2), ids=["J000411.19+020924.0", "NGC 1300"])
    np.testing.assert_allclose(reps.radec[0], gw.parse_iauname("J000411.19+020924.0"))
    assert np.isnan(reps.radec[1]).all()
    assert gw.Representations.from_array(np.eye(2), ids=["a", "b"]).radec is None
