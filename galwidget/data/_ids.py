"""Ids: validated once, kept as pandas' arrow-backed strings, exactly as the source wrote them."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
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


def ids_from_column(values: pd.Series, name: str, *, defer_duplicates: bool = False) -> pd.Index:
    """Ids as strings exactly as written: integers of every width keep every digit, strings keep
    leading zeros. Missing values, floats (which lose digits of large ids), booleans, text that
    is not valid Unicode (lone surrogates) and repeated ids are refused, naming the rows.

    ``defer_duplicates``: more than :data:`ID_TABLE_MAX` ids are not checked for repeats here
    but by the :class:`IdLookup` every id-based call goes through (one hashing pass for both,
    ~14 s at 76M ids), which refuses them alike.
    """
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
    if not (defer_duplicates and len(index) > ID_TABLE_MAX):
        _refuse_repeats(index, _repeated_ids(index))
    global _last_validated
    _last_validated = weakref.ref(index)
    return index


HASH_CHUNK_IDS = 1 << 17
# Up to this many ids, pandas' own hash table finds repeats (and then serves id lookups); beyond,
# sorted 64-bit hashes do: the table takes ~100 bytes an id (0.9 GB for 8.7M), the hashes 16.
ID_TABLE_MAX = 2_000_000


def _repeated_ids(index: pd.Index) -> pd.Index:
    """Ids that may repeat (empty when all are unique; compare them exactly): all of them if
    pandas finds a repeat, else those whose 64-bit hash another id shares."""
    if len(index) <= ID_TABLE_MAX:
        return index if index.has_duplicates else index[:0]
    hashes = _hash_ids(index)
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    return index[np.isin(hashes, shared)] if len(shared) else index[:0]


def _refuse_repeats(index: pd.Index, repeated: pd.Index) -> None:
    """:class:`DataError` naming the ids of ``repeated`` (ids that may repeat) that do, and
    their rows."""
    duplicated = repeated[repeated.duplicated()]
    if len(duplicated):
        name = index.name or "id"
        rows = np.flatnonzero(index.isin(duplicated))
        raise DataError(
            f"duplicate ids in {name!r}: {preview(duplicated.unique())} (rows {preview(rows.tolist())})"
        )


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


# Ids searched in sorted order from this many on (IdLookup.locate).
SORT_VALUES_FROM = 256


class IdLookup:
    """Row positions of ids, for every id-based call (queries, focus, selections, labels).

    Holds one sorted 64-bit key per id (8 bytes an id): the high bits of the id's 64-bit hash
    with its row in the low bits (as many as the rows need, 27 at 76M). Built once, in one
    vectorized pass sorted in place, then each lookup hashes only the wanted ids and
    binary-searches their hash bits (microseconds for one id at 8.7M). A found row is confirmed
    by comparing its id with the wanted one, and ids sharing the hash bits are searched among
    all rows that share them, so the answer is exact.

    Args:
        ids: the ids, unique.
        pause: called before each chunk of ids is hashed (a background build yields there).

    Raises:
        DataError: repeated ids (naming them and their rows): the sorted keys find them in the
            same pass, so ids whose check was deferred (``Representations.from_array``) are refused on
            every id-based call.
    """

    def __init__(self, ids: pd.Index, *, pause: Callable[[], object] | None = None) -> None:
        self.ids = ids
        self._row_bits = max(1, (len(ids) - 1).bit_length())
        self._row_mask = np.uint64((1 << self._row_bits) - 1)
        keys = _hash_ids(ids, pause)
        keys &= ~self._row_mask
        size = HASH_CHUNK_IDS
        for start in range(0, len(keys), size):  # the rows, a chunk at a time
            stop = min(start + size, len(keys))
            keys[start:stop] |= np.arange(start, stop, dtype=np.uint64)
        keys.sort()  # in place: no argsort, no second n-long array
        self._keys = keys
        prefixes = self._prefixes(keys)
        shared = np.flatnonzero(prefixes[1:] == prefixes[:-1])
        del prefixes
        if len(shared):  # ids that may repeat: those of shared hash bits, compared exactly
            candidates = np.unique(np.concatenate([keys[shared], keys[shared + 1]]))
            rows = (candidates & self._row_mask).astype(np.int64)
            _refuse_repeats(ids, ids[np.sort(rows)])

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def name(self) -> str | None:
        """The id column's name (that of the ids)."""
        return None if self.ids.name is None else str(self.ids.name)

    def _prefixes(self, keys: np.ndarray) -> np.ndarray:
        """The hash bits of ``keys`` (their rows cleared)."""
        return keys & ~self._row_mask

    def locate(self, wanted: Any) -> np.ndarray:
        """Row positions (int64) of the ``wanted`` ids (a string or an iterable; other values
        are compared as ``str``), ``-1`` for ids that are not in the data."""
        query = _as_strings(wanted)
        n = len(self._keys)
        if len(query) == 0 or n == 0:
            return np.full(len(query), -1, np.int64)
        prefixes = self._prefixes(pd.util.hash_array(query, categorize=False))
        # The first key of each wanted hash's bits (row bits 0 sort first).
        at = np.minimum(_search_sorted(self._keys, prefixes), n - 1)
        keys = self._keys[at]
        rows = (keys & self._row_mask).astype(np.int64)
        shares = self._prefixes(keys) == prefixes
        found = shares.copy()
        if found.any():
            candidates = self.ids.array.take(rows[found]).to_numpy(dtype=object)
            found[found] = candidates == query[found]
        for i in np.flatnonzero(~found & shares):
            rows[i] = self._among_equal_hashes(int(at[i]), query[i])
            found[i] = rows[i] >= 0
        rows[~found] = -1
        return rows

    def _among_equal_hashes(self, start: int, wanted: str) -> int:
        """The row of ``wanted`` among the sorted keys from ``start`` that share its hash bits."""
        target = self._prefixes(self._keys[start])
        for at in range(start, len(self._keys)):
            key = self._keys[at]
            if self._prefixes(key) != target:
                break
            row = int(key & self._row_mask)
            if self.ids[row] == wanted:
                return row
        return -1


