"""The Explorer's wire protocol, version 2: every synced trait, request, reply and event.

This module is the source of truth; ``js/src/protocol.ts`` mirrors it name for name. A row of the
:class:`~galwidget.Representations` is called a **position** (0-based) on both sides.

Size bound
    :data:`MAX_MESSAGE_BYTES` (8 MiB; the Jupyter server drops websocket messages over 10 MiB). No
    browser → kernel message may exceed it; a selection that Python would encode larger raises
    :class:`~galwidget.DataError` before anything is sent (only possible past ~67M points).

Synced traits (see :class:`Config`, :class:`ColorMeta`, :class:`LabelMeta`, :class:`LearnState`)
    ``_config`` JSON (static); ``_points`` float32 LE interleaved ``x, y`` per position in
    [-1, 1]; ``_color`` uint8 per position (categorical code or continuous bin 0…254, 255
    missing; empty for kinds ``none`` and ``label``); ``_color_meta`` JSON; ``_selection`` an
    encoded selection (below); ``_focus`` int (−1 none); ``_label_meta`` JSON; ``_learn`` JSON;
    ``_filter`` the encoded selection of the positions a filter shows (``b""``: no filter) and
    ``_filter_meta`` JSON (:class:`FilterMeta`); the browser's selection tools act on what is shown;
    ``layout_name`` str, one of ``_config.layouts``, set by either side (``_points`` follows).

Selection encoding (:func:`encode_selection` / :func:`decode_selection`)
    An 8-byte header — byte 0 the kind (:class:`SelectionKind`), bytes 1–3 zero, bytes 4–7 uint32
    LE count — then the payload at offset 8: ``POSITIONS`` sorted unique uint32 LE; ``BITMASK``
    ``ceil(n / 8)`` bytes, position ``p`` set when bit ``p & 7`` (LSB first) of byte ``p >> 3`` is
    set; ``RUNS`` uint32 LE pairs ``(start, length)``, sorted, non-overlapping, non-adjacent,
    ``length ≥ 1``. The encoder picks the smallest (ties: the lower kind); empty is kind 0 with
    count 0, and ``b""`` decodes as empty. At most ``8 + ceil(n / 8)`` bytes.

Requests, replies, cancels (browser → kernel custom messages; :class:`RequestRegistry`)
    Request ``{type: "request", kind, request: id, ...params}`` (+ buffers); reply
    ``{type: "reply", kind, request, ok: true, ...fields}`` + buffers, or ``ok: false, reason``.
    ``{type: "cancel", request}`` drops a request still queued. Each kind is in :data:`REQUESTS`
    with its parameters, its executor and its reply fields and buffers.

Events (kernel → browser, unsolicited)
    ``{type: "event", kind: "labels", version, base_version}`` + buffers [0] positions uint32,
    [1] codes uint8 (:func:`labels_event`); ``{type: "event", kind: "error", message}``;
    ``{type: "event", kind: "zoom_to_selection"}`` (:func:`zoom_to_selection_event`).

Label codes: 0 unlabelled, ``i + 1`` for class ``i``, 255 a label outside the classes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, TypedDict

import numpy as np

from galwidget.errors import DataError, GalwidgetError, ImageError

__all__ = [
    "BYTES_SERIALIZATION",
    "EXECUTORS",
    "MAX_MESSAGE_BYTES",
    "MISSING_COLOR",
    "NO_LABELS",
    "PROTOCOL_VERSION",
    "REQUESTS",
    "ColorMeta",
    "Config",
    "FilterMeta",
    "LabelMeta",
    "LearnState",
    "Reply",
    "Request",
    "RequestKind",
    "RequestRegistry",
    "SelectionKind",
    "decode_label_codes",
    "decode_positions",
    "decode_selection",
    "encode_positions",
    "encode_selection",
    "error_event",
    "labels_event",
    "quantise",
    "zoom_to_selection_event",
]

PROTOCOL_VERSION = 2
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
HEADER_BYTES = 8
MAX_POSITIONS = 2**32 - 1  # positions travel as uint32
FEW_RUNS = 64
# Color buffer: bins 0 … COLOR_BINS - 1 of a continuous map; MISSING_COLOR marks missing values.
COLOR_BINS = 255
MISSING_COLOR = 255

log = logging.getLogger(__name__)


# -- synced traits -------------------------------------------------------------------------------


def _bytes_from_json(value: Any, _widget: Any) -> bytes | None:
    """Jupyter hands a binary trait over as a memoryview, marimo as bytes: accept both."""
    return None if value is None else bytes(value)


BYTES_SERIALIZATION = {"from_json": _bytes_from_json}
"""``tag(sync=True, **BYTES_SERIALIZATION)`` for the binary traits (one buffer each)."""


class Config(TypedDict):
    """``_config``: static facts about the data."""

    protocol: int
    n: int
    id_column: str
    image_kind: Literal["none", "url", "bytes"]
    confirm_over: int
    max_message_bytes: int
    numeric_columns: list[str]  # meta columns a gallery order (or a color map) can use
    color_columns: list[str]  # what the widget's color menu offers: meta columns, label, score
    layouts: list[str]  # the layout names the layout menu offers (``layout_name`` is one)


class ColorMeta(TypedDict, total=False):
    """``_color_meta``: how to read ``_color``. ``categorical``: codes into ``categories``;
    ``continuous``: bins of the color map over [``min``, ``max``]; ``label``: color by the label
    codes the front end holds (no ``_color`` buffer); ``none``: one color."""

    kind: Literal["none", "categorical", "continuous", "label"]
    column: str
    categories: list[str]
    min: float
    max: float
    missing: int


class LabelMeta(TypedDict):
    """``_label_meta``: the label bar. ``version`` counts label changes (see events)."""

    classes: list[str]
    keys: list[str]
    counts: list[int]
    labelled: int
    can_undo: bool
    can_redo: bool
    version: int
    read_only: bool


class FilterMeta(TypedDict):
    """``_filter_meta``: ``mode`` ``"none"`` (no filter), ``"dim"`` or ``"hide"`` for galaxies
    outside the filter; ``shown`` how many pass; ``description`` for the status line."""

    mode: Literal["none", "dim", "hide"]
    shown: int
    description: str


NO_LABELS: LabelMeta = {
    "classes": [],
    "keys": [],
    "counts": [],
    "labelled": 0,
    "can_undo": False,
    "can_redo": False,
    "version": 0,
    "read_only": False,
}
"""``_label_meta`` before a label store is opened (and for data without labels)."""


class LearnState(TypedDict):
    """``_learn``: training status; a new ``suggestions_version`` means "ask for suggestions"."""

    status: Literal["off", "waiting", "training", "ready"]
    message: str
    suggestions_version: int
    report: dict[str, Any] | None


# -- selections ----------------------------------------------------------------------------------


class SelectionKind(IntEnum):
    """Byte 0 of an encoded selection."""

    POSITIONS = 0
    BITMASK = 1
    RUNS = 2


def encode_selection(positions: Any, n: int, *, max_bytes: int | None = None) -> bytes:
    """Encode row positions (any order, duplicates allowed) of a table of ``n`` rows.

    Args:
        positions: integer positions in ``[0, n)``.
        n: number of rows.
        max_bytes: refuse encodings longer than this (default: :data:`MAX_MESSAGE_BYTES`, read at
            call time).

    Raises:
        DataError: a position outside ``[0, n)`` or not an integer, or an encoding over the bound.
    """
    if n > MAX_POSITIONS:
        raise DataError(f"the wire protocol addresses at most {MAX_POSITIONS:,} rows, not {n:,}")
    p = _canonical_positions(positions, n)
    count = len(p)
    if count == 0:
        return _header(SelectionKind.POSITIONS, 0)
    breaks = np.flatnonzero(np.diff(p) != 1)
    n_runs = len(breaks) + 1
    sizes = {
        SelectionKind.POSITIONS: 4 * count,
        SelectionKind.BITMASK: (n + 7) // 8,
        SelectionKind.RUNS: 8 * n_runs,
    }
    kind = min(sizes, key=lambda k: (sizes[k], k))
    limit = MAX_MESSAGE_BYTES if max_bytes is None else max_bytes
    if HEADER_BYTES + sizes[kind] > limit:
        raise DataError(
            f"a selection of {count:,} of {n:,} galaxies needs {HEADER_BYTES + sizes[kind]:,} "
            f"bytes, over the {limit:,}-byte message limit; select fewer galaxies"
        )
    if kind == SelectionKind.POSITIONS:
        payload = p.astype("<u4").tobytes()
    elif kind == SelectionKind.BITMASK:
        mask = np.zeros(n, dtype=bool)
        mask[p] = True
        payload = np.packbits(mask, bitorder="little").tobytes()
    else:
        starts = np.concatenate(([p[0]], p[breaks + 1]))
        ends = np.concatenate((p[breaks], [p[-1]])) + 1
        payload = np.column_stack((starts, ends - starts)).astype("<u4").tobytes()
    return _header(kind, count) + payload


def decode_selection(data: bytes | memoryview, n: int) -> np.ndarray:
    """Sorted unique int64 positions of an encoded selection of a table of ``n`` rows.

    Raises:
        DataError: a header, length, count, order or position that the encoding does not allow.
    """
    raw = bytes(data)
    if len(raw) == 0:
        return np.empty(0, np.int64)
    if len(raw) < HEADER_BYTES:
        raise DataError(f"a selection needs an {HEADER_BYTES}-byte header, got {len(raw)} bytes")
    kind, reserved = raw[0], raw[1:4]
    count = int(np.frombuffer(raw, "<u4", 1, 4)[0])
    payload = raw[HEADER_BYTES:]
    if reserved != b"\0\0\0":
        raise DataError(f"selection header bytes 1-3 must be zero, got {reserved.hex()}")
    if kind == SelectionKind.POSITIONS:
        if len(payload) != 4 * count:
            raise DataError(
                f"a selection of {count} positions needs {4 * count} payload bytes, "
                f"got {len(payload)}"
            )
        positions = np.frombuffer(payload, "<u4").astype(np.int64)
        if count and not bool(np.all(positions[1:] > positions[:-1])):
            raise DataError("selection positions must be sorted and unique")
    elif kind == SelectionKind.BITMASK:
        if len(payload) != (n + 7) // 8:
            raise DataError(
                f"a selection bitmask of {n} rows needs {(n + 7) // 8} bytes, got {len(payload)}"
            )
        bits = np.unpackbits(np.frombuffer(payload, np.uint8), bitorder="little")
        if bits[n:].any():
            raise DataError(f"a selection bitmask sets bits beyond row {n - 1}")
        positions = np.flatnonzero(bits[:n].view(bool))  # 6x faster than on uint8
    elif kind == SelectionKind.RUNS:
        if len(payload) % 8:
            raise DataError(f"selection runs need 8 bytes each, got {len(payload)} bytes")
        runs = np.frombuffer(payload, "<u4").astype(np.int64).reshape(-1, 2)
        starts, lengths = runs[:, 0], runs[:, 1]
        if len(runs) == 0 and count:
            raise DataError(f"a selection of {count} positions has no runs")
        if (lengths < 1).any():
            raise DataError("selection runs must have a length of at least 1")
        if (starts[1:] <= starts[:-1] + lengths[:-1]).any():
            raise DataError("selection runs must be sorted, non-overlapping and non-adjacent")
        total = int(lengths.sum())
        if total != count:
            raise DataError(f"the selection header counts {count} positions, its runs {total}")
        if len(runs) == 0:
            positions = np.empty(0, np.int64)
        elif len(runs) <= FEW_RUNS:  # one arange per run beats repeat + add for long runs
            positions = np.concatenate([np.arange(s, s + k) for s, k in runs.tolist()])
        else:
            offsets = np.cumsum(lengths) - lengths
            positions = np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)
    else:
        raise DataError(f"unknown selection encoding kind {kind}")
    if len(positions) != count:
        raise DataError(
            f"the selection header counts {count} positions, its payload {len(positions)}"
        )
    if count and positions[-1] >= n:
        raise DataError(f"selection position {int(positions[-1])} is not below n = {n}")
    return positions


def _canonical_positions(positions: Any, n: int) -> np.ndarray:
    """Sorted unique int64 positions in [0, n) (sorting only when needed)."""
    array = np.asarray(positions)
    if array.ndim != 1:
        array = array.ravel()
    if len(array) == 0:
        return np.empty(0, np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"selection positions must be integers, got dtype {array.dtype}")
    p = array.astype(np.int64, copy=False)
    if not bool(np.all(p[1:] > p[:-1])):
        p = np.unique(p)
    if p[0] < 0 or p[-1] >= n:
        bad = int(p[0]) if p[0] < 0 else int(p[-1])
        raise DataError(f"selection position {bad} is outside 0 … {n - 1}")
    return p


def _header(kind: SelectionKind, count: int) -> bytes:
    return bytes([int(kind), 0, 0, 0]) + np.uint32(count).astype("<u4").tobytes()


# -- plain buffers -------------------------------------------------------------------------------


def encode_positions(positions: Any) -> bytes:
    """A uint32 LE positions buffer (neighbors, suggestions, label deltas)."""
    return np.asarray(positions, dtype=np.int64).astype("<u4").tobytes()


def decode_positions(data: bytes | memoryview, n: int) -> np.ndarray:
    """int64 positions of a uint32 LE buffer, each checked to be below ``n``."""
    raw = memoryview(data).cast("B")
    if len(raw) % 4:
        raise DataError(f"a positions buffer holds uint32 values, got {len(raw)} bytes")
    positions = np.frombuffer(raw, "<u4").astype(np.int64)
    if len(positions) and positions.max() >= n:
        raise DataError(f"no galaxy at position {int(positions.max())} (there are {n})")
    return positions


def decode_label_codes(data: bytes | memoryview, n: int) -> np.ndarray:
    """The uint8 label codes of a ``labels`` snapshot of ``n`` rows."""
    codes = np.frombuffer(bytes(data), np.uint8)
    if len(codes) != n:
        raise DataError(f"a label snapshot holds {n} codes, got {len(codes)}")
    return codes


def quantise(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """uint8 color bins 0 … 254 of ``values`` over [``low``, ``high``]; NaN/inf → 255.

    A constant range (``high == low``) puts every finite value in the middle bin.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if high > low:
        scaled = (np.where(finite, values, low) - low) * ((COLOR_BINS - 1) / (high - low))
        bins = np.clip(np.rint(scaled), 0, COLOR_BINS - 1).astype(np.uint8)
    else:
        bins = np.full(values.shape, (COLOR_BINS - 1) // 2, dtype=np.uint8)
    bins[~finite] = MISSING_COLOR
    return bins


# -- events ---------------------------------------------------------------------------------------


def labels_event(
    positions: np.ndarray, codes: np.ndarray, *, version: int, base_version: int
) -> tuple[dict[str, Any], list[bytes]]:
    """The ``labels`` event: the codes that changed between ``base_version`` and ``version``."""
    positions = np.asarray(positions, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.uint8)
    if positions.shape != codes.shape:
        raise DataError(f"{len(positions)} changed positions but {len(codes)} codes")
    content = {"type": "event", "kind": "labels", "version": version, "base_version": base_version}
    return content, [encode_positions(positions), codes.tobytes()]


def error_event(message: str) -> dict[str, Any]:
    """The ``error`` event: a message for the widget's status line."""
    return {"type": "event", "kind": "error", "message": message}


def zoom_to_selection_event() -> dict[str, Any]:
    """The ``zoom_to_selection`` event: every view pans and zooms to the selected galaxies."""
    return {"type": "event", "kind": "zoom_to_selection"}


# -- requests ------------------------------------------------------------------------------------

Executor = Literal["main", "search", "images"]
EXECUTORS: dict[str, int] = {"search": 1, "images": 4}  # worker threads; "main" runs inline


@dataclass(frozen=True)
class RequestKind:
    """One request kind: its parameters (name → accepted types), executor, reply.

    ``buffers`` is the number of buffers the request carries; ``reply`` and ``reply_buffers``
    name the reply's fields and buffers (documentation mirrored by ``protocol.ts``).
    """

    params: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    executor: Executor = "main"
    buffers: int = 0
    reply: tuple[str, ...] = ()
    reply_buffers: tuple[str, ...] = ()


_INT = (int,)
_BOOL = (bool,)
_LABEL = (str, int, float, type(None))
REQUESTS: dict[str, RequestKind] = {
    "neighbors": RequestKind(
        {"position": _INT},
        "search",
        reply=("position", "id", "ids"),
        reply_buffers=("positions uint32", "distances float32"),
    ),
    "centroid": RequestKind(
        executor="search",
        reply=("count", "ids"),
        reply_buffers=("positions uint32", "distances float32"),
    ),
    "thumbnail": RequestKind(
        {"position": _INT},
        "images",
        reply=("url | mime",),
        reply_buffers=("image bytes when mime",),
    ),
    # radec: [ra, dec] in degrees, or null when the galaxy has no sky position
    "hover": RequestKind({"position": _INT}, reply=("id", "fields", "radec")),
    "label": RequestKind({"label": _LABEL}, buffers=1, reply=("saved", "version")),
    "label_selection": RequestKind({"label": _LABEL}, reply=("saved", "version", "count")),
    "undo": RequestKind(reply=("saved", "version")),
    "redo": RequestKind(reply=("saved", "version")),
    "labels": RequestKind(reply=("version",), reply_buffers=("codes uint8",)),
    "suggestions": RequestKind(
        reply=("ids", "suggestions_version"),
        reply_buffers=("positions uint32", "scores float32"),
    ),
    "selection_page": RequestKind(
        {
            "order": (
                str,
            ),  # "centroid" | "score" | "column" | "random" (galwidget.widget._gallery)
            "column": (str, type(None)),
            "descending": _BOOL,
            "offset": _INT,
            "limit": _INT,
        },
        "search",
        reply=("total", "offset", "ids"),
        reply_buffers=("positions uint32", "values float32 (distance, score, column; NaN)"),
    ),
    # color by a meta column, "label" or "score" (null: one color), as Explorer.color_by
    "color_by": RequestKind({"column": (str, type(None))}, reply=("column",)),
    "find": RequestKind(
        {"text": (str,)},
        "search",
        reply=(
            "query",
            "match",  # "id" | "sky" | "prefix"
            "position",  # the galaxy focused (the kernel sets _focus), -1 for none
            "id",
            "completions",
            "n_completions",
            "separation_arcsec",
        ),
    ),
}


@dataclass(frozen=True)
class Request:
    """One checked request: its kind, id, parameters and buffers."""

    kind: str
    request: int
    params: dict[str, Any]
    buffers: list[memoryview] = field(default_factory=list)


@dataclass
class Reply:
    """A handler's answer: reply fields and buffers (``type``/``kind``/``request``/``ok`` are
    added by the registry)."""

    fields: dict[str, Any] = field(default_factory=dict)
    buffers: list[bytes] = field(default_factory=list)


Handler = Callable[[Request], Reply]
Send = Callable[[dict[str, Any], list[bytes]], None]


class RequestRegistry:
    """Dispatches requests to their handlers, each on its executor, and sends the replies.

    Handlers raise :class:`~galwidget.GalwidgetError` for a request they cannot answer: the reply
    is ``ok: false`` with the error's reason. Any other exception is logged and answered the same
    way; nothing escapes :meth:`receive`.

    Args:
        send: sends one message ``(content, buffers)`` to the front end.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._handlers: dict[str, Handler] = {}
        self._pools = {
            name: ThreadPoolExecutor(workers, thread_name_prefix=f"galwidget-{name}")
            for name, workers in EXECUTORS.items()
        }
        self._queued: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def register(self, kind: str, handler: Handler) -> None:
        """Answer requests of ``kind`` (one of :data:`REQUESTS`) with ``handler``."""
        if kind not in REQUESTS:
            raise ValueError(f"{kind!r} is not a request kind of the protocol")
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler

    def receive(self, content: Any, buffers: list[Any] | None = None) -> None:
        """Handle one custom message from the front end (a request or a cancel)."""
        buffers = list(buffers or [])
        if isinstance(content, dict) and content.get("type") == "cancel":
            self._cancel(content.get("request"))
            return
        try:
            request = self.parse(content, buffers)
        except GalwidgetError as error:
            self._send(self._failure(content, error), [])
            return
        executor = REQUESTS[request.kind].executor
        if executor == "main":
            self._send(*self.answer(request))
            return
        try:
            future = self._pools[executor].submit(self._answer_and_send, request)
        except RuntimeError:  # the pools are shut down: the widget is closing
            return
        with self._lock:
            self._queued[request.request] = future
        future.add_done_callback(lambda _: self._forget(request.request, future))

    def reply(self, content: Any, buffers: list[Any]) -> tuple[dict[str, Any], list[bytes]]:
        """The reply ``(content, buffers)`` to one request message, answered here and now."""
        try:
            request = self.parse(content, buffers)
        except GalwidgetError as error:
            return self._failure(content, error), []
        return self.answer(request)

    def parse(self, content: Any, buffers: list[Any]) -> Request:
        """Check a request message against :data:`REQUESTS`."""
        if not isinstance(content, dict) or content.get("type") != "request":
            raise DataError(f"not a request message: {_short(content)}")
        request = content.get("request")
        if isinstance(request, bool) or not isinstance(request, int):
            raise DataError(f"a request needs an integer 'request' id, got {request!r}")
        kind = content.get("kind")
        spec = REQUESTS.get(kind) if isinstance(kind, str) else None
        if spec is None or kind not in self._handlers:
            raise DataError(f"unknown request kind {kind!r}")
        params: dict[str, Any] = {}
        for name, types in spec.params.items():
            value = content.get(name)
            if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                raise DataError(f"request {kind!r} needs {name!r}, got {value!r}")
            params[name] = value
        if len(buffers) != spec.buffers:
            raise DataError(f"request {kind!r} takes {spec.buffers} buffers, got {len(buffers)}")
        views = [memoryview(b).cast("B") for b in buffers]
        return Request(kind, request, params, views)

    def answer(self, request: Request) -> tuple[dict[str, Any], list[bytes]]:
        """The reply ``(content, buffers)`` to a checked request, run here."""
        head = {"type": "reply", "kind": request.kind, "request": request.request}
        try:
            reply = self._handlers[request.kind](request)
        except GalwidgetError as error:
            return {**head, "ok": False, "reason": _reason(error)}, []
        except Exception as error:  # reported to the front end instead of losing the request
            log.exception("galwidget: request %r failed", request.kind)
            return {**head, "ok": False, "reason": f"{type(error).__name__}: {error}"}, []
        return {**head, "ok": True, **reply.fields}, list(reply.buffers)

    def close(self) -> None:
        """Drop queued requests and stop the worker threads."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _answer_and_send(self, request: Request) -> None:
        self._send(*self.answer(request))

    def _cancel(self, request: Any) -> None:
        with self._lock:
            future = self._queued.pop(request, None) if isinstance(request, int) else None
        if future is not None:
            future.cancel()  # no effect once it runs; the browser ignores the late reply

    def _forget(self, request: int, future: Future[None]) -> None:
        with self._lock:
            if self._queued.get(request) is future:
                del self._queued[request]

    @staticmethod
    def _failure(content: Any, error: GalwidgetError) -> dict[str, Any]:
        message = content if isinstance(content, dict) else {}
        request = message.get("request")
        return {
            "type": "reply",
            "kind": message.get("kind") if isinstance(message.get("kind"), str) else None,
            "request": request if isinstance(request, int) else None,
            "ok": False,
            "reason": _reason(error),
        }


def _reason(error: GalwidgetError) -> str:
    return error.reason if isinstance(error, ImageError) else str(error)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
