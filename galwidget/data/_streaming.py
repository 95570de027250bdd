"""Streaming reduction: representations too large for memory, read in two passes and kept as PCA.

``load_representations(source, reduce_to=c)`` reads parquet part files (a folder, a glob, a list of
files or a :class:`pyarrow.dataset.FileSystemDataset`) batch by batch, in file and row order, twice:

1. moments: count, sums and ``XᵀX`` of the feature rows in float64 (:class:`galwidget.pca.Moments`,
   the same maths as :func:`galwidget.pca.fit_pca`), from which the exact PCA is fitted;
2. projection: each batch projected onto the first ``c`` components, straight into one
   preallocated ``(n, c)`` float32 matrix, with the ids and only the meta ``columns`` asked for.

The raw matrix is never held: peak memory is the reduced matrix, the ids and meta plus one batch,
whatever the raw width. Both Zenodo schemas are read (``feat_<i>_pred`` scalar columns or one list
column), detected as :func:`galwidget.data.load_representations` detects them.

Invariants: every part file has the first file's id column, feature columns, feature types and
width (else :class:`DataError` naming the file and the difference); each pass must see exactly the
rows the parquet metadata announce (else :class:`DataError`: a partial matrix is never returned);
rows keep file order, then row order. :class:`RawSource` maps a row back to (file, row group,
offset) for :meth:`Representations.raw_rows`. The passes run on :class:`Part` s (runs of a file's
row groups) and on record batches, so ``data/_dask.py`` runs these very functions as Dask
tasks.
"""

from __future__ import annotations

import glob
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import threadpool_limits

from galwidget.data._ids import ids_from_column
from galwidget.data._representations import Representations
from galwidget.data._schema import (
    FeatureSpec,
    check_numeric,
    columns_to_rows,
    find_feature_columns,
    find_id_column,
    stack_list_column,
)
from galwidget.data._validate import MAX_ABS_FEATURE, OnInvalid, check_on_invalid, valid_rows
from galwidget.errors import DataError
from galwidget.pca import PCA, Moments, initial_shift
from galwidget.util import preview

__all__ = ["FeatureSchema", "Part", "RawSource"]

PARQUET_SUFFIXES = (".parquet", ".pq")
# Row groups up to WHOLE_ROW_GROUP_BYTES are read a column chunk at a time; larger ones through
# read buffers that hold at most READ_BUFFERS_BYTES over all columns (each between 64 KiB and
# 1 MiB: 1 MiB each for 1280 columns would be 1.3 GB).
READ_BUFFERS_BYTES = 64 << 20
WHOLE_ROW_GROUP_BYTES = 256 << 20
# A batch holds at most this many bytes of features (as float64): 8192 rows of 128-d, 1638 of
# 1280-d, so a batch's arrow columns and matrices stay small whatever the raw width.
BATCH_FEATURE_BYTES = 16 << 20
ENGINES = ("local", "dask")
RowCallback = Callable[[int], None]


