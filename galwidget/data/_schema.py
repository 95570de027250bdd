"""Finding the id and feature columns of a table and turning list columns into matrices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from galwidget.errors import DataError
from galwidget.util import preview

# A numbered column: prefix, number (the last run of digits), suffix without digits.
NUMBERED_COLUMN = re.compile(r"^(.*?)(\d+)(\D*)$")
AUTO = "auto"
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
    """Return (ordered feature columns, None) or ([], the list column).

    ``features`` is ``"auto"`` (or ``None``): the one numeric family of numbered columns
    (``feat_<i>_pred``, ``feat_pca_<i>``, ``feat_<i>_pca``, any ``<prefix><i><suffix>``, ordered
    by ``i``), else the one list column; a column prefix; or a list of columns.
    """
    if not (features is None or isinstance(features, str) or _is_sequence(features)):
        raise DataError(
            "features must be 'auto', a column prefix (str), a list of column names or None, "
            f"got {type(features).__name__}"
        )
    candidates = [c for c in columns if c != exclude]
    if features is None or features == AUTO:
        return _detect_features(candidates, types)
    if isinstance(features, str):
        if features in candidates and _is_list_type(types[features]):
            return [], features
        chosen = [c for c in candidates if c.startswith(features)]
        if not chosen:
            raise DataError(
                f"no columns start with {features!r}; {_numeric_columns_found(candidates, types)}"
            )
        found = [re.search(r"\d+", c[len(features) :]) for c in chosen]
        numbers = [int(match.group()) for match in found if match is not None]
        if len(numbers) == len(chosen):
            order = sorted(range(len(chosen)), key=numbers.__getitem__)
            chosen = [chosen[i] for i in order]
        return chosen, None
    chosen = [str(c) for c in features]
    missing = [c for c in chosen if c not in types]
    if missing:
        raise DataError(
            f"feature columns not found: {preview(missing)}; the columns are: "
            f"{preview(candidates, len(candidates))}"
        )
    return chosen, None


@dataclass
class _Family:
    """Numbered columns ``<prefix><i><suffix>``: their columns by ``i``."""

    prefix: str
    suffix: str
    columns: dict[int, str] = field(default_factory=dict)

    @property
    def pattern(self) -> str:
        return f"{self.prefix}<i>{self.suffix}"

    def ordered(self) -> list[str]:
        return [self.columns[i] for i in sorted(self.columns)]

    def is_complete(self) -> bool:
        """Numbered 0 (or 1) to m without a gap; a lone column only as number 0."""
        numbers = sorted(self.columns)
        first = numbers[0]
        return (
            first in (0, 1)
            and numbers[-1] - first == len(numbers) - 1
            and (len(numbers) > 1 or first == 0)
        )

    def how_to_choose(self, candidates: Sequence[str]) -> str:
        """The ``features=`` value that selects exactly this family."""
        if all(c in self.columns.values() for c in candidates if c.startswith(self.prefix)):
            return f"features={self.prefix!r}"
        numbers = sorted(self.columns)
        return (
            f'features=[f"{self.prefix}{{i}}{self.suffix}" for i in '
            f"range({numbers[0]}, {numbers[-1] + 1})]"
        )


def _detect_features(
    candidates: Sequence[str], types: dict[str, Any]
) -> tuple[list[str], str | None]:
    """The one complete family of numbered ``feat…`` columns, else the one complete family of
    numbered numeric columns, else the one list column."""
    families: dict[tuple[str, str], _Family] = {}
    for column in candidates:
        match = NUMBERED_COLUMN.match(column)
        if match is None:
            continue
        prefix, number, suffix = match.groups()
        # feat_<i> and feat_<i>_pred (the Galaxy Zoo files) are one family
        key = (prefix, "") if (prefix, suffix) == ("feat_", "_pred") else (prefix, suffix)
        family = families.setdefault(key, _Family(prefix, suffix))
        i = int(number)
        if i in family.columns:
            raise DataError(
                f"feature {i} appears twice: columns {family.columns[i]!r} and {column!r}"
            )
        family.columns[i] = column
    # Families with a numeric column, or named feat…: check_numeric names non-numeric members.
    complete = [
        f
        for f in families.values()
        if f.is_complete()
        and (f.prefix.startswith("feat") or any(_is_numeric(types[c]) for c in f.columns.values()))
    ]
    # Representation columns are named feat…: such a family wins over other numbered columns
    # (vote fractions such as spiral-arm-count_<i>_fraction in a Galaxy Zoo catalogue).
    named = [f for f in complete if f.prefix.startswith("feat")]
    if len(named) == 1:
        return named[0].ordered(), None
    if len(complete) == 1:
        return complete[0].ordered(), None
    if len(complete) > 1:
        listed = "; ".join(
            f"{f.pattern} ({len(f.columns)} columns: {f.how_to_choose(candidates)})"
            for f in sorted(complete, key=lambda f: -len(f.columns))
        )
        raise DataError(
            f"several numbered numeric column families could be the features: {listed}; "
            "pass the features= of the one you mean"
        )
    list_columns = [c for c in candidates if _is_list_type(types[c]) and c.startswith("feat")]
    if not list_columns:
        list_columns = [
            c for c in candidates if isinstance(types[c], pa.DataType) and _is_list_type(types[c])
        ]
    if len(list_columns) == 1:
        return [], list_columns[0]
    raise DataError(
        "no feature columns found: expected numbered numeric columns (feat_<i>_pred, "
        "feat_pca_<i>, <prefix>_<i>, … numbered from 0 or 1 without gaps) or one list column; "
        f"{_numeric_columns_found(candidates, types)}; pass features='prefix' or a list of columns"
    )


def _numeric_columns_found(candidates: Sequence[str], types: dict[str, Any]) -> str:
    numeric = [c for c in candidates if _is_numeric(types[c])]
    if not numeric:
        return "there are no numeric columns"
    return f"the numeric columns are: {preview(numeric)}"


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
