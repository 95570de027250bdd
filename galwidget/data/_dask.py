"""The streaming reduction's two passes as Dask tasks (extra ``galwidget[dask]``; imported lazily).

``load_representations(source, reduce_to=c, engine="dask")`` (or a ``dask.dataframe.DataFrame``
source) runs the streaming passes' own functions (``data/_streaming.py``) as one task per
partition on the cluster of the active ``distributed.Client``; without one, a ``LocalCluster`` is
started for the call and closed after it.

- Partitions: parquet files are cut into runs of row groups of at most :data:`PART_ROWS` rows; a
  dask DataFrame's partitions are its own (its graph is computed on the workers, once per pass).
- Pass 1 returns each partition's :class:`~galwidget.pca.Moments` (``d × d`` float64), summed
  on the client in partition order, so the PCA is the in-process one to rounding. Pass 2 returns
  each partition's ``(rows, c)`` projection, ids and asked-for columns: nothing raw comes back.
- Faults: a worker lost mid-pass makes Dask recompute its tasks elsewhere; a task that keeps
  killing workers ends as a :class:`DataError`. Results are placed by partition index and every
  partition's row count is checked against pass 1, so a short or misordered result is impossible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from galwidget.data._representations import Representations
from galwidget.data._schema import FeatureSpec
from galwidget.data._streaming import (
    FeatureSchema,
    Part,
    PassOne,
    PassTwo,
    RawSource,
    assemble,
    check_pass_one,
    check_reduce_to,
    first_rows_shift,
    moments_pass,
    projection_pass,
    raw_source,
    resolve_files,
    scan,
    schema_of,
    unify_kept,
)
from galwidget.data._validate import OnInvalid
from galwidget.errors import DataError
from galwidget.pca import PCA
from galwidget.util import PROGRESS_THRESHOLD

__all__ = ["PART_ROWS", "reduce_with_dask"]

# Rows per task when cutting parquet files (at most; a row group is never split).
PART_ROWS = 500_000
# Worker failures blamed on one task before Dask gives up on it (distributed's default is 3).
FAULTS = ("KilledWorker", "FutureCancelledError", "CancelledError", "CommClosedError")


def reduce_with_dask(
    source: Any,
    *,
    reduce_to: int,
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    """Run both passes on Dask; see :func:`galwidget.data.load_reduced`."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            'engine="dask" needs dask and distributed: pip install galwidget[dask]'
        ) from None
    try:
        client, owned = distributed.default_client(), None
    except ValueError:
        cluster = distributed.LocalCluster(processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        owned = (client, cluster)
    reduce = _reduce_frame if _is_dask_frame(source) else _reduce_files
    try:
        return reduce(
            client,
            source,
            reduce_to,
            features=features,
            id_column=id_column,
            columns=columns,
            on_invalid=on_invalid,
            progress=progress,
            batch_rows=batch_rows,
        )
    finally:
        if owned is not None:
            owned[0].close()
            owned[1].close()


def _is_dask_frame(source: Any) -> bool:
    return type(source).__module__.startswith("dask") and hasattr(source, "to_delayed")


# ----------------------------------------------------------------------------------------------
# Parquet files
# ----------------------------------------------------------------------------------------------


def split_parts(parts: Sequence[Part], max_rows: int) -> list[Part]:
    """``parts`` cut into runs of whole row groups of at most ``max_rows`` rows (in order)."""
    pieces = []
    for part in parts:
        groups: list[int] = []
        sizes: list[int] = []
        start = part.start
        for group, size in zip(part.row_groups, part.group_rows, strict=True):
            if groups and sum(sizes) + size > max_rows:
                pieces.append(
                    replace(
                        part,
                        row_groups=tuple(groups),
                        rows=sum(sizes),
                        start=start,
                        group_rows=tuple(sizes),
                    )
                )
                start += sum(sizes)
                groups, sizes = [], []
            groups.append(group)
            sizes.append(size)
        if groups or not pieces or pieces[-1].path != part.path:
            pieces.append(
                replace(
                    part,
                    row_groups=tuple(groups),
                    rows=sum(sizes),
                    start=start,
                    group_rows=tuple(sizes),
                )
            )
    return pieces


def _file_shift(part: Part, schema: FeatureSchema, batch_rows: int) -> np.ndarray:
    return first_rows_shift(part.batches(schema.read_columns, batch_rows), schema, part.path)


def _file_moments(part: Part, schema: FeatureSchema, shift: np.ndarray, batch_rows: int) -> PassOne:
    return moments_pass(part.batches(schema.read_columns, batch_rows), schema, shift, part.path)


def _file_projection(
    part: Part, schema: FeatureSchema, pca: PCA, drop: np.ndarray, batch_rows: int
) -> PassTwo:
    columns = list(dict.fromkeys([*schema.read_columns, *schema.kept_columns]))
    return projection_pass(part.batches(columns, batch_rows), schema, pca, drop, part.path)


def _reduce_files(
    client: Any,
    source: Any,
    reduce_to: int,
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    schema, files = scan(resolve_files(source), features, id_column, columns)
    check_reduce_to(reduce_to, schema)
    batch_rows = schema.rows_per_batch(batch_rows)
    parts = split_parts(files, PART_ROWS)
    n = sum(part.rows for part in parts)
    show = progress if progress is not None else n * schema.width > PROGRESS_THRESHOLD
    shift = client.submit(_file_shift, parts[0], schema, batch_rows, pure=False).result()
    first = _gather(
        client,
        [client.submit(_file_moments, p, schema, shift, batch_rows, pure=False) for p in parts],
        "pass 1/2: moments",
        show,
    )
    check_pass_one(parts, first, on_invalid)
    pca = _fit(first, reduce_to)
    futures = [
        client.submit(_file_projection, p, schema, pca, r.invalid, batch_rows, pure=False)
        for p, r in zip(parts, first, strict=True)
    ]
    reduced, tables = _collect(client, futures, parts, first, reduce_to, show)
    source_rows: RawSource = raw_source(parts, schema, first)
    return assemble(reduced, tables, schema, pca, source_rows)


# ----------------------------------------------------------------------------------------------
# A dask DataFrame
# ----------------------------------------------------------------------------------------------


def _frame_table(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pa.Table:
    named_index = frame.index.name is not None and frame.index.name not in frame.columns
    if named_index:
        frame = frame.reset_index()
    if columns is not None:
        frame = frame[list(columns)]
    return pa.Table.from_pandas(frame, preserve_index=False)


def _frame_head(frame: pd.DataFrame, rows: int) -> pa.Table:
    return _frame_table(frame.iloc[:rows])


def _frame_batches(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    where: str,
    columns: Sequence[str],
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``columns`` of one partition, whose feature types must match the
    schema's (the list width is checked batch by batch)."""
    missing = [c for c in columns if c not in frame.columns and c != frame.index.name]
    if missing:
        raise DataError(f"{where} has no columns {missing}")
    table = _frame_table(frame, columns)
    found = tuple(str(table.schema.field(c).type) for c in schema.feature_columns)
    if schema.list_column is not None:
        found = (str(table.schema.field(schema.list_column).type.value_type),)
    if found != schema.types:
        j = next(
            j for j, pair in enumerate(zip(found, schema.types, strict=True)) if pair[0] != pair[1]
        )
        column = schema.read_columns[min(j, len(schema.read_columns) - 1)]
        raise DataError(
            f"{where} differs from partition 0: feature column {column!r} is {found[j]} "
            f"instead of {schema.types[j]}"
        )
    yield from table.to_batches(max_chunksize=batch_rows)


def _frame_moments(
    frame: pd.DataFrame, index: int, schema: FeatureSchema, shift: np.ndarray, batch_rows: int
) -> PassOne:
    where = f"partition {index}"
    batches = _frame_batches(frame, schema, where, schema.read_columns, batch_rows)
    result = moments_pass(batches, schema, shift, where)
    result.kept_types = tuple(_frame_table(frame, schema.kept_columns).schema.types)
    return result


def _frame_projection(
    frame: pd.DataFrame,
    index: int,
    schema: FeatureSchema,
    pca: PCA,
    drop: np.ndarray,
    batch_rows: int,
) -> PassTwo:
    where = f"partition {index}"
    columns = list(dict.fromkeys([*schema.read_columns, *schema.kept_columns]))
    batches = _frame_batches(frame, schema, where, columns, batch_rows)
    return projection_pass(batches, schema, pca, drop, where)


def _reduce_frame(
    client: Any,
    frame: Any,
    reduce_to: int,
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    import dask

    partitions = frame.to_delayed()
    head = client.compute(dask.delayed(_frame_head)(partitions[0], batch_rows)).result()

    def first_list_row(column: str) -> int:
        values = head.column(column)
        return len(values[0]) if len(values) else 0

    schema = schema_of(head.schema, "partition 0", features, id_column, columns, first_list_row)
    check_reduce_to(reduce_to, schema)
    shift = first_rows_shift(head.to_batches(max_chunksize=batch_rows), schema, "partition 0")
    show = progress if progress is not None else True
    tasks = [
        dask.delayed(_frame_moments)(p, i, schema, shift, batch_rows)
        for i, p in enumerate(partitions)
    ]
    first = _gather(client, client.compute(tasks), "pass 1/2: moments", show)
    parts: list[Part] = []
    start = 0
    for result in first:  # the partitions' row counts are known only now
        parts.append(Part(f"partition {len(parts)}", (), result.rows, start))
        start += result.rows
    check_pass_one(parts, first, on_invalid)
    # A partition's arrow types are known only from its values (an all-None column is null).
    schema = unify_kept(
        schema,
        [
            (part.path, replace(schema, kept_types=r.kept_types))
            for part, r in zip(parts, first, strict=True)
        ],
    )
    pca = _fit(first, reduce_to)
    tasks = [
        dask.delayed(_frame_projection)(p, i, schema, pca, r.invalid, batch_rows)
        for i, (p, r) in enumerate(zip(partitions, first, strict=True))
    ]
    reduced, tables = _collect(client, client.compute(tasks), parts, first, reduce_to, show)
    return assemble(reduced, tables, schema, pca, None)


# ----------------------------------------------------------------------------------------------
# Gathering results in partition order
# ----------------------------------------------------------------------------------------------


def _fit(first: Sequence[PassOne], reduce_to: int) -> PCA:
    moments = first[0].moments
    for result in first[1:]:
        moments = moments + result.moments
    return moments.pca(reduce_to)


def _each_result(
    client: Any, futures: Sequence[Any], description: str, show: bool
) -> Iterator[tuple[int, Any]]:
    """``(partition index, result)`` as tasks finish, each future released once read; a lost
    cluster or a task that kept killing workers becomes a :class:`DataError`."""
    import distributed

    position = {future.key: i for i, future in enumerate(futures)}
    try:
        with tqdm(total=len(futures), desc=description, unit="part", disable=not show) as bar:
            for future in distributed.as_completed(futures):
                result = future.result()
                yield position[future.key], result
                future.release()
                bar.update(1)
    except Exception as error:
        client.cancel(list(futures))
        if type(error).__name__ in FAULTS:
            raise DataError(
                f"{description} failed on the Dask cluster: {type(error).__name__}: {error} "
                "(workers died or were lost while running it; nothing was returned)"
            ) from error
        raise


def _gather(client: Any, futures: Sequence[Any], description: str, show: bool) -> list[Any]:
    results: list[Any] = [None] * len(futures)
    for i, result in _each_result(client, futures, description + " (dask)", show):
        results[i] = result
    return results


def _collect(
    client: Any,
    futures: Sequence[Any],
    parts: Sequence[Part],
    first: Sequence[PassOne],
    reduce_to: int,
    show: bool,
) -> tuple[np.ndarray, list[pa.Table | None]]:
    """Pass 2's projections placed by partition into one preallocated matrix, rows checked."""
    kept = [result.rows - len(result.invalid) for result in first]
    offsets = np.concatenate([[0], np.cumsum(kept)]).astype(np.int64)
    features = np.empty((int(offsets[-1]), reduce_to), dtype=np.float32)
    tables: list[pa.Table | None] = [None] * len(futures)
    for i, result in _each_result(client, futures, "pass 2/2: projection (dask)", show):
        if len(result.features) != kept[i]:
            raise DataError(
                f"{parts[i].path}: the second pass returned {len(result.features)} rows where "
                f"the first found {kept[i]}; the data changed while it was read"
            )
        features[offsets[i] : offsets[i + 1]] = result.features
        tables[i] = result.kept
    return features, tables
