"""Pages of the selection for the gallery: the selected galaxies in a chosen order.

Orders (:data:`ORDERS`):

- ``"centroid"``: nearest first to the selection's centroid, measured as the neighbor index
  measures it (:meth:`galwidget.NeighborIndex.centroid_distances`: its metric, its space, raw
  re-ranking included); value = distance.
- ``"score"``: the classifier's score, highest first (NaN last); value = score.
- ``"column"``: a numeric meta column, highest first (``descending=False``: lowest first; NaN
  last either way); value = the column's value.
- ``"random"``: a random sample, the same order for the same selection (seeded); value = NaN.

:class:`SelectionPages` keeps the latest ordering, so that paging through one selection orders
it once. A page is ``(positions, values)`` for ``[offset, offset + limit)`` of the order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from galwidget.errors import DataError

__all__ = ["MAX_PAGE", "ORDERS", "Page", "SelectionPages", "numeric_columns"]

ORDERS = ("centroid", "score", "column", "random")
MAX_PAGE = 10_000
RANDOM_SEED = 0


@dataclass(frozen=True)
class Page:
    """One page of the ordered selection: ``positions`` (int64) and their float32 ``values``."""

    total: int
    offset: int
    positions: np.ndarray
    values: np.ndarray


class SelectionPages:
    """Orders selections for the gallery and serves pages of them.

    Args:
        meta: the meta columns (one row per position) a ``"column"`` order reads.
        centroid_distances: the distance of each of the given positions to their centroid
            (:meth:`galwidget.NeighborIndex.centroid_distances` of the Explorer's index).
        scores: returns the classifier's scores per position (``None`` before the first fit)
            and a number that changes whenever they do.
    """

    def __init__(
        self,
        meta: pd.DataFrame,
        centroid_distances: Callable[[np.ndarray], np.ndarray],
        scores: Callable[[], tuple[np.ndarray | None, int]],
    ) -> None:
        self._meta = meta
        self._centroid_distances = centroid_distances
        self._scores = scores
        self._lock = threading.Lock()
        self._cached: tuple[Any, np.ndarray, np.ndarray] | None = None

    def page(
        self,
        selection: np.ndarray,
        *,
        order: str,
        column: str | None = None,
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        """Positions and values ``offset … offset + limit`` of ``selection`` in ``order``.

        Raises:
            DataError: an unknown order, a missing or non-numeric column, scores asked for before
                the first fit, or a negative offset or a limit outside 1 … :data:`MAX_PAGE`.
        """
        if order not in ORDERS:
            raise DataError(f"unknown gallery order {order!r}; choose one of {', '.join(ORDERS)}")
        if offset < 0 or not 1 <= limit <= MAX_PAGE:
            raise DataError(
                f"a page needs offset ≥ 0 and 1 ≤ limit ≤ {MAX_PAGE}, got {offset} and {limit}"
            )
        positions, values = self._ordered(selection, order, column, descending)
        end = offset + limit
        return Page(len(positions), offset, positions[offset:end], values[offset:end])

    def _ordered(
        self, selection: np.ndarray, order: str, column: str | None, descending: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, version = self._scores() if order == "score" else (None, 0)
        key = (order, column, descending, version, selection.tobytes())
        with self._lock:
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1], self._cached[2]
        if order == "centroid":
            values = self._centroid_distances(selection)
            rank = np.argsort(values, kind="stable")
        elif order == "random":
            rank = np.random.default_rng(RANDOM_SEED).permutation(len(selection))
            values = np.full(len(selection), np.nan)
        else:
            if order == "score":
                if scores is None:
                    raise DataError("no scores yet: label galaxies of two classes and let it train")
                values = np.asarray(scores, dtype=np.float64)[selection]
            else:
                values = self._column(column)[selection]
            rank = _descending(values) if descending or order == "score" else _ascending(values)
        ordered = (selection[rank], np.asarray(values, dtype=np.float32)[rank])
        with self._lock:
            self._cached = (key, *ordered)
        return ordered

    def _column(self, column: str | None) -> np.ndarray:
        if column is None or column not in self._meta.columns:
            choices = numeric_columns(self._meta)
            raise DataError(
                f"order 'column' needs a numeric meta column, got {column!r}; "
                f"choose one of {', '.join(choices) or '(none)'}"
            )
        values = self._meta[column]
        if not _is_numeric(values):
            raise DataError(f"column {column!r} is not numeric (dtype {values.dtype})")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)


def numeric_columns(meta: pd.DataFrame) -> list[str]:
    """Names of the numeric (not boolean) columns of ``meta``: those an order ``"column"`` takes."""
    return [str(c) for c in meta.columns if _is_numeric(meta[c])]


def _is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _descending(values: np.ndarray) -> np.ndarray:
    """Order of ``values`` highest first, NaN last, ties by position."""
    return np.lexsort((-np.nan_to_num(values, nan=0.0), np.isnan(values)))


def _ascending(values: np.ndarray) -> np.ndarray:
    """Order of ``values`` lowest first, NaN last, ties by position."""
    return np.lexsort((np.nan_to_num(values, nan=0.0), np.isnan(values)))
