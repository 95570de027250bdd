"""Filters: which galaxies the scatter shows (the others are dimmed or hidden).

A filter is one condition per meta column, all of which a galaxy must meet:

- a ``tuple`` ``(low, high)``: a numeric column within ``[low, high]`` (either end ``None`` for
  open); missing values fail;
- a list, set, Index or array: a column whose value is one of them (categories);
- a single string, number or boolean: a column equal to it.

On the wire (see :mod:`galwidget.protocol`): ``_filter`` is the encoded selection of the
positions shown (``b""``: no filter), ``_filter_meta`` says ``mode`` (``"dim"`` or ``"hide"``),
how many are ``shown`` and a human ``description``. The browser's selection tools act only on
what is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from galwidget.errors import DataError

__all__ = ["MODES", "FilterMode", "resolve_filter"]

FilterMode = Literal["dim", "hide"]
MODES = ("dim", "hide")


def resolve_filter(meta: pd.DataFrame, conditions: Mapping[str, Any]) -> tuple[np.ndarray, str]:
    """The boolean mask (one per row of ``meta``) of galaxies meeting every condition, and a
    description such as ``"mag in [14, 17], kind in {'ring', 'spiral'}"``.

    Raises:
        DataError: an unknown column, a range on a non-numeric column or with ``low > high``,
            or categories that the column does not have (naming them).
    """
    shown = np.ones(len(meta), dtype=bool)
    parts = []
    for column, condition in conditions.items():
        if column not in meta.columns:
            raise DataError(
                f"no column {column!r} to filter on; columns: {', '.join(map(str, meta.columns))}"
            )
        values = meta[column]
        if isinstance(condition, tuple):
            mask, text = _in_range(values, column, condition)
        elif isinstance(condition, str | bytes) or not isinstance(condition, Iterable):
            mask, text = _one_of(values, column, [condition])
        else:
            mask, text = _one_of(values, column, list(condition))
        shown &= mask
        parts.append(text)
    return shown, ", ".join(parts)


def _in_range(values: pd.Series, column: str, bounds: tuple[Any, ...]) -> tuple[np.ndarray, str]:
    if len(bounds) != 2:
        raise DataError(f"a range filter on {column!r} is (low, high), got {bounds!r}")
    dtype = values.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        raise DataError(
            f"column {column!r} (dtype {dtype}) is not numeric: filter it by a list of values"
        )
    low, high = (
        -np.inf if bounds[0] is None else bounds[0],
        np.inf if bounds[1] is None else bounds[1],
    )
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise DataError(f"the range filter on {column!r} needs numbers, got {bounds!r}") from None
    if low > high:
        raise DataError(f"the range filter on {column!r} has low {low:g} above high {high:g}")
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        mask = (numbers >= low) & (numbers <= high)
    return mask, f"{column} in [{_bound(bounds[0])}, {_bound(bounds[1])}]"


def _one_of(values: pd.Series, column: str, wanted: list[Any]) -> tuple[np.ndarray, str]:
    if not wanted:
        raise DataError(f"the filter on {column!r} lists no values")
    present = set(values.dropna().unique().tolist())
    unknown = [v for v in wanted if v not in present]
    if unknown:
        shown = ", ".join(map(repr, sorted(present, key=str)[:10]))
        raise DataError(
            f"column {column!r} has no values {', '.join(map(repr, unknown))}; it has {shown}"
        )
    mask = values.isin(wanted).to_numpy(dtype=bool)
    listed = ", ".join(map(repr, wanted))
    return mask, f"{column} = {listed}" if len(wanted) == 1 else f"{column} in {{{listed}}}"


def _bound(value: Any) -> str:
    return "…" if value is None else f"{value:g}" if isinstance(value, float | int) else str(value)
