"""Explorer without a browser: wire format, selection sync with pandas, replies to requests.

Messages to the browser are captured by :class:`RecordingComm`, a comm like the one a kernel gives
a widget, so that tests can assert on what (and how many bytes) would travel.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from comm.base_comm import BaseComm
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import galwidget as gw
from galwidget import protocol
from galwidget.protocol import decode_selection, encode_selection
from galwidget.widget import (
    MAX_CATEGORIES,
    Explorer,
    SelectionMemory,
    encode_colors,
    normalize_layout,
)

N = 400


def make_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 8)).astype(np.float32)
    frame = pd.DataFrame(features, columns=[f"feat_{i}" for i in range(8)])
    frame.insert(0, "id", [f"G{i:04d}" for i in range(n)])
    frame["x"] = rng.normal(size=n)
    frame["y"] = rng.normal(size=n) * 3
    frame["kind"] = rng.choice(["spiral", "smooth", "ring"], size=n)
    frame["flag"] = rng.random(n) < 0.3
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def widget(frame: pd.DataFrame) -> Explorer:
    w = Explorer(frame, layout=("x", "y"), color="x", k=5)
    yield w
    w.close()


def selection(w: Explorer) -> list[int]:
    """The selection as the browser sees it, checked equal to the public trait."""
    wire = decode_selection(w._selection, len(w.representations)).tolist()
    assert wire == w.selection.tolist()
    return wire


def from_browser(w: Explorer, **state: object) -> None:
    """Apply a state update exactly as the comm delivers one from the front end."""
    plain, buffer_paths, buffers = _remove_buffers(state)
    message = {"method": "update", "state": plain, "buffer_paths": buffer_paths}
    w._handle_msg({"content": {"data": message}, "buffers": [memoryview(b) for b in buffers]})


def request(w: Explorer, kind: str, request_id: int = 1, buffers=(), **params: Any):
    """The reply ``(content, buffers)`` to a protocol request."""
    message = {"type": "request", "kind": kind, "request": request_id, **params}
    return w._reply(message, list(buffers))


class RecordingComm(BaseComm):
    """A comm that keeps every message the widget sends instead of publishing it."""

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[tuple[dict, list[bytes]]] = []
        super().__init__(target_name="jupyter.widget", primary=True, **kwargs)
        self.messages.clear()  # the comm_open

    def publish_msg(self, msg_type: str, data=None, metadata=None, buffers=None, **keys) -> None:
        self.messages.append((data, [bytes(memoryview(b).cast("B")) for b in buffers or []]))

    @staticmethod
    def size(message: tuple[dict, list[bytes]]) -> int:
        data, buffers = message
        return len(json.dumps(data, default=str)) + sum(len(b) for b in buffers)


def record(w: Explorer) -> RecordingComm:
    comm = RecordingComm()
    w.comm = comm
    return comm


def events(comm: RecordingComm, kind: str) -> list[tuple[dict, list[bytes]]]:
    return [
        (m["content"], buffers)
        for m, buffers in comm.messages
        if m.get("method") == "custom" and m["content"].get("kind") == kind
    ]


# -- wire format -------------------------------------------------------------------------------


def test_traits_are_binary_buffers_of_the_right_type(widget: Explorer, frame: pd.DataFrame):
    points = np.frombuffer(widget._points, dtype=np.float32).reshape(-1, 2)
    assert points.shape == (N, 2)
    assert np.abs(points).max() <= 1
    # Same scale on both axes: y spread (3x) stays 3x the x spread.
    ratio = np.ptp(points[:, 1]) / np.ptp(points[:, 0])
    assert ratio == pytest.approx(np.ptp(frame["y"]) / np.ptp(frame["x"]), rel=1e-5)
    colors = np.frombuffer(widget._color, dtype=np.uint8)
    assert len(colors) == N and colors.min() == 0 and colors.max() == 254
    expected = np.rint((frame["x"] - frame["x"].min()) / np.ptp(frame["x"]) * 254)
    np.testing.assert_array_equal(colors, expected.astype(np.uint8))
    assert widget._color_meta["kind"] == "continuous"
    assert widget._config == {
        "protocol": 2,
        "n": N,
        "id_column": "id",
        "image_kind": "none",
        "confirm_over": 50,
        "max_message_bytes": 8 * 1024 * 1024,
        "numeric_columns": ["x", "y"],  # not the categorical kind nor the boolean flag
        # no label, score: no labelling here; anomaly and cluster are computed when chosen
        "color_columns": ["x", "y", "kind", "flag", "anomaly", "cluster"],
        "layouts": ["x, y"],
        "neighbor_space": "features",  # it has feature columns
    }

    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    assert {"_points", "_color", "_selection"} <= {p[0] for p in buffer_paths}
    assert bytes(buffers[buffer_paths.index(["_points"])]) == widget._points
    assert "_points" not in state  # the numbers travel only as a buffer
    assert not {"_labels", "_suggestions"} & set(widget.keys)  # v1 channels are gone


def test_json_traits_have_the_fields_the_protocol_declares(frame: pd.DataFrame, tmp_path):
    plain = Explorer(frame, layout=("x", "y"))
    labelled = Explorer(
        frame, layout=("x", "y"), classes=["a"], labels={"path": tmp_path / "l.jsonl"}
    )
    for w in (plain, labelled):
        assert set(w._config) == set(protocol.Config.__annotations__)
        assert set(w._label_meta) == set(protocol.LabelMeta.__annotations__)
        assert set(w._learn) == set(protocol.LearnState.__annotations__)
        assert set(w._filter_meta) == set(protocol.FilterMeta.__annotations__)
        w.close()
    assert labelled._label_meta["classes"] == ["a"] and plain._label_meta == protocol.NO_LABELS


def test_options_after_data_are_keyword_only(frame: pd.DataFrame):
    with pytest.raises(TypeError, match="positional"):
        Explorer(frame, ("x", "y"))  # type: ignore[misc]


def test_layout_array_is_centred_and_scaled_with_one_factor():
    layout = np.array([[0.0, 0.0], [10.0, 2.0], [5.0, 1.0]])
    xy = normalize_layout(layout).reshape(-1, 2)
    assert xy.dtype == np.float32
    np.testing.assert_allclose(xy[:, 0], [-0.95, 0.95, 0])
    np.testing.assert_allclose(xy[:, 1], [-0.19, 0.19, 0], rtol=1e-6)


def test_layouts_switch_lazily_and_keep_the_selection(frame: pd.DataFrame):
    frame["bad"] = np.where(np.arange(len(frame)) == 4, np.nan, 1.0)
    layouts = {"features": ("feat_0", "feat_1"), "broken": ("bad", "y"), "pca": "pca"}
    w = Explorer(frame, layout=("x", "y"), layouts=layouts, color="kind")
    try:
        assert w._config["layouts"] == ["x, y", "features", "broken", "pca"]
        assert w.layout_name == "x, y"
        first, color = w._points, w._color
        w.select(["G0001", "G0005"])
        w._focus = 3
        w.layout_name = "features"
        expected = normalize_layout(frame[["feat_0", "feat_1"]].to_numpy(np.float64))
        assert w._points == expected.tobytes() != first
        assert selection(w) == [1, 5] and w._focus == 3 and w._color == color
        from_browser(w, layout_name="pca")  # the toolbar's menu
        assert w.layout_name == "pca" and len(w._points) == 8 * len(frame)
        w.layout_name = "x, y"
        assert w._points == first
        # A spec is computed only when shown: a broken one fails then, leaving the layout.
        with pytest.raises(gw.DataError, match="NaN or infinite coordinates for 1 galaxies: G0004"):
            w.layout_name = "broken"
        with pytest.raises(gw.DataError, match="no layout 'umap'; layouts: 'x, y', 'features'"):
            w.layout_name = "umap"
        assert w.layout_name == "x, y" and w._points == first
    finally:
        w.close()
    named = Explorer(frame, layout="features", layouts=layouts)
    assert named.layout_name == "features" and named._config["layouts"] == list(layouts)
    named.close()
    with pytest.raises(gw.DataError, match="layout 'given' names another spec in layouts"):
        Explorer(frame, layout=np.ones((len(frame), 2)), layouts={"given": ("x", "y")})


# -- selection ---------------------------------------------------------------------------------


def test_selected_ids_of_few_and_of_most_galaxies(widget: Explorer, frame: pd.DataFrame):
    # Few are taken by position, most through a mask (faster for pyarrow strings): same ids.
    ids = frame["id"].to_numpy()
    for chosen in [np.array([5, 17, 399]), np.setdiff1d(np.arange(N), [0, 7, 200])]:
        widget.selection = chosen
        assert widget.selected_ids.tolist() == ids[chosen].tolist()
    arrow = Explorer.from_layout(
        pd.Series(ids, dtype="string[pyarrow]"),
        frame[["x", "y"]].to_numpy(),
        remember_selection=False,
    )
    arrow.selection = np.arange(1, N)
    assert arrow.selected_ids.tolist() == ids[1:].tolist()
    arrow.close()


def test_select_by_ids_mask_query_and_clear(widget: Explorer, frame: pd.DataFrame):
    original = frame
    widget.select(["G0003", "G0001"])
    assert selection(widget) == [1, 3]
    assert list(widget.selected_ids) == ["G0001", "G0003"]
    assert frame["selected"].to_numpy().nonzero()[0].tolist() == [1, 3]

    mask = frame["x"] > 1
    widget.select(mask)
    assert selection(widget) == np.flatnonzero(mask).tolist()

    widget.select("kind == 'ring' and x > 0")
    expected = frame.index[(frame["kind"] == "ring") & (frame["x"] > 0)].tolist()
    assert selection(widget) == expected
    assert widget.selected["kind"].eq("ring").all()
    assert list(widget.selected.index) == [f"G{i:04d}" for i in expected]

    widget.select("G0007")  # a string that is an id selects that galaxy
    assert selection(widget) == [7]
    widget.select([])
    assert selection(widget) == [] and not frame["selected"].any()
    widget.select(pd.Index(["G0002"]))
    widget.select(None)
    assert len(widget.selected) == 0
    assert frame is original and frame["selected"].dtype == bool


def test_selection_from_the_browser_updates_pandas_and_calls_back(
    widget: Explorer, frame: pd.DataFrame
):
    calls: list[pd.Index] = []
    widget.on_select(calls.append)
    from_browser(widget, _selection=encode_selection([5, 9, 2], N))
    assert list(widget.selected_ids) == ["G0002", "G0005", "G0009"]
    assert frame.loc[frame["selected"], "id"].tolist() == ["G0002", "G0005", "G0009"]
    assert [list(c) for c in calls] == [["G0002", "G0005", "G0009"]]
    widget.select(["G0001"])
    assert [len(c) for c in calls] == [3, 1]
    widget.on_select(calls.append, remove=True)
    widget.select(None)
    assert len(calls) == 2


def test_focus_from_the_browser_and_python(widget: Explorer):
    from_browser(widget, _focus=12)
    assert widget.focused == "G0012"
    widget.focus("G0020")
    assert widget._focus == 20
    widget.focus(None)
    assert widget.focused is None and widget.neighbors.empty


def test_existing_boolean_column_is_the_initial_selection(frame: pd.DataFrame):
    frame["selected"] = frame["flag"]
    w = Explorer(frame, layout=("x", "y"))
    assert selection(w) == np.flatnonzero(frame["flag"]).tolist()
    assert "selected" not in w.selected.columns
    w.close()


def test_unsorted_selection_with_duplicates_is_stored_sorted_and_unique(
    widget: Explorer, frame: pd.DataFrame
):
    widget.select(["G0007", "G0003", "G0007"])
    assert selection(widget) == [3, 7]
    widget.selection = np.array([9, 2, 9, 5])
    assert selection(widget) == [2, 5, 9]
    assert list(widget.selected_ids) == ["G0002", "G0005", "G0009"]
    assert int(frame["selected"].sum()) == 3


def test_a_malformed_selection_from_the_browser_is_refused_and_reported(widget: Explorer):
    widget.select(["G0001"])
    comm = record(widget)
    unsorted = bytes([0, 0, 0, 0, 2, 0, 0, 0]) + np.array([9, 2], "<u4").tobytes()
    from_browser(widget, _selection=unsorted)  # ipywidgets logs the refusal
    assert selection(widget) == [1]  # unchanged
    [(event, _)] = events(comm, "error")
    assert event["message"].startswith("not applied: the selection: ")
    assert "sorted and unique" in event["message"]


def test_dense_selections_travel_as_a_bitmask_both_ways(widget: Explorer, frame: pd.DataFrame):
    mask = np.zeros(N, dtype=bool)
    mask[::3] = True
    widget.select(mask)
    assert widget._selection[0] == protocol.SelectionKind.BITMASK
    assert len(widget._selection) == 8 + N // 8
    assert selection(widget) == np.flatnonzero(mask).tolist()
    from_browser(widget, _selection=encode_selection(np.r_[10:300], N))  # runs
    assert widget.selection.tolist() == list(range(10, 300))
    assert frame["selected"].sum() == 290 and widget.selected_ids[0] == "G0010"


def test_boolean_series_select_by_index_labels_not_order(frame: pd.DataFrame):
    shuffled = frame.sample(frac=1.0, random_state=1)  # same rows, another order
    mask = shuffled["x"] > 1
    w = Explorer(frame, layout=("x", "y"))
    w.select(mask)  # aligned with frame's index, not by position
    assert selection(w) == np.flatnonzero(frame["x"] > 1).tolist()
    by_id = pd.Series(frame["kind"].eq("ring").to_numpy(), index=frame["id"])[::-1]
    w.select(by_id)  # a Series indexed by the ids, e.g. w.scores > 0.9
    assert selection(w) == np.flatnonzero(frame["kind"] == "ring").tolist()
    w.select(by_id.iloc[:5])  # labels left out are not selected
    assert selection(w) == sorted(N - 1 - i for i in range(5) if by_id.iloc[i])
    with pytest.raises(gw.DataError, match="labels not found: 'nope'"):
        w.select(pd.Series([True], index=["nope"]))
    with pytest.raises(gw.DataError, match="has missing values"):
        w.select(pd.Series([True, None], index=[0, 1], dtype=object))
    w.close()
    indexed = frame.set_index(pd.Index([f"row{i}" for i in range(N)]))
    w = Explorer(indexed, layout=("x", "y"), id_column="id")
    w.select((indexed["x"] > 1).sort_values())
    assert selection(w) == np.flatnonzero(frame["x"] > 1).tolist()
    w.close()


def test_the_public_selection_is_observable_and_its_wire_form_agrees(widget: Explorer):
    seen: list[tuple[list[int], list[int]]] = []

    def observer(change: dict) -> None:
        wire = decode_selection(widget._selection, N).tolist()
        seen.append((change["new"].tolist(), wire))

    widget.observe(observer, names="selection")
    widget.select(["G0004", "G0002"])
    from_browser(widget, _selection=encode_selection([7], N))
    widget.select(["G0007"])  # unchanged: no notification
    assert seen == [([2, 4], [2, 4]), ([7], [7])]
    assert widget.selection.dtype == np.int64 and not widget.selection.flags.writeable
    with pytest.raises(gw.DataError, match=f"position {N} is outside"):
        widget.selection = [1, N]


def test_a_selection_over_the_browsers_message_limit_is_kept_and_sent(
    widget: Explorer, monkeypatch: pytest.MonkeyPatch
):
    # MAX_MESSAGE_BYTES bounds what the browser sends (the Jupyter server drops larger messages
    # it receives); the kernel's own selections go to the page whatever their size (past ~67M
    # galaxies a bitmask is over 8 MiB: a lasso over 90% of 76M was refused before issue 21).
    monkeypatch.setattr("galwidget.protocol._wire.MAX_MESSAGE_BYTES", 40)
    widget.select(np.arange(N) % 7 == 0)  # isolated positions: > 40 bytes every way
    expected = list(range(0, N, 7))
    assert selection(widget) == expected
    assert len(widget._selection) > 40
    assert decode_selection(widget._selection, N).tolist() == expected


def test_selected_column_none_leaves_the_frame_alone(frame: pd.DataFrame):
    w = Explorer(frame, layout=("x", "y"), selected_column=None)
    w.select(["G0001"])
    assert "selected" not in frame.columns
    w.close()


# -- neighbors and replies --------------------------------------------------------------------


def test_focus_neighbors_match_the_index(widget: Explorer):
    widget.focus("G0010")
    expected = widget.index.query("G0010", k=5)
    neighbors = widget.neighbors
    assert neighbors["id"].tolist() == expected["id"].tolist()
    np.testing.assert_allclose(neighbors["distance"], expected["distance"], rtol=1e-6)
    assert {"kind", "x"} <= set(neighbors.columns)
    assert (
        neighbors["kind"].tolist()
        == widget.representations.meta.loc[expected["id"], "kind"].tolist()
    )


def test_neighbor_and_centroid_replies(widget: Explorer):
    content, buffers = request(widget, "neighbors", 7, position=10)
    expected = widget.index.query("G0010", k=5)
    assert content == {
        "type": "reply",
        "kind": "neighbors",
        "request": 7,
        "ok": True,
        "position": 10,
        "id": "G0010",
        "ids": expected["id"].tolist(),
    }
    positions, distances = np.frombuffer(buffers[0], "<u4"), np.frombuffer(buffers[1], "<f4")
    assert positions.tolist() == [int(i[1:]) for i in expected["id"]]
    np.testing.assert_allclose(distances, expected["distance"], rtol=1e-6)

    content, _ = request(widget, "centroid", 8)
    assert not content["ok"] and content["reason"] == "select some galaxies first"
    widget.select(["G0001", "G0002", "G0003"])
    content, buffers = request(widget, "centroid", 9)
    expected = widget.index.more_like(["G0001", "G0002", "G0003"], k=5)
    assert content["ok"] and content["count"] == 3
    assert content["ids"] == expected["id"].tolist()
    assert np.frombuffer(buffers[0], "<u4").tolist() == [int(i[1:]) for i in expected["id"]]


def test_hover_reply_formats_a_few_columns(widget: Explorer, frame: pd.DataFrame):
    content, _ = request(widget, "hover", position=3)
    assert content["ok"] and content["id"] == "G0003"
    names = [name for name, _ in content["fields"]]
    assert names[0] == "x" and len(names) == 4 and "id" not in names
    assert content["fields"][0][1] == f"{frame['x'][3]:.3g}"
    assert content["radec"] is None  # no ra/dec columns, ids not IAU names


def test_hover_reply_gives_the_sky_position_for_links_out(frame: pd.DataFrame):
    frame = frame.assign(ra=np.linspace(10, 20, len(frame)), dec=-5.0)
    frame.loc[4, "ra"] = np.nan
    w = Explorer(frame, layout=("x", "y"))
    content, _ = request(w, "hover", position=3)
    assert content["radec"] == [frame["ra"][3], -5.0]
    assert request(w, "hover", position=4)[0]["radec"] is None
    w.close()


def test_bad_requests_get_a_reason(widget: Explorer):
    for message, reason in [
        ({"kind": "neighbors", "request": 1, "position": N}, f"no galaxy at position {N}"),
        ({"kind": "hover", "request": 2, "position": "3"}, "needs 'position', got '3'"),
        ({"kind": "thumbnail", "request": 3, "position": 0}, "no images"),
        ({"kind": "dance", "request": 4}, "unknown request kind 'dance'"),
        ({"kind": "label", "request": 5, "label": "x"}, "takes 1 buffers, got 0"),
    ]:
        content, buffers = widget._reply({"type": "request", **message})
        assert content["ok"] is False and buffers == []
        assert content["request"] == message["request"]
        assert reason in content["reason"]


def test_every_request_kind_of_the_protocol_has_a_handler(widget: Explorer):
    for kind in protocol.REQUESTS:
        content, _ = request(widget, kind)
        assert "unknown request kind" not in content.get("reason", ""), kind


def test_thumbnail_replies_carry_bytes_or_urls(frame: pd.DataFrame):
    reps = gw.datasets.synthetic(60, seed=2)
    w = Explorer(reps, layout=("ra", "dec"))
    content, buffers = request(w, "thumbnail", 5, position=4)
    head = {"type": "reply", "kind": "thumbnail", "request": 5, "ok": True}
    assert content == {**head, "mime": content["mime"]}
    assert content["mime"] in {"image/jpeg", "image/png"} and len(buffers) == 1
    assert Image.open(io.BytesIO(buffers[0])).size == (128, 128)
    w.close()

    w = Explorer(frame, layout=("x", "y"), images="https://images.test/{kind}/{id}.png")
    content, buffers = request(w, "thumbnail", 6, position=2)
    assert content["ok"] and buffers == []
    assert content["url"] == f"https://images.test/{frame['kind'][2]}/G0002.png"
    w.close()

    def missing(galaxy_id: str) -> np.ndarray:
        raise FileNotFoundError(f"{galaxy_id}.png")

    w = Explorer(frame, layout=("x", "y"), images=missing)
    content, _ = request(w, "thumbnail", 7, position=1)
    assert not content["ok"] and "G0001.png" in content["reason"]
    w.close()


# -- color ------------------------------------------------------------------------------------


def test_color_encodings():
    values = pd.Series([1.0, np.nan, 3.0, np.inf, 2.0])
    data, meta = encode_colors(values, "v")
    assert np.frombuffer(data, dtype=np.uint8).tolist() == [0, 255, 254, 255, 127]
    assert meta == {"kind": "continuous", "column": "v", "min": 1.0, "max": 3.0, "missing": 2}

    data, meta = encode_colors(pd.Series(["b", "a", None, "b"]), "s")
    assert np.frombuffer(data, dtype=np.uint8).tolist() == [1, 0, 255, 1]
    assert meta["categories"] == ["a", "b"] and meta["missing"] == 1

    data, meta = encode_colors(pd.Series([True, False, True]), "flag")
    assert meta["categories"] == ["False", "True"]
    assert np.frombuffer(data, dtype=np.uint8).tolist() == [1, 0, 1]

    _, meta = encode_colors(pd.Series([3, 1, 2, 3]), "few ints")
    assert meta["kind"] == "categorical" and meta["categories"] == ["1", "2", "3"]

    many = pd.Series([f"c{i % 30:02d}" for i in range(300)] + ["c00"] * 50)
    data, meta = encode_colors(many, "many")
    assert len(meta["categories"]) == MAX_CATEGORIES and meta["categories"][-1] == "other"
    codes = np.frombuffer(data, dtype=np.uint8)
    assert codes[0] == meta["categories"].index("c00")
    assert (codes == MAX_CATEGORIES - 1).sum() == 300 - (MAX_CATEGORIES - 1) * 10


def test_color_by_updates_both_traits(widget: Explorer):
    widget.color_by("kind")
    assert widget._color_meta["kind"] == "categorical"
    assert len(widget._color) == N
    widget.color_by(np.arange(N) % 2 == 0)
    assert widget._color_meta["categories"] == ["False", "True"]
    widget.color_by(None)
    assert widget._color_meta == {"kind": "none"} and widget._color == b""


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_raises_data_errors(widget: Explorer, frame: pd.DataFrame):
    with pytest.raises(gw.DataError, match="NOPE1"):
        widget.select(["G0001", "NOPE1"])
    with pytest.raises(gw.DataError, match="cannot select with query 'x >>> 1'"):
        widget.select("x >>> 1")
    with pytest.raises(gw.DataError, match=f"needs {N} booleans"):
        widget.select(np.ones(N - 1, dtype=bool))
    with pytest.raises(gw.DataError, match="J999"):
        widget.focus("J999")
    with pytest.raises(gw.DataError, match="no column 'nope' to color by"):
        widget.color_by("nope")
    with pytest.raises(gw.DataError, match="color values for 3 galaxies"):
        widget.color_by([1, 2, 3])
    with pytest.raises(gw.DataError, match="layout must have shape"):
        Explorer(frame, layout=np.zeros((N, 3)))
    with pytest.raises(gw.DataError, match="layout columns not found: z"):
        Explorer(frame, layout=("x", "z"))
    with pytest.raises(gw.DataError, match="k must be an integer"):
        Explorer(frame, layout=("x", "y"), k=0)
    frame["selected"] = "yes"
    with pytest.raises(gw.DataError, match="already has a column 'selected' that is not boolean"):
        Explorer(frame, layout=("x", "y"))
    assert widget.selected_ids.empty  # failed calls changed nothing


# -- labels ------------------------------------------------------------------------------------

CLASSES = ["ring", "not ring"]


@pytest.fixture
def labelled(frame: pd.DataFrame, tmp_path) -> Explorer:
    w = Explorer(
        frame, layout=("x", "y"), classes=CLASSES, labels={"path": tmp_path / "labels.jsonl"}
    )
    yield w
    w.close()


def label_codes(w: Explorer) -> np.ndarray:
    """The label snapshot the browser asks for on load."""
    content, buffers = request(w, "labels", 99)
    assert content["ok"] and content["version"] == w._label_meta["version"]
    return np.frombuffer(buffers[0], dtype=np.uint8)


def test_set_labels_reaches_store_dataframe_and_buffer(labelled: Explorer, frame: pd.DataFrame):
    labelled.set_labels({"G0001": "ring", "G0002": "not ring"})
    labelled.set_labels((["G0003", "G0004"], "ring"))
    labelled.set_labels(pd.Series({"G0004": None, "G0005": "not ring"}))
    expected = {"G0001": "ring", "G0002": "not ring", "G0003": "ring", "G0005": "not ring"}
    assert labelled.labels["label"].to_dict() == expected
    assert set(labelled.labels["source"]) == {"python"}
    assert labelled.label_store.series().to_dict() == expected
    assert frame["label"].dtype == object
    assert frame.set_index("id")["label"].dropna().to_dict() == expected
    assert frame["label"].isna().sum() == N - 4
    codes = label_codes(labelled)
    assert codes[[1, 2, 3, 4, 5]].tolist() == [1, 2, 1, 0, 2] and codes.sum() == 6
    assert labelled._label_meta["counts"] == [2, 2] and labelled._label_meta["keys"] == ["1", "2"]
    with pytest.raises(gw.DataError, match="NOPE"):
        labelled.set_labels({"G0006": "ring", "NOPE": "ring"})
    with pytest.raises(gw.DataError, match="unknown class 'bar'"):
        labelled.set_labels({"G0006": "ring", "G0007": "bar"})
    assert "G0006" not in labelled.labels.index  # nothing applied


def test_import_labels_all_or_nothing(labelled: Explorer, frame: pd.DataFrame, tmp_path):
    table = pd.DataFrame({"id": ["G0010", "G0011", "BAD1", "BAD2"], "label": ["ring"] * 4})
    with pytest.raises(gw.DataError, match=r"BAD1.*BAD2"):
        labelled.import_labels(table)
    assert labelled.labels.empty and frame["label"].isna().all()
    path = tmp_path / "mine.csv"
    table.iloc[:2].rename(columns={"label": "class"}).to_csv(path, index=False)
    labelled.import_labels(path, label_column="class")
    assert labelled.labels["label"].to_dict() == {"G0010": "ring", "G0011": "ring"}
    assert frame.loc[[10, 11], "label"].tolist() == ["ring", "ring"]
    labelled.undo()  # the import is one step
    assert labelled.labels.empty and label_codes(labelled).sum() == 0


def test_undo_and_redo(labelled: Explorer, frame: pd.DataFrame):
    assert not labelled._label_meta["can_undo"]
    labelled.set_labels((["G0001", "G0002"], "ring"))
    labelled.set_labels({"G0001": "not ring"})
    labelled.undo()
    assert labelled.labels["label"].to_dict() == {"G0001": "ring", "G0002": "ring"}
    assert frame.loc[1, "label"] == "ring" and label_codes(labelled)[1] == 1
    labelled.undo()
    assert labelled.labels.empty and not labelled._label_meta["can_undo"]
    assert labelled._label_meta["can_redo"]
    labelled.redo()
    labelled.redo()
    assert labelled.labels["label"].to_dict() == {"G0001": "not ring", "G0002": "ring"}
    assert labelled._label_meta["counts"] == [1, 1]


def test_a_new_explorer_restores_the_labels(frame: pd.DataFrame, tmp_path):
    path = tmp_path / "labels.jsonl"
    first = Explorer(frame, layout=("x", "y"), classes=CLASSES, labels={"path": path})
    first.set_labels({"G0001": "ring", "G0002": "not ring"})
    first.close()
    again = make_frame()
    second = Explorer(
        again, layout=("x", "y"), classes=CLASSES, labels={"path": path}, color="label"
    )
    assert second.labels["label"].to_dict() == {"G0001": "ring", "G0002": "not ring"}
    assert again.loc[[1, 2], "label"].tolist() == ["ring", "not ring"]
    assert second._label_meta["counts"] == [1, 1]
    assert second._color == b"" and second._color_meta["kind"] == "label"
    assert label_codes(second)[[0, 1, 2]].tolist() == [0, 1, 2]
    second.close()
    # Default path: the data's fingerprint names the log, so no path is needed to find it.
    third = Explorer(make_frame(), layout=("x", "y"), classes=CLASSES)
    third.set_labels({"G0009": "ring"})
    third.close()
    fourth = Explorer(make_frame(), layout=("x", "y"))  # no classes: found by the default log
    assert fourth.labels["label"].to_dict() == {"G0009": "ring"}
    fourth.close()


KILLED_WRITER = """
import os, signal, sys
import pandas as pd
import galwidget as gw
frame = pd.read_parquet(sys.argv[1])
w = gw.Explorer(frame, layout=("x", "y"), classes=["ring", "not ring"], labels={"path": sys.argv[2]})
w.set_labels({"G0001": "ring", "G0002": "not ring"})
w._reply({"type": "request", "kind": "label", "request": 1, "label": "ring"}, [bytes([3, 0, 0, 0])])
print("saved", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_labels_survive_kill_9(frame: pd.DataFrame, tmp_path):
    data, path = tmp_path / "galaxies.parquet", tmp_path / "labels.jsonl"
    frame.to_parquet(data)
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(data), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.strip() == "saved"
    w = Explorer(pd.read_parquet(data), layout=("x", "y"), classes=CLASSES, labels={"path": path})
    assert w.labels["label"].to_dict() == {"G0001": "ring", "G0002": "not ring", "G0003": "ring"}
    assert w.labels.loc["G0003", "source"] == "key"
    w.close()


def positions_buffer(*positions: int) -> bytes:
    return np.array(positions, dtype="<u4").tobytes()


def test_label_requests_reply_after_saving(labelled: Explorer, frame: pd.DataFrame):
    comm = record(labelled)
    version = labelled._label_meta["version"]
    content, _ = request(labelled, "label", 1, [positions_buffer(7)], label="ring")
    assert content == {
        "type": "reply",
        "kind": "label",
        "request": 1,
        "ok": True,
        "saved": True,
        "version": version + 1,
    }
    assert labelled.label_store.get("G0007") == "ring" and frame.loc[7, "label"] == "ring"
    assert labelled._label_meta["counts"] == [1, 0]
    content, _ = request(labelled, "label", 2, [positions_buffer(7)], label=None)
    assert content["ok"] and labelled.label_store.get("G0007") is None
    content, _ = request(labelled, "undo", 3)
    assert content["ok"] and content["version"] == version + 3 and frame.loc[7, "label"] == "ring"
    content, _ = request(labelled, "redo", 4)
    assert content["ok"] and pd.isna(frame.loc[7, "label"])
    # Every change went out as a delta event: positions and codes, versions chained.
    deltas = events(comm, "labels")
    assert [(e["base_version"], e["version"]) for e, _ in deltas] == [
        (version + i, version + i + 1) for i in range(4)
    ]
    assert [(b[0], b[1]) for _, b in deltas] == [
        (positions_buffer(7), bytes([1])),
        (positions_buffer(7), bytes([0])),
        (positions_buffer(7), bytes([1])),
        (positions_buffer(7), bytes([0])),
    ]

    content, _ = request(labelled, "label_selection", 5, label="not ring")
    assert not content["ok"] and content["reason"] == "select some galaxies first"
    labelled.select(["G0020", "G0021", "G0022"])
    content, _ = request(labelled, "label_selection", 6, label="not ring")
    assert content["ok"] and content["count"] == 3 and labelled._label_meta["counts"] == [0, 3]
    assert set(labelled.labels.query("source == 'bulk'").index) == {"G0020", "G0021", "G0022"}
    assert label_codes(labelled)[[20, 21, 22]].tolist() == [2, 2, 2]
    request(labelled, "undo", 7)  # one step for the whole selection
    assert labelled.labels.empty and label_codes(labelled).sum() == 0

    content, _ = request(labelled, "label", 10, [positions_buffer(1, 2, 3)], label="ring")
    assert content["ok"] and labelled.labels.loc[["G0001", "G0003"], "source"].eq("key").all()
    request(labelled, "undo", 11)  # a multi-tile key press is one step too
    assert labelled.labels.empty
    content, _ = request(labelled, "label", 8, [positions_buffer(1)], label="bar")
    assert not content["ok"] and "unknown class 'bar'" in content["reason"]
    content, _ = request(labelled, "label", 9, [positions_buffer(N)], label="ring")
    assert not content["ok"] and f"no galaxy at position {N}" in content["reason"]


@pytest.mark.slow
def test_a_key_press_at_three_million_sends_constant_bytes(tmp_path):
    n = 3_000_000
    xy = np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)
    reps = gw.Representations.from_array(xy)
    w = Explorer(
        reps,
        layout=xy,
        classes=CLASSES,
        labels={"path": tmp_path / "labels.jsonl"},
        color="label",
        remember_selection=False,
    )
    comm = record(w)
    content, _ = request(w, "label", 1, [positions_buffer(2_345_678)], label="ring")
    assert content["ok"]
    assert comm.messages, "the change must reach the browser"
    sizes = [RecordingComm.size(m) for m in comm.messages]
    assert sum(sizes) < 1_000, sizes  # the label event, the label bar state: no n-byte buffer
    [(event, buffers)] = events(comm, "labels")
    assert event["version"] == event["base_version"] + 1
    assert buffers == [positions_buffer(2_345_678), bytes([1])]
    w.close()


