"""Hypothesis fuzz of the streaming reduction against parts that change under it: a part file
rewritten (other values, NaN, 1e30, retyped columns, the same bytes), truncated, extended or
deleted after the scan, in the middle of pass 1, between the passes or after loading. Every load
either raises a DataError naming the changed file or returns exactly the unchanged result."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from parquet_parts import raw_matrix

import galwidget as gw
from galwidget.data import _load

ROWS = (120, 200, 80)
D = 6
BATCH_ROWS = 32  # the reference's: other batches sum the moments in another order


def write_parts(folder: Path, x: np.ndarray) -> list[Path]:
    paths = []
    start = 0
    for k, rows in enumerate(ROWS):
        stop = start + rows
        columns = {
            "iauname": [f"J{i:07d}" for i in range(start, stop)],
            "mag": np.arange(start, stop),
        }
        columns |= {f"feat_{j}_pred": x[start:stop, j] for j in range(D)}
        path = folder / f"part-{k}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=50)
        paths.append(path)
        start = stop
    return paths


MUTATIONS = (
    "untouched",
    "nan",
    "huge",
    "other_value",
    "same_bytes",
    "feature_float32",
    "mag_string",
    "ids_int",
    "truncate",
    "extend",
    "fewer_rows",
    "delete",
)


def mutate(path: Path, how: str, row: int, cut: float) -> None:
    """Change ``path`` as ``how`` says (``row``: a row it touches; ``cut``: how much it keeps)."""
    if how == "untouched":
        return
    if how == "delete":
        path.unlink()
        return
    data = path.read_bytes()
    if how == "same_bytes":
        path.write_bytes(data)
        return
    if how == "truncate":
        path.write_bytes(data[: int(len(data) * cut)])
        return
    table = pq.read_table(path)
    row %= table.num_rows
    if how in ("nan", "huge", "other_value"):
        values = table.column("feat_2_pred").to_numpy().copy()
        values[row] = {"nan": np.nan, "huge": 1e30, "other_value": values[row] + 0.5}[how]
        table = table.set_column(
            table.schema.get_field_index("feat_2_pred"), "feat_2_pred", pa.array(values)
        )
    elif how == "feature_float32":
        table = table.set_column(
            table.schema.get_field_index("feat_0_pred"),
            "feat_0_pred",
            table.column("feat_0_pred").cast(pa.float32()),
        )
    elif how == "mag_string":
        table = table.set_column(
            table.schema.get_field_index("mag"), "mag", table.column("mag").cast(pa.string())
        )
    elif how == "ids_int":
        table = table.set_column(0, "iauname", pa.array(np.arange(table.num_rows)))
    elif how == "extend":
        table = pa.concat_tables([table, table.slice(0, 1 + row % 5)])
    elif how == "fewer_rows":
        table = table.slice(0, row)
    pq.write_table(table, path, row_group_size=50)


class ChangeAt:
    """Hooks of the in-process load that change a file at one moment, then call the real step."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, moment: str, change) -> None:
        self.change, self.done = change, False
        if moment == "after_scan":
            self.wrap(monkeypatch, "first_rows_shift", before=True)
        elif moment == "mid_pass_one":
            self.wrap(monkeypatch, "moments_pass", before=False)
        elif moment == "between_passes":
            self.wrap(monkeypatch, "check_pass_one", before=False)

    def wrap(self, monkeypatch: pytest.MonkeyPatch, name: str, before: bool) -> None:
        real = getattr(_load, name)

        def step(*args, **kwargs):
            if before:
                self.once()
            result = real(*args, **kwargs)
            if not before:
                self.once()
            return result

        monkeypatch.setattr(_load, name, step)

    def once(self) -> None:
        if not self.done:
            self.done = True
            self.change()


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return raw_matrix(sum(ROWS), D, seed=3)


@pytest.fixture(scope="module")
def reference(x) -> gw.Representations:
    with tempfile.TemporaryDirectory() as folder:
        write_parts(Path(folder), x)
        reps = gw.load_representations(folder, reduce_to=3, columns=["mag"], batch_rows=BATCH_ROWS)
        return reps  # its features, ids and meta are in memory; its files are gone


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    part=st.integers(0, len(ROWS) - 1),
    how=st.sampled_from(MUTATIONS),
    moment=st.sampled_from(["after_scan", "mid_pass_one", "between_passes", "after_load"]),
    row=st.integers(0, 400),
    cut=st.floats(0.0, 0.999),
)
def test_a_part_changed_under_a_load_is_named_or_changes_nothing(
    x, reference, part, how, moment, row, cut
) -> None:
    with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as monkeypatch:
        folder = Path(name)
        paths = write_parts(folder, x)
        changed = paths[part]
        named = re.escape(str(changed)) + " changed since the first pass read it"
        change = lambda: mutate(changed, how, row, cut)  # noqa: E731
        if moment != "after_load":
            ChangeAt(monkeypatch, moment, change)
        try:
            reps = gw.load_representations(
                folder, reduce_to=3, columns=["mag"], batch_rows=BATCH_ROWS
            )
        except gw.DataError as error:
            event("load refused")
            assert moment != "after_load"
            assert re.search(named, str(error)), str(error)
            return
        assert reps.ids.equals(reference.ids)
        np.testing.assert_array_equal(reps.features, reference.features)
        np.testing.assert_array_equal(reps.meta["mag"].to_numpy(), reference.meta["mag"].to_numpy())
        if moment == "after_load":
            change()
        rows = np.arange(len(reps))
        try:
            raw = reps.raw_rows(rows)
        except gw.DataError as error:
            event("raw_rows refused")
            assert re.search(named, str(error)), str(error)
            return
        event("unchanged result")
        np.testing.assert_array_equal(raw, x.astype(np.float32))
