"""Loading, validating and describing representations (galwidget.data)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize("table_max", [2_000_000, 0])  # pandas' hash table; sorted hashes
def test_duplicate_ids_are_listed(tmp_path: Path, monkeypatch, table_max: int) -> None:
    monkeypatch.setattr("galwidget.data._ids.ID_TABLE_MAX", table_max)
    frame = pd.DataFrame({"iauname": ["a", "b", "a", "c", "c"], "feat_0": np.arange(5.0)})
    frame.to_parquet(tmp_path / "dup.parquet")
    with pytest.raises(
        gw.DataError, match=r"duplicate ids in 'iauname': 'a', 'c' \(rows 0, 2, 3, 4\)"
    ):
        gw.load_representations(tmp_path / "dup.parquet")
    unique = frame.assign(iauname=[f"G{i}" for i in range(5)])
    assert gw.load_representations(unique).ids.tolist() == [f"G{i}" for i in range(5)]


def test_ids_whose_hashes_collide_are_compared_exactly(monkeypatch) -> None:
    monkeypatch.setattr("galwidget.data._ids.ID_TABLE_MAX", 0)
    # Every id hashes alike: only an exact comparison tells repeats from collisions.
    monkeypatch.setattr(pd.util, "hash_array", lambda values, **_: np.zeros(len(values), np.uint64))
    ids = [f"G{i}" for i in range(50)]
    frame = pd.DataFrame({"id": ids, "feat_0": np.arange(50.0)})
    reps = gw.load_representations(frame)
    assert reps.ids.tolist() == ids
    # ... and id lookups search all ids of the shared hash
    assert reps.positions(["G49", "G0", "G17"]).tolist() == [49, 0, 17]
    assert reps.id_lookup.locate(["G50", "G7"]).tolist() == [-1, 7]
    with pytest.raises(gw.DataError, match=r"duplicate ids in 'id': 'G3' \(rows 3, 49\)"):
        gw.load_representations(frame.assign(id=[*ids[:49], "G3"]))


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
    (tmp_path / "reps.feather").write_bytes(b"")
    with pytest.raises(gw.DataError, match=r"expected a \.parquet, \.csv or zoobot \.hdf5"):
        gw.load_representations(tmp_path / "reps.feather")
    (tmp_path / "reps.h5").write_bytes(b"")  # zoobot's HDF5, but empty
    with pytest.raises(gw.DataError, match=r"reps\.h5 is empty \(0 bytes\), not an HDF5 file"):
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
    with pytest.raises(gw.DataError, match=f"invalid features at row {bad_rows[0]} ") as error:
        gw.load_representations(path, batch_rows=batch_rows)
    kind = "NaN" if np.isnan(value) else "infinite"
    assert f"{len(bad_rows)} {kind}" in str(error.value)
    assert "columns 'feat_2_pred'" in str(error.value)
    assert str(path) in str(error.value)
    if len(bad_rows) == n:
        with pytest.raises(gw.DataError, match="every row is invalid"):
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


# ----------------------------------------------------------------------------------------------
# Hardening: bad input is a DataError naming the file, column, row or value
# ----------------------------------------------------------------------------------------------


def test_a_list_column_ragged_only_in_a_later_batch_is_refused(tmp_path: Path) -> None:
    # Before: the one-value row was broadcast into the first row's width, silently.
    rows = [[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0]]
    path = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"id": list("abcd"), "feat": pa.array(rows)}), path)
    with pytest.raises(gw.DataError) as error:
        gw.load_representations(path, batch_rows=2)
    assert str(path) in str(error.value)
    assert "2 values in the first row but 1 in row 2" in str(error.value)
    with pytest.raises(gw.DataError, match="but 1 in row 2"):
        gw.load_representations(pd.DataFrame({"id": list("abcd"), "feat": rows}))


@pytest.mark.parametrize("null_row", [0, 3])
def test_missing_list_rows_are_refused_naming_the_row(tmp_path: Path, null_row: int) -> None:
    rows: list[list[float] | None] = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [6.0, 7.0]]
    rows[null_row] = None
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"id": list("abcd"), "feat": pa.array(rows)}), path)
    with pytest.raises(
        gw.DataError, match=f"{path}: list column 'feat' has missing .*values at rows {null_row}"
    ):
        gw.load_representations(path, batch_rows=2)
    with pytest.raises(
        gw.DataError, match=f"list column 'feat' has missing values at rows {null_row}"
    ):
        gw.load_representations(pd.DataFrame({"id": list("abcd"), "feat": rows}))


def test_fixed_size_list_batches_load_exactly(tmp_path: Path) -> None:
    values = np.arange(30, dtype=np.float64).reshape(10, 3)
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), 3)
    path = tmp_path / "fixed.parquet"
    pq.write_table(pa.table({"id": [f"g{i}" for i in range(10)], "feat": column}), path)
    reps = gw.load_representations(path, batch_rows=3)
    np.testing.assert_array_equal(reps.features, values.astype(np.float32))


@pytest.mark.parametrize("value", [1e18, -3e16, 1e300])
def test_values_too_large_for_float32_arithmetic_are_refused(tmp_path: Path, value: float) -> None:
    features = np.random.default_rng(0).normal(size=(6, 3))
    features[4, 1] = value
    frame = pd.DataFrame(features, columns=["feat_0", "feat_1", "feat_2"]).assign(
        id=[f"g{i}" for i in range(6)]
    )
    with pytest.raises(gw.DataError) as error:
        gw.load_representations(frame)
    message = str(error.value)
    assert "row 4 (g4)" in message and "columns 'feat_1'" in message
    assert ("beyond ±1e+15" if abs(value) < 3.4e38 else "beyond float32") in message
    path = tmp_path / "large.parquet"
    frame.to_parquet(path)
    with pytest.raises(gw.DataError, match=f"{path}: invalid features at row 4 "):
        gw.load_representations(path)
    with pytest.raises(gw.DataError, match="column 1"):
        gw.Representations.from_array(features)
    with pytest.warns(UserWarning, match="dropped"):
        kept = gw.load_representations(frame, on_invalid="drop")
    assert list(kept.ids) == ["g0", "g1", "g2", "g3", "g5"]
    features[4, 1] = 1e14  # large but usable
    assert len(gw.Representations.from_array(features)) == 6


def test_nullable_integer_feature_columns_with_nulls(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "feat_0": pd.array([1, None, 3], dtype="Int64"),
            "feat_1": [0.5, 1.5, 2.5],
        }
    )
    with pytest.raises(gw.DataError, match=r"row 1 \(b\): 1 NaN; columns 'feat_0'"):
        gw.load_representations(frame)
    path = tmp_path / "ints.parquet"
    frame.to_parquet(path)
    with pytest.raises(gw.DataError, match=f"{path}: .*row 1 .*columns 'feat_0'"):
        gw.load_representations(path)
    with pytest.warns(UserWarning, match="dropped"):
        reps = gw.load_representations(path, on_invalid="drop")
    np.testing.assert_array_equal(reps.features, [[1, 0.5], [3, 2.5]])


def test_a_feature_list_naming_a_missing_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "feat_0": [1.0, 2.0], "x": [3.0, 4.0]})
    with pytest.raises(gw.DataError, match="not found: 'nope'; the columns are: 'feat_0', 'x'"):
        gw.load_representations(frame, features=["feat_0", "nope"])
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(gw.DataError, match=f"{path}: feature columns not found: 'nope'"):
        gw.load_representations(path, features=["nope"])


def test_duplicate_column_names_are_refused() -> None:
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["feat_0", "feat_0", "id"])
    with pytest.raises(gw.DataError, match="more than once: 'feat_0'"):
        gw.load_representations(frame.assign(id=["a"]))


def damaged(data: bytes) -> bytes:
    """Parquet bytes with intact magic numbers and a scrambled middle (pages and footer)."""
    middle = bytes(b ^ 0x5A for b in data[8:-8])
    return data[:8] + middle + data[-8:]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.parquet", b"", r"is empty \(0 bytes\)"),
        ("empty.csv", b"", r"is empty \(0 bytes\)"),
        ("portal.parquet", b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML page"),
        ("portal.csv", b"\n  <html><head></head><body>Sign in</body></html>", "HTML page"),
        ("zipped.parquet", "gzip-parquet", "gzip-compressed"),
        ("zipped.csv", "gzip-csv", "gzip-compressed: name it …\\.csv\\.gz"),
        ("half.parquet", "half-parquet", "is truncated"),
        ("damaged.parquet", "damaged-parquet", "cannot read .* as parquet"),
        ("text.parquet", b"id,feat_0\na,1\n", "not a parquet file"),
        ("table.csv", "parquet", "is a parquet file, not CSV"),
        ("bad.csv", b'id,feat_0\n"a,1\n', "cannot read .* as CSV"),
        ("latin.csv", b"id,feat_0\n\xe9\xff\xfe,1\n", "cannot read .* as CSV"),
    ],
)
def test_files_that_are_not_what_they_say_name_the_path(
    tmp_path: Path, name: str, content: bytes | str, expected: str
) -> None:
    parquet = tmp_path / "source.parquet"
    pq.write_table(zenodo_table(4, 2), parquet)
    made = {
        "gzip-parquet": lambda: gzip.compress(parquet.read_bytes()),
        "gzip-csv": lambda: gzip.compress(b"id,feat_0\na,1\n"),
        "half-parquet": lambda: parquet.read_bytes()[: parquet.stat().st_size // 2],
        "parquet": parquet.read_bytes,
        "damaged-parquet": lambda: damaged(parquet.read_bytes()),
    }
    path = tmp_path / name
    path.write_bytes(made[content]() if isinstance(content, str) else content)
    with pytest.raises(gw.DataError, match=expected) as error:
        gw.load_representations(path)
    assert str(path) in str(error.value)


def test_a_folder_gives_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "parts.parquet"
    folder.mkdir()
    with pytest.raises(gw.DataError, match="is a folder"):
        gw.data.check_file_kind(folder, "parquet")


def test_a_string_ra_column_is_named(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "feat_0": [1.0, 2.0, 3.0], "dec": [1.0, 2.0, None]}
    )
    words = gw.load_representations(frame.assign(ra=["12:30:00", "10.5", None]))
    with pytest.raises(gw.DataError, match=r"column 'ra' must hold numbers .*'12:30:00'.* rows 0"):
        words.radec  # noqa: B018
    numbers = gw.load_representations(frame.assign(ra=["12.5", "10.5", None]))
    np.testing.assert_array_equal(numbers.radec, [[12.5, 1.0], [10.5, 2.0], [np.nan, np.nan]])


def test_lone_surrogates_in_ids_are_refused_naming_the_row() -> None:
    ids = pd.Series(["ok", "bad\udc80", "fine"], dtype=object)
    frame = pd.DataFrame({"id": ids, "feat_0": [1.0, 2.0, 3.0]})
    with pytest.raises(gw.DataError, match=r"not valid Unicode .* at rows 1: 'bad\\udc80'"):
        gw.load_representations(frame)
    with pytest.raises(gw.DataError, match="rows 1"):
        gw.Representations.from_array(np.ones((3, 2)), ids=list(ids))


INTEGER_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


@pytest.mark.parametrize("dtype", INTEGER_TYPES)
def test_integer_ids_of_every_width_keep_every_digit(tmp_path: Path, dtype: str) -> None:
    info = np.iinfo(dtype)
    values = np.array([info.max, info.min, info.max - 1], dtype=dtype)
    expected = [str(int(v)) for v in values]
    frame = pd.DataFrame({"id": values, "feat_0": [1.0, 2.0, 3.0]})
    assert list(gw.load_representations(frame).ids) == expected
    path = tmp_path / f"{dtype}.parquet"
    pq.write_table(pa.table({"id": pa.array(values), "feat_0": [1.0, 2.0, 3.0]}), path)
    assert list(gw.load_representations(path).ids) == expected
    csv = tmp_path / f"{dtype}.csv"
    frame.to_csv(csv, index=False)
    assert list(gw.load_representations(csv).ids) == expected
    assert list(gw.Representations.from_array(np.ones((3, 1)), ids=values).ids) == expected


def test_string_ids_are_kept_as_written_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("objid,feat_0\n007,1\nNA,2\n1e5,3\n 42,4\nnull,5\n")
    reps = gw.load_representations(path)
    assert list(reps.ids) == ["007", "NA", "1e5", " 42", "null"]
    path.write_text("objid,feat_0\n007,1\n,2\n")
    with pytest.raises(gw.DataError, match="missing values at rows 1"):
        gw.load_representations(path)


def test_mixed_id_objects() -> None:
    ok = gw.Representations.from_array(np.ones((3, 1)), ids=[1, "b", np.int64(2**62)])
    assert list(ok.ids) == ["1", "b", str(2**62)]
    with pytest.raises(gw.DataError, match="holds a float at row 1"):
        gw.Representations.from_array(np.ones((3, 1)), ids=["a", 1.0, "c"])
    with pytest.raises(gw.DataError, match="boolean"):
        gw.Representations.from_array(np.ones((2, 1)), ids=[True, False])


def test_parse_iauname_never_goes_beyond_the_poles() -> None:
    assert gw.parse_iauname("J000000.00+900000.0") == (0.0, 90.0)
    assert gw.parse_iauname("J000000.00-895959.9")[1] > -90
    for name in ("J000000.00+900030.0", "J000000.00-900000.1", "J120000.00+905900.0"):
        with pytest.raises(gw.DataError, match="malformed IAU names"):
            gw.parse_iauname(name)
    reps = gw.Representations.from_array(
        np.ones((2, 1)), ids=["J000000.00+900030.0", "J000000.00+100000.0"]
    )
    with pytest.raises(gw.DataError, match=r"row 0: 'J000000.00\+900030.0'"):
        reps.radec  # noqa: B018


def legacy_fingerprint(reps: gw.Representations) -> str:
    """The fingerprint as galwidget 0.1 computed it (ids joined by \\x1f)."""
    digest = hashlib.blake2b(digest_size=10)
    digest.update(repr(reps.features.shape).encode())
    digest.update("\x1f".join(reps.ids).encode())
    step = max(1, len(reps.features) // 4096)
    digest.update(np.ascontiguousarray(reps.features[::step]).tobytes())
    digest.update(reps.features[-1].tobytes())
    digest.update(np.add.reduce(reps.features, axis=0, dtype=np.float64).tobytes())
    return digest.hexdigest()


def test_fingerprints_cannot_collide_by_moving_a_separator() -> None:
    features = np.arange(4.0).reshape(2, 2)
    one = gw.Representations.from_array(features, ids=["a\x1fb", "c"])
    other = gw.Representations.from_array(features, ids=["a", "b\x1fc"])
    assert one.legacy_fingerprint == other.legacy_fingerprint  # the old collision
    assert one.fingerprint != other.fingerprint
    for reps in (one, other):
        assert reps.legacy_fingerprint == legacy_fingerprint(reps)
        assert reps.fingerprint != reps.legacy_fingerprint


def python_strings_fingerprint(reps: gw.Representations) -> str:
    """The fingerprint as galwidget computed it from Python strings (label logs bear its name)."""
    encoded = [i.encode() for i in reps.ids.tolist()]
    lengths = np.fromiter(map(len, encoded), dtype="<u8", count=len(encoded))
    return reps._fingerprint(b"ids-v2" + lengths.tobytes() + b"".join(encoded))


def test_fingerprints_from_arrow_buffers_equal_those_from_python_strings() -> None:
    ids = ["J000411.19+020924.0", "é", "", "日本語", "x" * 300, "a\x1fb"]
    reps = gw.Representations.from_array(np.arange(12.0).reshape(6, 2), ids=ids)
    # A slice of the arrow-backed ids starts at an offset into their buffers.
    sliced = gw.Representations(
        ids=reps.ids[2:], features=reps.features[2:], meta=pd.DataFrame(index=range(4))
    )
    for each in (reps, sliced):
        assert each.fingerprint == python_strings_fingerprint(each)
        assert each.legacy_fingerprint == legacy_fingerprint(each)


def test_csv_rows_with_an_extra_field_are_refused_not_shifted(tmp_path: Path) -> None:
    # pandas would take the ids for an index and read every column one place to the left.
    path = tmp_path / "extra.csv"
    path.write_text("id,feat_0\na,1,2\nb,3\n")
    with pytest.raises(gw.DataError, match="more fields than the header") as error:
        gw.load_representations(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: gw.load_representations(pd.Series([1.0, 2.0])), "got Series"),
        (lambda: gw.load_representations([[1.0, 2.0]]), "got list"),
        (lambda: gw.load_representations(None), "got NoneType"),
        (
            lambda: gw.load_representations(pd.DataFrame({"id": ["a"], "feat_0": [1 + 2j]})),
            r"not: 'feat_0 \(complex128\)'",
        ),
        (
            lambda: gw.load_representations(pd.DataFrame({"id": ["a"], "x": [1.0]}), features=3),
            "features must be 'auto', a column prefix",
        ),
        (lambda: gw.load_representations("x.parquet", batch_rows=0), "batch_rows must be"),
        (lambda: gw.Representations.from_array(np.ones((2, 1))).positions(None), "got NoneType"),
        (lambda: gw.parse_iauname(None), "expected an IAU name"),
        (lambda: gw.format_iauname("a", "b"), "must be numbers in degrees"),
    ],
)
def test_wrong_argument_types_are_data_errors(call: Any, expected: str) -> None:
    with pytest.raises(gw.DataError, match=expected):
        call()


def test_data_that_mentions_html_is_still_data(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text('id,feat_0,link\na,1,"<html><a href=x>a</a></html>"\n')
    assert gw.load_representations(path).meta["link"].iloc[0].startswith("<html>")


def test_id_lookup_finds_every_id_and_only_those() -> None:
    ids = ["", "0", "007", "7", "Gal ✓", "J100024.00+021200.0", *[f"G{i}" for i in range(600)]]
    reps = gw.Representations.from_array(np.zeros((len(ids), 2)), ids=ids)
    wanted = [*ids[::-1], "nope", "G600", "g1"]
    expected = [len(ids) - 1 - i for i in range(len(ids))] + [-1, -1, -1]
    # many ids (searched in sorted order) and one at a time agree
    assert reps.id_lookup.locate(wanted).tolist() == expected
    assert [int(reps.id_lookup.locate(w)[0]) for w in wanted] == expected
    assert reps.id_lookup.locate(pd.Index(["007", "nope"], dtype="str")).tolist() == [2, -1]
    assert reps.id_lookup.locate([7, 0]).tolist() == [3, 1]  # compared as str
    assert reps.id_lookup.locate([]).tolist() == []
    assert reps.id_lookup is reps.id_lookup  # built once
    assert reps.positions(iter(["G5", "007"])).tolist() == [11, 2]
    with pytest.raises(gw.DataError, match=r"unknown id ids: 'nope', 'G600'"):
        reps.positions(["G1", "nope", "G600"])
    with pytest.raises(gw.DataError, match="expected an id or a list of ids, got int"):
        reps.positions(5)  # type: ignore[arg-type]
