"""Explorer without a browser: wire format, selection sync with pandas, replies to requests."""

from __future__ import annotations

import io
import signal
import subprocess
import sys

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
    assert widget._config == {"n": N, "id_column": "id", "image_kind": "none", "confirm_over": 50}

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


def test_unsorted_selection_with_duplicates_is_stored_sorted_and_unique(
    widget: Explorer, frame: pd.DataFrame
):
    from_browser(widget, _selection=np.array([9, 2, 9, 5], dtype="<u4").tobytes())
    assert selection(widget) == [2, 5, 9]
    assert list(widget.selected_ids) == ["G0002", "G0005", "G0009"]
    assert int(frame["selected"].sum()) == 3
    widget.select(["G0007", "G0003", "G0007"])
    assert selection(widget) == [3, 7]


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


# -- labels ------------------------------------------------------------------------------------

CLASSES = ["ring", "not ring"]


@pytest.fixture
def labelled(frame: pd.DataFrame, tmp_path) -> Explorer:
    w = Explorer(frame, layout=("x", "y"), classes=CLASSES, labels_path=tmp_path / "labels.jsonl")
    yield w
    w.close()


def label_codes(w: Explorer) -> np.ndarray:
    return np.frombuffer(w._labels, dtype=np.uint8)


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
    first = Explorer(frame, layout=("x", "y"), classes=CLASSES, labels_path=path)
    first.set_labels({"G0001": "ring", "G0002": "not ring"})
    first.close()
    again = make_frame()
    second = Explorer(again, layout=("x", "y"), classes=CLASSES, labels_path=path, color="label")
    assert second.labels["label"].to_dict() == {"G0001": "ring", "G0002": "not ring"}
    assert again.loc[[1, 2], "label"].tolist() == ["ring", "not ring"]
    assert second._label_meta["counts"] == [1, 1]
    assert np.frombuffer(second._color, dtype=np.uint8)[[0, 1, 2]].tolist() == [2, 0, 1]
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
w = gw.Explorer(frame, layout=("x", "y"), classes=["ring", "not ring"], labels_path=sys.argv[2])
w.set_labels({"G0001": "ring", "G0002": "not ring"})
w.reply({"type": "label", "request": 1, "index": 3, "label": "ring"})
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
    w = Explorer(pd.read_parquet(data), layout=("x", "y"), classes=CLASSES, labels_path=path)
    assert w.labels["label"].to_dict() == {"G0001": "ring", "G0002": "not ring", "G0003": "ring"}
    assert w.labels.loc["G0003", "source"] == "key"
    w.close()


def test_label_requests_reply_after_saving(labelled: Explorer, frame: pd.DataFrame):
    content, _ = labelled.reply({"type": "label", "request": 1, "index": 7, "label": "ring"})
    assert content["ok"] and content["saved"] and content["changed"] == 1
    assert content["counts"] == {"ring": 1, "not ring": 0}
    assert labelled.label_store.get("G0007") == "ring" and frame.loc[7, "label"] == "ring"
    content, _ = labelled.reply({"type": "label", "request": 2, "index": 7, "label": None})
    assert content["ok"] and labelled.label_store.get("G0007") is None
    content, _ = labelled.reply({"type": "undo", "request": 3})
    assert content["ok"] and content["indices"] == [7] and frame.loc[7, "label"] == "ring"
    content, _ = labelled.reply({"type": "redo", "request": 4})
    assert content["ok"] and content["indices"] == [7] and pd.isna(frame.loc[7, "label"])

    content, _ = labelled.reply({"type": "label_selection", "request": 5, "label": "not ring"})
    assert not content["ok"] and content["reason"] == "select some galaxies first"
    labelled.select(["G0020", "G0021", "G0022"])
    content, _ = labelled.reply({"type": "label_selection", "request": 6, "label": "not ring"})
    assert content["ok"] and content["count"] == 3 and content["counts"]["not ring"] == 3
    assert set(labelled.labels.query("source == 'bulk'").index) == {"G0020", "G0021", "G0022"}
    labelled.reply({"type": "undo", "request": 7})  # one step for the whole selection
    assert labelled.labels.empty

    content, _ = labelled.reply({"type": "label", "request": 8, "index": 1, "label": "bar"})
    assert not content["ok"] and "unknown class 'bar'" in content["reason"]
    content, _ = labelled.reply({"type": "label", "request": 9, "index": N, "label": "ring"})
    assert not content["ok"] and f"no galaxy at index {N}" in content["reason"]


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
    positions = np.frombuffer(labelled._suggestions, dtype="<u4")
    assert labelled.representations.ids[positions].equals(suggested)
    assert labelled._learn["status"] == "ready"
    content, _ = labelled.reply({"type": "suggestions", "request": 1})
    assert content["ids"] == list(suggested)
    assert content["scores"] == pytest.approx(scores[suggested].tolist())

    labelled.color_by("score")
    colours = np.frombuffer(labelled._color, dtype=np.float32)
    assert len(colours) == N and labelled._color_meta["kind"] == "continuous"
    assert labelled._color_meta["max"] == pytest.approx(scores.max())
    figure = labelled.histogram("score", bins=10)
    assert int(sum(figure.marks[0].y)) == N

    labelled.strategy = "top"  # switching strategy retrains
    fit = labelled.training.result(timeout=60)
    assert fit is not None
    top = labelled.suggestions[:5]
    unlabelled = scores.drop(labelled.labels.index)
    assert set(top) <= set(unlabelled.nlargest(10).index)


def test_colour_by_label_follows_the_labels(labelled: Explorer):
    labelled.color_by("label")
    meta = labelled._color_meta
    assert meta["categories"] == CLASSES and meta["missing"] == N
    labelled.set_labels({"G0001": "not ring", "G0002": "ring"})
    codes = np.frombuffer(labelled._color, dtype=np.uint8)
    assert codes[[0, 1, 2]].tolist() == [2, 1, 0]
    assert labelled._color_meta["missing"] == N - 2
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
        Explorer(frame, layout=("x", "y"), classes=CLASSES, labels_path=tmp_path / "l.jsonl")
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


def test_a_stale_remembered_selection_is_ignored() -> None:
    reps = gw.datasets.synthetic(300, seed=6, dim=16)
    path = gw.widget.saved_selection_path(reps)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array([5, 10_000], dtype="<u4"))  # a position beyond the data
    assert gw.Explorer(reps).selected_ids.empty
    path.write_bytes(b"not a numpy file")
    assert gw.Explorer(reps).selected_ids.empty
