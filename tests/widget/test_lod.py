"""Maps beyond the point budget: the spatial index, density images, viewport points and the exact
lasso in the kernel, and layout-only Explorers (``Explorer.from_layout``)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import traitlets

import galwidget as gw
from galwidget import protocol
from galwidget.errors import DataError
from galwidget.widget import Explorer, normalize_layout
from galwidget.widget._lod import MAX_VIEW_POINTS, density_bytes, point_ranks, sample_size
from galwidget.widget._spatial import GridIndex, density_image
from tests.support.polygons import inside_polygon

STAR = np.array(  # self-intersecting: the even-odd rule leaves the centre out
    [[0.0, 0.9], [0.5, -0.8], [-0.85, 0.3], [0.85, 0.3], [-0.5, -0.8]]
)
BEYOND = np.array([[-3.0, -0.2], [0.4, -5.0], [2.5, 0.6], [0.0, 0.1]])  # mostly off the square


def uniform_points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.95, 0.95, (n, 2)).astype(np.float32)


def clustered_points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.6, 0.6, (5, 2))
    points = centres[rng.integers(0, 5, n)] + rng.normal(scale=0.08, size=(n, 2))
    return np.clip(points, -0.95, 0.95).astype(np.float32)


def random_polygon(rng: np.random.Generator, vertices: int) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radii = rng.uniform(0.1, 1.2, vertices)
    centre = rng.uniform(-0.5, 0.5, 2)
    return centre + np.column_stack((radii * np.cos(angles), radii * np.sin(angles)))


# -- the spatial index ---------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [1, 16, None, 512])
def test_a_lasso_over_the_grid_equals_point_in_polygon_over_every_point(grid: int | None) -> None:
    points = clustered_points(60_000)
    index = GridIndex(points, grid=grid)
    rng = np.random.default_rng(1)
    polygons = [STAR, BEYOND] + [random_polygon(rng, k) for k in (3, 7, 40, 400)]
    for polygon in polygons:
        expected = np.flatnonzero(inside_polygon(points.astype(np.float64), polygon))
        assert np.array_equal(index.in_polygon(polygon), expected)
        assert 0 < len(expected) < len(points)


def test_points_on_cell_edges_and_polygon_edges_are_decided_as_point_by_point() -> None:
    # Points exactly on cell boundaries and on the lasso's own edges and vertices.
    ticks = np.linspace(-1, 1, 65)
    points = np.array([(x, y) for x in ticks for y in ticks], dtype=np.float32)
    index = GridIndex(points, grid=32)
    square = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    for polygon in (square, square * 0.96875, STAR):
        expected = np.flatnonzero(inside_polygon(points.astype(np.float64), polygon))
        assert np.array_equal(index.in_polygon(polygon), expected)


def test_rectangles_find_exactly_the_points_inside() -> None:
    points = clustered_points(50_000, seed=3)
    index = GridIndex(points)
    x, y = points[:, 0], points[:, 1]
    for x0, y0, x1, y1 in [
        (-0.2, -0.3, 0.1, 0.4),
        (-2, -2, 2, 2),
        (0.5, 0.5, 0.5, 0.5),
        (3, 3, 4, 4),
        (-0.5, -0.75, 0.5, 0.25),  # large (a mask over every point), edges on cell edges
        (-0.93, -0.91, 0.87, 1.0),
    ]:
        expected = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        assert np.array_equal(index.in_rectangle(x0, y0, x1, y1), expected)
    assert len(index.in_rectangle(-2, -2, 2, 2)) == len(points)
    # Points on every cell edge, rectangles on cell edges and between them, small and large.
    ticks = np.linspace(-1, 1, 129)
    lattice = np.array([(a, b) for a in ticks for b in ticks], dtype=np.float32)
    on_edges = GridIndex(lattice, grid=32)
    x, y = lattice[:, 0], lattice[:, 1]
    for x0, y0, x1, y1 in [(-1, -1, 1, 1), (-0.5, -0.5, 0.5, 0.75), (-0.51, -1, 0.49, 0.0625)]:
        expected = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        assert np.array_equal(on_edges.in_rectangle(x0, y0, x1, y1), expected)


def test_the_index_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(DataError, match=r"within \[-1, 1\]"):
        GridIndex(np.array([[0.0, 1.5]], np.float32))
    with pytest.raises(DataError, match="shape"):
        GridIndex(np.zeros((3, 3), np.float32))
    index = GridIndex(uniform_points(100))
    with pytest.raises(DataError, match="at least 3"):
        index.in_polygon(np.array([[0, 0], [1, 1]]))
    with pytest.raises(DataError, match="finite"):
        index.in_polygon(np.array([[0, 0], [1, np.nan], [1, 0]]))
    with pytest.raises(DataError, match="invalid rectangle"):
        index.in_rectangle(0.5, 0, 0.1, 1)


def test_a_density_image_counts_every_point_with_row_zero_at_the_top() -> None:
    points = np.array([[-0.99, 0.99], [-0.99, 0.99], [0.99, -0.99], [0.0, 0.0]], np.float32)
    image = density_image(points, 4)
    assert image.shape == (4, 4) and image.sum() == 4
    assert image[0, 0] == 2 and image[3, 3] == 1 and image[1, 2] == 1 and image[2, 2] == 0
    big = clustered_points(100_000)
    assert density_image(big, 256).sum() == len(big)
    levels, top = density_bytes(density_image(big, 64))
    counts = density_image(big, 64).ravel()
    assert top == counts.max() and len(levels) == 64 * 64
    levels_array = np.frombuffer(levels, np.uint8)
    assert np.array_equal(levels_array == 0, counts == 0)
    assert levels_array[np.argmax(counts)] == 255
    # More galaxies never draw fainter (log scale, monotone).
    order = np.argsort(counts, kind="stable")
    assert bool(np.all(np.diff(levels_array[order].astype(int)) >= 0))


def test_ranks_are_distinct_and_spread_over_the_map() -> None:
    n = 200_000
    ranks = point_ranks(np.arange(n))
    assert len(np.unique(ranks)) == n and ranks.min() >= 0 and ranks.max() < 2**32
    # The lowest-ranked tenth is an even sample of positions (no run of rows favoured).
    first = np.sort(np.argsort(ranks)[: n // 10])
    assert np.histogram(first, bins=10, range=(0, n))[0].min() > 0.8 * n / 100


# -- the Explorer's level-of-detail requests -------------------------------------------------------


def layout_explorer(n: int, **options: object) -> Explorer:
    points = clustered_points(n)
    ids = [f"L{i:07d}" for i in range(n)]
    meta = pd.DataFrame({"kind": np.where(points[:, 0] > 0, "east", "west")})
    return Explorer.from_layout(ids, points * 40.0, meta=meta, **options)


def request(w: Explorer, kind: str, buffers: list[bytes] = (), **params: object):
    return w._reply({"type": "request", "kind": kind, "request": 1, **params}, list(buffers))


def drawn(w: Explorer) -> np.ndarray:
    return np.frombuffer(w._points, "<f4").reshape(-1, 2)


def test_a_lasso_in_the_kernel_selects_exactly_and_respects_mode_and_filter() -> None:
    w = layout_explorer(80_000)
    try:
        points = drawn(w).astype(np.float64)
        polygon = STAR * 0.8
        expected = np.flatnonzero(inside_polygon(points, polygon))
        wire = polygon.astype("<f4").tobytes()
        reply, _ = request(w, "map_lasso", [wire], mode="replace")
        exact = np.flatnonzero(inside_polygon(points, polygon.astype(np.float32).astype(float)))
        assert reply["ok"] and reply["count"] == len(exact) == reply["selected"]
        assert np.array_equal(w.selection, exact)
        assert abs(len(exact) - len(expected)) < 0.001 * len(points)
        assert protocol.decode_selection(w._selection, len(points)).tolist() == exact.tolist()

        box = np.array([[-1, -1], [0, -1], [0, 1], [-1, 1]], "<f4")
        in_box = np.flatnonzero(inside_polygon(points, box.astype(float)))
        request(w, "map_lasso", [box.tobytes()], mode="add")
        assert np.array_equal(w.selection, np.union1d(exact, in_box))
        request(w, "map_lasso", [box.tobytes()], mode="remove")
        assert np.array_equal(w.selection, np.setdiff1d(exact, in_box))

        w.filter(kind=["east"])
        reply, _ = request(w, "map_lasso", [box.tobytes()], mode="replace")
        assert reply["count"] == 0 and len(w.selection) == 0  # the west is not shown
        whole = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], "<f4")
        request(w, "map_lasso", [whole.tobytes()], mode="replace")
        east = np.flatnonzero(w.representations.meta["kind"].to_numpy() == "east")
        assert np.array_equal(w.selection, east)
    finally:
        w.close()


def test_a_refused_lasso_leaves_the_selection_as_it_was() -> None:
    w = layout_explorer(5000)
    try:
        w.selection = [3, 4, 5]
        for wire in (b"\0" * 12, np.zeros(4, "<f4").tobytes(), np.full(6, np.nan, "<f4").tobytes()):
            reply, _ = request(w, "map_lasso", [wire], mode="replace")
            assert not reply["ok"] and "lasso" in reply["reason"]
            assert w.selection.tolist() == [3, 4, 5]
        reply, _ = request(w, "map_lasso", [np.zeros(6, "<f4").tobytes()], mode="all")
        assert not reply["ok"] and w.selection.tolist() == [3, 4, 5]
    finally:
        w.close()


def test_views_send_a_sample_first_then_every_point_of_a_rectangle_page_by_page() -> None:
    n = 30_000
    w = layout_explorer(n)
    try:
        points = drawn(w)
        reply, (positions, xy) = request(
            w, "map_view", x0=-1.0, y0=-1.0, x1=1.0, y1=1.0, limit=2000, from_rank=0
        )
        sample = np.frombuffer(positions, "<u4")
        assert reply["ok"] and reply["total"] == n and reply["count"] == len(sample) == 2000
        assert reply["layout"] == w.layout_name and reply["next_rank"] > 0
        assert np.array_equal(np.frombuffer(xy, "<f4").reshape(-1, 2), points[sample])
        # A sample of the map: each cluster's share is near its share of all galaxies.
        east = points[:, 0] > 0
        assert abs(east[sample].mean() - east.mean()) < 0.05

        x0, y0, x1, y1 = -0.3, -0.3, 0.2, 0.25
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0)
        inside &= points[:, 1] <= y1
        got, from_rank = [], 0
        while from_rank >= 0:
            reply, (positions, _) = request(
                w, "map_view", x0=x0, y0=y0, x1=x1, y1=y1, limit=500, from_rank=from_rank
            )
            assert reply["total"] == inside.sum() and reply["count"] <= 500
            got.append(np.frombuffer(positions, "<u4"))
            from_rank = reply["next_rank"]
        every = np.concatenate(got)
        assert len(every) == len(np.unique(every)) == inside.sum() > 1500
        assert np.array_equal(np.sort(every), np.flatnonzero(inside))

        reply, _ = request(
            w, "map_view", x0=0.0, y0=0.0, x1=1.0, y1=1.0, limit=MAX_VIEW_POINTS + 1, from_rank=0
        )
        assert not reply["ok"] and "limit" in reply["reason"]
    finally:
        w.close()


def test_density_images_of_the_map_and_of_the_selection() -> None:
    w = layout_explorer(20_000)
    try:
        points = drawn(w)
        reply, (image,) = request(w, "map_density", size=128, layer="all")
        levels = np.frombuffer(image, np.uint8).reshape(128, 128)
        counts = density_image(points, 128)
        assert (
            reply["ok"] and reply["max"] == counts.max() and np.array_equal(levels > 0, counts > 0)
        )
        reply, (image,) = request(w, "map_density", size=64, layer="selection")
        assert reply["max"] == 0 and not np.frombuffer(image, np.uint8).any()
        w.selection = np.flatnonzero(points[:, 1] > 0.2)
        reply, (image,) = request(w, "map_density", size=64, layer="selection")
        selected = np.frombuffer(image, np.uint8).reshape(64, 64)
        assert selected[:25].any() and not selected[32:].any()  # row 0 is the top (y = 1)
        reply, _ = request(w, "map_density", size=5000, layer="all")
        assert not reply["ok"] and "1024" in reply["reason"]
    finally:
        w.close()


# -- layout-only maps ------------------------------------------------------------------------------


def test_a_layout_only_map_holds_its_coordinates_and_no_feature_matrix() -> None:
    n = 3000
    xy = np.random.default_rng(2).normal(size=(n, 2)) * [5, 1]
    ids = [f"D{i}" for i in range(n)]
    w = Explorer.from_layout(ids, xy, meta=pd.DataFrame({"z": np.arange(n)}), color="z")
    try:
        assert w.representations.features.shape == (n, 2)
        assert np.array_equal(drawn(w), normalize_layout(xy.astype(np.float32)).reshape(-1, 2))
        assert w.selected.columns.tolist() == ["z"]
        assert w.neighbors.empty  # nothing focused
        w.focus("D7")
        with pytest.raises(DataError, match=r"neighbors are off.*index=gw\.NeighborIndex"):
            w.neighbors  # noqa: B018
        reply, _ = request(w, "neighbors", position=7)
        assert not reply["ok"] and "layout alone" in reply["reason"]
    finally:
        w.close()


def test_a_layout_only_map_takes_neighbors_from_an_index_of_the_same_galaxies() -> None:
    reps = gw.datasets.synthetic(n=1500, seed=0)
    index = gw.NeighborIndex(reps, n_components=8)
    xy = gw.layout(reps, method="pca")
    w = Explorer.from_layout(reps.ids, xy, index=index, k=5)
    try:
        w.focus(str(reps.ids[10]))
        expected = index.query(str(reps.ids[10]), k=5)
        assert w.neighbors["id"].tolist() == expected["id"].tolist()
    finally:
        w.close()
    other = gw.datasets.synthetic(n=1400, seed=1)
    with pytest.raises(DataError, match="other galaxies"):
        Explorer.from_layout(reps.ids, xy, index=gw.NeighborIndex(other, n_components=8))
    with pytest.raises(DataError, match=r"\(n, 2\)"):
        Explorer.from_layout(reps.ids, np.zeros((1500, 3)))
    with pytest.raises(DataError, match="takes the layout as xy"):
        Explorer.from_layout(reps.ids, xy, layout="pca")


# -- the point budget ----------------------------------------------------------------------------


def test_beyond_the_point_budget_no_points_are_sent_and_views_still_answer() -> None:
    reps = gw.datasets.synthetic(n=5000, seed=0)
    other = np.random.default_rng(3).normal(size=(5000, 2))
    w = Explorer(reps, layout="pca", layouts={"pca": "pca", "flipped": other}, point_budget=1000)
    try:
        assert w.point_budget == 1000 and w._points == b""
        # Built in a thread as the Explorer is made: what the page asks for first.
        for _ in range(600):
            if w._map_detail._densities and w._map_detail._samples:
                break
            time.sleep(0.05)
        assert list(w._map_detail._samples) == [("pca", sample_size(1000), 0)]
        assert list(w._map_detail._densities) == [("pca", 512)]
        points = w._map_detail.index(w.layout_name).points
        reply, buffers = request(
            w, "map_view", x0=-1.0, y0=-1.0, x1=1.0, y1=1.0, limit=500, from_rank=0
        )
        assert reply["ok"] and reply["total"] == 5000 and reply["count"] == 500
        positions = np.frombuffer(buffers[0], "<u4")
        sent = np.frombuffer(buffers[1], "<f4").reshape(-1, 2)
        assert np.array_equal(sent, points[positions])
        w.layout_name = "flipped"  # another map beyond the budget: still no points sent
        assert w._points == b""
        w.point_budget = 5000  # within it again: every point of the map shown
        assert len(drawn(w)) == 5000
        assert np.array_equal(drawn(w), w._map_detail.index("flipped").points)
        w.point_budget = 4999
        assert w._points == b""
    finally:
        w.close()


@pytest.mark.parametrize("budget", [0, -5, 2.5, True, "many"])
def test_a_bad_point_budget_is_refused_and_changes_nothing(budget: object) -> None:
    with pytest.raises(DataError, match="point_budget must be a positive whole number"):
        layout_explorer(100, point_budget=budget)
    w = layout_explorer(100)
    try:
        with pytest.raises((DataError, traitlets.TraitError)):
            w.point_budget = budget
        assert w.point_budget == 2_500_000 and len(drawn(w)) == 100
    finally:
        w.close()
