"""Level of detail for maps beyond the browser's point budget: a density image of the whole map,
the points of a viewport (a representative sample first), and a lasso resolved exactly over
every point in the kernel.

Each point has a fixed pseudo-random **rank** (a bijective hash of its position): a view sends the
points in its rectangle in rank order, so the first points of the whole square are a uniform
sample of the map, and every view's points extend the sample rather than replace it.

Maps of more galaxies than the Explorer's ``point_budget`` send no ``_points``: the front end
(``js/src/detail.ts``) asks for the density (``map_density``), a sample and the points in view
(``map_view``), and resolves lassos here (``map_lasso``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from galwidget import protocol
from galwidget.errors import DataError
from galwidget.protocol import Reply, Request, handles
from galwidget.widget._spatial import GridIndex, density_image, polygon_positions

if TYPE_CHECKING:
    from galwidget.widget._coordinates import Layouts

__all__ = [
    "DENSITY_SIZE",
    "MAX_VIEW_POINTS",
    "MapDetail",
    "MapHandlers",
    "density_bytes",
    "point_ranks",
    "sample_size",
]

"""Most points the browser holds; beyond it the map is drawn as a density plus points in view."""
MAX_VIEW_POINTS = 500_000
"""Most points one ``map_view`` reply carries (6 MB: uint32 position + float32 x, y each)."""
MAX_DENSITY_SIZE = 1024
MAX_LASSO_VERTICES = 100_000
"""Pixels per side of the density images the front end asks for (js/src/detail.ts)."""
DENSITY_SIZE = 512
"""Most points of the sample drawn first beyond the budget (js/src/detail.ts splits alike)."""
MAX_SAMPLE_POINTS = 200_000
# Knuth's multiplicative hash: odd, so position → rank is a bijection on uint32.
_RANK_FACTOR = np.uint64(2654435761)
_RANK_MASK = np.uint64(0xFFFFFFFF)
_RANK_MASK_INT = 0xFFFFFFFF
# Longest a background job waits for the map's requests at a time (MapDetail.wait_idle).
FOREGROUND_WAIT = 0.5
_RANK_BLOCK = 1 << 21  # positions ranked at a time when a view picks its lowest-ranked points


def sample_size(budget: int) -> int:
    """How many points the front end asks for first (the whole square's sample) under
    ``budget``: half of it, at most :data:`MAX_SAMPLE_POINTS` (js/src/detail.ts)."""
    return max(1, min(MAX_SAMPLE_POINTS, budget // 2))


def point_ranks(positions: np.ndarray) -> np.ndarray:
    """The fixed pseudo-random rank (uint32, distinct per position) of each position."""
    hashed = (np.asarray(positions, dtype=np.uint64) * _RANK_FACTOR) & _RANK_MASK
    return hashed.astype(np.int64)


class MapDetail:
    """What the level of detail answers, per layout: the whole map's density and sample straight
    from the drawn coordinates (no index needed), the spatial index of each layout built on first
    need (one at a time; :meth:`warm` builds it in the background), and lassos that do not wait
    for the index while it is being built.

    Args:
        layouts: the Explorer's layouts (their ``_points`` buffers are indexed in place).
    """

    def __init__(self, layouts: Layouts) -> None:
        self._layouts = layouts
        self._indexes: dict[str, GridIndex] = {}
        self._lock = threading.Lock()
        # The answers every display asks for first: the whole square's sample and density.
        self._cache_lock = threading.Lock()
        self._samples: dict[tuple[str, int, int], tuple[np.ndarray, int, int]] = {}
        self._densities: dict[tuple[str, int], np.ndarray] = {}
        # Requests running that the user waits for (see wait_idle).
        self._busy = 0
        self._idle = threading.Condition()

    @contextmanager
    def _foreground(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self) -> None:
        """Wait (up to :data:`FOREGROUND_WAIT` s) until no view, density or lasso runs: a
        background job that holds the GIL for long stretches (hashing ids) calls it between
        steps, so that what the user waits for does not share the interpreter with it."""
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=FOREGROUND_WAIT)

    def warm(
        self, layout_name: str, budget: int, *, then: Callable[[], object] | None = None
    ) -> None:
        """Build what a display of ``layout_name`` beyond ``budget`` asks for first (the sample
        and the density), call ``then``, then build the spatial index, e.g. in a thread while
        the page loads. A failure is left to the requests, which raise it again."""
        try:
            self.view(layout_name, (-1.0, -1.0, 1.0, 1.0), limit=sample_size(budget))
            self.density(layout_name, DENSITY_SIZE, None)
        except Exception:  # the same request raises it to the page
            pass
        if then is not None:
            then()
        try:
            self.index(layout_name)
        except Exception:  # the same request raises it to the page
            return

    def drawn(self, layout_name: str) -> np.ndarray:
        """Layout ``layout_name`` as drawn: ``(n, 2)`` float32, a view of its ``_points``."""
        return self._layouts.drawn(layout_name)

    def index(self, layout_name: str) -> GridIndex:
        """The :class:`GridIndex` of layout ``layout_name``'s drawn coordinates."""
        with self._lock:
            if layout_name not in self._indexes:
                self._indexes[layout_name] = GridIndex(self.drawn(layout_name))
            return self._indexes[layout_name]

    def in_polygon(self, layout_name: str, polygon: np.ndarray) -> np.ndarray:
        """Sorted int64 positions of layout ``layout_name``'s points inside ``polygon`` (drawn
        coordinates, even-odd rule): through the index when it is built, else over every point
        (:func:`polygon_positions`: the same answer) rather than waiting for it."""
        index = self._indexes.get(layout_name)
        with self._foreground():
            if index is None:
                return polygon_positions(self.drawn(layout_name), polygon)
            return index.in_polygon(polygon)

    def view(
        self,
        layout_name: str,
        rectangle: tuple[float, float, float, float],
        *,
        limit: int,
        from_rank: int = 0,
    ) -> tuple[np.ndarray, int, int]:
        """The points in ``rectangle`` (``x0, y0, x1, y1``) of rank ``from_rank`` or above: the
        ``limit`` lowest-ranked as sorted positions, how many are in the rectangle in all, and the
        rank to ask from for the next ones (−1: none left)."""
        if isinstance(limit, bool) or not 1 <= limit <= MAX_VIEW_POINTS:
            raise DataError(f"a view's limit must be from 1 to {MAX_VIEW_POINTS:,}, got {limit!r}")
        with self._foreground():
            return self._view(layout_name, rectangle, limit, from_rank)

    def _view(
        self,
        layout_name: str,
        rectangle: tuple[float, float, float, float],
        limit: int,
        from_rank: int,
    ) -> tuple[np.ndarray, int, int]:
        x0, y0, x1, y1 = rectangle
        if x0 <= -1 and y0 <= -1 and x1 >= 1 and y1 >= 1:  # the whole map: kept once computed
            key = (layout_name, limit, from_rank)
            with self._cache_lock:
                if key not in self._samples:
                    # Every point is in the square: ranked by position, without the index.
                    n = len(self.drawn(layout_name))
                    blocks = (
                        np.arange(start, min(start + _RANK_BLOCK, n), dtype=np.int64)
                        for start in range(0, n, _RANK_BLOCK)
                    )
                    self._samples = {key: _lowest_ranked(blocks, n, limit, from_rank)}
                return self._samples[key]
        inside = self.index(layout_name).in_rectangle(*rectangle)
        blocks = (
            inside[start : start + _RANK_BLOCK] for start in range(0, len(inside), _RANK_BLOCK)
        )
        return _lowest_ranked(blocks, len(inside), limit, from_rank)

    def density(self, layout_name: str, size: int, positions: np.ndarray | None) -> np.ndarray:
        """Counts per pixel of a ``size × size`` image of the square (row 0 at the top): of every
        point, or of ``positions`` only (straight from the coordinates: no index needed)."""
        if isinstance(size, bool) or not 1 <= size <= MAX_DENSITY_SIZE:
            raise DataError(f"a density image is 1 to {MAX_DENSITY_SIZE} pixels wide, got {size}")
        points = self.drawn(layout_name)
        with self._foreground():
            if positions is not None:
                return density_image(points[positions], size)
            with self._cache_lock:
                key = (layout_name, size)
                if key not in self._densities:
                    self._densities[key] = density_image(points, size)
                return self._densities[key]


def _lowest_ranked(
    blocks: Iterable[np.ndarray], total: int, limit: int, from_rank: int
) -> tuple[np.ndarray, int, int]:
    """Of the positions in ``blocks`` (``total`` in all), those of rank ``from_rank`` or above:
    the ``limit`` lowest-ranked, sorted, ``total``, and the rank of the next one (−1: none).

    Block by block: memory bounded by a block and the limit, not by n (a view of the whole of a
    76M-galaxy map would otherwise hold several n-long arrays); once ``limit + 1`` are kept, only
    ranks below the highest kept can join them."""
    kept_positions, kept_ranks = np.empty(0, np.int64), np.empty(0, np.int64)
    candidates = 0
    ceiling = _RANK_MASK_INT  # ranks above it cannot be among the lowest limit + 1
    for block in blocks:
        ranks = point_ranks(block)
        later = ranks >= from_rank
        candidates += int(np.count_nonzero(later))
        wanted = later & (ranks <= ceiling)
        kept_positions = np.concatenate([kept_positions, block[wanted]])
        kept_ranks = np.concatenate([kept_ranks, ranks[wanted]])
        if len(kept_ranks) > limit + 1:
            lowest = np.argpartition(kept_ranks, limit)[: limit + 1]
            kept_positions, kept_ranks = kept_positions[lowest], kept_ranks[lowest]
        if len(kept_ranks) == limit + 1:
            ceiling = int(kept_ranks.max())
    if candidates <= limit:
        return np.sort(kept_positions), total, -1
    order = np.argsort(kept_ranks)
    next_rank = int(kept_ranks[order[limit]])
    return np.sort(kept_positions[order[:limit]]), total, next_rank


def density_bytes(counts: np.ndarray) -> tuple[bytes, int]:
    """uint8 log-scaled intensities (0: empty; 1 … 255 by ``log1p(count)``) and the largest count."""
    top = int(counts.max()) if counts.size else 0
    if top == 0:
        return np.zeros(counts.size, np.uint8).tobytes(), 0
    scaled = np.log1p(counts.astype(np.float64)) * (254.0 / np.log1p(top))
    levels = np.where(counts > 0, 1 + np.floor(scaled), 0).clip(0, 255).astype(np.uint8)
    return levels.tobytes(), top


class MapHandlers:
    """The Explorer's level-of-detail requests (a mixin of :class:`~galwidget.widget.Explorer`)."""

    if TYPE_CHECKING:  # what the handlers use of the Explorer
        _map_detail: MapDetail
        _filter: bytes
        layout_name: str
        selection: np.ndarray

    @handles("map_view")
    def _on_map_view(self, request: Request) -> Reply:
        params = request.params
        layout = self.layout_name
        rectangle = (params["x0"], params["y0"], params["x1"], params["y1"])
        positions, total, next_rank = self._map_detail.view(
            layout, rectangle, limit=params["limit"], from_rank=params["from_rank"]
        )
        points = self._map_detail.drawn(layout)[positions]
        fields = {"layout": layout, "total": total, "count": len(positions), "next_rank": next_rank}
        return Reply(fields, [protocol.encode_positions(positions), points.astype("<f4").tobytes()])

    @handles("map_density")
    def _on_map_density(self, request: Request) -> Reply:
        size = request.params["size"]
        positions = self.selection if request.params["layer"] == "selection" else None
        counts = self._map_detail.density(self.layout_name, size, positions)
        data, top = density_bytes(counts)
        return Reply({"size": size, "max": top}, [data])

    @handles("map_lasso")
    def _on_map_lasso(self, request: Request) -> Reply:
        raw = request.buffers[0]
        if len(raw) % 8 or not 3 <= len(raw) // 8 <= MAX_LASSO_VERTICES:
            raise DataError(
                f"a lasso is 3 to {MAX_LASSO_VERTICES:,} float32 (x, y) vertices, "
                f"got {len(raw)} bytes"
            )
        polygon = np.frombuffer(raw, dtype="<f4").reshape(-1, 2)
        inside = self._map_detail.in_polygon(self.layout_name, polygon)
        if self._filter:  # the lasso picks only the galaxies shown
            shown = protocol.decode_selection(
                self._filter, len(self._map_detail.drawn(self.layout_name))
            )
            inside = np.intersect1d(inside, shown, assume_unique=True)
        mode = request.params["mode"]
        if mode == "add":
            selection = np.union1d(self.selection, inside)
        elif mode == "remove":
            selection = np.setdiff1d(self.selection, inside, assume_unique=True)
        else:
            selection = inside
        if selection.dtype != np.int64 or selection.base is not None:
            selection = selection.astype(np.int64)  # its own memory
        selection.flags.writeable = False  # read-only: the trait keeps it without a copy
        self.selection = selection
        return Reply({"count": len(inside), "selected": len(self.selection)})