def test_focus_from_a_click_leaves_the_selection_alone(labelled: Explorer):
    labelled.select(["G0001", "G0002"])
    from_browser(labelled, _focus=30)
    assert labelled.focused == "G0030"
    assert list(labelled.selected_ids) == ["G0001", "G0002"]


# -- active learning ---------------------------------------------------------------------------


def label_by_kind(w: Explorer, frame: pd.DataFrame, n: int = 30) -> None:
    rows = frame.iloc[:n]
    w.set_labels(dict(zip(rows["id"], np.where(rows["x"] > 0, "ring", "not ring"), strict=True)))


def test_background_retrain_gives_scores_and_suggestions(labelled: Explorer, frame: pd.DataFrame):
    assert labelled.scores is None and labelled.suggestions.empty
    labelled.set_labels({"G0001": "ring"})
    assert labelled.training.result(timeout=60) is None  # one class: nothing to train
    assert labelled._learn["status"] == "waiting" and "two classes" in labelled._learn["message"]

    label_by_kind(labelled, frame)
    fit = labelled.training.result(timeout=60)
    assert fit is not None and fit.kind == "classifier" and len(fit.labelled) == 30
    scores = labelled.scores
    assert scores.index.equals(labelled.representations.ids)
    assert ((scores >= 0) & (scores <= 1)).all()
    # The target (first class, "ring" = x > 0 here) is what the score measures.
    assert scores[frame["x"].to_numpy() > 1].mean() > scores[frame["x"].to_numpy() < -1].mean()
    suggested = labelled.suggestions
    assert 0 < len(suggested) <= 48 and not suggested.isin(labelled.labels.index).any()
    assert labelled._learn["status"] == "ready" and labelled._learn["suggestions_version"] >= 1
    content, buffers = request(labelled, "suggestions")
    assert content["ids"] == list(suggested)
    assert content["suggestions_version"] == labelled._learn["suggestions_version"]
    positions = np.frombuffer(buffers[0], dtype="<u4")
    assert labelled.representations.ids[positions].equals(suggested)
    np.testing.assert_allclose(np.frombuffer(buffers[1], "<f4"), scores[suggested], rtol=1e-6)

    labelled.color_by("score")
    colors = np.frombuffer(labelled._color, dtype=np.uint8)
    assert len(colors) == N and labelled._color_meta["kind"] == "continuous"
    assert labelled._color_meta["max"] == pytest.approx(scores.max())
    figure = labelled.histogram("score", bins=10)
    assert int(sum(figure.marks[0].y)) == N

    labelled.strategy = "top"  # switching strategy retrains
    fit = labelled.training.result(timeout=60)
    assert fit is not None
    top = labelled.suggestions[:5]
    unlabelled = scores.drop(labelled.labels.index)
    assert set(top) <= set(unlabelled.nlargest(10).index)


