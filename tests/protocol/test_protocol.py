"""Wire protocol v2 (galwidget.protocol): selection encodings, buffers, events, request registry."""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galwidget as gw
from galwidget import protocol
from galwidget.protocol import (
    MAX_MESSAGE_BYTES,
    REQUESTS,
    Reply,
    Request,
    RequestRegistry,
    SelectionKind,
    decode_positions,
    decode_selection,
    encode_selection,
    labels_event,
    quantise,
)

TEN_MILLION = 10_000_000


def header(kind: int, count: int) -> bytes:
    return bytes([kind, 0, 0, 0]) + np.uint32(count).astype("<u4").tobytes()


def u32(*values: int) -> bytes:
    return np.array(values, dtype="<u4").tobytes()


# -- selection encodings -------------------------------------------------------------------------


def test_each_encoding_has_the_specified_bytes():
    # Sparse: sorted uint32 positions after the 8-byte header.
    assert encode_selection([3, 1], 1000) == header(0, 2) + u32(1, 3)
    # Dense in a small table: bitmask, LSB first.
    data = encode_selection([0, 9, 2], 10)
    assert data == header(1, 3) + bytes([0b00000101, 0b00000010])
    # Long runs: (start, length) pairs.
    positions = np.r_[2:7, 50:61]
    assert encode_selection(positions, 1000) == header(2, 16) + u32(2, 5, 50, 11)
    assert encode_selection([], 1000) == header(0, 0)
    for data in [b"", header(0, 0)]:
        decoded = decode_selection(data, 5)
        assert decoded.dtype == np.int64 and len(decoded) == 0


def test_the_smallest_encoding_is_chosen_and_bounded():
    n = 80
    cases = {
        SelectionKind.POSITIONS: [5],  # 4 bytes; a run 8, the bitmask 10
        SelectionKind.BITMASK: list(range(0, n, 2)),  # bitmask 10 bytes; positions 160, runs 320
        SelectionKind.RUNS: list(range(10, 70)),
    }
    for kind, positions in cases.items():
        data = encode_selection(positions, n)
        assert data[0] == kind
        assert len(data) <= 8 + (n + 7) // 8
        assert decode_selection(data, n).tolist() == positions


def test_dense_selections_count_their_runs_across_bytes():
    # Most of the table selected: the runs are counted on the bitmask (bits of adjacent bytes
    # continue a run), and runs win when there are few enough of them.
    rng = np.random.default_rng(3)
    n = 4099
    for gaps in [1, 7, 8, 9, 60, 64, 65, 300]:
        holes = rng.choice(n, size=gaps, replace=False)
        positions = np.setdiff1d(np.arange(n), holes)
        n_runs = int(np.count_nonzero(np.diff(positions) != 1)) + 1
        data = encode_selection(positions, n)
        expected = SelectionKind.RUNS if 8 * n_runs < (n + 7) // 8 else SelectionKind.BITMASK
        assert data[0] == expected, (gaps, n_runs)
        np.testing.assert_array_equal(decode_selection(data, n), positions)
    # Runs that end and start on byte edges.
    positions = np.r_[0:8, 16:24, 31:33, 40:4099]
    data = encode_selection(positions, 4099)
    assert data == header(SelectionKind.RUNS, len(positions)) + u32(0, 8, 16, 8, 31, 2, 40, 4059)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sparse", SelectionKind.POSITIONS),
        ("dense", SelectionKind.BITMASK),
        ("runs", SelectionKind.RUNS),
    ],
)
def test_round_trips_at_ten_million(name: str, kind: SelectionKind):
    rng = np.random.default_rng(1)
    positions = {
        "sparse": np.sort(rng.choice(TEN_MILLION, 20_000, replace=False)),
        "dense": np.flatnonzero(rng.random(TEN_MILLION) < 0.6),
        "runs": np.r_[0:3_000_000, 3_000_002:9_999_999],
    }[name]
    data = encode_selection(positions, TEN_MILLION)
    assert data[0] == kind and len(data) <= 8 + TEN_MILLION // 8  # ≤ 1.25 MB
    assert int(np.frombuffer(data, "<u4", 1, 4)[0]) == len(positions)
    decoded = decode_selection(data, TEN_MILLION)
    assert decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, positions)


