"""Issue 17, kind 4: a hostile front end. Arbitrary state updates arrive as ipywidgets' comm
delivers them (and through ``set_state``); whatever they hold, the selection and its wire form
agree, a refused update leaves every trait as it was, and an accepted one holds only valid
values. Claims in a selection message are checked before anything proportional to them is
allocated."""

from __future__ import annotations

import math
import re
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest
import traitlets
from comm.base_comm import BaseComm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipywidgets.widgets.widget import _remove_buffers

import galwidget as gw
from galwidget import protocol
from galwidget.learn import STRATEGIES
from galwidget.protocol import SelectionKind, decode_selection, encode_selection
from galwidget.widget import Explorer

N = 60
CLASSES = ["ring", "other"]
LAYOUTS = {"given": ("x", "y"), "broken": ("bad", "y"), "pca": "pca"}
FRONT_END = ["_selection", "_focus", "k", "mode", "point_size", "opacity", "height"]
FRONT_END += ["strategy", "target", "layout_name", "show_images"]
KERNEL = ["_config", "_points", "_color", "_color_meta", "_filter", "_filter_meta"]
KERNEL += ["_label_meta", "_learn", "_esm", "_css", "_model_name", "tooltip"]


class RecordingComm(BaseComm):
    """A comm that keeps what the widget sends instead of publishing it."""

    def __init__(self, **kwargs: Any) -> None:
        self.messages: list[dict] = []
        super().__init__(target_name="jupyter.widget", primary=True, **kwargs)
        self.messages.clear()

    def publish_msg(self, msg_type: str, data=None, metadata=None, buffers=None, **keys) -> None:
        self.messages.append(data)

    def errors(self) -> list[str]:
        return [
            m["content"]["message"]
            for m in self.messages
            if m.get("method") == "custom" and m["content"].get("kind") == "error"
        ]

    def resent(self) -> set[str]:
        """The traits sent to the page (JSON ones in the state, binary ones as buffers)."""
        updates = [m for m in self.messages if m.get("method") == "update"]
        return {k for m in updates for k in m["state"]} | {
            path[0] for m in updates for path in m.get("buffer_paths", [])
        }


def from_comm(w: Explorer, state: dict[str, Any]) -> None:
    """An update message exactly as the comm delivers one (ipywidgets logs a refusal)."""
    plain, buffer_paths, buffers = _remove_buffers(state)
    message = {"method": "update", "state": plain, "buffer_paths": buffer_paths}
    w._handle_msg({"content": {"data": message}, "buffers": [memoryview(b) for b in buffers]})


# Written by the kernel's retraining thread whenever it finishes (a strategy change retrains):
# not something an update from the page changes or leaves alone.
BACKGROUND = {"_learn"}


def snapshot(w: Explorer) -> dict[str, Any]:
    w.training.result(timeout=60)
    state = {name: getattr(w, name) for name in w.keys if name not in BACKGROUND}
    state["selection"] = w.selection.tolist()
    state["frame"] = w._frame["selected"].to_numpy().copy()
    return state


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, after[name]), name
        else:
            assert after[name] == value or (value != value and after[name] != after[name]), name


def assert_consistent(w: Explorer) -> None:
    """The invariants that hold after any update, accepted or not."""
    n = len(w.representations)
    wire = decode_selection(w._selection, n)
    assert np.array_equal(wire, w.selection)
    assert w._wire == w._selection or np.array_equal(decode_selection(w._wire, n), wire)
    assert np.array_equal(np.flatnonzero(w._frame["selected"].to_numpy()), w.selection)
    assert isinstance(w.k, int) and not isinstance(w.k, bool) and 1 <= w.k <= 200
    assert -1 <= w._focus < n
    assert w.mode in {"lasso", "box", "pan"} and w.strategy in STRATEGIES
    assert w.target in CLASSES
    assert w.layout_name in {"given", "pca"}  # never "broken": it cannot be computed
    assert w.show_images in {"auto", "always", "never"}
    assert 0 < w.point_size <= 100 and 0 <= w.opacity <= 1 and 100 <= w.height <= 20_000
    assert len(w._points) == 8 * n


