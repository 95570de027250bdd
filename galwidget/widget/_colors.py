"""Coloring the points: values → the ``_color`` buffer and its ``_color_meta`` description.

Format (see :mod:`galwidget.protocol`): one uint8 per position; 255 marks a missing value.

- ``continuous`` (numbers): bin ``0 … 254`` of the color map over [``min``, ``max``] — 255
  steps, finer than a color map's eye can tell apart, at a quarter of float32's bytes.
- ``categorical`` (strings, booleans, categoricals, integers with at most :data:`FEW_INTEGERS`
  distinct values): code into ``categories``, the :data:`MAX_CATEGORIES` most frequent (rarer
  ones share ``"other"``).
- ``label``: no buffer; the front end colors points by the label codes it already holds, so a
  label change costs no color bytes.
- ``none``: no buffer, one color.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from galwidget.errors import DataError
from galwidget.protocol import MISSING_COLOR, ColorMeta, quantise

__all__ = [
    "FEW_INTEGERS",
    "MAX_CATEGORIES",
    "encode_colors",
    "label_colors",
    "missing_scores",
    "no_colors",
]

# Integer columns with at most this many distinct values are colored as categories.
FEW_INTEGERS = 12
# Categorical coloring shows the most frequent categories; rarer ones share "other".
MAX_CATEGORIES = 20
"""Categorical coloring shows this many of the most frequent categories; rarer ones share "other"."""


def encode_colors(values: pd.Series, name: str) -> tuple[bytes, ColorMeta]:
    """The ``_color`` buffer and ``_color_meta`` of ``values`` (one per position).

    Raises:
        DataError: no finite number to color by, or a dtype that is neither numbers nor
            categories (dates, durations).
    """
    dtype = values.dtype
    missing = int(values.isna().sum())
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    few_integers = pd.api.types.is_integer_dtype(dtype) and values.nunique() <= FEW_INTEGERS
    if numeric and not few_integers:
        floats = values.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(floats)
        if not finite.any():
            raise DataError(f"column {name!r} has no finite values to color by")
        low, high = float(floats[finite].min()), float(floats[finite].max())
        meta: ColorMeta = {
            "kind": "continuous",
            "column": name,
            "min": low,
            "max": high,
            "missing": int((~finite).sum()),
        }
        return quantise(floats, low, high).tobytes(), meta
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(
            f"cannot color by {name!r}: dtype {dtype} is neither numbers nor categories"
        )
    counts = values.value_counts()
    if isinstance(dtype, pd.CategoricalDtype):
        order = [c for c in dtype.categories if counts.get(c, 0) > 0]
    else:
        order = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    if len(order) > MAX_CATEGORIES:
        keep = set(counts.index[: MAX_CATEGORIES - 1])
        order = [c for c in order if c in keep]
    codes = pd.Index(order, dtype=object).get_indexer(values.astype(object))
    present = values.notna().to_numpy()
    categories = [str(c) for c in order]
    if (present & (codes < 0)).any():
        codes[present & (codes < 0)] = len(categories)
        categories.append("other")
    codes[~present] = MISSING_COLOR
    meta = {"kind": "categorical", "column": name, "categories": categories, "missing": missing}
    return codes.astype(np.uint8).tobytes(), meta


def label_colors(classes: list[str], codes: np.ndarray) -> tuple[bytes, ColorMeta]:
    """Color by label: no buffer; ``categories`` are the classes, ``missing`` the unlabelled."""
    labelled = int(np.count_nonzero((codes > 0) & (codes <= len(classes))))
    meta: ColorMeta = {
        "kind": "label",
        "column": "label",
        "categories": list(classes),
        "missing": len(codes) - labelled,
    }
    return b"", meta


def no_colors() -> tuple[bytes, ColorMeta]:
    """One color for every point."""
    return b"", {"kind": "none"}


def missing_scores(n: int) -> tuple[bytes, ColorMeta]:
    """Color by score before the first fit: every value missing on a [0, 1] scale."""
    meta: ColorMeta = {
        "kind": "continuous",
        "column": "score",
        "min": 0.0,
        "max": 1.0,
        "missing": n,
    }
    return np.full(n, MISSING_COLOR, np.uint8).tobytes(), meta
