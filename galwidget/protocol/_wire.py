"""The Explorer's wire protocol, version 2: every synced trait, request, reply and event.

``protocol.json`` (next to this module) defines it once for both languages: the version, the
constants, the selection kinds, every request (parameters, buffers, executor, reply) and every
event. This module builds :data:`REQUESTS`, :data:`EXECUTORS` and the constants from it;
``js/scripts/generate_protocol.py`` writes ``js/src/protocol.generated.ts`` from it, so both sides
use the same names. A row of the :class:`~galwidget.Representations` is called a **position**
(0-based) on both sides.

Size bound
    :data:`MAX_MESSAGE_BYTES` (8 MiB; the Jupyter server drops websocket messages over 10 MiB
    that it *receives*). No browser → kernel message may exceed it: the page refuses to send a
    larger selection. Kernel → page messages have no such limit, so the kernel encodes a selection
    of any size (a bitmask past ~67M galaxies is over 8 MiB: 9.5 MB at 76M).

Synced traits (see :class:`Config`, :class:`ColorMeta`, :class:`LabelMeta`, :class:`LearnState`)
    ``_config`` JSON (static); ``_points`` float32 LE interleaved ``x, y`` per position in
    [-1, 1]; ``_color`` uint8 per position (categorical code or continuous bin 0…254, 255
    missing; empty for kinds ``none`` and ``label``); ``_color_meta`` JSON; ``_selection`` an
    encoded selection (below); ``_focus`` int (−1 none); ``_label_meta`` JSON; ``_learn`` JSON;
    ``_filter`` the encoded selection of the positions a filter shows (``b""``: no filter) and
    ``_filter_meta`` JSON (:class:`FilterMeta`); the browser's selection tools act on what is shown;
    ``layout_name`` str, one of ``_config.layouts``, set by either side (``_points`` follows);
    ``point_budget`` int (the kernel's): with more than that many galaxies ``_points`` is ``b""``
    and the page loads points by view (``map_view``, ``map_density``, ``map_lasso``).

Selection encoding (:func:`encode_selection` / :func:`decode_selection`)
    An 8-byte header — byte 0 the kind (:class:`SelectionKind`), bytes 1–3 zero, bytes 4–7 uint32
    LE count — then the payload at offset 8: ``POSITIONS`` sorted unique uint32 LE; ``BITMASK``
    ``ceil(n / 8)`` bytes, position ``p`` set when bit ``p & 7`` (LSB first) of byte ``p >> 3`` is
    set; ``RUNS`` uint32 LE pairs ``(start, length)``, sorted, non-overlapping, non-adjacent,
    ``length ≥ 1``. The encoder picks the smallest (ties: the lower kind); empty is kind 0 with
    count 0, and ``b""`` decodes as empty. At most ``8 + ceil(n / 8)`` bytes.

Requests, replies, cancels (browser → kernel custom messages; :class:`RequestRegistry`)
    Request ``{type: "request", kind, view, request: id, ...params}`` (+ buffers); reply
    ``{type: "reply", kind, view, request, ok: true, ...fields}`` + buffers, or ``ok: false,
    reason``. ``{type: "cancel", view, request}`` drops a request still queued. ``view`` is the
    random id of the front-end view that asked (each view numbers its requests from 1, and every
    view receives every reply: a view takes only the replies naming it). Each kind is in
    :data:`REQUESTS` with its parameters, its executor and its reply fields and buffers.

Events (kernel → browser, unsolicited)
    ``{type: "event", kind: "labels", version, base_version}`` + buffers [0] positions uint32,
    [1] codes uint8 (:func:`labels_event`); ``{type: "event", kind: "error", message}``;
    ``{type: "event", kind: "zoom_to_selection"}`` (:func:`zoom_to_selection_event`).

Label codes: 0 unlabelled, ``i + 1`` for class ``i``, 255 a label outside the classes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import IntEnum
from importlib import resources
from typing import Any, Literal, TypedDict

import numpy as np
import traitlets

from galwidget import labels, search
from galwidget.errors import DataError, GalwidgetError, ImageError
from galwidget.jobs import JobRunner

__all__ = [
    "BYTES_SERIALIZATION",
    "COLOR_BINS",
    "DEFINITION",
    "EXECUTORS",
    "MAX_MESSAGE_BYTES",
    "MAX_QUERY_LENGTH",
    "MISSING_COLOR",
    "NO_LABELS",
    "OTHER_LABEL",
    "PROTOCOL_VERSION",
    "REQUESTS",
    "UNLABELLED",
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
    "handles",
    "labels_event",
    "quantise",
    "zoom_to_selection_event",
]

DEFINITION: dict[str, Any] = json.loads(
    resources.files("galwidget.protocol").joinpath("protocol.json").read_text("utf-8")
)
"""The protocol as data (``protocol.json``): constants, selection kinds, requests, events."""

_CONSTANTS: dict[str, int] = {name: spec["value"] for name, spec in DEFINITION["constants"].items()}
PROTOCOL_VERSION: int = DEFINITION["version"]
"""The protocol's version: the front end refuses a kernel speaking another."""
MAX_MESSAGE_BYTES = _CONSTANTS["MAX_MESSAGE_BYTES"]
"""The largest message sent to the front end (the Jupyter server drops larger ones)."""
HEADER_BYTES = _CONSTANTS["HEADER_BYTES"]
MAX_POSITIONS = _CONSTANTS["MAX_POSITIONS"]
FEW_RUNS = _CONSTANTS["FEW_RUNS"]
# Color buffer: bins 0 … COLOR_BINS - 1 of a continuous map; MISSING_COLOR marks missing values.
COLOR_BINS = _CONSTANTS["COLOR_BINS"]
"""Color codes 0 … ``COLOR_BINS - 1`` are the bins of a continuous color map."""
MISSING_COLOR = _CONSTANTS["MISSING_COLOR"]
"""The color code of a missing value."""
UNLABELLED = _CONSTANTS["UNLABELLED"]
"""The label code of an unlabelled galaxy on the wire."""
OTHER_LABEL = _CONSTANTS["OTHER_LABEL"]
"""The label code of a label that is not one of the classes, on the wire."""
MAX_QUERY_LENGTH = _CONSTANTS["MAX_QUERY_LENGTH"]
"""The most characters a ``find`` text may have (the search box's maxlength)."""
# The domain modules own these values; the definition must say the same (checked on import).
_OWNED = {
    "UNLABELLED": labels.UNLABELLED,
    "OTHER_LABEL": labels.OTHER_LABEL,
    "MAX_QUERY_LENGTH": search.MAX_QUERY_LENGTH,
}
if any(_CONSTANTS[name] != value for name, value in _OWNED.items()):
    raise RuntimeError(f"protocol.json's constants differ from galwidget's own: {_OWNED}")

