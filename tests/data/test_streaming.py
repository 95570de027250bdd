"""Streaming reduction of parquet part files: PCA against scikit-learn, order, raw rows, bad parts."""

from __future__ import annotations

import os
import shutil
import time
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
from galwidget.data import _load
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


# ----------------------------------------------------------------------------------------------
# Files that change under a load (between the passes, or after loading)
# ----------------------------------------------------------------------------------------------


def rewrite_between_passes(monkeypatch, change) -> None:
    """Run ``change()`` after pass 1 and before pass 2 of the next in-process load (the hook is
    the real check between the passes, called as it is)."""
    real = _load.check_pass_one

    def then_change(*args, **kwargs):
        real(*args, **kwargs)
        change()

    monkeypatch.setattr(_load, "check_pass_one", then_change)


def same_rows_other_values(path: Path, value: float) -> None:
    """Rewrite ``path`` with the same rows and schema, one feature value of row 10 replaced."""
    table = pq.read_table(path)
    column = table.column("feat_3_pred").to_numpy().copy()
    column[10] = value
    index = table.schema.get_field_index("feat_3_pred")
    pq.write_table(
        table.set_column(index, "feat_3_pred", pa.array(column)), path, row_group_size=250
    )


@pytest.mark.parametrize("value", [np.nan, 1e30, 0.125])
@pytest.mark.parametrize("on_invalid", ["raise", "drop"])
def test_a_part_rewritten_between_the_passes_with_the_same_rows_is_refused(
    tmp_path, x, monkeypatch, value, on_invalid
) -> None:
    paths = write_parts(tmp_path, x)
    rewrite_between_passes(monkeypatch, lambda: same_rows_other_values(paths[1], value))
    with pytest.raises(gw.DataError, match=r"part-1\.parquet changed since the first pass read it"):
        gw.load_representations(tmp_path, reduce_to=4, on_invalid=on_invalid)


@pytest.mark.parametrize("how", ["truncated", "deleted", "replaced", "appended", "touched"])
def test_a_part_changed_between_the_passes_is_named_with_what_changed(
    tmp_path, x, monkeypatch, how
) -> None:
    paths = write_parts(tmp_path, x)
    path = paths[2]

    def change() -> None:
        if how == "truncated":
            path.write_bytes(path.read_bytes()[:-100])
        elif how == "deleted":
            path.unlink()
        elif how == "replaced":  # same bytes, another file moved over it
            copy = tmp_path / "copy"
            shutil.copyfile(path, copy)
            copy.replace(path)
        elif how == "appended":
            with open(path, "ab") as file:
                file.write(b"x")
        else:
            os.utime(path, ns=(time.time_ns(), time.time_ns()))

    rewrite_between_passes(monkeypatch, change)
    expected = {
        "truncated": "its size went from",
        "deleted": "no longer exists",
        "replaced": "replaced by another file",
        "appended": "its size went from",
        "touched": r"it was modified \(its mtime changed\)",
    }[how]
    with pytest.raises(gw.DataError, match=rf"part-2\.parquet changed .*{expected}.*Load again"):
        gw.load_representations(tmp_path, reduce_to=4)


@pytest.mark.parametrize("how", ["truncated", "deleted", "rewritten"])
def test_raw_rows_of_a_part_changed_after_loading_is_a_clear_error(tmp_path, x, how) -> None:
    paths = write_parts(tmp_path, x)
    reps = gw.load_representations(tmp_path, reduce_to=4)
    if how == "truncated":
        paths[1].write_bytes(paths[1].read_bytes()[:5000])
    elif how == "deleted":
        paths[1].unlink()
    else:
        same_rows_other_values(paths[1], 0.5)
    with pytest.raises(gw.DataError, match=r"part-1\.parquet changed .*raw_rows reads the rows"):
        reps.raw_rows([1000])
    # rows of the untouched files are still read
    np.testing.assert_array_equal(reps.raw_rows([5, 2999]), x[[5, 2999]].astype(np.float32))


def test_a_snapshot_tells_an_equal_rewrite_from_a_different_one(tmp_path, x) -> None:
    path = write_parts(tmp_path, x)[0]
    snapshot = streaming.FileSnapshot.of(path)
    assert snapshot.change(str(path)) is None
    stat = path.stat()
    same_rows_other_values(path, 1e6)  # a new maximum: another footer
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime restored
    change = snapshot.change(str(path))
    assert change is not None and ("size" in change or "footer" in change)


# ----------------------------------------------------------------------------------------------
# Schema differences between parts, empty list parts, symlinked folders
# ----------------------------------------------------------------------------------------------


def rewrite_column(path: Path, name: str, values: pa.Array) -> None:
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index(name), name, values), path)