@dataclass(frozen=True)
class FeatureSchema:
    """Where the features, ids and kept meta columns are in every part.

    Attributes:
        id_column: the id column.
        feature_columns: the scalar feature columns in feature order (empty with ``list_column``).
        list_column: the one list column holding each feature vector, if that is the schema.
        width: the raw feature dimension ``d``.
        types: arrow type of each feature column (of the list column), checked in every part.
        meta_columns: the other columns kept (those asked for with ``columns=``).
    """

    id_column: str
    feature_columns: tuple[str, ...]
    list_column: str | None
    width: int
    types: tuple[str, ...]
    meta_columns: tuple[str, ...]

    @property
    def read_columns(self) -> list[str]:
        """The feature columns to read (the list column, or every scalar column)."""
        return [self.list_column] if self.list_column else list(self.feature_columns)

    def rows_per_batch(self, batch_rows: int) -> int:
        """``batch_rows``, or fewer for wide rows: at most :data:`BATCH_FEATURE_BYTES` a batch."""
        return max(1, min(batch_rows, BATCH_FEATURE_BYTES // (8 * self.width)))

    @property
    def kept_columns(self) -> list[str]:
        """Id column then meta columns: what pass 2 keeps besides the projection."""
        return [self.id_column, *(c for c in self.meta_columns if c != self.id_column)]


@dataclass(frozen=True)
class Part:
    """A run of row groups of one parquet file: the unit each pass works on.

    Attributes:
        path: the file.
        row_groups: indices of its row groups read, in order.
        rows: the rows the metadata announce for them.
        start: global row (over all parts, before any drop) of its first row.
    """

    path: str
    row_groups: tuple[int, ...]
    rows: int
    start: int

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return Path(self.path).name

    def batches(self, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Record batches of ``columns`` over the part's rows, in order."""
        # No pre-buffering (it buffers every row group at once). Row groups of up to
        # WHOLE_ROW_GROUP_BYTES are read a whole column chunk at a time, larger ones through
        # buffers (READ_BUFFERS_BYTES over all columns), so memory stays bounded either way.
        metadata = pq.read_metadata(self.path)
        largest = max((metadata.row_group(g).total_byte_size for g in self.row_groups), default=0)
        buffer = 0  # unbuffered: each column chunk read whole
        if largest > WHOLE_ROW_GROUP_BYTES:
            buffer = min(1 << 20, max(64 << 10, READ_BUFFERS_BYTES // max(1, len(columns))))
        parquet = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=buffer, metadata=metadata)
        yield from parquet.iter_batches(
            batch_size=batch_rows, row_groups=list(self.row_groups), columns=list(columns)
        )
        parquet.close()
        # Decoded pages freed by the reader stay in the allocator's caches unless handed back.
        pa.default_memory_pool().release_unused()


# ----------------------------------------------------------------------------------------------
# Finding and checking the part files
# ----------------------------------------------------------------------------------------------


def resolve_files(source: Any) -> list[Path]:
    """The parquet files of a folder (recursively, in natural name order), a glob, a list of
    files or a pyarrow ``FileSystemDataset`` (its file order)."""
    if hasattr(source, "files") and hasattr(source, "schema"):  # pyarrow.dataset.FileSystemDataset
        files = [Path(f) for f in source.files]
        where = "the pyarrow Dataset"
    elif isinstance(source, (str, PathLike)):
        path = Path(source)
        where = str(path)
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES]
            files.sort(key=lambda p: _natural_key(str(p.relative_to(path))))
        elif path.is_file():
            files = [path]
        elif glob.has_magic(str(source)):
            files = sorted(
                (Path(p) for p in glob.glob(str(source))), key=lambda p: _natural_key(str(p))
            )
        else:
            raise DataError(f"no such file or folder: {path}")
    elif isinstance(source, Sequence) and not isinstance(source, (bytes, pd.DataFrame)):
        files = [Path(p) for p in source]
        where = "the list of files"
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise DataError(f"no such files: {preview(missing)}")
    else:
        raise DataError(
            f"cannot stream {type(source).__name__}: pass a folder, a glob, a list of parquet "
            "files, a pyarrow Dataset or a dask DataFrame"
        )
    if not files:
        raise DataError(f"no parquet files in {where}")
    return files


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def schema_of(
    schema: pa.Schema,
    where: str,
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
    first_list_row: Callable[[str], int],
) -> FeatureSchema:
    """Detect the id, feature and kept meta columns of ``schema`` (``where`` names it in errors);
    ``first_list_row(column)`` gives a list column's width when its type does not fix it."""
    names = [name for name in schema.names if name != "__index_level_0__"]
    types = {name: schema.field(name).type for name in names}
    try:
        id_name = find_id_column(names, id_column)
        feature_columns, list_column = find_feature_columns(names, types, features, id_name)
        if list_column is None:
            check_numeric(feature_columns, types)
    except DataError as error:
        raise DataError(f"{where}: {error}") from None
    meta = [str(c) for c in (columns or [])]
    missing = [c for c in meta if c not in types]
    if missing:
        raise DataError(f"{where} has no columns {preview(missing)}; its columns: {preview(names)}")
    taken = {list_column, *feature_columns}
    clash = [c for c in meta if c in taken]
    if clash:
        raise DataError(
            f"columns= names feature columns {preview(clash)}; ask only for meta columns"
        )
    if list_column is not None:
        dtype = types[list_column]
        width = (
            dtype.list_size if pa.types.is_fixed_size_list(dtype) else first_list_row(list_column)
        )
        feature_types: tuple[str, ...] = (str(dtype.value_type),)
    else:
        width = len(feature_columns)
        feature_types = tuple(str(types[c]) for c in feature_columns)
    return FeatureSchema(
        id_column=id_name,
        feature_columns=tuple(feature_columns),
        list_column=list_column,
        width=int(width),
        types=feature_types,
        meta_columns=tuple(c for c in meta if c != id_name),
    )


def difference(expected: FeatureSchema, found: FeatureSchema) -> str | None:
    """How ``found`` differs from ``expected`` (a phrase for an error message), or ``None``."""
    if found.id_column != expected.id_column:
        return f"id column {found.id_column!r} instead of {expected.id_column!r}"
    if (found.list_column is None) != (expected.list_column is None):
        kinds = ["one list column", "scalar feature columns"]
        return (
            f"{kinds[found.list_column is None]} instead of {kinds[expected.list_column is None]}"
        )
    if found.width != expected.width:
        return f"{found.width} features instead of {expected.width}"
    if (
        found.feature_columns != expected.feature_columns
        or found.list_column != expected.list_column
    ):
        pairs = zip(found.feature_columns, expected.feature_columns, strict=True)
        first = next(
            ((a, b) for a, b in pairs if a != b), (found.list_column, expected.list_column)
        )
        return f"feature column {first[0]!r} where the first file has {first[1]!r}"
    if found.types != expected.types:
        pairs = zip(found.types, expected.types, strict=True)
        j, (a, b) = next((j, p) for j, p in enumerate(pairs) if p[0] != p[1])
        column = expected.read_columns[min(j, len(expected.read_columns) - 1)]
        return f"feature column {column!r} is {a} instead of {b}"
    return None


def scan(
    files: Sequence[Path],
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
) -> tuple[FeatureSchema, list[Part]]:
    """The schema shared by all ``files`` and one :class:`Part` per file (all its row groups)."""
    schema: FeatureSchema | None = None
    parts = []
    start = 0
    for path in files:
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{path} is not a readable parquet file: {error}") from None

        def first_list_row(column: str, parquet: pq.ParquetFile = parquet) -> int:
            batch = next(parquet.iter_batches(batch_size=1, columns=[column]), None)
            return 0 if batch is None or batch.num_rows == 0 else len(batch.column(0)[0])

        found = schema_of(
            parquet.schema_arrow, str(path), features, id_column, columns, first_list_row
        )
        if schema is None:
            schema = found
        else:
            changed = difference(schema, found)
            if changed:
                raise DataError(f"{path} differs from {files[0]}: {changed}")
        metadata = parquet.metadata
        groups = tuple(range(metadata.num_row_groups))
        parts.append(Part(str(path), groups, metadata.num_rows, start))
        start += metadata.num_rows
    assert schema is not None
    if start == 0:
        raise DataError(f"{len(files)} parquet files but no rows: no galaxies to show")
    return schema, parts


# ----------------------------------------------------------------------------------------------
# The two passes over record batches
# ----------------------------------------------------------------------------------------------


def batch_matrix(batch: pa.RecordBatch, schema: FeatureSchema, where: str) -> np.ndarray:
    """The ``(rows, d)`` float32 feature matrix of a record batch (nulls become NaN)."""
    rows = batch.num_rows
    if schema.list_column is not None:
        try:
            matrix = stack_list_column(batch.column(schema.list_column), schema.list_column)
        except DataError as error:
            raise DataError(f"{where}: {error}") from None
        if rows and matrix.shape[1] != schema.width:
            raise DataError(
                f"{where}: list column {schema.list_column!r} holds {matrix.shape[1]} features "
                f"instead of {schema.width}"
            )
        return matrix
    d = schema.width
    block = np.empty((d, rows), dtype=np.float32)
    for j, name in enumerate(schema.feature_columns):
        column = batch.column(name)
        if column.null_count:
            column = column.fill_null(np.nan)
        block[j] = column.to_numpy(zero_copy_only=False)
    matrix = np.empty((rows, d), dtype=np.float32)
    columns_to_rows(block, matrix)
    return matrix


def _one_blas_thread(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``batches``, with BLAS on one thread while each is processed: the passes are bound by
    parquet decoding, and on busy cores OpenBLAS threads spin (``XᵀX`` of a batch ran 28× slower
    with 2 threads than with 1 on the shared 2-core bench machine)."""
    with threadpool_limits(1, "blas"):
        yield from batches


@dataclass
class PassOne:
    """What pass 1 learns about one part: its moments, its rows and its non-finite rows."""

    moments: Moments
    rows: int
    invalid: np.ndarray  # part-relative rows with NaN/inf or |x| > MAX_ABS_FEATURE, sorted


def first_rows_shift(
    batches: Iterable[pa.RecordBatch], schema: FeatureSchema, where: str
) -> np.ndarray:
    """The :class:`Moments` shift: the mean of the first finite rows (of the first part)."""
    for batch in batches:
        matrix = batch_matrix(batch, schema, where)
        matrix = matrix[valid_rows(matrix)]
        if len(matrix):
            return initial_shift(matrix)
    return np.zeros(schema.width)


def moments_pass(
    batches: Iterable[pa.RecordBatch],
    schema: FeatureSchema,
    shift: np.ndarray,
    where: str,
    on_rows: RowCallback | None = None,
) -> PassOne:
    """Pass 1 over one part: moments of its finite rows."""
    moments = Moments(shift)
    invalid = []
    rows = 0
    for batch in _one_blas_thread(batches):
        matrix = batch_matrix(batch, schema, where)
        finite = valid_rows(matrix)
        if not finite.all():
            invalid.append(rows + np.flatnonzero(~finite))
            matrix = matrix[finite]
        moments.add(matrix)
        rows += batch.num_rows
        if on_rows is not None:
            on_rows(batch.num_rows)
    bad = np.concatenate(invalid) if invalid else np.empty(0, np.int64)
    return PassOne(moments, rows, bad.astype(np.int64))


@dataclass
class PassTwo:
    """What pass 2 returns for one part: its projected rows and their ids and meta columns."""

    features: np.ndarray
    kept: pa.Table | None  # None for a part without rows


def projection_pass(
    batches: Iterable[pa.RecordBatch],
    schema: FeatureSchema,
    pca: PCA,
    drop: np.ndarray,
    where: str,
    out: np.ndarray | None = None,
    on_rows: RowCallback | None = None,
) -> PassTwo:
    """Pass 2 over one part: the projection of its rows except the part-relative rows ``drop``,
    written into ``out`` (which must have exactly that many rows) if given."""
    projected = []
    tables = []
    written = 0
    rows = 0
    for batch in _one_blas_thread(batches):
        matrix = batch_matrix(batch, schema, where)
        kept = batch.select(schema.kept_columns)
        local = drop[(drop >= rows) & (drop < rows + batch.num_rows)] - rows
        if len(local):
            mask = np.ones(batch.num_rows, dtype=bool)
            mask[local] = False
            matrix, kept = matrix[mask], kept.filter(pa.array(mask))
        if out is None:
            projected.append(pca.transform(matrix, progress=False))
        elif written + len(matrix) <= len(out):
            pca.transform(matrix, progress=False, out=out[written : written + len(matrix)])
        tables.append(kept)
        written += len(matrix)
        rows += batch.num_rows
        if on_rows is not None:
            on_rows(batch.num_rows)
    if out is not None and written != len(out):
        raise DataError(
            f"{where}: the second pass read {written} rows where the first found {len(out)}; "
            "the file changed while it was read"
        )
    if out is not None:
        features = out
    elif projected:
        features = np.concatenate(projected)
    else:
        features = np.empty((0, pca.n_components), np.float32)
    return PassTwo(features, pa.Table.from_batches(tables) if tables else None)


# ----------------------------------------------------------------------------------------------
# Checks between passes, the result, raw rows
# ----------------------------------------------------------------------------------------------


def check_pass_one(
    parts: Sequence[Part], results: Sequence[PassOne], on_invalid: OnInvalid
) -> None:
    """Every part read in full; non-finite rows raise (or warn for ``on_invalid="drop"``)."""
    for part, result in zip(parts, results, strict=True):
        if result.rows != part.rows:
            raise DataError(
                f"{part.path}: the first pass read {result.rows} rows but its metadata announce "
                f"{part.rows}; the file is damaged or changed while it was read"
            )
    bad = [
        (part, result.invalid)
        for part, result in zip(parts, results, strict=True)
        if len(result.invalid)
    ]
    if not bad:
        return
    count = sum(len(rows) for _, rows in bad)
    where = "; ".join(f"{part.path} rows {preview(rows.tolist())}" for part, rows in bad[:3])
    message = (
        f"NaN, infinite or out-of-range (|x| > {MAX_ABS_FEATURE:g}) features in {count} rows: "
        f"{where}"
    )
    if on_invalid == "drop":
        if count == sum(part.rows for part in parts):
            raise DataError(message + ": every row is invalid")
        warnings.warn(message + "; these rows were dropped", stacklevel=4)
        return
    check_on_invalid(on_invalid)
    raise DataError(message + "; pass on_invalid='drop' to drop them")


def assemble(
    features: np.ndarray,
    tables: list[pa.Table | None],
    schema: FeatureSchema,
    pca: PCA,
    raw_source: RawSource | None,
) -> Representations:
    """The reduced :class:`Representations` from pass 2's matrix and kept columns (in order).

    ``tables`` is emptied: its arrow buffers are freed column by column as they become pandas
    columns, so ids and meta are never held twice.
    """
    table = pa.concat_tables([t for t in tables if t is not None and t.num_rows])
    tables.clear()
    if table.num_rows != len(features):
        raise DataError(
            f"internal error: {table.num_rows} id rows but {len(features)} projected rows"
        )
    meta = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    ids = ids_from_column(meta[schema.id_column], schema.id_column)
    return Representations(
        ids=ids, features=features, meta=meta, reduction=pca, raw_source=raw_source
    )


@dataclass(frozen=True)
class RawSource:
    """Raw feature rows of streamed data, read back from the parquet files on demand.

    Attributes:
        parts: the parts in row order (one per file).
        schema: the feature columns.
        kept: source row of each kept row when rows were dropped, else ``None``.
    """

    parts: tuple[Part, ...]
    schema: FeatureSchema
    kept: np.ndarray | None

    @cached_property
    def _groups(self) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """Global first row of every (file, row group) in order, and their (path, group)."""
        starts = []
        groups = []
        for part in self.parts:
            metadata = pq.ParquetFile(part.path).metadata
            row = part.start
            for group in part.row_groups:
                starts.append(row)
                groups.append((part.path, group))
                row += metadata.row_group(group).num_rows
        return np.asarray(starts, dtype=np.int64), groups

    def __len__(self) -> int:
        if self.kept is not None:
            return len(self.kept)
        return sum(part.rows for part in self.parts)

    def read(self, positions: npt.ArrayLike) -> np.ndarray:
        """Raw rows at ``positions`` (rows of the reduced data) as ``(m, d)`` float32, in order;
        only the row groups holding them are read."""
        rows = np.atleast_1d(np.asarray(positions))
        if rows.ndim != 1 or not (np.issubdtype(rows.dtype, np.integer) or len(rows) == 0):
            raise DataError(f"positions must be integers, got {rows.dtype} of shape {rows.shape}")
        rows = rows.astype(np.int64)
        outside = rows[(rows < 0) | (rows >= len(self))]
        if len(outside):
            raise DataError(
                f"positions out of range 0..{len(self) - 1}: {preview(outside.tolist())}"
            )
        source_rows = rows if self.kept is None else self.kept[rows]
        starts, groups = self._groups
        group_of = np.searchsorted(starts, source_rows, side="right") - 1
        out = np.empty((len(rows), self.schema.width), dtype=np.float32)
        for group in np.unique(group_of):
            path, row_group = groups[group]
            table = pq.ParquetFile(path).read_row_group(row_group, columns=self.schema.read_columns)
            batch = table.combine_chunks().to_batches()[0]
            matrix = batch_matrix(batch, self.schema, f"{path} row group {row_group}")
            here = np.flatnonzero(group_of == group)
            out[here] = matrix[source_rows[here] - starts[group]]
        return out


# ----------------------------------------------------------------------------------------------
# In process
# ----------------------------------------------------------------------------------------------


def check_reduce_to(reduce_to: Any, schema: FeatureSchema) -> None:
    if (
        not isinstance(reduce_to, (int, np.integer))
        or isinstance(reduce_to, bool)
        or not (1 <= reduce_to <= schema.width)
    ):
        raise DataError(
            f"reduce_to must be an integer between 1 and the {schema.width} features, "
            f"got {reduce_to!r}"
        )


def raw_source(parts: Sequence[Part], schema: FeatureSchema, first: Sequence[PassOne]) -> RawSource:
    """The :class:`RawSource` of streamed ``parts``, skipping the rows pass 1 found invalid."""
    dropped = [
        part.start + result.invalid
        for part, result in zip(parts, first, strict=True)
        if len(result.invalid)
    ]
    kept = None
    if dropped:
        total = sum(part.rows for part in parts)
        keep = np.ones(total, dtype=bool)
        keep[np.concatenate(dropped)] = False
        kept = np.flatnonzero(keep)
    return RawSource(tuple(parts), schema, kept)