def test_unsorted_duplicated_input_is_encoded_sorted_and_unique():
    data = encode_selection(np.array([9, 2, 9, 5], dtype=np.int32), 100)
    assert decode_selection(data, 100).tolist() == [2, 5, 9]


def test_bad_positions_are_refused_when_encoding():
    with pytest.raises(gw.DataError, match=r"position 10 is outside 0 … 9"):
        encode_selection([1, 10], 10)
    with pytest.raises(gw.DataError, match=r"position -1 is outside"):
        encode_selection([-1, 3], 10)
    with pytest.raises(gw.DataError, match="must be integers, got dtype float64"):
        encode_selection([1.5], 10)


def test_an_encoding_over_a_given_limit_is_refused():
    positions = np.arange(0, 1000, 2)  # 500 isolated positions: bitmask of 125 bytes is smallest
    with pytest.raises(gw.DataError, match=r"needs 133 bytes, over the 100-byte message limit"):
        encode_selection(positions, 1000, max_bytes=100)
    assert len(encode_selection(positions, 1000, max_bytes=133)) == 133


def test_the_kernel_encodes_a_selection_over_the_browsers_message_limit():
    # Past ~67M galaxies a bitmask is over MAX_MESSAGE_BYTES, which bounds what the browser
    # sends; what the kernel sends the page is not bounded (issue 21: a lasso over 90% of 76M).
    n = 8 * (MAX_MESSAGE_BYTES + 64)
    positions = np.arange(0, n, 2)
    encoded = encode_selection(positions, n)
    assert encoded[0] == SelectionKind.BITMASK and len(encoded) == 8 + n // 8 > MAX_MESSAGE_BYTES
    np.testing.assert_array_equal(decode_selection(encoded, n), positions)


@pytest.mark.parametrize(
    ("data", "n", "message"),
    [
        (b"\0\0\0", 10, "8-byte header"),
        (bytes([0, 1, 0, 0]) + u32(0), 10, "bytes 1-3 must be zero"),
        (header(7, 0), 10, "unknown selection encoding kind 7"),
        (header(0, 2) + u32(1), 10, "needs 8 payload bytes, got 4"),
        (header(0, 2) + u32(3, 1), 10, "sorted and unique"),
        (header(0, 2) + u32(3, 3), 10, "sorted and unique"),
        (header(0, 1) + u32(10), 10, "position 10 is not below n = 10"),
        (header(1, 1) + bytes([1]), 10, "needs 2 bytes, got 1"),
        (header(1, 1) + bytes([1, 0b100]), 10, "sets bits beyond row 9"),
        (header(1, 2) + bytes([1, 0]), 10, "header counts 2 positions, its payload 1"),
        (header(2, 3) + u32(1, 3, 3), 10, "8 bytes each"),
        (header(2, 0) + u32(1, 0), 10, "length of at least 1"),
        (header(2, 4) + u32(1, 2, 3, 2), 10, "non-adjacent"),
        (header(2, 4) + u32(1, 3, 2, 1), 10, "non-overlapping"),
        (header(2, 5) + u32(1, 2, 5, 2), 10, "header counts 5 positions, its runs 4"),
        (header(2, 3) + u32(8, 3), 10, "position 10 is not below n = 10"),
        (header(2, 1), 10, "has no runs"),
    ],
)
def test_malformed_selections_raise_clear_errors(data: bytes, n: int, message: str):
    with pytest.raises(gw.DataError, match=re.escape(message)):
        decode_selection(data, n)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1))))
)
def test_any_selection_round_trips_within_the_bound(case: tuple[int, set[int]]):
    n, chosen = case
    data = encode_selection(list(chosen), n)
    assert len(data) <= 8 + (n + 7) // 8 and data[0] in (0, 1, 2)
    assert decode_selection(data, n).tolist() == sorted(chosen)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.integers(1, 200))
