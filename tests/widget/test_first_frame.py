"""The first frame of a map beyond the point budget without the spatial index (density and
sample straight from the coordinates), a lasso before the index is built, the index's counting
sort, and repeated ids found off the path to the first frame (by the id lookup)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import galwidget as gw
from galwidget.data import IdLookup
from galwidget.errors import DataError
from galwidget.widget import Explorer
from galwidget.widget._lod import MapDetail, sample_size
from galwidget.widget._spatial import GridIndex, polygon_positions
from tests.support.polygons import inside_polygon
from tests.widget.test_lod import BEYOND, STAR, clustered_points, random_polygon
from tests.widget.test_widget import events, record


def test_a_lasso_without_the_index_equals_the_index_and_point_in_polygon() -> None:
    points = clustered_points(300_000, seed=4)
    index = GridIndex(points)
    rng = np.random.default_rng(5)
    ticks = np.linspace(-1, 1, 33)  # vertices on raster cell edges too
    on_edges = np.array([[ticks[3], ticks[4]], [ticks[28], ticks[4]], [ticks[20], ticks[30]]])
    for polygon in [STAR, BEYOND, on_edges] + [random_polygon(rng, k) for k in (3, 9, 200)]:
        expected = np.flatnonzero(inside_polygon(points.astype(np.float64), polygon))
        found = polygon_positions(points, polygon)
        assert found.dtype == np.int64 and np.array_equal(found, expected)
        assert np.array_equal(index.in_polygon(polygon), expected)
    with pytest.raises(DataError, match="at least 3"):
        polygon_positions(points, STAR[:2])
    with pytest.raises(DataError, match="finite"):
        polygon_positions(points, np.array([[0, 0], [1, np.nan], [0, 1]]))


def test_the_index_sorts_positions_by_cell_as_a_stable_argsort_would() -> None:
    points = clustered_points(3_000_000, seed=6)  # several blocks of the counting sort
    index = GridIndex(points)
    assert index.order.dtype == np.uint32
    assert np.array_equal(index.order, np.argsort(index.cells, kind="stable"))


def test_a_map_beyond_the_budget_answers_its_first_requests_and_lassos_without_the_index() -> None:
    n = 60_000
    points = clustered_points(n, seed=7)
    w = Explorer.from_layout([f"P{i}" for i in range(n)], points * 3.0 - 1.0, point_budget=1000)
    try:
        detail = MapDetail(w._layouts)  # fresh: nothing built yet
        drawn = detail.drawn(w.layout_name)
        polygon = STAR * 0.7
        inside = detail.in_polygon(w.layout_name, polygon)
        assert np.array_equal(inside, np.flatnonzero(inside_polygon(drawn.astype(float), polygon)))
        limit = sample_size(w.point_budget)
        whole = detail.view(w.layout_name, (-1.0, -1.0, 1.0, 1.0), limit=limit)
        density = detail.density(w.layout_name, 512, None)
        assert detail._indexes == {}  # none of it needed the index
        # The same answers through the index: a rectangle holding every point (not the square).
        index = detail.index(w.layout_name)
        almost = (-0.999, -0.999, 0.999, 0.999)
        through_index = detail.view(w.layout_name, almost, limit=limit)
        assert np.array_equal(whole[0], through_index[0]) and whole[1:] == through_index[1:]
        assert whole[1] == n and len(whole[0]) == limit and whole[2] > 0
        following = detail.view(
            w.layout_name, (-1.0, -1.0, 1.0, 1.0), limit=limit, from_rank=whole[2]
        )
        assert np.array_equal(
            following[0], detail.view(w.layout_name, almost, limit=limit, from_rank=whole[2])[0]
        )
        assert not np.intersect1d(following[0], whole[0]).size
        assert np.array_equal(density, index.density(512)) and density.sum() == n
        assert np.array_equal(detail.in_polygon(w.layout_name, polygon), inside)  # via the index
    finally:
        w.close()


def test_repeated_ids_found_after_the_first_frame_refuse_every_id_call(monkeypatch) -> None:
    monkeypatch.setattr("galwidget.data._ids.ID_TABLE_MAX", 10)  # as if there were millions
    n = 200
    ids = pd.Series([f"G{i}" for i in range(n - 1)] + ["G7"], dtype="str")
    xy = clustered_points(n, seed=8)
    w = Explorer.from_layout(ids, xy, point_budget=50)  # made, shown: the check is deferred
    try:
        comm = record(w)
        thread = w._warm_ids()
        if thread is not None:
            thread.join()
        message = r"duplicate ids in 'id': 'G7' \(rows 7, 199\)"
        for _ in range(2):  # every time, not only the first
            with pytest.raises(DataError, match=message):
                w.select(["G3"])
            with pytest.raises(DataError, match=message):
                w.representations.positions(["G3"])
        shown = [content["message"] for content, _ in events(comm, "error")]
        assert len(shown) == 1 and "duplicate ids in 'id': 'G7'" in shown[0]
        w.select(np.arange(n) < 3)  # position paths still work
        assert w.selection.tolist() == [0, 1, 2]
    finally:
        w.close()
    # Below the deferral's size, and for Representations built whole, the error comes at once.
    monkeypatch.setattr("galwidget.data._ids.ID_TABLE_MAX", 2_000_000)
    with pytest.raises(DataError, match=message):
        Explorer.from_layout(ids, xy)
    with pytest.raises(DataError, match="duplicate ids"):
        gw.Representations(ids=pd.Index(ids), features=xy, meta=pd.DataFrame(index=range(n)))


def test_repeated_ids_found_in_the_background_refuse_a_key_press_label(
    monkeypatch, tmp_path
) -> None:
    """A label by key press names the galaxy by its id: with repeated ids it would label two
    galaxies, so it is refused before the label log is opened or written."""
    monkeypatch.setattr("galwidget.data._ids.ID_TABLE_MAX", 10)  # as if there were millions
    monkeypatch.setenv("GALWIDGET_LABELS_DIR", str(tmp_path / "labels"))
    n = 120
    ids = pd.Series([f"G{i}" for i in range(n - 1)] + ["G5"], dtype="str")
    w = Explorer.from_layout(ids, clustered_points(n, seed=9), point_budget=50)
    try:
        with pytest.raises(DataError, match=r"duplicate ids in 'id': 'G5' \(rows 5, 119\)"):
            w._labelling.label_positions(np.array([3]), "ring")
        assert not any((tmp_path / "labels").glob("*"))  # no log written, none opened
    finally:
        w.close()


def test_the_background_id_hashing_waits_while_the_map_answers(monkeypatch) -> None:
    monkeypatch.setattr("galwidget.data._ids.HASH_CHUNK_IDS", 10)
    paused: list[int] = []
    ids = pd.Index([f"G{i}" for i in range(95)], dtype="str")
    lookup = IdLookup(ids, pause=lambda: paused.append(1))
    assert len(paused) == 10 and lookup.locate(["G94", "G0", "nope"]).tolist() == [94, 0, -1]

    monkeypatch.setattr("galwidget.widget._lod.FOREGROUND_WAIT", 60.0)
    w = Explorer.from_layout([f"P{i}" for i in range(300)], clustered_points(300), point_budget=100)
    try:
        detail = w._map_detail
        done = threading.Event()
        with detail._foreground():  # a lasso, a view or a density running
            waiting = threading.Thread(target=lambda: (detail.wait_idle(), done.set()))
            waiting.start()
            assert not done.wait(0.3)  # the background job holds back ...
        assert done.wait(10)  # ... until the request is answered
        waiting.join()
        detail.wait_idle()  # idle: returns at once
    finally:
        w.close()