def make_explorer(seed: int) -> Explorer:
    """N galaxies, features a–d, a given layout and a second one, one NaN meta value."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(N, 4)).astype(np.float32), columns=list("abcd"))
    frame.insert(0, "id", [f"G{i:03d}" for i in range(N)])
    frame["x"], frame["y"] = rng.normal(size=N), rng.normal(size=N)
    frame["bad"] = np.where(np.arange(N) == 7, np.nan, 1.0)
    w = Explorer(
        frame,
        layout="given",
        layouts=LAYOUTS,
        classes=CLASSES,
        remember_selection=False,
        features=list("abcd"),
    )
    return w


@pytest.fixture(scope="module")
def widget():
    w = make_explorer(0)
    yield w
    w.close()


# -- what a hostile page may send --------------------------------------------------------------


def header(kind: int, count: int) -> bytes:
    return bytes([kind, 0, 0, 0]) + np.uint32(count).astype("<u4").tobytes()


def selections() -> st.SearchStrategy[Any]:
    positions = st.lists(st.integers(0, N - 1), max_size=N)
    claims = st.integers(0, 2**32 - 1)
    return st.one_of(
        positions.map(lambda p: encode_selection(p, N)),  # valid
        positions.map(lambda p: encode_selection(p, N)).flatmap(
            lambda data: st.integers(0, max(0, len(data) - 1)).flatmap(
                lambda i: st.integers(0, 255).map(lambda b: data[:i] + bytes([b]) + data[i + 1 :])
            )
        ),  # one byte changed
        st.tuples(claims, claims).map(  # one run claiming up to 2**32 positions
            lambda c: header(SelectionKind.RUNS, c[1]) + np.array(c, "<u4").tobytes()
        ),
        claims.map(lambda c: header(SelectionKind.POSITIONS, c)),
        st.binary(max_size=40),
        st.integers(-1, 2**40),  # not a buffer: bytes(2**40) would allocate a TiB
        st.text(max_size=5),
        st.none(),
        st.lists(st.integers(0, 255), max_size=4),
    )


NUMBERS = st.one_of(
    st.integers(-10, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "_selection": selections(),
    "_focus": st.one_of(st.integers(-3, N + 3), NUMBERS),
    "k": st.one_of(st.integers(-2, 203), NUMBERS),
    "mode": st.sampled_from(["lasso", "box", "pan", "zoom", "", None]),
    "point_size": NUMBERS,
    "opacity": st.one_of(st.floats(-0.5, 1.5), NUMBERS),
    "height": st.one_of(st.integers(0, 30_000), NUMBERS),
    "strategy": st.sampled_from([*STRATEGIES, "best", None]),
    "target": st.sampled_from([*CLASSES, "bar", "", None, 3]),
    "layout_name": st.sampled_from([*LAYOUTS, "umap", "", None]),
    "show_images": st.sampled_from(["auto", "always", "never", "sometimes", "", None, 1]),
}
KERNEL_VALUES = st.one_of(
    st.binary(max_size=16), st.dictionaries(st.text(max_size=3), st.integers())
)


@st.composite
def updates(draw: st.DrawFn, w_state: dict[str, Any] | None = None) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(FRONT_END + KERNEL), min_size=1, max_size=4, unique=True))
    update = {}
    for name in names:
        if name in VALUES:
            update[name] = draw(VALUES[name])
        else:
            update[name] = draw(st.one_of(KERNEL_VALUES, st.just("=")))  # "=": the current value
    return update


def applied(w: Explorer, name: str, sent: Any) -> bool:
    """Whether trait ``name`` now holds what the page sent."""
    value = getattr(w, name)
    if name == "_selection":
        return value == bytes(sent)
    if name == "target" and sent is None:
        return value == CLASSES[0]  # None: the first class
    if isinstance(sent, float) and math.isnan(sent):
        return False
    return value == sent


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(update=updates(), through_comm=st.booleans())
def test_any_update_from_the_page_is_applied_whole_or_not_at_all(widget, update, through_comm):
    w = widget
    update = {k: (getattr(w, k) if v == "=" and k in KERNEL else v) for k, v in update.items()}
    before = snapshot(w)
    comm = RecordingComm()
    w.comm = comm
    try:
        if through_comm:
            from_comm(w, update)
            refused = bool(comm.errors())
        else:
            try:
                w.set_state(update)
                refused = False
            except traitlets.TraitError:
                refused = True
            assert refused == bool(comm.errors())
    finally:
        w.comm = None
    assert_consistent(w)
    if refused:
        assert_same(before, snapshot(w))  # every trait as it was
        assert comm.errors()[0].startswith("not applied: ")
        assert {k for k in update if k in w.keys} <= comm.resent()  # the page is told
    else:
        for name, sent in update.items():
            assert applied(w, name, sent), (name, sent, getattr(w, name))
        if "_selection" in update:
            assert np.array_equal(w.selection, decode_selection(bytes(update["_selection"]), N))


# -- the cases, one by one ----------------------------------------------------------------


@pytest.fixture
def fresh():
    w = make_explorer(1)
    w.selection = [1, 2, 3]
    yield w
    w.close()


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"k": 0}, "k must be an integer from 1 to 200, got 0"),
        ({"target": "bar"}, "target 'bar' is not a class"),
        ({"layout_name": "broken"}, "layout not shown: .*NaN or infinite coordinates"),
        ({"_selection": encode_selection([5, 9], N), "k": 0}, "k must be an integer"),
        ({"k": 0, "_selection": b"\x07garbage"}, "k must be|the selection: "),
        ({"_filter": encode_selection([1], N)}, "_filter is the kernel's"),
        ({"_config": {"n": 1}}, "_config is the kernel's"),
        ({"_points": b"\0" * 8 * N}, "_points is the kernel's"),
        ({"point_size": float("nan")}, "point_size must be above 0"),
        ({"show_images": "sometimes"}, "show_images must be one of 'auto', 'always', 'never'"),
        ({"_selection": 2**40}, "takes a buffer from the front end, got int"),
    ],
)
def test_each_refused_update_changes_nothing_and_says_why(fresh, update, reason):
    w = fresh
    before = snapshot(w)
    comm = RecordingComm()
    w.comm = comm
    from_comm(w, update)
    w.comm = None
    assert_same(before, snapshot(w))
    assert selection_of(w) == [1, 2, 3]
    [message] = comm.errors()
    assert message.startswith("not applied: ")
    assert re.search(reason, message), message
    assert set(update) <= comm.resent()  # the page shows the kernel's values again


def selection_of(w: Explorer) -> list[int]:
    wire = decode_selection(w._selection, len(w.representations)).tolist()
    assert wire == w.selection.tolist()
    return wire


def test_python_callers_still_get_data_errors(fresh):
    w = fresh
    for name, value in [("k", 0), ("target", "bar"), ("layout_name", "broken"), ("opacity", 2)]:
        with pytest.raises(gw.DataError):
            setattr(w, name, value)
    with pytest.raises(gw.DataError), w.hold_trait_notifications():
        w.selection = np.array([4, 5])
        w.k = 0
    assert selection_of(w) == [1, 2, 3] and w.k == 12
    w.selection = [8]  # the wire form follows after a rolled-back assignment
    assert selection_of(w) == [8]


def test_a_kernel_owned_trait_repeated_unchanged_is_no_refusal(fresh):
    """A front end that sends its whole state (marimo may) is not refused for repeating it."""
    w = fresh
    w.set_state({"_config": dict(w._config), "_points": w._points, "k": 7})
    assert w.k == 7


def test_another_encoding_of_the_same_selection_keeps_wire_and_trait_together(fresh):
    w = fresh
    runs = header(SelectionKind.RUNS, 3) + np.array([1, 3], "<u4").tobytes()
    w.set_state({"_selection": runs})
    assert w._selection == runs and selection_of(w) == [1, 2, 3]
    w.set_state({"_selection": encode_selection([9], N)})
    w.set_state({"_selection": encode_selection([1, 2, 3], N)})  # the first encoding again
    assert selection_of(w) == [1, 2, 3]


# -- no allocation proportional to a claim -----------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        header(SelectionKind.RUNS, 2**32 - 1) + np.array([0, 2**32 - 1], "<u4").tobytes(),
        header(SelectionKind.RUNS, 200_000_000) + np.array([0, 200_000_000], "<u4").tobytes(),
        header(SelectionKind.RUNS, N + 1) + np.array([0, N + 1], "<u4").tobytes(),
        header(SelectionKind.RUNS, 2) + np.array([0, 1, N, 1], "<u4").tobytes(),
        header(SelectionKind.POSITIONS, 2**32 - 1),
        header(SelectionKind.BITMASK, 2**32 - 1) + bytes(math.ceil(N / 8)),
    ],
)
def test_a_selection_claiming_more_than_n_is_refused_before_allocating(fresh, message):
    tracemalloc.start()
    try:
        with pytest.raises(gw.DataError, match=r"not below n|counts .* positions, but there are"):
            decode_selection(message, N)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a 2**32 run expanded would be 32 GiB
    with pytest.raises(traitlets.TraitError):
        fresh.set_state({"_selection": message})
    assert selection_of(fresh) == [1, 2, 3]


def test_the_largest_honest_runs_still_decode():
    n = 1_000
    assert decode_selection(encode_selection(np.arange(n), n), n).tolist() == list(range(n))
    message = header(SelectionKind.RUNS, 10) + np.array([n - 10, 10], "<u4").tobytes()
    assert decode_selection(message, n).tolist() == list(range(n - 10, n))
    assert protocol.BYTES_SERIALIZATION["from_json"](memoryview(b"ab"), None) == b"ab"