def test_color_by_label_follows_the_labels_without_a_color_buffer(labelled: Explorer):
    labelled.color_by("label")
    meta = labelled._color_meta
    assert meta == {"kind": "label", "column": "label", "categories": CLASSES, "missing": N}
    comm = record(labelled)
    labelled.set_labels({"G0001": "not ring", "G0002": "ring"})
    assert labelled._color == b"" and labelled._color_meta["missing"] == N - 2
    assert label_codes(labelled)[[0, 1, 2]].tolist() == [0, 2, 1]
    updates = [m["state"] for m, _ in comm.messages if m.get("method") == "update"]
    assert updates and all("_color" not in state for state in updates)
    assert max(RecordingComm.size(m) for m in comm.messages) < 1_000
    assert "no scores yet" in labelled.histogram("score").title  # empty until the first fit


def test_labelling_setup_errors(frame: pd.DataFrame, tmp_path):
    with pytest.raises(gw.DataError, match="key 'z' of class 'b' is reserved"):
        Explorer(frame, layout=("x", "y"), classes={"a": "1", "b": "z"})
    with pytest.raises(gw.DataError, match="target 'bar' is not a class"):
        Explorer(frame, layout=("x", "y"), classes=CLASSES, target="bar")
    with pytest.raises(gw.DataError, match="unknown strategy 'best'"):
        Explorer(frame, layout=("x", "y"), classes=CLASSES, strategy="best")
    frame["label"] = None
    frame.loc[3, "label"] = "spiral"
    with pytest.raises(gw.DataError, match="column 'label' with labels that are not in the"):
        Explorer(frame, layout=("x", "y"), classes=CLASSES, labels={"path": tmp_path / "l.jsonl"})
    w = Explorer(frame, layout=("x", "y"), classes=CLASSES, label_column=None)
    w.set_labels({"G0001": "ring"})
    assert frame.loc[1, "label"] is None and frame.loc[3, "label"] == "spiral"
    w.close()


