"""The streaming reduction on a real Dask LocalCluster: same PCA and rows as in process, faults."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from parquet_parts import N, raw_matrix, write_parts

import galwidget as gw
from galwidget.data import _dask as dask_reduce

pytestmark = pytest.mark.slow
dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return raw_matrix()


@pytest.fixture(scope="module")
def parts(tmp_path_factory, x) -> Path:
    folder = tmp_path_factory.mktemp("dask-parts")
    write_parts(folder, x, row_group_size=200)
    return folder


@pytest.fixture(scope="module")
def local(parts) -> gw.Representations:
    return gw.load_representations(parts, reduce_to=5, columns=["mag"])


def assert_same_reduction(ours: gw.Representations, local: gw.Representations) -> None:
    assert ours.ids.equals(local.ids)
    np.testing.assert_allclose(
        ours.reduction.explained_variance_ratio, local.reduction.explained_variance_ratio, atol=1e-4
    )
    signs = np.sign((ours.features * local.features).sum(axis=0))
    scale = np.abs(local.features).max()
    np.testing.assert_allclose(ours.features * signs, local.features, atol=1e-4 * scale)


def test_files_on_the_cluster_match_the_in_process_passes(client, parts, local, x, monkeypatch):
    monkeypatch.setattr(dask_reduce, "PART_ROWS", 500)  # several tasks per file
    ours = gw.load_representations(parts, reduce_to=5, columns=["mag"], engine="dask")
    assert_same_reduction(ours, local)
    np.testing.assert_array_equal(ours.meta["mag"].to_numpy(), local.meta["mag"].to_numpy())
    np.testing.assert_array_equal(
        ours.raw_rows([2999, 4, 1500]), x[[2999, 4, 1500]].astype(np.float32)
    )


def test_a_dask_dataframe_source(client, parts, local):
    frame = dd.read_parquet(str(parts))
    assert frame.npartitions >= 3
    ours = gw.load_representations(frame, reduce_to=5, columns=["mag"])
    assert_same_reduction(ours, local)
    assert list(ours.meta.columns) == ["iauname", "mag"]
    with pytest.raises(gw.DataError, match="not available"):
        ours.raw_rows([0])


def _kill_worker_once(frame, marker: str):
    """Kill this worker process the first time a non-empty partition 1 runs."""
    if len(frame) and frame["iauname"].iloc[0] == "J0000900" and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return frame


def test_a_worker_killed_mid_pass_is_recovered(client, parts, local, tmp_path):
    marker = tmp_path / "killed"
    frame = dd.read_parquet(str(parts))
    frame = frame.map_partitions(_kill_worker_once, str(marker), meta=frame._meta)
    ours = gw.load_representations(frame, reduce_to=5, columns=["mag"], progress=False)
    assert marker.exists()  # a worker really died during the first pass
    assert len(ours) == N
    assert_same_reduction(ours, local)


def _kill_worker_always(frame):
    if len(frame) and frame["iauname"].iloc[0] == "J0000900":
        os._exit(1)
    return frame


def test_a_task_that_keeps_killing_workers_is_a_clear_error(client, parts):
    frame = dd.read_parquet(str(parts))
    frame = frame.map_partitions(_kill_worker_always, meta=frame._meta)
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0  # give up at once
    try:
        with pytest.raises(gw.DataError, match=r"moments \(dask\) failed on the Dask cluster: Kil"):
            gw.load_representations(frame, reduce_to=5, progress=False)
    finally:
        scheduler.allowed_failures = allowed


def test_a_part_rewritten_between_the_dask_passes_is_named(client, tmp_path, x, monkeypatch):
    paths = write_parts(tmp_path, x, row_group_size=200)
    real = dask_reduce.check_pass_one

    def then_rewrite(*args, **kwargs):
        real(*args, **kwargs)
        table = pq.read_table(paths[1])
        values = table.column("feat_3_pred").to_numpy().copy()
        values[7] = np.nan
        pq.write_table(table.set_column(3 + 3, "feat_3_pred", pa.array(values)), paths[1])

    monkeypatch.setattr(dask_reduce, "check_pass_one", then_rewrite)
    with pytest.raises(gw.DataError, match=r"part-1\.parquet changed since the first pass read"):
        gw.load_representations(tmp_path, reduce_to=5, engine="dask", progress=False)


def test_a_dask_dataframe_with_an_all_null_meta_partition(client, parts, local):
    frame = dd.read_parquet(
        str(parts), columns=["iauname", "png_loc"] + [f"feat_{j}_pred" for j in range(24)]
    )

    def blank(partition):
        if len(partition) and partition["iauname"].iloc[0] == "J0000900":
            partition = partition.assign(png_loc=None)
        return partition

    frame = frame.map_partitions(blank, meta=frame._meta)
    ours = gw.load_representations(frame, reduce_to=5, columns=["png_loc"], progress=False)
    assert ours.meta["png_loc"].iloc[0] == "J0000000"
    assert ours.meta["png_loc"].iloc[900:2100].isna().all()
    assert_same_reduction(ours, local)


def test_a_dask_dataframe_with_ids_of_two_kinds_is_named(client, parts):
    frame = dd.read_parquet(str(parts))

    def int_ids(partition):
        if len(partition) and partition["iauname"].iloc[0] == "J0000900":
            partition = partition.assign(iauname=range(len(partition)))
        return partition

    frame = frame.map_partitions(int_ids, meta=frame._meta)
    with pytest.raises(
        gw.DataError, match=r"partition \d+: id column 'iauname' is int64 where partition 0"
    ):
        gw.load_representations(frame, reduce_to=5, progress=False)
