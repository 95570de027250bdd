"""Streaming reduction of parquet part files: PCA against scikit-learn, order, raw rows, bad parts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from parquet_parts import D, N, raw_matrix, write_parts
from sklearn.decomposition import PCA as SklearnPCA

import galwidget as gw
from galwidget.data import _streaming as streaming
from galwidget.pca import fit_pca


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return raw_matrix()


@pytest.fixture(scope="module")
def parts(tmp_path_factory, x) -> Path:
    folder = tmp_path_factory.mktemp("parts")
    write_parts(folder, x)
    return folder


@pytest.mark.parametrize("schema", ["columns", "fixed", "list"])
def test_reduction_is_the_pca_of_the_whole_table(tmp_path, x, schema) -> None:
    write_parts(tmp_path, x, schema)
    reps = gw.load_representations(tmp_path, reduce_to=6, batch_rows=128)
    reference = SklearnPCA(6, svd_solver="full").fit(x.astype(np.float32).astype(np.float64))
    assert reps.features.shape == (N, 6) and reps.features.dtype == np.float32
    assert reps.features.flags.c_contiguous
    np.testing.assert_allclose(
        reps.reduction.explained_variance_ratio, reference.explained_variance_ratio_, atol=1e-6
    )
    expected = reference.transform(x.astype(np.float32).astype(np.float64))
    signs = np.sign((reps.features * expected).sum(axis=0))
    np.testing.assert_allclose(reps.features * signs, expected, atol=2e-3 * np.abs(expected).max())
    # The one PCA implementation: the in-memory fit on the same rows gives the same axes.
    in_memory = fit_pca(x.astype(np.float32), 6)
    np.testing.assert_allclose(reps.reduction.components, in_memory.components, atol=1e-6)
    assert reps.ids.tolist() == [f"J{i:07d}" for i in range(N)]


def test_every_kind_of_source_gives_the_same_rows(parts) -> None:
    files = sorted(parts.glob("*.parquet"))
    sources = [parts, str(parts / "part-*.parquet"), files, pads.dataset(files, format="parquet")]
    results = [gw.load_representations(s, reduce_to=4) for s in sources]
    for reps in results[1:]:
        assert reps.ids.equals(results[0].ids)
        np.testing.assert_array_equal(reps.features, results[0].features)


@pytest.mark.parametrize("whole_row_group_bytes", [256 << 20, 0])  # unbuffered; buffered
def test_a_part_without_row_groups_and_either_read_mode_give_the_same_rows(
    tmp_path, parts, monkeypatch, whole_row_group_bytes: int
) -> None:
    expected = gw.load_representations(parts, reduce_to=4)
    monkeypatch.setattr(streaming, "WHOLE_ROW_GROUP_BYTES", whole_row_group_bytes)
    folder = tmp_path / "parts"
    shutil.copytree(parts, folder)
    # A writer closed before any write leaves a file with the schema and no row group.
    with pq.ParquetWriter(folder / "part-1a.parquet", pq.read_schema(parts / "part-0.parquet")):
        pass
    reps = gw.load_representations(folder, reduce_to=4)
    assert reps.ids.equals(expected.ids)
    np.testing.assert_array_equal(reps.features, expected.features)


def test_only_the_asked_meta_columns_are_kept(parts) -> None:
    plain = gw.load_representations(parts, reduce_to=3)
    assert list(plain.meta.columns) == ["iauname"]
    with_mag = gw.load_representations(parts, reduce_to=3, columns=["mag"])
    assert list(with_mag.meta.columns) == ["iauname", "mag"]
    np.testing.assert_array_equal(with_mag.meta["mag"].to_numpy(), np.arange(N) * 0.5)
    with pytest.raises(gw.DataError, match="no columns 'nope'"):
        gw.load_representations(parts, reduce_to=3, columns=["nope"])
    with pytest.raises(gw.DataError, match="feature columns"):
        gw.load_representations(parts, reduce_to=3, columns=["feat_1_pred"])


def test_raw_rows_are_read_back_from_the_right_row_groups(parts, x) -> None:
    reps = gw.load_representations(parts, reduce_to=4)
    rows = [2999, 3, 17, 899, 900, 1234, 2100, 0]
    np.testing.assert_array_equal(reps.raw_rows(rows), x[rows].astype(np.float32))
    assert reps.raw_rows([]).shape == (0, D)
    with pytest.raises(gw.DataError, match="out of range"):
        reps.raw_rows([3000])
    # join keeps the reduction and the raw rows
    with pytest.warns(UserWarning, match="2999 of 3000"):
        joined = reps.join(pd.DataFrame({"iauname": ["J0000017"], "z": [0.1]}))
    assert joined.reduction is reps.reduction
    np.testing.assert_array_equal(joined.raw_rows([17]), x[[17]].astype(np.float32))


def test_invalid_rows_raise_or_are_dropped_consistently(tmp_path, x) -> None:
    bad = x.copy()
    bad[[5, 1000]] = np.nan
    bad[2500, 3] = 1e18  # finite, but its square overflows float32: never fed to the PCA
    write_parts(tmp_path, bad)
    with pytest.raises(gw.DataError, match=r"part-1\.parquet rows 100.*on_invalid='drop'"):
        gw.load_representations(tmp_path, reduce_to=4)
    with pytest.warns(UserWarning, match="3 rows"):
        reps = gw.load_representations(tmp_path, reduce_to=4, on_invalid="drop")
    keep = np.setdiff1d(np.arange(N), [5, 1000, 2500])
    assert reps.ids.tolist() == [f"J{i:07d}" for i in keep]
    expected = fit_pca(x[keep].astype(np.float32), 4)
    np.testing.assert_allclose(reps.reduction.components, expected.components, atol=1e-6)
    np.testing.assert_array_equal(reps.raw_rows([5, 999]), x[keep[[5, 999]]].astype(np.float32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("width", "23 features instead of 24"),
        ("id", "id column 'id_str' instead of 'iauname'"),
        ("type", "feature column 'feat_0_pred' is float instead of double"),
        ("schema", "one list column instead of scalar feature columns"),
    ],
)
def test_a_differing_part_file_is_named(tmp_path, x, change, message) -> None:
    write_parts(tmp_path, x)
    odd = tmp_path / "part-2.parquet"
    table = pq.read_table(odd)
    if change == "width":
        table = table.drop_columns(["feat_23_pred"])
    elif change == "id":
        table = table.rename_columns(
            ["id_str" if c == "iauname" else c for c in table.column_names]
        )
    elif change == "type":
        table = table.set_column(3, "feat_0_pred", table.column("feat_0_pred").cast(pa.float32()))
    else:
        table = pa.table({"iauname": table.column("iauname"), "features": pa.array(list(x[2100:]))})
    pq.write_table(table, odd)
    with pytest.raises(
        gw.DataError, match=rf"part-2\.parquet differs from .*part-0\.parquet: {message}"
    ):
        gw.load_representations(tmp_path, reduce_to=3)


def test_bad_arguments_and_sources(tmp_path, parts) -> None:
    with pytest.raises(gw.DataError, match="reduce_to must be an integer between 1 and the 24"):
        gw.load_representations(parts, reduce_to=25)
    with pytest.raises(gw.DataError, match="unknown engine"):
        gw.load_representations(parts, reduce_to=3, engine="spark")
    with pytest.raises(gw.DataError, match="no parquet files"):
        gw.load_representations(tmp_path, reduce_to=3)
    with pytest.raises(gw.DataError, match="no such file or folder"):
        gw.load_representations(tmp_path / "missing", reduce_to=3)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(gw.DataError, match=r"broken\.parquet is not a readable parquet file"):
        gw.load_representations([tmp_path / "broken.parquet"], reduce_to=3)


def test_progress_bars_on_both_passes(parts, capsys) -> None:
    gw.load_representations(parts, reduce_to=3, progress=True)
    err = capsys.readouterr().err
    assert "pass 1/2: moments" in err and "pass 2/2: projection" in err


def test_fingerprint_never_reads_the_files_again(tmp_path, x) -> None:
    paths = write_parts(tmp_path, x)
    reps = gw.load_representations(tmp_path, reduce_to=4)
    other = gw.load_representations(paths[:2], reduce_to=4)
    for path in paths:
        path.unlink()
    assert len(reps.fingerprint) == 20 and reps.fingerprint != other.fingerprint
    in_memory = gw.Representations.from_array(reps.features, ids=reps.ids)
    assert in_memory.fingerprint != reps.fingerprint  # the raw means are part of it


def test_without_reduce_to_the_in_memory_path_is_unchanged(parts, x) -> None:
    reps = gw.load_representations(parts / "part-0.parquet")
    assert reps.reduction is None and reps.raw_source is None
    np.testing.assert_array_equal(reps.raw_rows([1, 2]), x[[1, 2]].astype(np.float32))
