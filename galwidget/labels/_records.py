"""Label records and the interface of the backends that keep them (:mod:`galwidget.labels`).

A record is one change of one galaxy's label, as a JSON object (a line of the log file, a row of a
label database)::

    {"op": "<operation id>", "id": "J…", "label": "ring", "prev": null, "time": "<UTC ISO>",
     "source": "key", "user": "alice"}
    {"op": "…", "id": "J…", "label": null, "prev": "ring", …, "source": "undo", "undoes": "<op>"}

``label`` ``null`` means the label was removed; ``prev`` is the label before the change (what
makes undo possible after a restart); ``user`` (absent in older logs) is who made the change;
``undoes``/``redoes`` name the operation an undo or redo reverses. Labels are strings, finite
numbers or booleans. :func:`check_record` checks every field of a record, before it is written and
when it is read back; its error names where the record is (``Backend.where``). Times are read back
as UTC ISO text (a time without an offset is UTC).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, TypeAlias

from galwidget.errors import DataError, GalwidgetError

__all__ = [
    "LOCK_TIMEOUT",
    "Backend",
    "Entry",
    "LabelStorageError",
    "Located",
    "Unreadable",
    "check_record",
    "lock_timeout_error",
]

FORMAT = "galwidget-labels"
VERSION = 1
SOURCES = ("key", "bulk", "python", "import", "undo", "redo")
# Seconds a store waits for another writer's lock (a log's flock, SQLite's write lock,
# PostgreSQL's advisory lock) before it gives up with a LabelStorageError.
LOCK_TIMEOUT = 60.0

Label: TypeAlias = str | int | float | bool
"""A label value: a class name, or any string, number or boolean when classes are not fixed."""

# A record as read from a backend, with its number there (Backend.where(n) says where that is).
Located: TypeAlias = tuple[int, Any]


class LabelStorageError(GalwidgetError, OSError):
    """The label storage failed: a read-only log, a full disk, a size limit, an unreachable
    database. A failed change was not saved, and the store still shows what is saved."""


class Entry(NamedTuple):
    """A checked record."""

    op: str
    id: str
    label: Label | None
    prev: Label | None
    time: str
    source: str
    user: str | None
    undoes: str | None
    redoes: str | None


class Unreadable(NamedTuple):
    """What a backend read in place of a record it could not parse (a line that is not JSON, a
    row whose label is not JSON): :func:`check_record` refuses it, naming ``problem``."""

    problem: str


class Backend(Protocol):
    """Where a store's records live (:class:`galwidget.labels._log.LogFile`, :class:`galwidget.labels._sql.SQLLog`)."""

    location: str  # for messages: the path, or the URL without password
    read_only: bool
    header: dict[str, Any] | None  # format, version, fingerprint, id_column, created

    def locked(self, write: bool) -> AbstractContextManager[None]:
        """Context manager: exclusive access to read and (``write``) append; commits on exit."""

    def read(self) -> tuple[bool, list[Located]]:
        """(whether to replay from scratch, the records after the accepted position)."""

    def where(self, number: int) -> str:
        """Where record ``number`` is, for messages ("line 7 of the label log …")."""

    def accept(self) -> None:
        """Move the position past what the last :meth:`read` returned."""

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records (inside ``locked(write=True)``); :class:`LabelStorageError` if not."""

    def changed(self) -> bool:
        """Cheaply: whether there may be records after the accepted position."""

    def close(self) -> None:
        """Release connections."""


_FIELDS = operator.itemgetter("op", "id", "label", "prev", "time", "source")
_LABEL_TYPES = (str, int, float, bool, type(None))


def lock_timeout_error(location: str, seconds: float, doing: str) -> LabelStorageError:
    """The error of a store that waited ``seconds`` for another writer's lock in vain."""
    return LabelStorageError(
        f"{doing}: the labels at {location} stayed locked by another writer for {seconds:g} s "
        f"(the lock timeout, LabelStore(lock_timeout=…)); nothing changed. Try again, or find the "
        f"process holding the lock"
    )


def check_record(where: Callable[[int], str], number: int, record: Any) -> Entry:
    """A record checked field by field (its time as UTC ISO text); :class:`DataError` naming
    where it is (``where(number)``, e.g. ``Backend.where``) otherwise."""
    try:
        op, id_, label, prev, time, source = _FIELDS(record)
        user, undoes, redoes = record.get("user"), record.get("undoes"), record.get("redoes")
        moment = datetime.fromisoformat(time)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        time = moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
        texts = [v for v in (op, id_, label, prev, user, undoes, redoes) if type(v) is str]
        "".join(texts).encode("utf-8")
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _bad_record(where, number, record) from None
    if not (
        type(op) is str
        and op
        and type(id_) is str
        and id_
        and source in SOURCES
        and type(label) in _LABEL_TYPES
        and type(prev) in _LABEL_TYPES
        and (user is None or (type(user) is str and user))
        and (undoes is None or (type(undoes) is str and undoes))
        and (redoes is None or (type(redoes) is str and redoes))
        and not (type(label) is float and not math.isfinite(label))
        and not (type(prev) is float and not math.isfinite(prev))
    ):
        raise _bad_record(where, number, record)
    return Entry(op, id_, label, prev, time, source, user, undoes, redoes)


def _bad_record(where: Callable[[int], str], number: int, record: Any) -> DataError:
    if isinstance(record, Unreadable):
        return DataError(f"{where(number)}: {record.problem}")
    return DataError(f"{where(number)}: {_problem(record)} (record {record!r:.160})")


def _problem(record: Any) -> str:
    """What is wrong with a record :func:`check_record` refused."""
    if not isinstance(record, dict):
        return "not a label record"
    missing = [k for k in ("op", "id", "label", "prev", "time", "source") if k not in record]
    if missing:
        return f"not a label record: no {', '.join(missing)}"
    for field in ("op", "id", "time", "source", "user", "undoes", "redoes"):
        value = record.get(field)
        optional = field in ("user", "undoes", "redoes")
        if not (isinstance(value, str) and value) and not (optional and value is None):
            return f"{field} must be a non-empty string, got {value!r:.60}"
    for field in ("label", "prev"):
        value = record[field]
        if value is not None and (
            not isinstance(value, str | int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            return f"{field} must be a string, a finite number or null, got {value!r:.60}"
    for field, value in record.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{field} contains a lone surrogate"
    if record["source"] not in SOURCES:
        return f"source must be one of {', '.join(SOURCES)}"
    return f"time {record['time']!r:.60} is not an ISO date between the years 1 and 9999"