def test_meta_columns_that_widen_are_accepted(tmp_path, x) -> None:
    paths = write_parts(tmp_path, x)
    rewrite_column(paths[1], "png_loc", pa.nulls(1200, pa.null()))  # all-null in one part
    rewrite_column(paths[2], "mag", pa.array(np.arange(2100, 3000) // 2, pa.int32()))
    reps = gw.load_representations(tmp_path, reduce_to=3, columns=["mag", "png_loc"])
    assert reps.meta["png_loc"].iloc[:900].tolist() == [f"J{i:07d}" for i in range(900)]
    assert reps.meta["png_loc"].iloc[900:2100].isna().all()
    assert reps.meta["mag"].iloc[2100] == 1050 and reps.meta["mag"].iloc[0] == 0.0


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("iauname", pa.array(np.arange(900, 2100)), r"id column 'iauname' is int64 where .*part-0"),
        ("mag", pa.array([f"{v}" for v in range(1200)]), r"column 'mag' is string where .*part-0"),
        ("png_loc", pa.array(np.ones(1200)), r"column 'png_loc' is double where .*part-0"),
    ],
)
def test_kept_columns_of_another_kind_are_named_before_any_pass(
    tmp_path, x, monkeypatch, column, values, message
) -> None:
    paths = write_parts(tmp_path, x)
    rewrite_column(paths[1], column, values)
    passes = []
    monkeypatch.setattr(_load, "moments_pass", lambda *a, **k: passes.append(a))
    with pytest.raises(gw.DataError, match=rf"part-1\.parquet: {message}"):
        gw.load_representations(tmp_path, reduce_to=3, columns=["mag", "png_loc"])
    assert passes == []  # found from the footers, before a row was read


def test_a_list_part_without_rows_is_accepted_as_a_scalar_one_is(tmp_path, x) -> None:
    for schema in ["list", "columns"]:
        folder = tmp_path / schema
        paths = write_parts(folder, x, schema)
        table = pq.read_table(paths[1])
        pq.write_table(table.slice(0, 0), folder / "part-1b.parquet")
        pq.write_table(table.slice(0, 0), folder / "part-0a.parquet")  # even before the first
        reps = gw.load_representations(folder, reduce_to=3)
        assert len(reps) == N and reps.ids[0] == "J0000000"
        np.testing.assert_allclose(reps.raw_rows([N - 1]), x[[N - 1]], rtol=1e-6)


def test_symlinked_sub_folders_are_followed_and_loops_skipped_with_a_warning(tmp_path, x) -> None:
    data = tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    paths = write_parts(elsewhere, x)
    (data / "a").mkdir(parents=True)
    shutil.move(paths[0], data / "a" / "part-0.parquet")
    (data / "b").symlink_to(elsewhere, target_is_directory=True)  # parts 1 and 2, linked
    (data / "b" / "loop").symlink_to(data, target_is_directory=True)
    with pytest.warns(UserWarning, match=r"skipped .*loop: it is the folder .*data, already read"):
        reps = gw.load_representations(data, reduce_to=3)
    assert reps.ids.tolist() == [f"J{i:07d}" for i in range(N)]


def test_an_unreadable_sub_folder_is_an_error_not_fewer_rows(tmp_path, x) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every folder")
    paths = write_parts(tmp_path / "data" / "hidden", x)
    shutil.move(paths[0], tmp_path / "data" / "part-0.parquet")
    (tmp_path / "data" / "hidden").chmod(0)
    try:
        with pytest.raises(gw.DataError, match=r"cannot list .*hidden"):
            gw.load_representations(tmp_path / "data", reduce_to=3)
    finally:
        (tmp_path / "data" / "hidden").chmod(0o755)


def test_column_major_moments_and_projection_equal_the_row_major_ones() -> None:
    """The passes' column-major arithmetic (no transposition) is the in-memory PCA's, to float32
    rounding: same shift, same 4096-row float32 blocks into float64 sums."""
    from galwidget.pca import Moments, initial_shift

    rng = np.random.default_rng(5)
    rows = (rng.standard_normal((10_000, 24)) * rng.uniform(0.1, 30, 24) + 100).astype(np.float32)
    by_rows, by_columns = Moments(initial_shift(rows)), Moments(initial_shift(rows))
    by_rows.add(rows)
    columns = np.ascontiguousarray(rows.T)
    by_columns.add_columns(columns[:, :6000])
    by_columns.add_columns(columns[:, 6000:])
    assert by_columns.count == by_rows.count == 10_000
    np.testing.assert_allclose(by_columns.total, by_rows.total, rtol=1e-6)
    # float32 products summed in other orders: equal to ~1e-7 of the largest second moment.
    scale = np.abs(by_rows.gram).max()
    np.testing.assert_allclose(by_columns.gram, by_rows.gram, rtol=0, atol=1e-6 * scale)
    pca = by_rows.pca(5)
    np.testing.assert_allclose(by_columns.pca(5).components, pca.components, atol=1e-5)
    out = np.empty((10_000, 5), np.float32)
    pca.transform_columns(columns, out)
    np.testing.assert_allclose(out, pca.transform(rows), atol=1e-4 * np.abs(out).max())
    pca.transform_columns(rows.T, out)  # a transposed (Fortran-order) block as list columns give
    np.testing.assert_allclose(out, pca.transform(rows), atol=1e-4 * np.abs(out).max())


def test_a_pass_stopped_early_leaves_no_reader_thread(parts) -> None:
    import threading

    schema, found = streaming.scan(streaming.resolve_files(parts), None, None, None)
    batches = streaming.read_ahead(found[0].batches(schema.read_columns, 64), schema, "part 0")
    batch, columns = next(batches)
    assert columns.shape == (schema.width, batch.num_rows) == (D, 64)
    batches.close()
    assert not [t for t in threading.enumerate() if t.name == "galwidget-read-ahead"]
