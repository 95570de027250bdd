"""Checks of feature values and sky coordinates shared by every loader."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from galwidget.errors import DataError
from galwidget.util import SHOW_AT_MOST, preview

# Largest usable feature magnitude. Squared distances between rows within it, summed over d
# dimensions, stay below float32's 3.4e38 for any d up to ~8e7; from ~1e18 they overflow, PCA does
# not converge and exact search returns wrong neighbors. Rows beyond it are refused like NaN rows
# (see valid_rows): rescaling silently would change the values users see and could not repair a
# mix of magnitudes; genuine data this large can be divided by a constant by its owner.
MAX_ABS_FEATURE = 1e15
"""The largest feature magnitude accepted: larger values are refused like NaN (or dropped with ``on_invalid="drop"``)."""

OnInvalid = Literal["raise", "drop"]
"""What to do with rows whose features are NaN, infinite or too large: ``"raise"`` a :class:`~galwidget.DataError` naming them, or ``"drop"`` them with a warning."""


def degrees(values: pd.Series, name: str) -> np.ndarray:
    """A ra/dec column as float64 degrees (NaN where missing); text that is not a number and
    booleans are refused, naming the rows."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"column {name!r} must hold numbers (degrees), not booleans")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(np.asarray(numbers.isna() & values.notna(), dtype=bool))
    if len(bad):
        raise DataError(
            f"column {name!r} must hold numbers (degrees); it holds {values.dtype} values such "
            f"as {preview(values.iloc[bad[:SHOW_AT_MOST]].tolist(), len(bad))} at rows "
            f"{preview(bad.tolist())}: convert it (e.g. astropy SkyCoord for sexagesimal text)"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def check_on_invalid(on_invalid: Any) -> None:
    if on_invalid not in ("raise", "drop"):
        raise DataError(f"on_invalid must be 'raise' or 'drop', got {on_invalid!r}")


def valid_rows(block: np.ndarray) -> np.ndarray:
    """Rows whose features are all finite and at most :data:`MAX_ABS_FEATURE` in magnitude."""
    if block.shape[1] == 0:
        return np.ones(len(block), dtype=bool)
    # max/min propagate NaN, and NaN compares False: no temporary the size of the block.
    return (block.max(axis=1) <= MAX_ABS_FEATURE) & (block.min(axis=1) >= -MAX_ABS_FEATURE)


def _all_valid(matrix: np.ndarray) -> bool:
    """Whether every value is finite and at most :data:`MAX_ABS_FEATURE` in magnitude (NaN
    propagates through max and min, and compares False)."""
    return bool(matrix.max() <= MAX_ABS_FEATURE and matrix.min() >= -MAX_ABS_FEATURE)


def check_finite(
    matrix: np.ndarray, ids: pd.Index, on_invalid: OnInvalid, names: Sequence[str]
) -> np.ndarray | None:
    """Return a keep-mask if rows must be dropped, ``None`` if every row is valid."""
    if matrix.size == 0 or _all_valid(matrix):  # one min and one max: the usual case
        return None
    valid = np.ones(len(matrix), dtype=bool)
    for start in range(0, len(matrix), 65536):
        valid[start : start + 65536] = valid_rows(matrix[start : start + 65536])
    bad = np.flatnonzero(~valid)
    if not len(bad):
        return None
    report_invalid(bad, ids, on_invalid, matrix[bad], names)
    return valid


def report_invalid(
    bad: np.ndarray, ids: pd.Index, on_invalid: OnInvalid, values: np.ndarray, names: Sequence[str]
) -> None:
    """Raise (or warn, for ``drop``) about invalid rows, naming rows, ids, columns and the kind
    of value (NaN, infinite, too large)."""
    with np.errstate(invalid="ignore"):
        nan = np.isnan(values)
        infinite = np.isinf(values)
        large = ~nan & ~infinite & (np.abs(values) > MAX_ABS_FEATURE)
    kinds = [
        f"{int(mask.sum())} {label}"
        for label, mask in (
            ("NaN", nan),
            ("infinite (or beyond float32's ±3.4e38)", infinite),
            (f"beyond ±{MAX_ABS_FEATURE:.0e}", large),
        )
        if mask.any()
    ]
    columns = [names[int(j)] for j in np.flatnonzero((nan | infinite | large).any(axis=0))]
    examples = [f"row {r} ({ids[r]})" for r in bad[:SHOW_AT_MOST]]
    more = f" … ({len(bad)} rows in all)" if len(bad) > SHOW_AT_MOST else ""
    message = (
        "invalid features at "
        + ", ".join(examples)
        + more
        + ": "
        + ", ".join(kinds)
        + f"; columns {preview(columns)}"
    )
    if large.any():
        message += (
            f". Values beyond ±{MAX_ABS_FEATURE:.0e} break float32 distances and PCA: rescale the "
            "features (divide by a constant) if they are genuine"
        )
    if on_invalid == "drop":
        if len(bad) == len(ids):
            raise DataError(message + ": every row is invalid")
        warnings.warn(message + "; these rows were dropped", stacklevel=4)
        return
    raise DataError(message + "; pass on_invalid='drop' to drop them")