log = logging.getLogger(__name__)


# -- synced traits -------------------------------------------------------------------------------


def _bytes_from_json(value: Any, _widget: Any) -> bytes | None:
    """Jupyter hands a binary trait over as a memoryview, marimo as bytes: accept both, and
    nothing else (``bytes(2**32)`` would allocate 4 GiB): a :class:`traitlets.TraitError`, so
    that ipywidgets' ``set_state`` rolls the whole update back."""
    if value is None:
        return None
    if not isinstance(value, bytes | bytearray | memoryview):
        raise traitlets.TraitError(
            f"a binary trait takes a buffer from the front end, got {type(value).__name__}"
        )
    return bytes(value)


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
    # "features", or "layout": the data's only representation is its 2-D map (neighbors there)
    neighbor_space: Literal["features", "layout"]


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
    """Byte 0 of an encoded selection (named for the type checker; the definition's
    ``selection_kinds`` must say the same, checked on import)."""

    POSITIONS = 0
    BITMASK = 1
    RUNS = 2


if {kind.name: kind.value for kind in SelectionKind} != DEFINITION["selection_kinds"]:
    raise RuntimeError(
        f"protocol.json's selection_kinds {DEFINITION['selection_kinds']} differ from "
        f"galwidget.protocol.SelectionKind"
    )


