"""Explorer without a browser: wire format, selection sync with pandas, replies to requests."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from ipywidgets.widgets.widget import _remove_buffers
from PIL import Image

import galwidget as gw
from galwidget.widget import MAX_CATEGORIES, Explorer, encode_colors, normalise_layout

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
    return np.frombuffer(w._selection, dtype="<u4").tolist()


def from_browser(w: Explorer, **state: object) -> None:
    """Apply a state update exactly as the comm delivers one from the front end."""
    plain, buffer_paths, buffers = _remove_buffers(state)
    message = {"method": "update", "state": plain, "buffer_paths": buffer_paths}
    w._handle_msg({"content": {"data": message}, "buffers": [memoryview(b) for b in buffers]})


# -- wire format -------------------------------------------------------------------------------


def test_traits_are_binary_buffers_of_the_right_type(widget: Explorer, frame: pd.DataFrame):
    points = np.frombuffer(widget._points, dtype=np.float32).reshape(-1, 2)
    assert points.shape == (N, 2)
    assert np.abs(points).max() <= 1
    # Same scale on both axes: y spread (3x) stays 3x the x spread.
    ratio = np.ptp(points[:, 1]) / np.ptp(points[:, 0])
    assert ratio == pytest.approx(np.ptp(frame["y"]) / np.ptp(frame["x"]), rel=1e-5)
    colours = np.frombuffer(widget._color, dtype=np.float32)
    assert len(colours) == N and colours.min() == 0 and colours.max() == 1
    assert widget._color_meta["kind"] == "continuous"
    assert widget._config == {"n": N, "id_column": "id", "image_kind": "none"}

    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    assert {"_points", "_color", "_selection"} <= {p[0] for p in buffer_paths}
    assert bytes(buffers[buffer_paths.index(["_points"])]) == widget._points
    assert "_points" not in state  # the numbers travel only as a buffer


def test_layout_array_is_centred_and_scaled_with_one_factor():
    layout = np.array([[0.0, 0.0], [10.0, 2.0], [5.0, 1.0]])
    xy = normalise_layout(layout).reshape(-1, 2)
    assert xy.dtype == np.float32
    np.testing.assert_allclose(xy[:, 0], [-0.95, 0.95, 0])
    np.testing.assert_allclose(xy[:, 1], [-0.19, 0.19, 0], rtol=1e-6)


# -- selection ---------------------------------------------------------------------------------


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
    from_browser(widget, _selection=np.array([5, 9, 2], dtype="<u4").tobytes())
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
    assert widget.focused is None and widget.neighbours.empty


def test_existing_boolean_column_is_the_initial_selection(frame: pd.DataFrame):
    frame["selected"] = frame["flag"]
    w = Explorer(frame, layout=("x", "y"))
    assert selection(w) == np.flatnonzero(frame["flag"]).tolist()
    assert "selected" not in w.selected.columns
    w.close()


def test_selected_column_none_leaves_the_frame_alone(frame: pd.DataFrame):
    w = Explorer(frame, layout=("x", "y"), selected_column=None)
    w.select(["G0001"])
    assert "selected" not in frame.columns
    w.close()


# -- neighbours and replies --------------------------------------------------------------------


def test_focus_neighbours_match_the_index(widget: Explorer):
    widget.focus("G0010")
    expected = widget.index.query("G0010", k=5)
    neighbours = widget.neighbours
    assert neighbours["id"].tolist() == expected["id"].tolist()
    np.testing.assert_allclose(neighbours["distance"], expected["distance"], rtol=1e-6)
    assert {"kind", "x"} <= set(neighbours.columns)
    assert (
        neighbours["kind"].tolist()
        == widget.representations.meta.loc[expected["id"], "kind"].tolist()
    )


def test_neighbour_and_more_like_replies(widget: Explorer):
    content, buffers = widget.reply({"type": "neighbours", "request": 7, "index": 10})
    expected = widget.index.query("G0010", k=5)
    assert content["ok"] and content["request"] == 7 and content["type"] == "neighbours"
    assert content["id"] == "G0010" and buffers == []
    assert content["ids"] == expected["id"].tolist()
    assert content["indices"] == [int(i[1:]) for i in expected["id"]]
    np.testing.assert_allclose(content["distances"], expected["distance"], rtol=1e-6)

    content, _ = widget.reply({"type": "more_like", "request": 8})
    assert not content["ok"] and content["reason"] == "select some galaxies first"
    widget.select(["G0001", "G0002", "G0003"])
    content, _ = widget.reply({"type": "more_like", "request": 9})
    expected = widget.index.more_like(["G0001", "G0002", "G0003"], k=5)
    assert content["ok"] and content["count"] == 3
    assert content["ids"] == expected["id"].tolist()


def test_hover_reply_formats_a_few_columns(widget: Explorer, frame: pd.DataFrame):
    content, _ = widget.reply({"type": "hover", "request": 1, "index": 3})
    assert content["ok"] and content["id"] == "G0003"
    names = [name for name, _ in content["fields"]]
    assert names[0] == "x" and len(names) == 4 and "id" not in names
    assert content["fields"][0][1] == f"{frame['x'][3]:.3g}"


def test_bad_requests_get_a_reason(widget: Explorer):
    for message, reason in [
        ({"type": "neighbours", "request": 1, "index": N}, f"no galaxy at index {N}"),
        ({"type": "hover", "request": 2, "index": "3"}, "no galaxy at index '3'"),
        ({"type": "thumbnail", "request": 3, "index": 0}, "no images"),
        ({"type": "dance", "request": 4}, "unknown request type 'dance'"),
    ]:
        content, buffers = widget.reply(message)
        assert content["ok"] is False and buffers == []
        assert content["request"] == message["request"]
        assert reason in content["reason"]


def test_thumbnail_replies_carry_bytes_or_urls(frame: pd.DataFrame):
    reps = gw.datasets.synthetic(60, seed=2)
    w = Explorer(reps, layout=("ra", "dec"))
    content, buffers = w.reply({"type": "thumbnail", "request": 5, "index": 4})
    assert content == {"type": "thumbnail", "request": 5, "ok": True, "mime": content["mime"]}
    assert content["mime"] in {"image/jpeg", "image/png"} and len(buffers) == 1
    assert Image.open(io.BytesIO(buffers[0])).size == (128, 128)
    w.close()

    w = Explorer(frame, layout=("x", "y"), images="https://images.test/{kind}/{id}.png")
    content, buffers = w.reply({"type": "thumbnail", "request": 6, "index": 2})
    assert content["ok"] and buffers == []
    assert content["url"] == f"https://images.test/{frame['kind'][2]}/G0002.png"
    w.close()

    def missing(galaxy_id: str) -> np.ndarray:
        raise FileNotFoundError(f"{galaxy_id}.png")

    w = Explorer(frame, layout=("x", "y"), images=missing)
    content, _ = w.reply({"type": "thumbnail", "request": 7, "index": 1})
    assert not content["ok"] and "G0001.png" in content["reason"]
    w.close()


# -- colour ------------------------------------------------------------------------------------


def test_colour_encodings():
    values = pd.Series([1.0, np.nan, 3.0, np.inf, 2.0])
    data, meta = encode_colors(values, "v")
    scaled = np.frombuffer(data, dtype=np.float32)
    np.testing.assert_allclose(scaled, [0, np.nan, 1, np.nan, 0.5])
    assert meta == {"kind": "continuous", "column": "v", "min": 1.0, "max": 3.0, "missing": 1}

    data, meta = encode_colors(pd.Series(["b", "a", None, "b"]), "s")
    assert np.frombuffer(data, dtype=np.uint8).tolist() == [1, 0, 2, 1]
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
    with pytest.raises(gw.DataError, match="no column 'nope' to colour by"):
        widget.color_by("nope")
    with pytest.raises(gw.DataError, match="colour values for 3 galaxies"):
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
