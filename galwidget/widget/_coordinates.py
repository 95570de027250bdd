"""Where each galaxy is drawn: a layout spec → the ``_points`` buffer.

Format: float32 little-endian ``x, y`` interleaved per position, centred and scaled by one factor
on both axes (shapes are kept) so that the farthest point lies at :data:`LAYOUT_MARGIN` of the
[-1, 1] square (the ``"sky"`` layout: the whole-sky ellipse, so the map and its RA/Dec graticule
never move). :class:`Layouts` holds several named specs and resolves each when first shown; when the
galaxies have sky positions, ``"sky"`` is always one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from galwidget.data import Representations
from galwidget.errors import DataError
from galwidget.layout import SKY_BOUNDS, graticule
from galwidget.neighbors import NeighborIndex
from galwidget.sky import parse_iauname

if TYPE_CHECKING:
    from galwidget.layout import LayoutMethod

__all__ = [
    "LAYOUT_MARGIN",
    "SKY",
    "LayoutSpec",
    "Layouts",
    "layout_coordinates",
    "normalize_layout",
    "normalizing",
]

# Points fill this fraction of [-1, 1] so that the outermost ones are not cut by the canvas edge.
LAYOUT_MARGIN = 0.95
"""Points fill this fraction of [-1, 1], so the outermost ones are not cut by the canvas edge."""
_NORMALIZE_BLOCK = 1 << 20  # rows normalized at a time
LayoutSpec: TypeAlias = str | np.ndarray | tuple[str, str]
"""A 2-D map: ``"pca"`` or ``"umap"``, an ``(n, 2)`` array, or a pair of numeric column names."""
# The built-in all-sky layout's name and spec.
SKY = "sky"
# Decimal places of the graticule's coordinates on the wire (1e-4 of the map: sub-pixel).
GRATICULE_DECIMALS = 4


def layout_coordinates(
    reps: Representations,
    layout: LayoutSpec,
    *,
    table: pd.DataFrame,
    index: NeighborIndex | None = None,
) -> np.ndarray:
    """The ``(n, 2)`` float64 coordinates a layout spec stands for.

    Args:
        reps: the galaxies.
        layout: ``"pca"``, ``"umap"`` or ``"sky"`` (computed by :func:`galwidget.layout`), an
            ``(n, 2)`` array, or a pair of numeric column names of ``table``.
        table: the columns a pair of names refers to, one row per position.
        index: a :class:`~galwidget.NeighborIndex` the computed layouts may reuse.

    Raises:
        DataError: an unknown method, missing or non-numeric columns, a wrong shape, or NaN/inf
            coordinates (naming the first galaxies affected).
    """
    if isinstance(layout, str):
        if layout not in {"pca", "umap", SKY}:
            raise DataError(
                f"layout must be 'pca', 'umap', 'sky', an (n, 2) array or two columns, got "
                f"{layout!r}"
            )
        from galwidget.layout import layout as compute_layout

        method: LayoutMethod = "pca" if layout == "pca" else "umap" if layout == "umap" else "sky"
        coordinates = np.asarray(compute_layout(reps, method=method, index=index))
    elif isinstance(layout, tuple) and len(layout) == 2 and all(isinstance(c, str) for c in layout):
        missing = [c for c in layout if c not in table.columns]
        if missing:
            raise DataError(f"layout columns not found: {', '.join(missing)}")
        try:
            coordinates = table[list(layout)].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"layout columns {layout} must be numeric") from None
    else:
        coordinates = np.asarray(layout)
        if not np.issubdtype(coordinates.dtype, np.number):
            raise DataError(f"layout array must be numeric, got dtype {coordinates.dtype}")
    if coordinates.shape != (len(reps), 2):
        raise DataError(f"layout must have shape ({len(reps)}, 2), got {coordinates.shape}")
    if np.isfinite(coordinates).all():  # one pass over the values, none per row
        return coordinates
    bad = np.flatnonzero(~np.isfinite(coordinates).all(axis=1))
    if len(bad):
        shown = ", ".join(str(reps.ids[i]) for i in bad[:5])
        raise DataError(f"layout has NaN or infinite coordinates for {len(bad)} galaxies: {shown}")
    return coordinates


def normalizing(
    coordinates: np.ndarray, bounds: tuple[float, float, float, float] | None = None
) -> tuple[np.ndarray, float]:
    """The centre and the one scale factor that ``normalize_layout`` applies: drawn =
    (coordinates - centre) * scale; the range of the coordinates, or ``bounds`` ``(x_min,
    y_min, x_max, y_max)``, fills :data:`LAYOUT_MARGIN` of [-1, 1]."""
    coordinates = np.asarray(coordinates)  # min and max are exact in any dtype: no float64 copy
    if bounds is None:  # column by column: 40× faster than min(axis=0) over (n, 2) rows
        columns = [coordinates[:, j] for j in range(coordinates.shape[1])]
        low = np.array([c.min() for c in columns], dtype=np.float64)
        high = np.array([c.max() for c in columns], dtype=np.float64)
    else:
        low, high = np.array(bounds[:2], dtype=np.float64), np.array(bounds[2:], dtype=np.float64)
    half_range = float((high - low).max()) / 2
    centre, scale = (low + high) / 2, LAYOUT_MARGIN / half_range if half_range > 0 else 1.0
    if coordinates.dtype == np.float32:
        # float32 values: the centre and scale as float32 too, so the float32 arithmetic of
        # _normalized and the float64 one of to_drawn / from_drawn apply the same numbers.
        centre, scale = centre.astype(np.float32).astype(np.float64), float(np.float32(scale))
    return centre, scale


def normalize_layout(
    coordinates: np.ndarray, bounds: tuple[float, float, float, float] | None = None
) -> np.ndarray:
    """Interleaved float32 ``x, y`` scaled (same factor on both axes) and centred into [-1, 1]
    (see ``normalizing``); computed in float64 a block of rows at a time, so memory beyond the
    result stays bounded at tens of millions of points."""
    coordinates = np.asarray(coordinates)
    return _normalized(coordinates, *normalizing(coordinates, bounds))


def _normalized(coordinates: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
    drawn = np.empty((len(coordinates), 2), dtype="<f4")
    if coordinates.dtype == np.float32:
        # float32 coordinates in float32, in place in the result: no temporary at all (the
        # difference of two float32 values and its scaling round once each, as the float64
        # path's final rounding does, to within one unit in the last place).
        np.subtract(coordinates, centre.astype(np.float32), out=drawn)
        drawn *= np.float32(scale)
        return drawn.ravel()
    for start in range(0, len(coordinates), _NORMALIZE_BLOCK):
        block = coordinates[start : start + _NORMALIZE_BLOCK].astype(np.float64)
        drawn[start : start + _NORMALIZE_BLOCK] = (block - centre) * scale
    return drawn.ravel()


class Layouts:
    """Named layout specs, each resolved to its ``_points`` buffer when first asked for (then kept).

    Args:
        reps: the galaxies.
        layout: the layout shown first: a name of ``layouts``, or a spec (as for
            :func:`layout_coordinates`) that joins them under its own name (``"pca"``,
            ``"umap"``, ``"x, y"`` for two columns, ``"given"`` for an array).
        layouts: name → spec; ``None`` for ``layout`` alone.
        tables: the tables whose columns a pair of names may refer to, searched in order.
        index: returns the :class:`~galwidget.NeighborIndex` computed layouts may reuse (or None).

    Raises:
        DataError: a spec's name that ``layouts`` already gives to another spec.
    """

    def __init__(
        self,
        reps: Representations,
        layout: LayoutSpec,
        layouts: Mapping[str, LayoutSpec] | None,
        *,
        tables: tuple[pd.DataFrame, ...],
        index: Callable[[], NeighborIndex | None],
    ) -> None:
        specs = dict(layouts or {})
        if (
            _may_have_sky(reps)
            and SKY not in specs
            and not (isinstance(layout, str) and layout == SKY)
        ):
            specs[SKY] = SKY  # the sky beside the map (switch to it to see the selection there)
        if isinstance(layout, str) and layout in specs:
            self.first = layout
        else:
            self.first = _name_of(layout)
            if self.first in specs:
                raise DataError(
                    f"layout {self.first!r} names another spec in layouts: give it by that name"
                )
            specs = {self.first: layout, **specs}
        self._specs = specs
        self._reps = reps
        self._tables = tables
        self._index = index
        self._drawn: dict[str, np.ndarray] = {}
        self._points: dict[str, bytes] = {}  # made from _drawn when first sent whole
        self._normalizing: dict[str, tuple[np.ndarray, float]] = {}

    @property
    def names(self) -> list[str]:
        """The layout names, the first shown first."""
        return list(self._specs)

    def points(self, name: str) -> bytes:
        """The ``_points`` buffer of layout ``name``, computed on first use.

        Raises:
            DataError: an unknown name (listing the known ones), or a spec that cannot be drawn.
        """
        if name not in self._points:
            self._points[name] = self.drawn(name).tobytes()
        return self._points[name]

    def drawn(self, name: str) -> np.ndarray:
        """Layout ``name`` as drawn: ``(n, 2)`` float32 (what ``_points`` holds), computed on
        first use and kept (a map beyond the point budget never makes the ``_points`` copy).

        Raises:
            DataError: an unknown name (listing the known ones), or a spec that cannot be drawn.
        """
        if name not in self._specs:
            if name == SKY:  # says why: no ra/dec
                layout_coordinates(self._reps, SKY, table=self._tables[0])
            raise DataError(f"no layout {name!r}; layouts: {', '.join(map(repr, self._specs))}")
        if name not in self._drawn:
            spec = self._specs[name]
            table = self._tables[0]
            if isinstance(spec, tuple):
                table = next((t for t in self._tables if set(spec) <= set(t.columns)), table)
            coordinates = layout_coordinates(self._reps, spec, table=table, index=self._index())
            bounds = SKY_BOUNDS if isinstance(spec, str) and spec == SKY else None
            normalization = normalizing(coordinates, bounds)
            drawn = _normalized(coordinates, *normalization).reshape(-1, 2)
            drawn.flags.writeable = False
            self._normalizing[name], self._drawn[name] = normalization, drawn
        return self._drawn[name]

    def to_drawn(self, name: str, points: np.ndarray) -> np.ndarray:
        """Points ``(m, 2)`` in layout ``name``'s own coordinates, as drawn (``_points``' space)."""
        self.drawn(name)
        centre, scale = self._normalizing[name]
        return (np.asarray(points, dtype=np.float64) - centre) * scale

    def from_drawn(self, name: str, points: np.ndarray) -> np.ndarray:
        """Points ``(m, 2)`` of layout ``name`` as drawn, in its own coordinates."""
        self.drawn(name)
        centre, scale = self._normalizing[name]
        return np.asarray(points, dtype=np.float64) / scale + centre

    def is_sky(self, name: str) -> bool:
        """Whether layout ``name`` is the all-sky map."""
        spec = self._specs.get(name)
        return isinstance(spec, str) and spec == SKY

    def graticule(self, name: str) -> list[list[float]]:
        """The RA/Dec grid lines of layout ``name`` as the page draws them (interleaved ``x, y``
        per line, in ``_points`` coordinates): the sky's grid for the ``"sky"`` layout, none for
        the others."""
        if not self.is_sky(name):
            return []
        return [
            np.round(
                normalize_layout(line, SKY_BOUNDS).astype(np.float64), GRATICULE_DECIMALS
            ).tolist()
            for line in graticule()
        ]


def _may_have_sky(reps: Representations) -> bool:
    """Whether the galaxies have sky positions (ra/dec columns, or a first id that is an IAU
    name), without parsing millions of ids: the sky layout says so when shown if not."""
    if {"ra", "dec"} <= set(reps.meta.columns):
        return True
    if len(reps) == 0:
        return False
    try:
        parse_iauname(str(reps.ids[0]))
    except DataError:
        return False
    return True


def _name_of(layout: LayoutSpec) -> str:
    if isinstance(layout, str):
        return layout
    if isinstance(layout, tuple):
        return ", ".join(map(str, layout))
    return "given"