def encode_selection(positions: Any, n: int, *, max_bytes: int | None = None) -> bytes:
    """Encode row positions (any order, duplicates allowed) of a table of ``n`` rows.

    Args:
        positions: integer positions in ``[0, n)``.
        n: number of rows.
        max_bytes: refuse encodings longer than this (default: no bound; the kernel's
            encodings go to the page, whose messages to the kernel are bounded by
            :data:`MAX_MESSAGE_BYTES` instead).

    Raises:
        DataError: a position outside ``[0, n)`` or not an integer, or an encoding over the bound.
    """
    if n > MAX_POSITIONS:
        raise DataError(f"the wire protocol addresses at most {MAX_POSITIONS:,} rows, not {n:,}")
    p = _canonical_positions(positions, n)
    count = len(p)
    if count == 0:
        return _header(SelectionKind.POSITIONS, 0)
    bitmask = None
    if 4 * count < (n + 7) // 8:  # few: count the runs on the positions
        n_runs = int(np.count_nonzero(np.diff(p) != 1)) + 1
    else:  # many (e.g. most of 76M): on the bitmask, 32× smaller than their positions
        mask = np.zeros(n, dtype=bool)
        mask[p] = True
        bitmask = np.packbits(mask, bitorder="little")
        n_runs = _runs_in_bitmask(bitmask)
    sizes = {
        SelectionKind.POSITIONS: 4 * count,
        SelectionKind.BITMASK: (n + 7) // 8,
        SelectionKind.RUNS: 8 * n_runs,
    }
    kind = min(sizes, key=lambda k: (sizes[k], k))
    if max_bytes is not None and HEADER_BYTES + sizes[kind] > max_bytes:
        raise DataError(
            f"a selection of {count:,} of {n:,} galaxies needs {HEADER_BYTES + sizes[kind]:,} "
            f"bytes, over the {max_bytes:,}-byte message limit; select fewer galaxies"
        )
    if kind == SelectionKind.POSITIONS:
        payload = p.astype("<u4").tobytes()
    elif kind == SelectionKind.BITMASK:
        assert bitmask is not None  # a bitmask is smallest only for 4 * count ≥ n / 8
        payload = bitmask.tobytes()
    else:
        breaks = np.flatnonzero(np.diff(p) != 1)
        starts = np.concatenate(([p[0]], p[breaks + 1]))
        ends = np.concatenate((p[breaks], [p[-1]])) + 1
        payload = np.column_stack((starts, ends - starts)).astype("<u4").tobytes()
    return _header(kind, count) + payload


def _runs_in_bitmask(bitmask: np.ndarray) -> int:
    """How many runs of consecutive set bits a little-endian packed bitmask holds: its set bits
    whose previous bit (across bytes too) is clear."""
    previous = (bitmask << 1) | np.concatenate(([0], bitmask[:-1] >> 7)).astype(np.uint8)
    return int(np.bitwise_count(bitmask & ~previous).sum())


def decode_selection(data: bytes | memoryview, n: int) -> np.ndarray:
    """Sorted unique int64 positions of an encoded selection of a table of ``n`` rows.

    Everything the header and payload claim is checked against ``n`` and the payload's length
    before anything proportional to a claim is allocated: the result is at most ``n`` positions.

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
    if count > n:
        raise DataError(f"the selection header counts {count:,} positions, but there are {n:,}")
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
        if len(runs) and starts[-1] + lengths[-1] > n:  # sorted: the last run ends last
            raise DataError(
                f"selection position {int(starts[-1] + lengths[-1] - 1)} is not below n = {n}"
            )
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


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    """An event message of ``kind`` with exactly the fields its definition names."""
    names = set(DEFINITION["events"][kind]["fields"])
    if set(fields) != names:
        raise ValueError(f"the {kind!r} event has fields {sorted(names)}, not {sorted(fields)}")
    return {"type": "event", "kind": kind, **fields}


def labels_event(
    positions: np.ndarray, codes: np.ndarray, *, version: int, base_version: int
) -> tuple[dict[str, Any], list[bytes]]:
    """The ``labels`` event: the codes that changed between ``base_version`` and ``version``."""
    positions = np.asarray(positions, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.uint8)
    if positions.shape != codes.shape:
        raise DataError(f"{len(positions)} changed positions but {len(codes)} codes")
    content = _event("labels", version=version, base_version=base_version)
    return content, [encode_positions(positions), codes.tobytes()]


def error_event(message: str) -> dict[str, Any]:
    """The ``error`` event: a message for the widget's status line."""
    return _event("error", message=message)


def zoom_to_selection_event() -> dict[str, Any]:
    """The ``zoom_to_selection`` event: every view pans and zooms to the selected galaxies."""
    return _event("zoom_to_selection")