def _search_sorted(ordered: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(ordered, values)``; many values are searched in their sorted order,
    which walks ``ordered`` once instead of jumping around it (3× faster for 100k values)."""
    if len(values) <= SORT_VALUES_FROM:
        return np.searchsorted(ordered, values)
    order = np.argsort(values)
    at = np.empty(len(values), np.int64)
    at[order] = np.searchsorted(ordered, values[order])
    return at


def _as_strings(wanted: Any) -> np.ndarray:
    """``wanted`` ids as a 1-D object array of ``str``."""
    if isinstance(wanted, str):
        return np.array([wanted], dtype=object)
    if isinstance(wanted, pd.Index | pd.Series) and isinstance(wanted.dtype, pd.StringDtype):
        return wanted.to_numpy(dtype=object, na_value="nan")
    if not isinstance(wanted, Iterable):
        raise DataError(f"expected an id or a list of ids, got {type(wanted).__name__}")
    return np.array([str(i) for i in wanted], dtype=object)


def _hash_ids(ids: pd.Index, pause: Callable[[], object] | None = None) -> np.ndarray:
    """64-bit hashes of all ids, a chunk at a time (each chunk becomes Python strings; small
    chunks, as pandas holds the GIL while it hashes one, and other threads wait meanwhile);
    ``pause`` is called before each chunk (a background build waits there for requests the
    user waits for)."""
    hashes = np.empty(len(ids), np.uint64)
    size = HASH_CHUNK_IDS
    for start in range(0, len(ids), size):
        if pause is not None:
            pause()
        chunk = ids.array[start : start + size]
        hashes[start : start + size] = pd.util.hash_array(chunk, categorize=False)
    return hashes
