"""Small helpers shared by every layer: previews of offending values for error messages, and
the size from which long work shows a progress bar, and catalogue values as the widget shows them."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

# Above this many values (rows × columns), long work shows a progress bar.
PROGRESS_THRESHOLD = 50_000_000
# Error messages show at most this many offending values.
SHOW_AT_MOST = 5


def preview(values: Iterable[Any], total: int | None = None) -> str:
    """Format the first few offending values for an error message."""
    values = list(values)
    total = len(values) if total is None else total
    shown = ", ".join(repr(v) for v in values[:SHOW_AT_MOST])
    return f"{shown}, … ({total} in all)" if total > SHOW_AT_MOST else shown


def format_value(value: Any) -> str:
    """A catalogue value as hover and card text: "–" when missing, 3 significant digits for
    floats, at most 40 characters."""
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def warn_deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` still works this release but goes in the next: write ``new`` instead."""
    warnings.warn(
        f"{old} is deprecated and will be removed in galwidget 0.3; write {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