def test_decoding_arbitrary_bytes_gives_positions_or_a_data_error(data: bytes, n: int):
    try:
        positions = decode_selection(data, n)
    except gw.DataError:
        return
    assert positions.dtype == np.int64
    assert np.all(np.diff(positions) > 0) and (
        len(positions) == 0 or 0 <= positions[0] <= positions[-1] < n
    )


# -- other buffers and events --------------------------------------------------------------------


def test_positions_buffers_and_label_events():
    assert decode_positions(u32(4, 0, 4), 5).tolist() == [4, 0, 4]
    with pytest.raises(gw.DataError, match="uint32 values, got 3 bytes"):
        decode_positions(b"abc", 5)
    with pytest.raises(gw.DataError, match="no galaxy at position 5"):
        decode_positions(u32(5), 5)
    content, buffers = labels_event(np.array([7, 2]), np.array([1, 0]), version=4, base_version=3)
    assert content == {"type": "event", "kind": "labels", "version": 4, "base_version": 3}
    assert buffers == [u32(7, 2), bytes([1, 0])]
    with pytest.raises(gw.DataError, match="2 changed positions but 1 codes"):
        labels_event(np.array([7, 2]), np.array([1]), version=1, base_version=0)


def test_quantised_colors_use_255_bins_and_255_for_missing():
    bins = quantise(np.array([0.0, 0.5, 1.0, np.nan, np.inf, -0.001 + 0.001]), 0.0, 1.0)
    assert bins.dtype == np.uint8 and bins.tolist() == [0, 127, 254, 255, 255, 0]
    assert quantise(np.array([3.0, np.nan]), 3.0, 3.0).tolist() == [127, 255]
    values = np.random.default_rng(0).uniform(-5, 5, 10_000)
    error = np.abs(quantise(values, -5, 5) / 254 * 10 - 5 - values)
    assert error.max() <= 10 / 254 / 2 + 1e-12  # half a bin


# -- request registry ----------------------------------------------------------------------------