def test_selection_survives_a_new_explorer_on_the_same_data() -> None:
    reps = gw.datasets.synthetic(400, seed=5, dim=16)
    first = gw.Explorer(reps)
    first.select("morphology == 'spiral'")
    expected = first.selected_ids
    assert len(expected) > 0
    first.close()
    # As after a kernel restart: same data, new Explorer.
    again = gw.Explorer(gw.datasets.synthetic(400, seed=5, dim=16))
    assert again.selected_ids.equals(expected)
    again.select(None)
    assert gw.Explorer(reps).selected_ids.empty
    assert gw.Explorer(reps, remember_selection=False).selected_ids.empty
    # A DataFrame's own selected column wins over the remembered selection.
    again.select(expected[:3])
    frame = pd.DataFrame(reps.features, columns=[f"feat_{i}" for i in range(16)])
    frame["iauname"] = reps.ids
    frame["selected"] = False
    frame.loc[7, "selected"] = True
    assert gw.Explorer(frame).selected_ids.tolist() == [reps.ids[7]]


def test_no_remembered_selection_needs_no_fingerprint_and_saving_computes_it() -> None:
    """The fingerprint hashes every id (seconds at tens of millions): with no selection
    remembered at all, loading does not compute it; the first save does, and loads it back."""
    reps = gw.datasets.synthetic(200, seed=8, dim=8)
    memory = SelectionMemory(reps)
    assert not any(memory.path.parent.glob("*.sel"))  # each test has its own cache folder
    del reps.__dict__["fingerprint"]  # computed by .path just above
    assert memory.load().size == 0 and "fingerprint" not in reps.__dict__
    memory.save(encode_selection([3, 7], len(reps)))
    assert memory.load().tolist() == [3, 7] and "fingerprint" in reps.__dict__
    fresh = gw.datasets.synthetic(200, seed=8, dim=8)  # the same data, its own fingerprint
    memory = SelectionMemory(fresh)
    warmed = memory.warm()
    assert memory.warm() is warmed  # one thread, however often it is asked
    warmed.join(timeout=30)
    assert fresh.__dict__["fingerprint"] == reps.fingerprint


