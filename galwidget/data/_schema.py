"""Finding the id and feature columns of a table and turning list columns into matrices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from galwidget.errors import DataError
from galwidget.util import preview

FEATURE_COLUMN = re.compile(r"^feat_(\d+)(?:_pred)?$")
ID_COLUMN_CANDIDATES = ("iauname", "id_str", "objid", "dr8_id", "id")
# Feature columns moved per transposed copy when loading parquet (cache-sized tiles).
TRANSPOSE_COLUMNS = 16

FeatureSpec: TypeAlias = str | Sequence[str] | None
"""Which columns are the features: a column-name prefix, a list of column names, or ``None`` to find them (``feat_<i>_pred``, ``feat_<i>``, a list column …)."""


def find_id_column(columns: Sequence[str], id_column: str | None) -> str:
    """The id column among ``columns``: ``id_column`` if given, else the first present of
    ``iauname``, ``id_str``, ``objid``, … (``ID_COLUMN_CANDIDATES``).

    Raises:
        DataError: ``id_column`` is not a column, or none of the usual id columns is there.
    """
    if id_column is not None:
        if id_column not in columns:
            raise DataError(
                f"id column {id_column!r} not found; the columns are: {preview(list(columns))}"
            )
        return id_column
    for candidate in ID_COLUMN_CANDIDATES:
        if candidate in columns:
            return candidate
    raise DataError(
        "no id column found: expected one of "
        + ", ".join(ID_COLUMN_CANDIDATES)
        + "; pass id_column= to name it"
    )


def _is_list_type(dtype: Any) -> bool:
    if isinstance(dtype, pa.DataType):
        return (
            pa.types.is_list(dtype)
            or pa.types.is_fixed_size_list(dtype)
            or pa.types.is_large_list(dtype)
        )
    return dtype == np.dtype(object)


def find_feature_columns(
    columns: Sequence[str], types: dict[str, Any], features: FeatureSpec, exclude: str
) -> tuple[list[str], str | None]:
    """Return (ordered feature columns, None) or ([], the list column)."""
    if not (features is None or isinstance(features, str) or _is_sequence(features)):
        raise DataError(
            "features must be a column prefix (str), a list of column names or None, got "
            f"{type(features).__name__}"
        )
    candidates = [c for c in columns if c != exclude]
    if isinstance(features, str):
        if features in candidates and _is_list_type(types[features]):
            return [], features
        chosen = [c for c in candidates if c.startswith(features)]
        if not chosen:
            raise DataError(f"no columns start with {features!r}; columns: {preview(candidates)}")
        found = [re.search(r"\d+", c[len(features) :]) for c in chosen]
        numbers = [int(match.group()) for match in found if match is not None]
        if len(numbers) == len(chosen):
            order = sorted(range(len(chosen)), key=numbers.__getitem__)
            chosen = [chosen[i] for i in order]
        return chosen, None
    if features is not None:
        chosen = [str(c) for c in features]
        missing = [c for c in chosen if c not in types]
        if missing:
            raise DataError(
                f"feature columns not found: {preview(missing)}; the columns are: "
                f"{preview(candidates, len(candidates))}"
            )
        return chosen, None
    numbered_columns: dict[int, str] = {}
    for c in candidates:
        match = FEATURE_COLUMN.match(c)
        if match:
            i = int(match.group(1))
            if i in numbered_columns:
                raise DataError(
                    f"feature {i} appears twice: columns {numbered_columns[i]!r} and {c!r}"
                )
            numbered_columns[i] = c
    if numbered_columns:
        return [numbered_columns[i] for i in sorted(numbered_columns)], None
    list_columns = [c for c in candidates if _is_list_type(types[c]) and c.startswith("feat")]
    if not list_columns:
        list_columns = [
            c for c in candidates if isinstance(types[c], pa.DataType) and _is_list_type(types[c])
        ]
    if len(list_columns) == 1:
        return [], list_columns[0]
    numeric = [c for c in candidates if _is_numeric(types[c])]
    raise DataError(
        "no feature columns found: expected feat_<i>_pred or feat_<i> columns or one list column; "
        "pass features='prefix' or a list of columns; the numeric columns are: "
        + (preview(numeric, len(numeric)) if numeric else "none")
    )


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence | pd.Index | np.ndarray) and not isinstance(value, bytes)


def _is_numeric(dtype: Any) -> bool:
    """Whether a column of this (arrow or pandas) type can be a feature: real numbers (or
    all-null), not booleans or complex numbers."""
    if isinstance(dtype, pa.DataType):
        return pa.types.is_floating(dtype) or pa.types.is_integer(dtype) or pa.types.is_null(dtype)
    return (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def check_numeric(columns: Sequence[str], types: dict[str, Any]) -> None:
    bad = [f"{c} ({types[c]})" for c in columns if not _is_numeric(types[c])]
    if bad:
        raise DataError(f"feature columns must be numeric; these are not: {preview(bad)}")


def list_width(parquet: pq.ParquetFile, column: str) -> int:
    dtype = parquet.schema_arrow.field(column).type
    if pa.types.is_fixed_size_list(dtype):
        return int(dtype.list_size)
    first = next(parquet.iter_batches(batch_size=1, columns=[column])).column(0)
    if first.null_count:
        raise DataError(f"list column {column!r} has missing (null) values at rows 0")
    return len(first[0])


def list_names(column: str, width: int) -> list[str]:
    return [f"{column}[{j}]" for j in range(width)]


def float_values(column: pa.Array) -> np.ndarray:
    """A numeric arrow column as float64 (float16/32 kept), nulls as NaN."""
    if not pa.types.is_floating(column.type):  # integers (nullable too), all-null columns
        column = pc.cast(column, pa.float64())
    if column.null_count:
        column = column.fill_null(np.nan)
    return column.to_numpy(zero_copy_only=False)


def stack_list_column(
    values: Any, name: str, width: int | None = None, offset: int = 0
) -> np.ndarray:
    """Stack a list column (pandas Series of sequences or an arrow list array) into float32 rows
    of ``width`` values (default: the first row's). Missing rows and rows of another length are
    errors naming the rows (counted from ``offset``)."""
    if isinstance(values, pd.Series):
        return _stack_sequences(values.tolist(), name, width, offset)
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if array.null_count:
        rows = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False)) + offset
        raise DataError(
            f"list column {name!r} has missing (null) values at rows {preview(rows.tolist())}"
        )
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    width = _common_width(lengths, name, width, offset)
    flat = array.flatten()
    if not (
        pa.types.is_integer(flat.type)
        or pa.types.is_floating(flat.type)
        or pa.types.is_null(flat.type)
    ):
        raise DataError(f"list column {name!r} holds non-numeric values ({array.type})")
    with np.errstate(over="ignore"):  # beyond float32: inf, reported by the caller
        return float_values(flat).astype(np.float32).reshape(len(array), width)


def _common_width(lengths: np.ndarray, name: str, width: int | None, offset: int) -> int:
    """The one length of every list row (``width``, else the first row's); ragged rows are a
    :class:`DataError` naming them (``offset``: the global row of the first)."""
    width = int(lengths[0]) if width is None else width
    wrong = np.flatnonzero(lengths != width)
    if len(wrong):
        raise DataError(
            f"list column {name!r} has rows of different lengths: {width} values in the first "
            f"row but {lengths[wrong[0]]} in row {offset + wrong[0]} "
            f"(rows of another length: {preview((wrong + offset).tolist())})"
        )
    return width


def _stack_sequences(rows: list[Any], name: str, width: int | None, offset: int) -> np.ndarray:
    lengths = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        if row is None or (isinstance(row, float) and np.isnan(row)):
            raise DataError(f"list column {name!r} has missing values at rows {offset + i}")
        if isinstance(row, str | bytes) or not hasattr(row, "__len__"):
            raise DataError(
                f"list column {name!r} holds {type(row).__name__} values, not lists of numbers "
                f"(row {offset + i}: {preview([row])})"
            )
        lengths[i] = len(row)
    width = _common_width(lengths, name, width, offset)
    try:
        with np.errstate(over="ignore"):
            matrix = np.asarray(rows, dtype=np.float64).astype(np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"list column {name!r} holds non-numeric values: {error}") from None
    if matrix.shape != (len(rows), width):
        raise DataError(f"list column {name!r} holds nested lists (shape {matrix.shape})")
    return matrix


def columns_to_rows(block: np.ndarray, out: np.ndarray) -> None:
    """Copy a ``(d, rows)`` block of feature columns into the ``(rows, d)`` matrix ``out``, a few
    columns at a time: each tile stays in cache, ~4× faster than one transposed copy."""
    rows = out.shape[0]
    for j in range(0, out.shape[1], TRANSPOSE_COLUMNS):
        tile = slice(j, j + TRANSPOSE_COLUMNS)
        out[:, tile] = block[tile, :rows].T