class Sent:
    """Collects the messages a registry sends, as the comm would carry them."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict, list[bytes]]] = []
        self.arrived = threading.Condition()

    def __call__(self, content: dict, buffers: list[bytes]) -> None:
        with self.arrived:
            self.messages.append((content, buffers))
            self.arrived.notify_all()

    def wait_for(self, count: int) -> list[tuple[dict, list[bytes]]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=30)
        return self.messages


def test_registry_checks_requests_and_reports_failures():
    sent = Sent()
    registry = RequestRegistry(sent)
    registry.register("hover", lambda r: Reply({"id": f"G{r.params['position']}"}))
    registry.register("undo", lambda r: (_ for _ in ()).throw(gw.DataError("nothing to undo")))
    registry.register("redo", lambda r: {}["boom"])  # a bug, not a galwidget error
    with pytest.raises(ValueError, match="registered already"):
        registry.register("hover", lambda r: Reply())
    with pytest.raises(ValueError, match="'dance' is not a request kind"):
        registry.register("dance", lambda r: Reply())
    cases = [
        ({"type": "request", "kind": "hover", "request": 1, "position": 3}, True, "G3"),
        (
            {"type": "request", "kind": "hover", "request": 2, "position": "3"},
            False,
            "needs 'position'",
        ),
        (
            {"type": "request", "kind": "hover", "request": 3, "position": True},
            False,
            "needs 'position'",
        ),
        ({"type": "request", "kind": "dance", "request": 4}, False, "unknown request kind 'dance'"),
        (
            {"type": "request", "kind": "labels", "request": 5},
            False,
            "unknown request kind 'labels'",
        ),
        ({"type": "request", "kind": "hover", "request": "6"}, False, "integer 'request' id"),
        ({"type": "request", "kind": "undo", "request": 7}, False, "nothing to undo"),
        ({"type": "request", "kind": "redo", "request": 8}, False, "KeyError: 'boom'"),
        (["not", "a", "dict"], False, "not a request message"),
    ]
    for message, _, _ in cases:
        registry.receive(message, [])
    for (message, ok, text), (content, buffers) in zip(cases, sent.messages, strict=True):
        assert content["type"] == "reply" and content["ok"] is ok and buffers == []
        if isinstance(message, dict) and isinstance(message.get("request"), int):
            assert content["request"] == message["request"]
            assert content["kind"] == message["kind"]
        assert text in (content["id"] if ok else content["reason"])
    content, _ = registry.reply(
        {"type": "request", "kind": "hover", "request": 9, "position": 1}, [b"x"]
    )
    assert content["reason"] == "request 'hover' takes 0 buffers, got 1"
    registry.close()


def test_requests_run_on_their_executor_and_queued_ones_can_be_cancelled():
    sent = Sent()
    registry = RequestRegistry(sent)
    release = threading.Event()
    threads: dict[int, str] = {}

    def neighbors(request: Request) -> Reply:
        threads[request.request] = threading.current_thread().name
        if request.request == 1:
            release.wait(30)
        return Reply({"position": request.params["position"]}, [b"\1\0\0\0"])

    registry.register("neighbors", neighbors)
    for request in (1, 2, 3):
        registry.receive(
            {"type": "request", "kind": "neighbors", "request": request, "position": request}
        )
    registry.receive({"type": "cancel", "request": 2})  # still queued behind request 1
    registry.receive({"type": "cancel", "request": 99})  # unknown: ignored
    registry.receive({"type": "cancel", "request": None})
    release.set()
    messages = sent.wait_for(2)
    registry.close()
    assert [content["request"] for content, _ in messages] == [1, 3]
    assert all(content["ok"] and buffers == [b"\1\0\0\0"] for content, buffers in messages)
    assert set(threads) == {1, 3} and all(
        name.startswith("galwidget-search") for name in threads.values()
    )
    assert REQUESTS["neighbors"].executor == "search" and REQUESTS["thumbnail"].executor == "images"
    assert protocol.EXECUTORS == {"search": 1, "images": 4}


def test_replies_name_the_view_that_asked_and_cancels_are_per_view():
    """Views number their requests alike: a reply names its view, a cancel drops only its own."""
    sent = Sent()
    registry = RequestRegistry(sent)
    release = threading.Event()

    def neighbors(request: Request) -> Reply:
        if request.params["position"] == 0:
            release.wait(30)
        return Reply({"position": request.params["position"]})

    registry.register("neighbors", neighbors)
    registry.register("hover", lambda r: Reply({"id": f"G{r.params['position']}"}))
    for view, position in [("a", 0), ("b", 1), ("c", 2)]:  # each view's request 1
        message = {"type": "request", "kind": "neighbors", "view": view, "request": 1}
        registry.receive({**message, "position": position})
    registry.receive({"type": "cancel", "view": "b", "request": 1})  # queued behind view a's
    registry.receive({"type": "request", "kind": "hover", "view": "b", "request": 2, "position": 5})
    registry.receive({"type": "request", "kind": "hover", "view": 7, "request": 3, "position": 5})
    release.set()
    messages = sent.wait_for(4)
    registry.close()
    replies = {(c["view"], c["request"]): c for c, _ in messages if "view" in c}
    assert replies[("b", 2)]["id"] == "G5" and replies[("b", 2)]["kind"] == "hover"
    assert replies[("a", 1)]["position"] == 0 and replies[("c", 1)]["position"] == 2
    assert ("b", 1) not in replies  # cancelled while queued; view c's request 1 still ran
    [bad] = [c for c, _ in messages if "view" not in c]
    assert not bad["ok"] and "'view' is a string" in bad["reason"]


def test_handlers_are_collected_from_their_decorators():
    class Handlers:
        @protocol.handles("undo", "redo")
        def history(self, request: Request) -> Reply:
            return Reply({"saved": True, "version": {"undo": 1, "redo": 2}[request.kind]})

    registry = RequestRegistry(Sent())
    registry.register_handlers(Handlers())
    assert registry.kinds == {"undo", "redo"}
    content, _ = registry.reply({"type": "request", "kind": "redo", "request": 1}, [])
    head = {"type": "reply", "kind": "redo", "request": 1, "ok": True}
    assert content == {**head, "saved": True, "version": 2}
    with pytest.raises(ValueError, match="'dance' is not a request kind"):
        protocol.handles("dance")
    registry.close()


def test_the_explorer_handles_exactly_the_definitions_request_kinds(explorer):
    assert explorer._requests.kinds == set(protocol.DEFINITION["requests"]) == set(REQUESTS)


def test_requests_and_events_are_built_from_the_definition():
    definition = protocol.DEFINITION
    assert protocol.PROTOCOL_VERSION == definition["version"] == 2
    for name, constant in definition["constants"].items():
        assert getattr(protocol._wire, name) == constant["value"], name
    assert {k.name: k.value for k in SelectionKind} == definition["selection_kinds"]
    label = REQUESTS["label"]
    assert label.buffers == ("positions",) and label.reply == ("saved", "version")
    assert REQUESTS["thumbnail"].reply == ("url", "mime")
    content, _ = labels_event(np.array([1]), np.array([2]), version=3, base_version=2)
    events = definition["events"]
    assert set(content) - {"type", "kind"} == set(events["labels"]["fields"])
    assert set(protocol.error_event("x")) - {"type", "kind"} == set(events["error"]["fields"])
    assert set(protocol.zoom_to_selection_event()) == {"type", "kind"}


def test_the_generated_typescript_is_current():
    """js/src/protocol.generated.ts is what the generator writes from protocol.json now."""
    root = Path(__file__).resolve().parents[2]
    script = root / "js" / "scripts" / "generate_protocol.py"
    spec = importlib.util.spec_from_file_location("generate_protocol", script)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    expected = generator.generate(protocol.DEFINITION)
    committed = (root / "js" / "src" / "protocol.generated.ts").read_text("utf-8")
    assert committed == expected, "stale: run `npm run build` in js/ and commit the result"


# -- fuzzing the Explorer's request handlers -----------------------------------------------------

N = 60
PYTHON_ERROR = re.compile(r"^[A-Z]\w*(Error|Exception|Warning)\b: ")


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(N, 4)), columns=[f"feat_{i}" for i in range(4)])
    frame.insert(0, "id", [f"G{i:03d}" for i in range(N)])
    path = tmp_path_factory.mktemp("fuzz") / "labels.jsonl"
    w = gw.Explorer(
        frame,
        layout=("feat_0", "feat_1"),
        classes=["a", "b"],
        labels={"path": path},
        remember_selection=False,
    )
    w.send = lambda content, buffers=None: None  # no front end: events go nowhere
    yield w
    w.close()


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, N + 3),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.sampled_from(["a", "b", "G001"]),
    st.lists(st.integers(-1, N), max_size=3),
)
messages = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["request", "request", "request", "reply", "cancel"]),
        "kind": st.one_of(st.sampled_from(sorted(REQUESTS)), st.text(max_size=6)),
        "request": st.one_of(st.integers(0, 100), values),
    },
    optional={"position": values, "label": values, "text": values, "extra": values},
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages,
    st.lists(st.one_of(st.binary(max_size=12), st.just(u32(1, 2))), max_size=2),
    st.sampled_from([[], [5], [1, 2, 3]]),
)
def test_fuzzed_requests_only_get_replies(
    explorer, message: dict, buffers: list[bytes], selected: list[int]
):
    explorer.selection = selected
    content, reply_buffers = explorer._reply(message, buffers)
    assert content["type"] == "reply" and isinstance(content["ok"], bool)
    assert all(isinstance(b, bytes | bytearray | memoryview) for b in reply_buffers)
    if not content["ok"]:
        assert reply_buffers == [] and isinstance(content["reason"], str)
        assert not PYTHON_ERROR.match(content["reason"]), content["reason"]
    else:
        assert message["type"] == "request" and content["kind"] == message["kind"]
