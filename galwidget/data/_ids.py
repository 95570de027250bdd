"""Ids: validated once, kept as pandas' arrow-backed strings, exactly as the source wrote them."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from galwidget.errors import DataError
from galwidget.util import SHOW_AT_MOST, preview

# The index ids_from_column returned last: loaders validate ids, then build Representations,
# which would validate them again (7 s for 8.7M ids).
_last_validated: Callable[[], pd.Index | None] = weakref.ref(pd.Index([]))


def validate_ids(ids: Any) -> pd.Index:
    if isinstance(ids, pd.Index) and ids is _last_validated():
        return ids
    index = ids if isinstance(ids, pd.Index) else pd.Index(ids, dtype=object)
    name = index.name or "id"
    return ids_from_column(pd.Series(index, copy=False), name)


def ids_from_column(values: pd.Series, name: str) -> pd.Index:
    """Ids as strings exactly as written: integers of every width keep every digit, strings keep
    leading zeros. Missing values, floats (which lose digits of large ids), booleans and text
    that is not valid Unicode (lone surrogates) are refused, naming the rows."""
    missing = np.asarray(values.isna(), dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(f"id column {name!r} has missing values at rows {preview(rows.tolist())}")
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind in {"floating", "mixed-integer-float", "decimal", "complex", "boolean"}:
        raise DataError(
            f"id column {name!r} holds {'floating point' if 'float' in kind else kind} values "
            f"({preview(values.iloc[:3].tolist())}), "
            "which lose digits of large ids or are not ids; store ids as strings or integers"
        )
    if kind not in {"string", "integer", "empty"}:  # mixed: check each value
        allowed = (str, int, np.integer)
        for row, value in enumerate(values.tolist()):
            if not isinstance(value, allowed) or isinstance(value, bool | np.bool_):
                raise DataError(
                    f"id column {name!r} holds a {type(value).__name__} at row {row}: "
                    f"{preview([value])}; ids must be strings or integers"
                )
    # pandas' arrow-backed string dtype: ~16 bytes an id where Python strings take ~70, and
    # string columns read from parquet become the index without a Python object per id.
    try:
        index = pd.Index(
            values if kind == "string" else [str(v) for v in values.tolist()],
            name=name,
            dtype="str",
        )
    except UnicodeEncodeError:
        _check_unicode([str(v) for v in values.tolist()], name)
        raise
    repeated = _repeated_ids(index)
    duplicated = repeated[repeated.duplicated()]
    if len(duplicated):
        rows = np.flatnonzero(index.isin(duplicated))
        raise DataError(
            f"duplicate ids in {name!r}: {preview(duplicated.unique())} (rows {preview(rows.tolist())})"
        )
    global _last_validated
    _last_validated = weakref.ref(index)
    return index


HASH_CHUNK_IDS = 1 << 20
# Up to this many ids, pandas' own hash table finds repeats (and then serves id lookups); beyond,
# sorted 64-bit hashes do: the table takes ~100 bytes an id (0.9 GB for 8.7M), the hashes 16.
ID_TABLE_MAX = 2_000_000


def _repeated_ids(index: pd.Index) -> pd.Index:
    """Ids that may repeat (empty when all are unique; compare them exactly): all of them if
    pandas finds a repeat, else those whose 64-bit hash another id shares."""
    if len(index) <= ID_TABLE_MAX:
        return index if index.has_duplicates else index[:0]
    hashes = np.concatenate(
        [
            pd.util.hash_array(index.array[start : start + HASH_CHUNK_IDS])
            for start in range(0, len(index), HASH_CHUNK_IDS)
        ]
        or [np.empty(0, np.uint64)]
    )
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    return index[np.isin(hashes, shared)] if len(shared) else index[:0]


def _check_unicode(strings: list[str], name: str) -> None:
    """Refuse text that cannot be written as UTF-8 (lone surrogates from a bad decode)."""
    try:
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError:
        rows = [i for i, s in enumerate(strings) if not _encodable(s)]
        raise DataError(
            f"id column {name!r} holds text that is not valid Unicode (lone surrogates) at rows "
            f"{preview(rows)}: {preview([strings[r] for r in rows[:SHOW_AT_MOST]])}; decode "
            "the source with the right encoding"
        ) from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