def test_a_stale_remembered_selection_is_ignored() -> None:
    reps = gw.datasets.synthetic(300, seed=6, dim=16)
    path = SelectionMemory(reps).path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_selection([5, 10_000], 20_000))  # a position beyond the data
    assert gw.Explorer(reps).selected_ids.empty
    path.write_bytes(b"not a selection")
    assert gw.Explorer(reps).selected_ids.empty


def test_an_unwritable_cache_warns_once_and_the_selection_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("GALWIDGET_CACHE", str(blocker / "cache"))
    reps = gw.datasets.synthetic(120, seed=7, dim=8)
    with pytest.warns(UserWarning, match="cannot write its cache folder") as caught:
        w = Explorer(reps, layout=("ra", "dec"))
        w.select(reps.ids[:3])
        w.select(reps.ids[:5])
    assert len([c for c in caught if "cache folder" in str(c.message)]) == 1
    assert w.selected_ids.equals(reps.ids[:5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per session: no second warning
        w.select(reps.ids[:2])
    w.close()


# -- wired from other modules: search, model report, team labelling ----------------------------


def test_find_focuses_a_galaxy_from_python_and_the_search_box(widget: Explorer):
    found = widget.find("G0012")
    assert found.kind == "id" and widget.focused == "G0012"
    content, buffers = request(widget, "find", 3, text="G001")
    assert content["ok"] and buffers == [] and content["match"] == "prefix"
    assert content["position"] == -1 and content["n_completions"] == 10
    assert content["completions"][:2] == ["G0010", "G0011"]
    assert widget.focused == "G0012"  # several matches: the focus stays
    content, _ = request(widget, "find", 4, text="G0399")
    assert content["position"] == 399 and content["id"] == "G0399" and widget._focus == 399
    content, _ = request(widget, "find", 5, text="nothing like it")
    assert not content["ok"] and "no galaxy id is or starts with" in content["reason"]


def test_the_model_report_reaches_python_and_the_toolbar(labelled: Explorer, frame: pd.DataFrame):
    assert labelled.model_report() is None and labelled._learn["report"] is None
    label_by_kind(labelled, frame, n=40)
    assert labelled.training.result(timeout=60) is not None
    report = labelled.model_report()
    assert isinstance(report, gw.learn.ModelReport) and report.n_folds >= 2
    assert labelled._learn["report"] == report.as_dict()
    assert sum(report.labels_per_class.values()) == 40


def test_labels_from_another_person_appear(frame: pd.DataFrame, tmp_path):
    """Another person's labels reach this Explorer's page (bench_labels measures how fast)."""
    path = tmp_path / "team.jsonl"
    w = Explorer(frame, layout=("x", "y"), classes=CLASSES, labels={"path": path, "user": "alice"})
    w.set_labels({"G0001": "ring"})
    comm = record(w)
    reps = gw.load_representations(make_frame())
    other = gw.LabelStore.for_data(reps, path=path, classes=CLASSES, user="bob")
    other.set(["G0005", "G0006"], "not ring")  # another process, another person
    deadline = time.monotonic() + 60.0  # generous: correctness here, latency in the bench
    while time.monotonic() < deadline and not events(comm, "labels"):
        time.sleep(0.05)
    [(event, buffers)] = events(comm, "labels")
    assert event["version"] == w._label_meta["version"]
    assert np.frombuffer(buffers[0], "<u4").tolist() == [5, 6] and buffers[1] == bytes([2, 2])
    labels = w.labels
    assert labels.loc["G0001", "user"] == "alice" and labels.loc["G0005", "user"] == "bob"
    assert frame.loc[[5, 6], "label"].tolist() == ["not ring", "not ring"]
    other.close()
    w.close()


# -- the selection gallery ---------------------------------------------------------------------


def page(w: Explorer, order: str, *, column=None, descending=True, offset=0, limit=100):
    content, buffers = request(
        w,
        "selection_page",
        order=order,
        column=column,
        descending=descending,
        offset=offset,
        limit=limit,
    )
    assert content["ok"], content
    positions = np.frombuffer(buffers[0], "<u4").astype(np.int64)
    assert content["ids"] == list(w.representations.ids[positions])
    return content, positions, np.frombuffer(buffers[1], "<f4")


def test_selection_pages_in_each_order(frame: pd.DataFrame, tmp_path):
    chosen = np.flatnonzero(frame["kind"] == "ring")
    frame.loc[chosen[:2], "x"] = np.nan  # missing values go last
    labelled = Explorer(
        frame,
        layout=("feat_0", "feat_1"),
        classes=CLASSES,
        labels={"path": tmp_path / "labels.jsonl"},
    )
    labelled.select(frame["kind"] == "ring")

    content, positions, values = page(labelled, "column", column="x", limit=500)
    assert content["total"] == len(chosen) and sorted(positions) == chosen.tolist()
    finite = values[~np.isnan(values)]
    assert np.all(np.diff(finite) <= 0) and np.isnan(values[-2:]).all()
    _, ascending, up = page(labelled, "column", column="x", descending=False, limit=500)
    assert np.all(np.diff(up[:-2]) >= 0) and set(ascending[-2:]) == set(chosen[:2])

    embedding = labelled.index.embedding[chosen].astype(np.float64)
    distances = np.linalg.norm(embedding - embedding.mean(axis=0), axis=1)
    _, positions, values = page(labelled, "centroid", limit=500)
    assert positions.tolist() == chosen[np.argsort(distances, kind="stable")].tolist()
    np.testing.assert_allclose(values, np.sort(distances), rtol=1e-5)

    content, first, _ = page(labelled, "random", limit=10)
    _, second, _ = page(labelled, "random", offset=10, limit=10)
    _, whole, values = page(labelled, "random", limit=500)
    assert first.tolist() + second.tolist() == whole[:20].tolist()  # pages of one order
    assert sorted(whole) == chosen.tolist() and np.isnan(values).all()
    assert whole.tolist() != chosen.tolist()  # shuffled

    for params, reason in [
        ({"order": "score"}, "no scores yet"),
        ({"order": "column", "column": "kind"}, "column 'kind' is not numeric"),
        ({"order": "column", "column": None}, "needs a numeric meta column"),
        ({"order": "size"}, "needs 'order', got 'size'"),  # not an order of the protocol
        ({"order": "random", "limit": 0}, "1 ≤ limit ≤ 10000"),
    ]:
        message = {"column": None, "descending": True, "offset": 0, "limit": 10, **params}
        content, buffers = request(labelled, "selection_page", **message)
        assert not content["ok"] and reason in content["reason"] and buffers == []

    label_by_kind(labelled, frame, n=40)
    labelled.training.result(timeout=60)
    _, positions, values = page(labelled, "score", limit=500)
    scores = labelled.scores.to_numpy()
    assert positions.tolist() == chosen[np.argsort(-scores[chosen], kind="stable")].tolist()
    np.testing.assert_allclose(values, scores[positions], rtol=1e-6)
    labelled.select(None)
    content, positions, _ = page(labelled, "centroid")
    assert content["total"] == 0 and len(positions) == 0
    labelled.close()


def test_export_labels_writes_a_zoobot_catalogue(tmp_path):
    reps = gw.datasets.synthetic(80, seed=4, dim=8)
    w = Explorer(
        reps, layout=("ra", "dec"), classes=["smooth", "featured"], labels={"user": "carol"}
    )
    w.set_labels({reps.ids[3]: "featured", reps.ids[1]: "smooth", reps.ids[7]: "featured"})
    catalogue = w.export_labels(tmp_path / "train.csv", image_dir=tmp_path / "images")
    assert catalogue["id_str"].tolist() == [reps.ids[1], reps.ids[3], reps.ids[7]]  # row order
    assert dict(zip(catalogue["id_str"], catalogue["label"], strict=True)) == {
        reps.ids[1]: 0,
        reps.ids[3]: 1,
        reps.ids[7]: 1,
    }
    assert all(Path(f).is_file() for f in catalogue["file_loc"])
    assert pd.read_csv(tmp_path / "train.csv")["label_name"].tolist() == list(
        catalogue["label_name"]
    )
    assert set(w.labels["user"]) == {"carol"}
    with pytest.raises(gw.DataError, match="unknown export format"):
        w.export_labels(tmp_path / "x.csv", format="astronn")
    w.close()


# -- filters -----------------------------------------------------------------------------------


def test_filter_sends_what_is_shown_and_clears(widget: Explorer, frame: pd.DataFrame):
    widget.filter(x=(0, None), kind=["ring", "spiral"], mode="hide")
    expected = (frame["x"] >= 0) & frame["kind"].isin(["ring", "spiral"])
    shown = decode_selection(widget._filter, N)
    assert shown.tolist() == np.flatnonzero(expected).tolist()
    assert widget.shown.tolist() == frame.loc[expected, "id"].tolist()
    assert widget._filter_meta == {
        "mode": "hide",
        "shown": int(expected.sum()),
        "description": "x in [0, …], kind in {'ring', 'spiral'}",
    }
    widget.filter(flag=True)
    assert widget._filter_meta["mode"] == "dim"
    assert widget.shown.tolist() == frame.loc[frame["flag"], "id"].tolist()
    for conditions, message in [
        ({"nope": (0, 1)}, "no column 'nope' to filter on"),
        ({"kind": (0, 1)}, "is not numeric: filter it by a list"),
        ({"x": (2, 1)}, "low 2 above high 1"),
        ({"kind": ["ring", "sprial"]}, "has no values 'sprial'"),
    ]:
        with pytest.raises(gw.DataError, match=message):
            widget.filter(**conditions)
    with pytest.raises(gw.DataError, match="filter mode must be one of dim, hide"):
        widget.filter(mode="blur", x=(0, 1))
    assert widget.shown.tolist() == frame.loc[frame["flag"], "id"].tolist()  # unchanged
    widget.filter()
    assert widget._filter == b"" and widget._filter_meta["mode"] == "none"
    assert widget.shown.equals(widget.representations.ids)


def test_the_color_menu_colors_as_color_by_does(frame: pd.DataFrame, tmp_path):
    w = Explorer(
        frame, layout=("x", "y"), classes=["a", "b"], labels={"path": tmp_path / "l.jsonl"}
    )
    assert w._config["color_columns"][-4:] == ["label", "score", "anomaly", "cluster"]
    content, _ = request(w, "color_by", column="kind")
    assert content["ok"] and content["column"] == "kind"
    assert w._color_meta["kind"] == "categorical" and w._color_meta["column"] == "kind"
    assert request(w, "color_by", column="label")[0]["ok"] and w._color_meta["kind"] == "label"
    assert request(w, "color_by", column=None)[0]["ok"] and w._color_meta["kind"] == "none"
    content, _ = request(w, "color_by", column="feat_0")  # a feature, not a meta column
    assert not content["ok"] and "cannot color by 'feat_0'" in content["reason"]
    assert w._color_meta["kind"] == "none"
    w.close()


def test_zoom_to_selection_tells_every_view(widget: Explorer):
    comm = record(widget)
    widget.zoom_to_selection()
    assert events(comm, "zoom_to_selection") == [
        ({"type": "event", "kind": "zoom_to_selection"}, [])
    ]


def test_a_read_only_label_log_is_read_and_refuses_labels_without_losing_any(
    frame: pd.DataFrame, tmp_path, read_only_folder
):
    folder, make_read_only = read_only_folder
    writer = Explorer(
        frame, layout=("x", "y"), classes=CLASSES, labels={"path": folder / "l.jsonl"}
    )
    writer.set_labels({"G0003": "ring"})
    writer.close()
    log = make_read_only() / "l.jsonl"
    before = log.read_bytes()
    w = Explorer(frame.copy(), layout=("x", "y"), classes=CLASSES, labels={"path": log})
    try:
        assert w.labels["label"].to_dict() == {"G0003": "ring"}
        assert w._label_meta["read_only"] is True
        version = w._label_meta["version"]
        content, _ = request(w, "label", 1, [positions_buffer(7)], label="ring")
        assert content["ok"] is False and "read-only" in content["reason"]
        with pytest.raises(gw.LabelStorageError):
            w.set_labels({"G0007": "ring"})
        assert w.labels["label"].to_dict() == {"G0003": "ring"}
        assert label_codes(w)[[3, 7]].tolist() == [1, 0]
        assert w._label_meta["version"] == version and log.read_bytes() == before
    finally:
        w.close()


def test_color_by_anomaly_computes_in_the_background_then_colors(frame: pd.DataFrame, monkeypatch):
    from galwidget import anomaly

    monkeypatch.setattr(anomaly, "BLOCK_ROWS", 100)  # 4 blocks: progress after each
    frame.loc[7, [f"feat_{i}" for i in range(8)]] = 40.0  # one galaxy far from the rest
    w = Explorer(frame, layout=("x", "y"))
    titles: list[str] = []
    w.observe(lambda change: titles.append(change["new"].get("column")), names="_color_meta")
    try:
        assert "anomaly" in w._config["color_columns"]
        content, _ = request(w, "color_by", column="anomaly")
        assert content["column"] == "anomaly"
        scores = w.anomaly  # waits for the background job that color_by started
        assert scores.index.equals(w.representations.ids) and scores.idxmax() == "G0007"
        deadline = time.monotonic() + 30
        while w._color_meta.get("column") != "anomaly" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w._color_meta["kind"] == "continuous" and w._color_meta["missing"] == 0
        assert w._color_meta["max"] == pytest.approx(float(scores.max()))
        colors = np.frombuffer(w._color, dtype=np.uint8)
        assert colors[7] == colors.max() and len(colors) == N
        assert titles == [
            "anomaly (computing… 0%)",
            "anomaly (computing… 25%)",
            "anomaly (computing… 50%)",
            "anomaly (computing… 75%)",
            "anomaly",
        ]
    finally:
        w.close()


def test_most_anomalous_suggestions_need_no_labels(frame: pd.DataFrame, tmp_path):
    frame.loc[7, [f"feat_{i}" for i in range(8)]] = 40.0
    w = Explorer(
        frame,
        layout=("x", "y"),
        classes=["ring", "other"],
        labels={"path": tmp_path / "labels.jsonl"},
        strategy="anomalous",
    )
    try:
        fit = w.training.result(timeout=60)
        assert fit is not None and fit.kind == "prior"
        assert w.suggestions[0] == "G0007"
        expected = w.anomaly.drop("G0007").nlargest(5).index
        w.set_labels({"G0007": "ring"})
        w.training.result(timeout=60)
        assert list(w.suggestions[:5]) == list(expected)
    finally:
        w.close()


def test_clusters_colors_names_and_selection():
    rng = np.random.default_rng(5)
    blob = np.repeat([0, 1, 2], [200, 120, 80])
    features = rng.normal(size=(N, 8)) + 15.0 * np.eye(8)[blob * 2]
    frame = pd.DataFrame(features, columns=[f"feat_{i}" for i in range(8)])
    frame.insert(0, "id", [f"G{i:04d}" for i in range(N)])
    frame["kind"] = np.array(["smooth", "spiral", "ring"])[blob]
    frame["x"], frame["y"] = features[:, 0], features[:, 2]
    w = Explorer(frame, layout=("x", "y"))
    try:
        table = w.clusters
        assert len(table) == 3 and table["size"].tolist() == [200, 120, 80]
        assert all(
            blob[int(r[1:])] == blob[int(c[0][1:])]
            for r, c in zip(table["representative"], table["central"], strict=True)
        )
        content, _ = request(w, "color_by", column="cluster")
        assert content["column"] == "cluster"
        assert w._color_meta["kind"] == "categorical"
        assert sorted(w._color_meta["categories"]) == ["cluster 0", "cluster 1", "cluster 2"]
        w.name_clusters(by="kind")
        assert sorted(w.clusters["name"]) == ["ring (100%)", "smooth (100%)", "spiral (100%)"]
        assert sorted(w._color_meta["categories"]) == [
            "ring (100%)",
            "smooth (100%)",
            "spiral (100%)",
        ]
        rings = int(table["cluster"].iloc[2])
        w.rename_cluster(rings, "rings")
        assert "rings" in w._color_meta["categories"]
        w.select_cluster(rings)
        assert w.selected["kind"].eq("ring").all() and len(w.selection) == 80
        with pytest.raises(gw.DataError, match="no column 'colour' to name clusters by"):
            w.name_clusters(by="colour")
    finally:
        w.close()


def test_too_few_galaxies_to_cluster_is_a_clear_error():
    w = Explorer(make_frame(10), layout=("x", "y"))
    try:
        with pytest.raises(gw.DataError, match="clustering needs at least 20 galaxies, got 10"):
            _ = w.clusters
        with pytest.raises(gw.DataError, match="at least 20 galaxies"):
            w.color_by("cluster")
        assert w._color_meta == {"kind": "none"}
    finally:
        w.close()


def test_the_sky_layout_keeps_the_selection_and_draws_its_graticule():
    rng = np.random.default_rng(2)
    frame = make_frame()
    frame["ra"], frame["dec"] = rng.uniform(0, 360, N), rng.uniform(-60, 60, N)
    w = Explorer(frame, layout=("x", "y"))
    try:
        assert w._config["layouts"] == ["x, y", "sky"]
        assert w._overlay["graticule"] == []
        w.select(["G0001", "G0002"])
        w.layout_name = "sky"
        assert list(w.selected_ids) == ["G0001", "G0002"]
        assert len(w._overlay["graticule"]) == 18
        points = np.frombuffer(w._points, "<f4").reshape(-1, 2)
        assert (np.abs(points) <= 0.95 + 1e-6).all()
        left = frame["ra"].to_numpy() > 200  # east of the centre RA (180°) is drawn to the left
        right = frame["ra"].to_numpy() < 160
        assert points[left, 0].max() < 0 < points[right, 0].min()
        w.layout_name = "x, y"
        assert w._overlay["graticule"] == [] and list(w.selected_ids) == ["G0001", "G0002"]
    finally:
        w.close()
    plain = Explorer(make_frame(), layout=("x", "y"))
    try:
        assert plain._config["layouts"] == ["x, y"]
        with pytest.raises(Exception, match="'sky' layout needs sky positions"):
            plain.layout_name = "sky"
        assert plain.layout_name == "x, y"
    finally:
        plain.close()


def test_cluster_marks_on_the_map_and_their_click_request():
    rng = np.random.default_rng(5)
    blob = np.repeat([0, 1], [250, 150])
    features = rng.normal(size=(N, 8)) + 15.0 * np.eye(8)[blob * 3]
    frame = pd.DataFrame(features, columns=[f"feat_{i}" for i in range(8)])
    frame.insert(0, "id", [f"G{i:04d}" for i in range(N)])
    frame["x"], frame["y"] = features[:, 0], features[:, 3]
    w = Explorer(frame, layout=("x", "y"))
    try:
        assert w._overlay["clusters"] == []
        table = w.clusters
        marks = w._overlay["clusters"]
        assert [m["name"] for m in marks] == ["cluster 0", "cluster 1"]
        assert {str(w.representations.ids[m["position"]]) for m in marks} == set(
            table["representative"]
        )
        w.rename_cluster(1, "the small one")
        assert w._overlay["clusters"][1]["name"] == "the small one"
        content, _ = request(w, "select_cluster", cluster=1)
        assert content["ok"] and content["cluster"] == 1
        assert content["count"] == len(w.selection) == table.set_index("cluster").loc[1, "size"]
        assert len(set(blob[w.selection])) == 1
        content, _ = request(w, "select_cluster", cluster=9)
        assert not content["ok"] and "no cluster 9" in content["reason"]
    finally:
        w.close()


def test_sky_view_is_linked_both_ways():
    """The kernel side of ``w.sky()``, through ipyaladin's comm: the messages it sends the page and
    the ones the page sends back (tests/browser/test_sky.py runs the page in JupyterLab)."""
    pytest.importorskip("ipyaladin")
    from astropy.io.votable import parse_single_table

    from galwidget.widget._sky import OVERLAY_NAME

    rng = np.random.default_rng(3)
    frame = make_frame()
    frame["ra"], frame["dec"] = rng.uniform(150, 160, N), rng.uniform(0, 5, N)
    w = Explorer(frame, layout=("x", "y"))

    def from_page(message: dict) -> None:
        aladin._handle_msg({"content": {"data": message}, "buffers": []})

    def custom(messages: list[tuple[dict, list[bytes]]]) -> list[tuple[dict, list[bytes]]]:
        return [(m["content"], b) for m, b in messages if m.get("method") == "custom"]

    try:
        w.select(["G0003", "G0010"])
        aladin = w.sky(fov=3.0)
        ra, dec = aladin.target.ra.deg, aladin.target.dec.deg
        assert ra == pytest.approx(frame["ra"].iloc[[3, 10]].mean(), abs=0.01)
        assert dec == pytest.approx(frame["dec"].iloc[[3, 10]].mean(), abs=0.01)
        comm = RecordingComm()
        aladin.comm = comm
        # Until the page reports it has loaded, ipyaladin keeps the overlay; then it sends it.
        assert custom(comm.messages) == []
        from_page({"method": "update", "state": {"_is_loaded": True}, "buffer_paths": []})
        (first, [votable]), *_ = custom(comm.messages)
        assert first["event_name"] == "add_table" and first["options"]["name"] == OVERLAY_NAME
        assert list(parse_single_table(io.BytesIO(votable)).to_table()["id"]) == [
            "G0003",
            "G0010",
        ]
        comm.messages.clear()
        w.select(["G0001", "G0002", "G0005"])
        sent = custom(comm.messages)
        assert [m["event_name"] for m, _ in sent] == ["remove_overlay", "add_table"]
        assert sent[0][0]["overlay_names"] == [OVERLAY_NAME]
        assert sent[1][0]["options"]["name"] == OVERLAY_NAME
        table = parse_single_table(io.BytesIO(sent[1][1][0])).to_table()
        assert list(table["id"]) == ["G0001", "G0002", "G0005"]
        np.testing.assert_allclose(table["ra"], frame["ra"].iloc[[1, 2, 5]])
        np.testing.assert_allclose(table["dec"], frame["dec"].iloc[[1, 2, 5]])
        # A click on a source, as ipyaladin's page reports it, focuses the galaxy; the sky is
        # told to recentre on it.
        comm.messages.clear()
        from_page(
            {
                "method": "custom",
                "content": {
                    "event_type": "object_clicked",
                    "content": {"ra": 1, "dec": 2, "data": {"id": "G0005"}},
                },
            }
        )
        assert w.focused == "G0005"
        updates = [m["state"] for m, _ in comm.messages if m.get("method") == "update"]
        assert [s["_target"] for s in updates if "_target" in s] == [
            f"{frame['ra'].iloc[5]} {frame['dec'].iloc[5]}"
        ]
        w.focus("G0100")
        assert aladin.target.dec.deg == pytest.approx(frame["dec"].iloc[100])
        comm.messages.clear()
        w.select([])
        assert [m["event_name"] for m, _ in custom(comm.messages)] == ["remove_overlay"]
    finally:
        w.close()
    plain = Explorer(make_frame(), layout=("x", "y"))
    try:
        with pytest.raises(gw.DataError, match=r"w.sky\(\) needs sky positions"):
            plain.sky()
    finally:
        plain.close()


def test_show_images_is_a_checked_keyword_option_and_a_synced_trait(frame: pd.DataFrame):
    w = Explorer(frame, layout=("x", "y"), show_images="always")
    assert w.show_images == "always" and w.get_state()["show_images"] == "always"
    w.show_images = "never"
    with pytest.raises(
        gw.DataError, match="show_images must be one of 'auto', 'always', 'never', got 'on'"
    ):
        w.show_images = "on"
    assert w.show_images == "never"  # a refused value changes nothing
    w.close()
    with pytest.raises(gw.DataError, match=r"show_images must be one of .* got True"):
        Explorer(frame, layout=("x", "y"), show_images=True)  # type: ignore[arg-type]
    w = Explorer(frame, layout=("x", "y"))
    assert w.show_images == "auto"
    w.close()


def test_thumbnails_reply_carries_several_images_and_per_galaxy_reasons(frame: pd.DataFrame):
    reps = gw.datasets.synthetic(60, seed=2)
    w = Explorer(reps, layout=("ra", "dec"))
    content, buffers = request(w, "thumbnails", 5, positions=[4, 60, 7])
    assert content["ok"] and len(buffers) == 1
    assert content["urls"] == [None, None, None]
    assert content["reasons"][0] is None and content["reasons"][2] is None
    assert "no galaxy at position 60" in content["reasons"][1]
    sizes = content["sizes"]
    assert sizes[1] == 0 and len(buffers[0]) == sum(sizes)
    first, third = buffers[0][: sizes[0]], buffers[0][sizes[0] :]
    single, single_buffers = request(w, "thumbnail", 6, position=7)
    assert third == single_buffers[0] and content["mimes"][2] == single["mime"]
    assert Image.open(io.BytesIO(first)).size == (128, 128)
    content, _ = request(w, "thumbnails", 7, positions=list(range(17)))
    assert not content["ok"] and "at most 16 thumbnails a request, got 17" in content["reason"]
    w.close()

    w = Explorer(frame, layout=("x", "y"), images="https://images.test/{kind}/{id}.png")
    content, buffers = request(w, "thumbnails", 8, positions=[2])
    assert content["urls"] == [f"https://images.test/{frame['kind'][2]}/G0002.png"]
    assert buffers == [b""]
    w.close()


def test_the_selection_keeps_a_read_only_array_it_owns_and_copies_any_other() -> None:
    """A lasso of most of 76M galaxies is 70M positions (560 MB): the kernel's own read-only
    arrays are kept as they are; a caller's writable array is copied and stays writable."""
    w = Explorer(gw.datasets.synthetic(200, seed=9, dim=8), remember_selection=False)
    owned = np.array([2, 5, 9], dtype=np.int64)
    owned.flags.writeable = False
    w.selection = owned
    assert w.selection is owned
    mine = np.array([1, 4], dtype=np.int64)
    w.selection = mine
    assert w.selection is not mine and mine.flags.writeable and w.selection.tolist() == [1, 4]
    mine[0] = 3  # the caller's array changing later does not change the selection
    assert w.selection.tolist() == [1, 4] and not w.selection.flags.writeable
    view = np.arange(10, dtype=np.int64)[6:8]
    view.flags.writeable = False  # read-only, but a view of memory someone else can write
    w.selection = view
    assert w.selection is not view and w.selection.tolist() == [6, 7]
