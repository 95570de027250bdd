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
width, and kept columns of types that widen to one type (else :class:`DataError` naming the file,
the column and the difference, before pass 1 reads a row); each pass must see exactly the rows the
parquet metadata announce (else :class:`DataError`: a partial matrix is never returned); every part
is the file pass 1 snapshot (:class:`FileSnapshot`: size, mtime, inode, parquet footer with its
row-group statistics) when either pass or :meth:`RawSource.read` reads it, else :class:`DataError`
naming the file and what changed; rows keep file order, then row order. :class:`RawSource` maps a row back to (file, row group,
offset) for :meth:`Representations.raw_rows`. The passes run on :class:`Part` s (runs of a file's
row groups) and on record batches, so ``data/_dask.py`` runs these very functions as Dask
tasks.
"""

from __future__ import annotations

import glob
import hashlib
import os
import queue
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
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

__all__ = ["FeatureSchema", "FileSnapshot", "Part", "RawSource"]

PARQUET_SUFFIXES = (".parquet", ".pq")
# Row groups up to WHOLE_ROW_GROUP_BYTES are read a column chunk at a time; larger ones through
# read buffers that hold at most READ_BUFFERS_BYTES over all columns (each between 64 KiB and
# 1 MiB: 1 MiB each for 1280 columns would be 1.3 GB).
READ_BUFFERS_BYTES = 64 << 20
WHOLE_ROW_GROUP_BYTES = 256 << 20
# Rows a streamed batch holds by default: few large batches decode faster than many small ones,
# and each batch costs the passes a few Python calls per column.
STREAM_BATCH_ROWS = 65_536
# A batch holds at most this many bytes of features (as float64): 16384 rows of 128-d, 1638 of
# 1280-d, so a batch's arrow columns and matrices stay small whatever the raw width.
BATCH_FEATURE_BYTES = 16 << 20
# Batches the reader thread holds ready ahead of the arithmetic: with the one it is reading and
# the one being used, three batches are in memory at once.
READ_AHEAD = 1
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
        kept_types: arrow type of each of :attr:`kept_columns`, one over all parts (pass 2 casts
            each part's kept columns to it: an all-null column or int32 in one part widens).
    """

    id_column: str
    feature_columns: tuple[str, ...]
    list_column: str | None
    width: int
    types: tuple[str, ...]
    meta_columns: tuple[str, ...]
    kept_types: tuple[pa.DataType, ...] = ()

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

    def cast_kept(self, kept: pa.RecordBatch, where: str) -> pa.RecordBatch:
        """``kept`` (the :attr:`kept_columns` of a batch) cast to :attr:`kept_types`."""
        if not self.kept_types or tuple(kept.schema.types) == self.kept_types:
            return kept
        for name, target in zip(self.kept_columns, self.kept_types, strict=True):
            column = kept.column(name)
            if column.type != target:
                try:
                    column = column.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise DataError(
                        f"{where}: column {name!r} ({column.type}) does not fit the type {target} "
                        f"it has in the other parts: {error}"
                    ) from None
                kept = kept.set_column(kept.schema.get_field_index(name), name, column)
        return kept


@dataclass(frozen=True)
class FileSnapshot:
    """What pass 1 saw of a part file, checked again before every later read of it.

    Size, modification time and inode catch a file rewritten, cut short, replaced or deleted; the
    digest of the parquet footer (schema, row groups, their offsets, sizes and min/max statistics)
    catches a rewrite that kept the size. A rewrite keeping all four (the same bytes, or a
    restored mtime over equal statistics) can only be told by reading every byte again.
    """

    size: int
    mtime_ns: int
    inode: int
    footer: str

    @classmethod
    def of(cls, path: str | PathLike[str]) -> FileSnapshot:
        """The snapshot of ``path`` now (:class:`DataError` if it cannot be read)."""
        try:
            with open(path, "rb") as file:
                status = os.fstat(file.fileno())
                footer = _footer_digest(file, status.st_size)
        except OSError as error:
            raise DataError(f"{path} cannot be read: {error.strerror or error}") from None
        return cls(status.st_size, status.st_mtime_ns, status.st_ino, footer)

    def change(self, path: str) -> str | None:
        """What changed in ``path`` since this snapshot (a phrase), or ``None``."""
        try:
            now = FileSnapshot.of(path)
        except DataError:
            return (
                "it no longer exists or cannot be read"
                if not os.path.exists(path)
                else ("it can no longer be read")
            )
        if now.inode != self.inode:
            return "it was replaced by another file"
        if now.size != self.size:
            return f"its size went from {self.size} to {now.size} bytes"
        if now.mtime_ns != self.mtime_ns:
            return "it was modified (its mtime changed)"
        if now.footer != self.footer:
            return "its parquet footer (row groups, statistics) changed"
        return None