# -- requests ------------------------------------------------------------------------------------

Executor = Literal["main", "search", "images"]
EXECUTORS: dict[str, int] = {
    name: workers for name, workers in DEFINITION["executors"].items() if name != "$comment"
}
"""Worker threads of each background executor; requests of executor ``"main"`` run inline."""


@dataclass(frozen=True)
class RequestKind:
    """One request kind as ``protocol.json`` defines it.

    ``params`` maps each parameter to its type expression (e.g. ``"str | null"``), ``buffers``
    names the request's buffers; ``reply`` and ``reply_buffers`` name the reply's fields and
    buffers (every shape's, for a reply of several shapes).
    """

    params: Mapping[str, str] = field(default_factory=dict)
    executor: Executor = "main"
    buffers: tuple[str, ...] = ()
    reply: tuple[str, ...] = ()
    reply_buffers: tuple[str, ...] = ()

    @classmethod
    def from_definition(cls, spec: Mapping[str, Any]) -> RequestKind:
        """The request kind of one entry of ``protocol.json``'s ``requests``."""
        shapes = spec["reply"] if isinstance(spec["reply"], list) else [spec["reply"]]
        return cls(
            params=dict(spec.get("params", {})),
            executor=spec.get("executor", "main"),
            buffers=tuple(spec.get("buffers", {})),
            reply=tuple(name for shape in shapes for name in shape.get("fields", {})),
            reply_buffers=tuple(name for shape in shapes for name in shape.get("buffers", {})),
        )

    def accepts(self, name: str, value: Any) -> bool:
        """Whether ``value`` is of parameter ``name``'s type (JSON values: bool is not int)."""
        return any(_is_of(value, option.strip()) for option in self.params[name].split("|"))


def _is_of(value: Any, simple: str) -> bool:
    """Whether a JSON parameter value is of one non-union type of the definition."""
    if simple.startswith("'"):
        return value == simple.strip("'")
    if simple.startswith("list[") and simple.endswith("]"):
        return isinstance(value, list) and all(_is_of(item, simple[5:-1]) for item in value)
    if isinstance(value, bool):
        return simple == "bool"
    python = {"int": (int,), "float": (int, float), "str": (str,), "null": (type(None),)}
    return isinstance(value, python.get(simple, ()))


REQUESTS: dict[str, RequestKind] = {
    kind: RequestKind.from_definition(spec) for kind, spec in DEFINITION["requests"].items()
}
"""Every request kind of the protocol, from ``protocol.json``."""


@dataclass(frozen=True)
class Request:
    """One checked request: its kind, id, parameters and buffers, and the view that sent it
    (``None`` for a request that names no view, e.g. a saved page's)."""

    kind: str
    request: int
    params: dict[str, Any]
    buffers: list[memoryview] = field(default_factory=list)
    view: str | None = None


@dataclass
class Reply:
    """A handler's answer: reply fields and buffers (``type``/``kind``/``request``/``view``/``ok``
    are added by the registry)."""

    fields: dict[str, Any] = field(default_factory=dict)
    buffers: list[bytes] = field(default_factory=list)


Handler = Callable[[Request], Reply]
Send = Callable[[dict[str, Any], list[bytes]], None]
_HANDLES = "_galwidget_handles"


