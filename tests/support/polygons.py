"""Polygon geometry for tests that draw lassos: Python's side of the expected answer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Polygon = Sequence[tuple[float, float]] | np.ndarray


def polygon_edges(polygon: Polygon) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The closed polygon's edges as (start, end) vertex pairs."""
    vertices = [tuple(v) for v in np.asarray(polygon, dtype=float).tolist()]
    return list(zip(vertices, vertices[1:] + vertices[:1], strict=True))


def distance_to_boundary(points: np.ndarray, polygon: Polygon) -> np.ndarray:
    """Distance of each ``(x, y)`` point to the polygon's boundary."""
    x, y = points[:, 0], points[:, 1]
    closest = np.full(len(points), np.inf)
    for (x1, y1), (x2, y2) in polygon_edges(polygon):
        dx, dy = x2 - x1, y2 - y1
        t = np.clip(((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy), 0, 1)
        closest = np.minimum(closest, np.hypot(x - (x1 + t * dx), y - (y1 + t * dy)))
    return closest


def inside_polygon(points: np.ndarray, polygon: Polygon) -> np.ndarray:
    """Even-odd point-in-polygon test of ``(x, y)`` points (for simple polygons the same as the
    non-zero winding rule regl-scatterplot applies, and what bqplot's lasso does)."""
    x, y = points[:, 0], points[:, 1]
    result = np.zeros(len(points), dtype=bool)
    for (x1, y1), (x2, y2) in polygon_edges(polygon):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at_y = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        result ^= crosses & (x < x_at_y)
    return result