def _footer_digest(file: Any, size: int) -> str:
    """SHA-1 of a parquet file's footer (``""`` when the file has no valid footer)."""
    if size < 12:
        return ""
    file.seek(size - 8)
    tail = file.read(8)
    length = int.from_bytes(tail[:4], "little")
    if tail[4:] != b"PAR1" or length > size - 12:
        return ""
    file.seek(size - 8 - length)
    return hashlib.sha1(file.read(length), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Part:
    """A run of row groups of one parquet file: the unit each pass works on.

    Attributes:
        path: the file.
        row_groups: indices of its row groups read, in order.
        rows: the rows the metadata announce for them.
        start: global row (over all parts, before any drop) of its first row.
        group_rows: rows of each of ``row_groups`` (from the metadata pass 1 read).
        snapshot: the file as pass 1 saw it (``None`` for a dask DataFrame partition).
    """

    path: str
    row_groups: tuple[int, ...]
    rows: int
    start: int
    group_rows: tuple[int, ...] = ()
    snapshot: FileSnapshot | None = None

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return Path(self.path).name

    def check_unchanged(self, consequence: str) -> None:
        """:class:`DataError` if the file is no longer the one pass 1 read (``consequence``
        says what that would do)."""
        if self.snapshot is None:
            return
        change = self.snapshot.change(self.path)
        if change is not None:
            raise DataError(
                f"{self.path} changed since the first pass read it ({change}): {consequence}"
            )

    def batches(self, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Record batches of ``columns`` over the part's rows, in order; the file is checked
        against its snapshot before and after (:class:`DataError` if it changed)."""
        consequence = (
            "the passes would mix old and new rows. Load again once the files stay unchanged"
        )
        self.check_unchanged(consequence)
        # No pre-buffering (it buffers every row group at once). Row groups of up to
        # WHOLE_ROW_GROUP_BYTES are read a whole column chunk at a time, larger ones through
        # buffers (READ_BUFFERS_BYTES over all columns), so memory stays bounded either way.
        try:
            metadata = pq.read_metadata(self.path)
            largest = max(
                (metadata.row_group(g).total_byte_size for g in self.row_groups), default=0
            )
            buffer = 0  # unbuffered: each column chunk read whole
            if largest > WHOLE_ROW_GROUP_BYTES:
                buffer = min(1 << 20, max(64 << 10, READ_BUFFERS_BYTES // max(1, len(columns))))
            parquet = pq.ParquetFile(
                self.path, pre_buffer=False, buffer_size=buffer, metadata=metadata
            )
            yield from parquet.iter_batches(
                batch_size=batch_rows, row_groups=list(self.row_groups), columns=list(columns)
            )
        except (OSError, pa.ArrowException) as error:
            self.check_unchanged(consequence)
            raise DataError(f"{self.path} cannot be read: {error}") from None
        parquet.close()
        self.check_unchanged(consequence)
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
            files = _folder_files(path)
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


def _folder_files(folder: Path) -> list[Path]:
    """The parquet files under ``folder`` in natural name order. Symlinked sub-folders and files
    are followed (a data set is often assembled from links); a folder or file reached a second
    time (a link to one already read, or a link loop) is skipped with a warning, as its rows
    would be read twice."""

    def unreadable(error: OSError) -> None:
        raise DataError(
            f"cannot list {error.filename}: {error.strerror or error}; its part files would be "
            "missing from the data"
        )

    seen = {folder.resolve()}
    files: list[Path] = []
    for root, folders, names in os.walk(folder, onerror=unreadable, followlinks=True):
        keep = []
        for name in sorted(folders):
            real = (Path(root) / name).resolve()
            if real in seen:
                warnings.warn(
                    f"skipped {Path(root) / name}: it is the folder {real}, already read "
                    "(a symlink to it, or a link loop); its files would be read twice",
                    stacklevel=4,
                )
                continue
            seen.add(real)
            keep.append(name)
        folders[:] = keep
        for name in names:
            path = Path(root) / name
            if path.suffix.lower() not in PARQUET_SUFFIXES:
                continue
            real = path.resolve()
            if real in seen:
                warnings.warn(f"skipped {path}: it is the file {real}, already read", stacklevel=4)
                continue
            seen.add(real)
            files.append(path)
    files.sort(key=lambda p: _natural_key(str(p.relative_to(folder))))
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
    meta_columns = tuple(c for c in meta if c != id_name)
    return FeatureSchema(
        id_column=id_name,
        feature_columns=tuple(feature_columns),
        list_column=list_column,
        width=int(width),
        types=feature_types,
        meta_columns=meta_columns,
        kept_types=tuple(types[c] for c in (id_name, *meta_columns)),
    )


def _kind(dtype: pa.DataType) -> str:
    """The family of an id type: ids of different families never match."""
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    return str(dtype)


def unify_kept(schema: FeatureSchema, found: Sequence[tuple[str, FeatureSchema]]) -> FeatureSchema:
    """``schema`` with the one type of each kept column over the parts ``found`` (where, schema):
    a column that is all-null (arrow ``null``) in a part takes the others' type and integer or
    float widths widen; ids of another kind (int vs string) and values that cannot share a type
    (float vs string) are a :class:`DataError` naming the part and the column."""
    types = []
    for j, name in enumerate(schema.kept_columns):
        typed = [
            (where, s.kept_types[j]) for where, s in found if not pa.types.is_null(s.kept_types[j])
        ]
        if not typed:
            types.append(pa.null())
            continue
        first_where, first_type = typed[0]
        for where, dtype in typed[1:]:
            if name == schema.id_column and _kind(dtype) != _kind(first_type):
                raise DataError(
                    f"{where}: id column {name!r} is {dtype} where {first_where} has {first_type}; "
                    "ids must be of one kind in every part (write them all as strings, or all as "
                    "integers)"
                )
        try:
            unified = (
                pa.unify_schemas(
                    [pa.schema([(name, dtype)]) for _, dtype in typed], promote_options="permissive"
                )
                .field(name)
                .type
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            where, dtype = next((w, t) for w, t in typed if t != first_type)
            raise DataError(
                f"{where}: column {name!r} is {dtype} where {first_where} has {first_type}; "
                "write the column with one type in every part"
            ) from None
        types.append(unified)
    return replace(schema, kept_types=tuple(types))


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
    """The schema shared by all ``files`` and one :class:`Part` per file (all its row groups,
    snapshot). Every difference between the files is found here, before a row is read."""
    found: list[tuple[str, FeatureSchema]] = []
    parts = []
    start = 0
    for path in files:
        snapshot = FileSnapshot.of(path)
        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{path} is not a readable parquet file: {error}") from None

        def first_list_row(column: str, parquet: pq.ParquetFile = parquet) -> int:
            batch = next(parquet.iter_batches(batch_size=1, columns=[column]), None)
            return 0 if batch is None or batch.num_rows == 0 else len(batch.column(0)[0])

        found.append(
            (
                str(path),
                schema_of(
                    parquet.schema_arrow, str(path), features, id_column, columns, first_list_row
                ),
            )
        )
        metadata = parquet.metadata
        groups = tuple(range(metadata.num_row_groups))
        sizes = tuple(metadata.row_group(g).num_rows for g in groups)
        parts.append(Part(str(path), groups, metadata.num_rows, start, sizes, snapshot))
        start += metadata.num_rows
        parquet.close()
    if start == 0:
        raise DataError(f"{len(files)} parquet files but no rows: no galaxies to show")
    # The reference is the first file with rows: a list column's width is known only from a row.
    reference_where, reference = next(
        (where, s) for (where, s), part in zip(found, parts, strict=True) if part.rows
    )
    for (where, schema), part in zip(found, parts, strict=True):
        if schema.list_column is not None and part.rows == 0:
            schema = replace(schema, width=reference.width)
        changed = difference(reference, schema)
        if changed:
            raise DataError(f"{where} differs from {reference_where}: {changed}")
    return unify_kept(reference, found), parts


# ----------------------------------------------------------------------------------------------
# The two passes over record batches
# ----------------------------------------------------------------------------------------------


def batch_matrix(batch: pa.RecordBatch, schema: FeatureSchema, where: str) -> np.ndarray:
    """The ``(rows, d)`` float32 feature matrix of a record batch (nulls become NaN)."""
    columns = batch_columns(batch, schema, where)
    if schema.list_column is not None:
        return columns.T  # the transpose of the stacked (rows, d) matrix: no copy
    matrix = np.empty((batch.num_rows, schema.width), dtype=np.float32)
    columns_to_rows(columns, matrix)
    return matrix


def batch_columns(batch: pa.RecordBatch, schema: FeatureSchema, where: str) -> np.ndarray:
    """The features of a record batch column-major: ``(d, rows)`` float32, one row per column
    (nulls become NaN). The passes work on this block directly (:meth:`Moments.add_columns`,
    :meth:`PCA.transform_columns`), so rows are never transposed."""
    rows = batch.num_rows
    if rows == 0:
        return np.empty((schema.width, 0), dtype=np.float32)
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
        return matrix.T
    block = np.empty((schema.width, rows), dtype=np.float32)
    for j, name in enumerate(schema.feature_columns):
        column = batch.column(name)
        if column.null_count:
            column = column.fill_null(np.nan)
        block[j] = column.to_numpy(zero_copy_only=False)
    return block


Converted = tuple[pa.RecordBatch, np.ndarray]


def read_ahead(
    batches: Iterable[pa.RecordBatch], schema: FeatureSchema, where: str
) -> Iterator[Converted]:
    """Each batch with its :func:`batch_columns` block, read and converted by a background
    thread up to :data:`READ_AHEAD` batches ahead of the caller.

    Parquet decoding (pyarrow's threads) and the column copies then run while the caller does
    the arithmetic on the previous block, on the other core. Errors of the reader (a file that
    changed, a damaged page) are raised here, in order; a caller that stops early stops the
    reader, which closes ``batches`` before this generator returns. BLAS runs on one thread
    meanwhile: on busy cores OpenBLAS threads spin (``XᵀX`` of a batch ran 28× slower with 2
    threads than with 1 on the shared 2-core bench machine), and the reader has the other core.
    """
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(batches)
        try:
            for batch in iterator:
                if not put(("batch", (batch, batch_columns(batch, schema, where)))):
                    return
            put(("end", None))
        except BaseException as error:  # handed to the caller, raised there
            put(("error", error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="galwidget-read-ahead", daemon=True)
    reader.start()
    try:
        with threadpool_limits(1, "blas"):
            while True:
                kind, item = ready.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise item
                yield item
    finally:
        stop.set()
        reader.join()


@dataclass
class PassOne:
    """What pass 1 learns about one part: its moments, its rows and its non-finite rows (and,
    for a dask DataFrame partition, the arrow types of its kept columns)."""

    moments: Moments
    rows: int
    invalid: np.ndarray  # part-relative rows with NaN/inf or |x| > MAX_ABS_FEATURE, sorted
    kept_types: tuple[pa.DataType, ...] = ()


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
    for batch, columns in read_ahead(batches, schema, where):
        finite = valid_rows(columns.T)
        if not finite.all():
            invalid.append(rows + np.flatnonzero(~finite))
            columns = columns[:, finite]
        moments.add_columns(columns)
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
    for batch, columns in read_ahead(batches, schema, where):
        kept = schema.cast_kept(batch.select(schema.kept_columns), where)
        local = drop[(drop >= rows) & (drop < rows + batch.num_rows)] - rows
        if len(local):
            mask = np.ones(batch.num_rows, dtype=bool)
            mask[local] = False
            columns, kept = columns[:, mask], kept.filter(pa.array(mask))
        m = columns.shape[1]
        if out is None:
            projected.append(np.empty((m, pca.n_components), dtype=np.float32))
            pca.transform_columns(columns, projected[-1])
        elif written + m <= len(out):
            pca.transform_columns(columns, out[written : written + m])
        tables.append(kept)
        written += m
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
    def _groups(self) -> tuple[np.ndarray, list[tuple[Part, int]]]:
        """Global first row of every (file, row group) in order, and their (part, group)."""
        starts = []
        groups = []
        for part in self.parts:
            row = part.start
            for group, rows in zip(part.row_groups, part.group_rows, strict=True):
                starts.append(row)
                groups.append((part, group))
                row += rows
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
        consequence = (
            "raw_rows reads the rows from the files these representations were loaded from. "
            "Load them again to use the new files"
        )
        for part in {groups[group][0] for group in np.unique(group_of)}:
            part.check_unchanged(consequence)
        for group in np.unique(group_of):
            part, row_group = groups[group]
            where = f"{part.path} row group {row_group}"
            try:
                table = pq.ParquetFile(part.path).read_row_group(
                    row_group, columns=self.schema.read_columns
                )
            except (OSError, pa.ArrowException) as error:
                part.check_unchanged(consequence)
                raise DataError(f"{where} cannot be read: {error}") from None
            batch = table.combine_chunks().to_batches()[0]
            matrix = batch_matrix(batch, self.schema, where)
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
