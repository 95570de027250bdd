"""A spatial index over the drawn map: points of the ``[-1, 1]²`` square (the ``_points`` space)
bucketed into a ``grid × grid`` raster of cells, for viewport queries, density images and an exact
lasso over every point.

Cells are numbered row-major from the bottom left: cell ``(i, j)`` (column ``i``, row ``j``) covers
``x ∈ [-1 + i·w, -1 + (i+1)·w)`` and ``y ∈ [-1 + j·w, …)`` with ``w = 2 / grid``; points on or
on the square's upper edges go to the last cell. The index keeps one uint32 cell number per point
and the point positions sorted by cell (8 bytes per point besides the coordinates).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from galwidget.errors import DataError

__all__ = [
    "GridIndex",
    "check_polygon_vertices",
    "density_image",
    "inside_polygon",
    "polygon_positions",
]

# Points per block of the exact point-in-polygon test (bounds its temporaries to ~100 MB).
BLOCK_POINTS = 1 << 20
MAX_GRID = 4096
TARGET_PER_CELL = 32
# Threads and raster cells per side of a lasso over every point (polygon_positions).
LASSO_THREADS = 2
LASSO_GRID = 1024
LASSO_BLOCK = 1 << 21  # fewer, larger numpy calls: each waits for the GIL when others hold it
# A rectangle holding more than 1/LARGE_SHARE of the points is answered by a mask over all points.
LARGE_SHARE = 8


def inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of ``(m, 2)`` points against a closed ``(k, 2)`` polygon,
    in float64, block by block (:data:`BLOCK_POINTS`)."""
    vertices = np.asarray(polygon, dtype=np.float64)
    edges = list(zip(vertices.tolist(), np.roll(vertices, -1, axis=0).tolist(), strict=True))
    result = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), BLOCK_POINTS):
        block = np.asarray(points[start : start + BLOCK_POINTS], dtype=np.float64)
        x, y = block[:, 0], block[:, 1]
        inside = result[start : start + BLOCK_POINTS]
        for (x1, y1), (x2, y2) in edges:
            crosses = (y1 > y) != (y2 > y)
            if not crosses.any():
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= crosses & (x < x_at_y)
    return result