def handles(*kinds: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Mark a method as the handler of requests of ``kinds``, for
    :meth:`RequestRegistry.register_handlers`."""
    unknown = [kind for kind in kinds if kind not in REQUESTS]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a request kind of the protocol")

    def mark(method: Callable[..., Reply]) -> Callable[..., Reply]:
        setattr(method, _HANDLES, kinds)
        return method

    return mark


class RequestRegistry:
    """Dispatches requests to their handlers, each on its executor, and sends the replies.

    Requests of executor ``"main"`` are answered inline; the others run as jobs on one
    :class:`~galwidget.jobs.JobRunner` per executor of :data:`EXECUTORS`. A request is known by
    its view and id: each front-end view numbers its own requests, and a reply names the view it
    answers, so that several views of one widget each take only their own replies.

    Handlers raise :class:`~galwidget.GalwidgetError` for a request they cannot answer: the reply
    is ``ok: false`` with the error's reason. Any other exception is logged and answered the same
    way; nothing escapes :meth:`receive`.

    Args:
        send: sends one message ``(content, buffers)`` to the front end.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._handlers: dict[str, Handler] = {}
        self._runners = {
            name: JobRunner(name, workers=workers) for name, workers in EXECUTORS.items()
        }
        self._queued: dict[tuple[str | None, int], tuple[JobRunner, Future[None]]] = {}
        self._lock = threading.Lock()

    @property
    def kinds(self) -> frozenset[str]:
        """The request kinds that have a handler."""
        return frozenset(self._handlers)

    def register(self, kind: str, handler: Handler) -> None:
        """Answer requests of ``kind`` (one of :data:`REQUESTS`) with ``handler``."""
        if kind not in REQUESTS:
            raise ValueError(f"{kind!r} is not a request kind of the protocol")
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is registered already")
        self._handlers[kind] = handler

    def register_handlers(self, owner: object) -> None:
        """Register every method of ``owner`` marked with :func:`handles`."""
        seen: set[str] = set()
        for klass in type(owner).__mro__:
            for name, attribute in vars(klass).items():
                if name in seen:
                    continue
                seen.add(name)
                for kind in getattr(attribute, _HANDLES, ()):
                    self.register(kind, getattr(owner, name))

    def receive(self, content: Any, buffers: list[Any] | None = None) -> None:
        """Handle one custom message from the front end (a request or a cancel)."""
        buffers = list(buffers or [])
        if isinstance(content, dict) and content.get("type") == "cancel":
            self._cancel(content.get("view"), content.get("request"))
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
        runner = self._runners[executor]
        key = (request.view, request.request)
        with self._lock:
            future = runner.submit(lambda: self._answer_and_send(request))
            if future.cancelled():  # the runner is closed: the widget is closing
                return
            self._queued[key] = (runner, future)
        future.add_done_callback(lambda _: self._forget(key, future))

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
        view = content.get("view")
        if view is not None and not isinstance(view, str):
            raise DataError(f"a request's 'view' is a string, got {_short(view)}")
        kind = content.get("kind")
        spec = REQUESTS.get(kind) if isinstance(kind, str) else None
        if spec is None or kind not in self._handlers:
            raise DataError(f"unknown request kind {kind!r}")
        params: dict[str, Any] = {}
        for name in spec.params:
            value = content.get(name)
            if not spec.accepts(name, value):
                raise DataError(f"request {kind!r} needs {name!r}, got {value!r}")
            params[name] = value
        if len(buffers) != len(spec.buffers):
            raise DataError(
                f"request {kind!r} takes {len(spec.buffers)} buffers, got {len(buffers)}"
            )
        views = [memoryview(b).cast("B") for b in buffers]
        return Request(kind, request, params, views, view)

    def answer(self, request: Request) -> tuple[dict[str, Any], list[bytes]]:
        """The reply ``(content, buffers)`` to a checked request, run here."""
        head: dict[str, Any] = {"type": "reply", "kind": request.kind, "request": request.request}
        if request.view is not None:
            head["view"] = request.view
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
        for runner in self._runners.values():
            runner.close()

    def _answer_and_send(self, request: Request) -> None:
        self._send(*self.answer(request))

    def _cancel(self, view: Any, request: Any) -> None:
        with self._lock:
            queued = self._queued.pop((view, request), None) if isinstance(request, int) else None
        if queued is not None:
            runner, future = queued
            runner.cancel(future)  # no effect once it runs; the view ignores the late reply

    def _forget(self, key: tuple[str | None, int], future: Future[None]) -> None:
        with self._lock:
            if key in self._queued and self._queued[key][1] is future:
                del self._queued[key]

    @staticmethod
    def _failure(content: Any, error: GalwidgetError) -> dict[str, Any]:
        message = content if isinstance(content, dict) else {}
        request = message.get("request")
        failure = {
            "type": "reply",
            "kind": message.get("kind") if isinstance(message.get("kind"), str) else None,
            "request": request if isinstance(request, int) else None,
            "ok": False,
            "reason": _reason(error),
        }
        if isinstance(message.get("view"), str):
            failure["view"] = message["view"]
        return failure


def _reason(error: GalwidgetError) -> str:
    return error.reason if isinstance(error, ImageError) else str(error)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