def check_polygon_vertices(polygon: np.ndarray) -> np.ndarray:
    """A lasso's vertices as ``(k, 2)`` float64 (:class:`DataError` for fewer than 3 or
    non-finite ones)."""
    vertices = np.asarray(polygon, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
        raise DataError(f"a lasso needs at least 3 (x, y) vertices, got shape {vertices.shape}")
    if not np.isfinite(vertices).all():
        raise DataError("a lasso's vertices must be finite numbers")
    return vertices


def polygon_positions(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Sorted int64 positions of the ``(n, 2)`` points of ``[-1, 1]²`` inside ``polygon``
    (even-odd rule), without an index: each point's cell of a :data:`LASSO_GRID` raster says
    whether it is inside or outside, except in cells the boundary may touch, whose points are
    tested exactly (:func:`inside_polygon`); block by block, in :data:`LASSO_THREADS` threads
    (numpy releases the GIL).

    Equal to :meth:`GridIndex.in_polygon` and to :func:`inside_polygon` over every point.
    """
    vertices = check_polygon_vertices(polygon)
    grid = LASSO_GRID
    boundary = _boundary_cells(vertices, grid)
    # 0: outside, 1: inside, 2: tested point by point.
    kind = (_centres_inside(vertices, grid) & ~boundary).astype(np.uint8)
    kind[boundary] = 2

    def block_positions(start: int) -> np.ndarray:
        block = points[start : start + LASSO_BLOCK]
        cells = _bins(block[:, 1], grid) * grid + _bins(block[:, 0], grid)
        kinds = kind[cells]
        edge = np.flatnonzero(kinds == 2)
        inside = kinds == 1
        inside[edge] = inside_polygon(block[edge], vertices)
        return np.flatnonzero(inside).astype(np.uint32)  # from the block's start: 4 bytes each

    starts = range(0, len(points), LASSO_BLOCK)
    if len(starts) < 2:
        found = [block_positions(start) for start in starts]
    else:
        with ThreadPoolExecutor(LASSO_THREADS, thread_name_prefix="galwidget-lasso") as pool:
            found = list(pool.map(block_positions, starts))
    positions = np.empty(sum(len(f) for f in found), np.int64)
    at = 0
    for i, start in enumerate(starts):
        block, found[i] = found[i], found[i][:0]  # each block freed as the result fills
        np.add(block, start, out=positions[at : at + len(block)], dtype=np.int64)
        at += len(block)
    return positions


def density_image(points: np.ndarray, size: int) -> np.ndarray:
    """Counts of ``(m, 2)`` points of ``[-1, 1]²`` in a ``size × size`` raster, as uint32, row 0 at
    the top (``y = 1``) so that it maps onto a canvas as it is."""
    counts = np.zeros(size * size, dtype=np.int64)
    for start in range(0, len(points), BLOCK_POINTS):
        block = points[start : start + BLOCK_POINTS]
        column = _bins(block[:, 0], size)
        row = size - 1 - _bins(block[:, 1], size)
        counts += np.bincount(row * size + column, minlength=size * size)
    return counts.reshape(size, size).astype(np.uint32)


def _bins(values: np.ndarray, size: int) -> np.ndarray:
    scaled = np.floor((np.asarray(values, dtype=np.float64) + 1.0) * (size / 2.0))
    return np.clip(scaled, 0, size - 1).astype(np.int64)


class GridIndex:
    """The points of ``[-1, 1]²`` bucketed by grid cell.

    Args:
        points: ``(n, 2)`` float32 coordinates (kept by reference, not copied).
        grid: cells per side (default: about :data:`TARGET_PER_CELL` points per cell, a power of
            two from 16 to :data:`MAX_GRID`).
    """

    def __init__(self, points: np.ndarray, *, grid: int | None = None) -> None:
        if points.ndim != 2 or points.shape[1] != 2:
            raise DataError(f"a spatial index takes (n, 2) coordinates, got shape {points.shape}")
        n = len(points)
        if n and not (points.min() >= -1.0 and points.max() <= 1.0):  # NaN too
            raise DataError("a spatial index takes coordinates within [-1, 1] (normalize first)")
        if grid is None:
            side = int(np.sqrt(max(n, 1) / TARGET_PER_CELL))
            grid = int(np.clip(1 << max(side, 1).bit_length(), 16, MAX_GRID))
        if not 1 <= grid <= MAX_GRID:
            raise DataError(f"grid must be from 1 to {MAX_GRID} cells per side, got {grid}")
        self.points = points
        self.grid = grid
        self.cells = np.empty(n, dtype=np.uint32)
        for start in range(0, n, BLOCK_POINTS):
            block = points[start : start + BLOCK_POINTS]
            column, row = _bins(block[:, 0], grid), _bins(block[:, 1], grid)
            self.cells[start : start + BLOCK_POINTS] = row * grid + column
        # starts[c] … starts[c + 1]: where cell c's points lie in ``order``.
        counts = np.bincount(self.cells, minlength=grid * grid)
        self.starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.order = _cell_order(self.cells, self.starts)

    def __len__(self) -> int:
        return len(self.points)

    def in_rectangle(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Sorted int64 positions of the points with ``x0 ≤ x ≤ x1`` and ``y0 ≤ y ≤ y1``."""
        if not (x0 <= x1 and y0 <= y1):  # NaN too
            raise DataError(f"an empty or invalid rectangle: x {x0} … {x1}, y {y0} … {y1}")
        columns = range(*_cell_span(x0, x1, self.grid))
        rows = range(*_cell_span(y0, y1, self.grid))
        if not columns or not rows:
            return np.empty(0, np.int64)
        grid = self.grid
        cells = (
            np.arange(rows.start, rows.stop)[:, None] * grid
            + np.arange(columns.start, columns.stop)
        ).ravel()
        starts = self.starts
        if int((starts[cells + 1] - starts[cells]).sum()) * LARGE_SHARE <= len(self):
            candidates = self._in_cells(cells)
            xy = self.points[candidates]
            keep = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
            return np.sort(candidates[keep])
        # A large part of the map: a mask over every point (no sort), cells wholly inside taken
        # whole and only the cells on the rectangle's edges tested point by point.
        width = 2.0 / grid
        full_columns = [i for i in columns if x0 <= -1 + i * width and -1 + (i + 1) * width <= x1]
        full_rows = [j for j in rows if y0 <= -1 + j * width and -1 + (j + 1) * width <= y1]
        kind = np.zeros(grid * grid, np.uint8)
        kind[cells] = 2  # overlapped: tested point by point, unless wholly inside
        kind[(np.asarray(full_rows, np.int64)[:, None] * grid + full_columns).ravel()] = 1
        mask = kind[self.cells] == 1
        candidates = self._in_cells(np.flatnonzero(kind == 2))
        xy = self.points[candidates]
        keep = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        mask[candidates[keep]] = True
        return np.flatnonzero(mask)

    def in_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Sorted int64 positions of the points inside ``polygon`` (``(k, 2)``, closed implicitly,
        even-odd rule), exactly as :func:`inside_polygon` over every point would find them.

        Cells the polygon's boundary may touch are tested point by point; every other cell lies
        wholly inside or outside, decided by its centre.
        """
        vertices = check_polygon_vertices(polygon)
        grid = self.grid
        boundary = _boundary_cells(vertices, grid)
        inside_cells = _centres_inside(vertices, grid) & ~boundary
        mask = inside_cells[self.cells]
        candidates = self._in_cells(np.flatnonzero(boundary))
        mask[candidates] = inside_polygon(self.points[candidates], vertices)
        return np.flatnonzero(mask)

    def density(self, size: int) -> np.ndarray:
        """:func:`density_image` of every point."""
        return density_image(self.points, size)

    def _in_cells(self, cells: np.ndarray) -> np.ndarray:
        """int64 positions of the points in ``cells`` (in cell order)."""
        starts, stops = self.starts[cells], self.starts[cells + 1]
        lengths = stops - starts
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, np.int64)
        offsets = np.cumsum(lengths) - lengths
        index = np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)
        return self.order[index].astype(np.int64)


def _boundary_cells(vertices: np.ndarray, grid: int) -> np.ndarray:
    """A boolean per cell of a ``grid × grid`` raster: may the polygon's boundary touch it?
    (Conservative: every cell an edge passes through, and its neighbors.)"""
    step = 1.0 / grid  # half a cell
    samples = [np.empty((0, 2))]
    for first, last in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        clipped = _clip_to_square(first, last)
        if clipped is None:
            continue  # outside the square: no point is there
        start, end = clipped
        count = int(np.ceil(np.abs(end - start).max() / step)) + 1
        t = np.linspace(0.0, 1.0, count + 1)[:, None]
        samples.append(start + t * (end - start))
    along = np.concatenate(samples)
    touched = np.zeros((grid + 2, grid + 2), dtype=bool)  # one cell of margin each side
    touched[_bins(along[:, 1], grid) + 1, _bins(along[:, 0], grid) + 1] = True
    near = touched.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            near[1:-1, 1:-1] |= touched[1 + dy : grid + 1 + dy, 1 + dx : grid + 1 + dx]
    return near[1:-1, 1:-1].ravel()


def _cell_order(cells: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Positions sorted by cell, in position order within a cell (a stable counting sort, block
    by block: uint32 positions and no n-long int64 temporary, as a whole argsort would make)."""
    order = np.empty(len(cells), dtype=np.uint32 if len(cells) < 1 << 32 else np.int64)
    free = starts[:-1].copy()  # the next free slot of each cell
    for start in range(0, len(cells), BLOCK_POINTS):
        block = cells[start : start + BLOCK_POINTS]
        by_cell = np.argsort(block, kind="stable")
        sorted_cells = block[by_cell]
        first = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
        lengths = np.diff(np.r_[first, len(block)])
        within = np.arange(len(block)) - np.repeat(first, lengths)
        order[free[sorted_cells] + within] = by_cell + start
        free[sorted_cells[first]] += lengths
    return order


def _centres_inside(vertices: np.ndarray, grid: int) -> np.ndarray:
    """Whether each cell's centre is inside the polygon (even-odd), row by row (scanline): a
    boolean per cell, row-major. Centres on or within rounding of an edge lie in boundary cells,
    whose answer is not used."""
    centres = -1.0 + (np.arange(grid) + 0.5) * (2.0 / grid)
    # hits[j, k]: crossings of row j's centre line whose x lies just right of centres 0 … k - 1.
    hits = np.zeros((grid, grid + 1), dtype=np.int64)
    for (x1, y1), (x2, y2) in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        rows = np.flatnonzero((y1 > centres) != (y2 > centres))
        if len(rows) == 0:
            continue
        x_at_y = x1 + (centres[rows] - y1) * (x2 - x1) / (y2 - y1)
        left_of = np.clip(np.ceil((x_at_y + 1.0) * (grid / 2.0) - 0.5), 0, grid).astype(np.int64)
        np.add.at(hits, (rows, left_of), 1)
    # A centre is inside when an odd number of crossings lie to its right.
    right = np.cumsum(hits[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return (right % 2 == 1).ravel()


def _cell_span(low: float, high: float, grid: int) -> tuple[int, int]:
    """The cells ``start … stop - 1`` along one axis that ``[low, high]`` overlaps."""
    start = int(np.clip(np.floor((low + 1.0) * grid / 2.0), 0, grid - 1))
    stop = int(np.clip(np.floor((high + 1.0) * grid / 2.0) + 1, 1, grid))
    return start, stop


def _clip_to_square(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of segment ``start → end`` inside ``[-1, 1]²`` (Liang–Barsky), or None."""
    low, high = 0.0, 1.0
    delta = end - start
    for axis in range(2):
        for p, q in ((-delta[axis], start[axis] + 1.0), (delta[axis], 1.0 - start[axis])):
            if p == 0:
                if q < 0:
                    return None
                continue
            t = q / p
            if p < 0:
                low = max(low, t)
            else:
                high = min(high, t)
    if low > high:
        return None
    return start + low * delta, start + high * delta
