"""The label store: the canonical, crash-safe labels of one data set, shared by a team.

A :class:`LabelStore` replays an append-only sequence of label records
(:mod:`galwidget.labels._records`); every change appends records and is acknowledged (returns,
calls ``on_change``) only once they are durable. Two backends keep the records:

- a JSON-lines **log file** (the default, ``<labels dir>/<fingerprint>.jsonl``;
  :mod:`galwidget.labels._log`), appended under an exclusive ``flock`` and ``fsync``'d, so several
  stores (threads, processes, people on one file system) append without interleaving;
- a **SQL database** (``path="postgresql://…"`` or ``"sqlite:///…"``; :mod:`galwidget.labels._sql`):
  the same records as rows, acknowledged once committed.

All records of one call share an operation id: one undo step. Undo and redo are records too, so
the undo history survives restarts; it is the history of the log, whichever store wrote it. The
last write wins and every write stays in :meth:`LabelStore.history`.

Invariants: memory only ever holds what the backend holds (records are read back after they are
written; a failed write raises :class:`LabelStorageError` and changes nothing); every record is
checked before it is written, so a store never writes what it cannot read back; a record read that
cannot be used (not JSON, a bad field, an id not of this data, an undo of an unknown operation) is
skipped with one warning naming the file and line, or the table row (:attr:`LabelStore.unreadable`
lists them) and every other record is applied: one bad line never costs the rest of the log; a
file that is not a galwidget log is never modified; a writer waits at most ``lock_timeout``
seconds for another writer's lock, whichever the backend.

Team labelling (the API an Explorer uses):

- ``LabelStore.for_data(reps, path=None, classes=None, *, user=None, read_only=False)``: ``path``
  a log file or a database URL; every record carries ``user`` (``store.user``: ``user=``, else
  ``$JUPYTERHUB_USER``, else the login name, else ``None``); ``store.labels`` has the columns
  ``label``, ``time``, ``source``, ``user``; ``store.history()`` lists every change.
- ``store.watch(interval=0.5)`` starts a daemon thread (idempotent; ``store.watching``) that calls
  ``store.refresh()`` every ``interval`` seconds: changes written by other stores (other
  processes, other people) then reach the ``store.on_change(callback)`` callbacks within about
  ``interval`` (one ``stat`` per poll for a log, one ``max(seq)`` query for a database). An error
  while watching (the log deleted, the database down) is warned once and watching goes on.
  ``store.close()`` stops and joins the thread and releases database connections (the store stays
  usable); ``with LabelStore(...) as store:`` closes too.
- ``callback(changed_ids)`` gets the ids whose label changed, after the change is durable and
  outside the store's lock (a callback may use the store): on the caller's thread for the
  store's own changes and explicit reads, on the watcher thread for changes it finds.
- ``store.read_only``: ``True`` when opened ``read_only=True`` or the log cannot be written (a
  read-only file or mount; a database role without INSERT). Changes then raise
  :class:`LabelStorageError`, as does a write that fails (disk full, size limit, I/O error,
  refused commit): show "not saved"; nothing changed, in memory or in the log.
- :func:`find_log` finds the default log of ``reps`` (also under its legacy fingerprint, which
  ``for_data`` adopts by renaming the file).
"""

from __future__ import annotations

import errno
import getpass
import math
import os
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from galwidget.data import IdLookup, Representations, check_file_kind
from galwidget.errors import DataError
from galwidget.jobs import JobRunner
from galwidget.labels._log import LogFile, is_label_log
from galwidget.labels._records import (
    FORMAT,
    LOCK_TIMEOUT,
    SOURCES,
    VERSION,
    Backend,
    Entry,
    Label,
    LabelStorageError,
    Located,
    check_record,
)
from galwidget.util import preview

__all__ = [
    "Classes",
    "LabelStorageError",
    "LabelStore",
    "check_labels_location",
    "check_user",
    "class_names",
    "default_user",
    "find_log",
]

MAX_KEYS = 9
MAX_CLASSES = 254
"""The most label classes one store holds (label codes are uint8; 0 and 255 are reserved)."""
UNLABELLED = 0
"""The label code of "no label"."""
OTHER_LABEL = 255
"""The label code of "a label that is not one of the classes"."""
URL_SCHEMES = ("sqlite", "postgresql", "postgres")
# Text pandas reads from a CSV cell as missing: such a label cell is missing unless it names a class.
CSV_MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)
# Unreadable records named in full in the warning that reports them (the rest are counted).
SHOWN_UNREADABLE = 5

# Allowed labels: class names (keys "1".."9" in order), a dict name → key, or None for any label.
Classes: TypeAlias = Sequence[Hashable] | Mapping[Hashable, str] | None
"""Allowed labels: class names (keys 1–9 in order), a dict class → key, or ``None`` for any label."""
ChangeCallback: TypeAlias = Callable[[list[str]], Any]
# The changes of one operation, and for undo/redo the operation it undoes or redoes.
Plan: TypeAlias = tuple[list[tuple[str, "Label | None"]], tuple[str, str] | None]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_labels_dir() -> Path:
    """``$GALWIDGET_LABELS_DIR``, else ``./galwidget-labels`` (next to the notebook)."""
    return Path(os.environ.get("GALWIDGET_LABELS_DIR") or Path.cwd() / "galwidget-labels")


def default_user() -> str | None:
    """Who is labelling: ``$JUPYTERHUB_USER``, else the login name, else ``None``."""
    name = os.environ.get("JUPYTERHUB_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return None


def find_log(reps: Representations) -> Path | None:
    """The existing default label log of ``reps``, under its fingerprint or a legacy one.

    The fingerprints (a pass over every id, ~1 s at 8.7M ids) are computed only when the labels
    directory holds a log at all, and the legacy one only when none exists under the current one.
    """
    directory = default_labels_dir()
    if not _has_logs(directory):
        return None
    path = directory / f"{reps.fingerprint}.jsonl"
    if path.is_file():
        return path
    for fingerprint in _legacy_fingerprints(reps):
        path = directory / f"{fingerprint}.jsonl"
        if path.is_file():
            return path
    return None


def _has_logs(directory: Path) -> bool:
    """Whether ``directory`` holds any ``*.jsonl`` file (stops at the first found)."""
    try:
        with os.scandir(directory) as entries:
            return any(entry.name.endswith(".jsonl") for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:  # not listable (e.g. no read permission): look the names up
        return True


def _legacy_fingerprints(reps: Representations) -> list[str]:
    return [] if reps.legacy_fingerprint == reps.fingerprint else [reps.legacy_fingerprint]


def _is_url(path: object) -> bool:
    """Whether ``path`` is a database URL (:class:`DataError` for a URL of another kind)."""
    check_labels_location(path)
    text = str(path)
    return "://" in text and text.split("://", 1)[0].split("+", 1)[0].lower() in URL_SCHEMES


def check_labels_location(path: object) -> None:
    """Check where labels go: ``None``, a path, or a ``postgresql://``/``sqlite:///`` URL;
    :class:`DataError` for anything else (``mysql://…`` would otherwise name a local folder)."""
    if path is None or isinstance(path, os.PathLike):
        return
    if not isinstance(path, str) or not path or "\0" in path:
        raise DataError(
            f"labels path must be a file path or a database URL, got {preview_value(path)}"
        )
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", path)
    if scheme and scheme[1].split("+", 1)[0].lower() not in URL_SCHEMES:
        raise DataError(
            f"labels path {path!r}: galwidget keeps labels in PostgreSQL (postgresql://user@host/"
            f"database), SQLite (sqlite:///path.db) or a log file (a plain path), not in "
            f"{scheme[1]}://"
        )


def check_user(user: object) -> str | None:
    """``user`` checked (``None``: nobody named); :class:`DataError` for anything but a
    non-empty string that can be saved as UTF-8."""
    if user is None:
        return None
    if not isinstance(user, str) or not user:
        raise DataError(
            f"the user name must be a non-empty string (it is saved with every label), got "
            f"{preview_value(user)}; leave it out to use $JUPYTERHUB_USER or the login name"
        )
    return _check_text(user, "the user name")


def preview_value(value: object) -> str:
    """``value`` for a message: its repr, cut short, and its type when that is not a string."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:59] + "…"
    return text if isinstance(value, str) else f"{text} ({type(value).__name__})"


def _check_text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"{what} {value!r} contains a lone surrogate (half of a UTF-16 pair), which cannot be "
            f"saved as UTF-8; fix the text where it came from"
        ) from None
    return value


def class_names(classes: Classes) -> list[str] | None:
    """The class names of ``classes`` in order (``None`` stays ``None``: any label allowed)."""
    if classes is None:
        return None
    names = [_check_text(str(c), "the class") for c in classes]
    if not names:
        raise DataError("classes must name at least one class (or be None to allow any label)")
    if len(names) > MAX_CLASSES:
        raise DataError(
            f"{len(names)} classes: at most {MAX_CLASSES} are supported (label codes are one byte); "
            f"pass classes=None to allow any label without keys and colors"
        )
    if len(set(names)) < len(names):
        raise DataError(f"classes must be distinct, got {preview(pd.Index(names))}")
    return names


def _key_map(classes: Classes) -> dict[str, str]:
    """Keyboard key → class name. Lists get keys "1".."9" in order; dicts give their own."""
    if classes is None:
        return {}
    if isinstance(classes, Mapping):
        keys: dict[str, str] = {}
        for name, key in classes.items():
            key = str(key)
            if len(key) != 1:
                raise DataError(f"class {name!r}: its key must be one character, got {key!r}")
            if key in keys:
                raise DataError(f"key {key!r} is used by both {keys[key]!r} and {name!r}")
            keys[key] = str(name)
        return keys
    return {str(i + 1): str(name) for i, name in enumerate(list(classes)[:MAX_KEYS])}


class LabelStore:
    """The labels of one data set, persisted to an append-only log file or a SQL database.

    Args:
        path: the log file, or a database URL (``"postgresql://user@host/db"``,
            ``"sqlite:///labels.db"``); default ``<labels dir>/<fingerprint>.jsonl`` where the
            labels dir is ``$GALWIDGET_LABELS_DIR`` or ``./galwidget-labels``.
        fingerprint: the data's fingerprint (``reps.fingerprint``), recorded in the log header and
            checked against an existing log; a database keeps one log per fingerprint.
        ids: the data's ids; when given, labelling an unknown id is an error, and so is a log
            record of an unknown id.
        classes: allowed labels: a list of names (keys "1".."9" in order) or a dict name → key.
            ``None`` allows any string or number (e.g. numeric interest scores).
        id_column: the id column name recorded in the header (default ``ids.name`` or "id").
        check_fingerprint: ``False`` opens a log written for other data (its header is kept).
        user: who makes the changes (default :func:`default_user`).
        read_only: never write (also the case when the log cannot be opened for writing).
        legacy_fingerprints: earlier fingerprints of the same data, accepted in a log header.
        lock_timeout: seconds to wait for another writer's lock before giving up with a
            :class:`LabelStorageError` (the same for log files, SQLite and PostgreSQL).

    Raises:
        DataError: a log of other data (fingerprint), a bad ``user`` or location, bad ``classes``;
            later, a label outside ``classes`` or of an unknown id. (Damaged records are skipped
            with a warning naming file and line; :attr:`unreadable` lists them.)
        LabelStorageError: a change could not be saved (nothing changed, in memory or on disk).

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=500, seed=0)
        >>> store = gw.LabelStore.for_data(reps, classes=["ring", "other"])
        >>> store.set(reps.ids[:2], "ring")
        ['J010629.36+145221.5', 'J114606.50-043244.2']
        >>> store.counts().to_dict()
        {'ring': 2, 'other': 0}
        >>> sorted(store.undo()) == sorted(reps.ids[:2]); len(store.labels)
        True
        0
    """

    _frame: pd.DataFrame | None  # :attr:`labels`, built on first use after each change

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        fingerprint: str | None = None,
        ids: pd.Index | Sequence[str] | IdLookup | None = None,
        classes: Classes = None,
        *,
        id_column: str | None = None,
        check_fingerprint: bool = True,
        user: str | None = None,
        read_only: bool = False,
        legacy_fingerprints: Sequence[str] = (),
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        if not (isinstance(lock_timeout, int | float) and 0 < lock_timeout < math.inf):
            raise DataError(
                f"lock_timeout must be a positive number of seconds, got {lock_timeout!r}"
            )
        if path is None:
            if fingerprint is None:
                raise DataError("LabelStore needs a path or the data's fingerprint to name its log")
            path = default_labels_dir() / f"{fingerprint}.jsonl"
        self.fingerprint = fingerprint
        self._fingerprints = {f for f in (fingerprint, *legacy_fingerprints) if f}
        self._ids = (
            ids
            if ids is None or isinstance(ids, IdLookup)
            else IdLookup(pd.Index([str(i) for i in ids], dtype="str"))
        )
        self.id_column = id_column or (getattr(ids, "name", None) if ids is not None else None)
        self.id_column = self.id_column or "id"
        self._keys = _key_map(classes)
        self._classes = class_names(classes)
        self._check_fingerprint = check_fingerprint
        self.user = check_user(user) if user is not None else default_user()
        self._callbacks: list[ChangeCallback] = []
        self._thread_lock = threading.RLock()
        self._watcher: JobRunner | None = None  # refreshes every interval while watching
        self._reset()
        self.header: dict[str, Any] = {}
        new_header = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": fingerprint,
            "id_column": self.id_column,
            "created": _now(),
        }
        self.path: Path | None
        self._backend: Backend
        if _is_url(path):
            try:
                from galwidget.labels._sql import SQLLog
            except ImportError as error:
                raise DataError(
                    f"label databases need SQLAlchemy (and psycopg for PostgreSQL): "
                    f"pip install 'galwidget[db]' ({error})"
                ) from None
            if fingerprint is None:
                raise DataError("a label database keeps one log per data set: pass fingerprint=")
            self.path = None
            self._backend = SQLLog(
                str(path),
                header=new_header,
                read_only=read_only,
                legacy_names=list(legacy_fingerprints),
                lock_timeout=lock_timeout,
            )
        else:
            self.path = Path(path)
            self._backend = LogFile(
                self.path, header=new_header, read_only=read_only, lock_timeout=lock_timeout
            )
        with self._thread_lock, self._backend.locked(write=False):
            self._sync()

    @classmethod
    def for_data(
        cls,
        reps: Representations,
        path: str | os.PathLike[str] | None = None,
        classes: Classes = None,
        *,
        user: str | None = None,
        read_only: bool = False,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> LabelStore:
        """The label store of ``reps`` (fingerprint, ids and id column taken from it).

        ``path`` is a log file or a database URL; by default the data's log in the labels dir.
        A log written under an earlier fingerprint of the same data (an older galwidget) is
        renamed to the current name, or read in place where the folder is read-only.
        """
        legacy = _legacy_fingerprints(reps)
        check_labels_location(path)
        if path is None:
            path = default_labels_dir() / f"{reps.fingerprint}.jsonl"
            found = find_log(reps)
            if found is not None and found != path:
                path = _adopt(found, path)
        return cls(
            path,
            reps.fingerprint,
            reps.id_lookup,
            classes,
            id_column=reps.id_column,
            user=user,
            read_only=read_only,
            legacy_fingerprints=legacy,
            lock_timeout=lock_timeout,
        )

    # ------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the labels are: the log's path, or the database URL without its password."""
        return self._backend.location

    @property
    def read_only(self) -> bool:
        """Whether changes are refused (opened ``read_only``, or the log is not writable)."""
        return self._backend.read_only

    @property
    def classes(self) -> list[str] | None:
        """The allowed class names in order, or ``None`` when any label is allowed."""
        return None if self._classes is None else list(self._classes)

    @property
    def key_map(self) -> dict[str, str]:
        """Keyboard key → class name (keys "1".."9" for a list of classes)."""
        return dict(self._keys)

    @property
    def labels(self) -> pd.DataFrame:
        """Current labels: index id; columns ``label``, ``time`` (UTC), ``source`` and ``user``
        (``None`` for records from logs older than user names)."""
        self.refresh()
        with self._thread_lock:
            if self._frame is None:
                frame = self._table(list(self._current.values()), ["label", "source", "user"])
                frame["label"] = frame["label"].infer_objects()  # numeric labels as numbers
                self._frame = frame.set_index(self.id_column)[["label", "time", "source", "user"]]
            return self._frame.copy()

    def history(self) -> pd.DataFrame:
        """Every change in order, undo and redo included (the last one of an id is its label):
        columns ``time``, id, ``label``, ``prev``, ``source``, ``user`` and ``op``."""
        self.refresh()
        with self._thread_lock:
            entries = list(self._history)
        columns = ["label", "prev", "source", "user", "op"]
        return self._table(entries, columns)[["time", self.id_column, *columns]]

    def _table(self, entries: list[Entry], columns: list[str]) -> pd.DataFrame:
        times = pd.to_datetime([e.time for e in entries], utc=True, format="ISO8601")
        frame = pd.DataFrame(
            {
                self.id_column: pd.Series([e.id for e in entries], dtype=object),
                "time": pd.Series(times.as_unit("us")),
            }
        )
        for column in columns:
            frame[column] = pd.Series([getattr(e, column) for e in entries], dtype=object)
        return frame

    def series(self) -> pd.Series:
        """Current labels as a Series id → label."""
        return self.labels["label"].rename("label")

    def counts(self) -> pd.Series:
        """Number of galaxies per label (classes with no galaxy included as 0 when known)."""
        counts = self.series().value_counts()
        if self._classes is not None:
            counts = counts.reindex(
                self._classes + [c for c in counts.index if c not in self._classes]
            )
            counts = counts.fillna(0).astype(int)
        return counts.rename("count")

    def get(self, id: str) -> Label | None:
        """The label of one galaxy, or ``None``."""
        self.refresh()
        with self._thread_lock:
            record = self._current.get(str(id))
        return None if record is None else record.label

    def __len__(self) -> int:
        self.refresh()
        return len(self._current)

    def __contains__(self, id: object) -> bool:
        return self.get(str(id)) is not None

    def __repr__(self) -> str:
        return f"LabelStore({self.location!r}, {len(self)} labelled)"

    @property
    def can_undo(self) -> bool:
        """Whether there is an operation to undo."""
        self.refresh()
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone operation to redo."""
        self.refresh()
        return bool(self._redo)

    def refresh(self) -> list[str]:
        """Pick up records appended by other stores or processes; returns the ids they changed
        (after calling the ``on_change`` callbacks with them).

        Cheap when nothing changed (one ``stat``, or one ``max(seq)`` query); called by every
        read and, after :meth:`watch`, every ``interval`` seconds.
        """
        if not self._backend.changed():
            return []
        with self._thread_lock, self._backend.locked(write=False):
            changed = self._sync()
        self._notify(changed)
        return changed

    # ------------------------------------------------------------------------------------------
    # Watching and closing
    # ------------------------------------------------------------------------------------------

    def watch(self, interval: float = 0.5) -> None:
        """Refresh every ``interval`` seconds on a daemon thread, so that changes by other
        stores (other processes, other people) reach the ``on_change`` callbacks by themselves.

        Idempotent; :meth:`close` stops it. Errors (e.g. the log was deleted) are warned once
        and watching goes on.
        """
        if interval <= 0:
            raise DataError(f"interval must be positive, got {interval!r}")
        with self._thread_lock:
            if self._watcher is not None:
                return
            self._watcher = JobRunner("label-watch")
            self._watch_next(self._watcher, interval, None)

    @property
    def unreadable(self) -> list[str]:
        """The records read but skipped because they could not be used: where each is (file and
        line, or table row) and why. Each was also warned about once."""
        return list(self._unreadable)

    @property
    def watching(self) -> bool:
        """Whether :meth:`watch` is running."""
        return self._watcher is not None

    def close(self) -> None:
        """Stop watching and release the backend's connections (reads and writes still work,
        reconnecting as needed)."""
        with self._thread_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close(wait=True)
        self._backend.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _watch_next(self, watcher: JobRunner, interval: float, reported: str | None) -> None:
        """Refresh ``interval`` seconds from now, then schedule the next refresh (until
        :meth:`close` closes ``watcher``); an error is warned once until it changes."""

        def refresh() -> None:
            nonlocal reported
            try:
                self.refresh()
                reported = None
            except Exception as error:
                if str(error) != reported:
                    reported = str(error)
                    warnings.warn(f"watching the labels at {self.location}: {error}", stacklevel=1)
            self._watch_next(watcher, interval, reported)

        watcher.submit(refresh, key="refresh", delay=interval)

    # ------------------------------------------------------------------------------------------
    # Changing
    # ------------------------------------------------------------------------------------------

    def set(self, ids: str | Iterable[str], label: Label, source: str = "python") -> list[str]:
        """Label one galaxy or many as ``label``; returns the ids whose label changed.

        The whole call is one operation (one undo step). Unknown ids or classes raise
        :class:`~galwidget.DataError` and nothing is written; a write that fails raises
        :class:`LabelStorageError` and nothing changes.
        """
        label = self.check_label(label)
        wanted = self._check_ids(ids)
        return self._write(lambda: ([(i, label) for i in wanted], None), source)

    def remove(self, ids: str | Iterable[str], source: str = "python") -> list[str]:
        """Remove the labels of one galaxy or many; returns the ids that had one."""
        wanted = self._check_ids(ids)
        return self._write(lambda: ([(i, None) for i in wanted], None), source)

    def undo(self) -> list[str]:
        """Undo the latest operation in the log (a whole bulk operation at once).

        Returns the ids it changed (empty when there is nothing to undo).
        """
        return self._write(self._undo_plan, "undo")

    def redo(self) -> list[str]:
        """Redo the latest undone operation; returns the ids it changed."""
        return self._write(self._redo_plan, "redo")

    def import_labels(
        self,
        source: pd.DataFrame | pd.Series | str | os.PathLike[str],
        id_column: str | None = None,
        label_column: str = "label",
    ) -> list[str]:
        """Import labels from a DataFrame, a Series id → label, a CSV/parquet file, a label log
        or a JSON-lines table (``.jsonl``; the source file is only read).

        Missing (NaN) labels are skipped. Unknown ids, unknown classes or one id given two labels
        raise :class:`~galwidget.DataError` and nothing is applied. The import is one operation.
        """
        ids, labels = self._read_table(source, id_column, label_column)
        valid = pd.notna(pd.Series(labels, dtype=object)).to_numpy()
        ids = [str(i) for i in np.asarray(ids, dtype=object)[valid]]
        labels = [self.check_label(v) for v in np.asarray(labels, dtype=object)[valid]]
        self._check_ids(ids)
        pairs = pd.DataFrame({"id": ids, "label": pd.Series(labels, dtype=object)})
        conflicting = pairs.drop_duplicates().loc[lambda f: f["id"].duplicated(), "id"]
        if len(conflicting):
            raise DataError(f"ids with two different labels in the import: {preview(conflicting)}")
        pairs = pairs.drop_duplicates()
        changes = list(zip(pairs["id"], pairs["label"], strict=True))
        return self._write(lambda: (changes, None), "import")

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the current labels (id, label, time, source, user) to a CSV file.

        :meth:`import_labels` reads it back as it was: a cell naming a class is that class, even
        ``""`` or ``"NA"``. Without classes, labels that CSV readers take for missing (``""``,
        ``"NA"``, ``"null"``, …) are written with a warning: :meth:`to_parquet` keeps them.
        """
        path = Path(path)
        frame = self.labels.reset_index()
        if self._classes is None:
            lost = [v for v in frame["label"] if isinstance(v, str) and v in CSV_MISSING]
            if lost:
                warnings.warn(
                    f"{len(lost)} labels such as {lost[0]!r} read back from {path.name} as "
                    f"missing (there are no classes to tell them apart); to_parquet keeps them",
                    stacklevel=2,
                )
        frame.to_csv(path, index=False)
        return path

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the current labels to a parquet file (mixed-type labels are stored as text)."""
        path = Path(path)
        frame = self.labels.reset_index()
        if frame["label"].dtype == object:
            frame["label"] = frame["label"].astype(str)
        frame.to_parquet(path, index=False)
        return path

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(changed_ids)`` after every persisted change, including changes by other
        stores picked up by :meth:`refresh` (on the watcher thread after :meth:`watch`)."""
        self._callbacks.append(callback)

    # ------------------------------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------------------------------

    def check_label(self, label: Any) -> Label:
        """``label`` as this store keeps it (a numpy scalar as a Python value, a class given as a
        number as its name); :class:`~galwidget.DataError` for an unknown class or, without
        classes, for a label that is not a finite string or number."""
        if isinstance(label, np.generic):
            label = label.item()
        if isinstance(label, str):
            _check_text(label, "the label")
        if self._classes is not None:
            if label in self._classes:
                return label
            if str(label) in self._classes and not isinstance(label, float):
                return str(label)
            raise DataError(f"unknown class {label!r}; the classes are: {', '.join(self._classes)}")
        if isinstance(label, float) and not math.isfinite(label):
            raise DataError(f"labels must be finite, got {label!r}")
        if not isinstance(label, str | int | float | bool):
            raise DataError(f"a label must be a string or a number, got {type(label).__name__}")
        return label

    def _check_ids(self, ids: str | Iterable[Any]) -> list[str]:
        wanted = [str(ids)] if isinstance(ids, str) else [str(i) for i in ids]
        wanted = list(dict.fromkeys(wanted))
        if self._ids is not None and wanted:
            known = self._ids.locate(wanted) >= 0
            if not known.all():
                missing = [i for i, ok in zip(wanted, known, strict=True) if not ok]
                raise DataError(f"unknown {self.id_column} ids: {preview(missing)}")
        for id_ in wanted:
            if not id_:
                raise DataError("an id must be a non-empty string, got ''")
            _check_text(id_, "the id")
        return wanted

    def _read_table(
        self, source: Any, id_column: str | None, label_column: str
    ) -> tuple[Sequence[Any], Sequence[Any]]:
        if isinstance(source, pd.Series):
            return list(source.index), list(source)
        if not isinstance(source, pd.DataFrame):
            path = Path(source)
            if path.suffix.lower() == ".jsonl" and _is_file(path) and is_label_log(path):
                labels = LabelStore(path, check_fingerprint=False, read_only=True).labels
                return list(labels.index), list(labels["label"])
            source = _read_file(path)
            if path.suffix.lower() in {".csv", ".tsv"} and label_column in source.columns:
                source[label_column] = self._csv_labels(source[label_column])
        id_column = id_column or next(
            (c for c in (self.id_column, "id") if c in source.columns), None
        )
        if id_column is None or id_column not in source.columns:
            raise DataError(
                f"no id column to import: pass id_column=; columns: {preview(list(source.columns))}"
            )
        if label_column not in source.columns:
            raise DataError(
                f"no label column {label_column!r}; columns: {preview(list(source.columns))}"
            )
        return list(source[id_column]), list(source[label_column])

    def _csv_labels(self, cells: pd.Series) -> pd.Series:
        """A label column read from CSV as text: a cell naming a class is that class (even "" or
        "NA"); other cells pandas reads as missing are missing; without classes, numbers are
        numbers when every label is one (interest scores)."""
        classes = set(self._classes or ())
        missing = cells.map(lambda cell: cell in CSV_MISSING and cell not in classes)
        labels = cells.astype(object).where(~missing.astype(bool), None)
        return labels if self._classes is not None else _numbers_back(labels)

    # ------------------------------------------------------------------------------------------
    # Replaying the records
    # ------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._current: dict[str, Entry] = {}
        self._ops: dict[str, list[tuple[str, Label | None, Label | None]]] = {}
        self._undo: list[str] = []
        self._redo: list[str] = []
        self._history: list[Entry] = []
        self._frame = None
        self._unreadable: list[str] = []

    def _undo_plan(self) -> Plan:
        if not self._undo:
            return [], None
        op = self._undo[-1]
        return [(i, prev) for i, _, prev in reversed(self._ops[op])], ("undoes", op)

    def _redo_plan(self) -> Plan:
        if not self._redo:
            return [], None
        op = self._redo[-1]
        return [(i, label) for i, label, _ in self._ops[op]], ("redoes", op)

    def _write(self, plan: Callable[[], Plan], source: str) -> list[str]:
        """Append one operation, planned from the up-to-date state under the lock; then read it
        back (so memory only shows what was saved)."""
        if source not in SOURCES:
            raise DataError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if self.read_only:
            raise LabelStorageError(
                errno.EROFS, f"the labels at {self.location} are read-only: nothing was saved"
            )
        external: list[str] = []
        try:
            with self._thread_lock:
                with self._backend.locked(write=True):
                    external = self._sync()
                    records = self._records(*plan(), source)
                    for number, record in enumerate(records, 1):  # never write what cannot be read
                        check_record(self._unwritten, number, record)
                    if records:
                        self._backend.append(records)
                if not records:
                    return []
                with self._backend.locked(write=False):
                    changed = self._sync()
        finally:
            self._notify(external)
        self._notify(changed)
        return changed

    def _unwritten(self, number: int) -> str:
        return f"record {number} of a change to {self.location} (nothing was written)"

    def _records(
        self, changes: list[tuple[str, Label | None]], link: tuple[str, str] | None, source: str
    ) -> list[dict[str, Any]]:
        op, time = uuid.uuid4().hex[:12], _now()
        records = []
        for id_, label in changes:
            previous = self._current.get(id_)
            prev = None if previous is None else previous.label
            if prev == label and type(prev) is type(label):
                continue
            record = {"op": op, "id": id_, "label": label, "prev": prev, "time": time}
            record.update(source=source, user=self.user)
            if link is not None:
                record[link[0]] = link[1]
            records.append(record)
        return records

    def _sync(self) -> list[str]:
        """Replay the records after the accepted position (the caller holds the backend lock).
        Every record is checked before any is applied; those that cannot be used are skipped
        and reported in one warning (and in :attr:`unreadable`)."""
        reset, located = self._backend.read()
        if reset:
            previous = list(self._current)
            self._reset()
            self.header = {}
        if not self.header and self._backend.header is not None:
            self._check_header(self._backend.header)
        entries, problems = self._usable(located)
        self._backend.accept()
        if problems:
            self._unreadable.extend(problems)
            shown = "; ".join(problems[:SHOWN_UNREADABLE])
            more = len(problems) - SHOWN_UNREADABLE
            warnings.warn(
                f"{len(problems)} label record(s) in {self.location} could not be used and were "
                f"skipped; every other label is read, and the records are left where they are "
                f"(fix or delete them; store.unreadable lists them): {shown}"
                + (f"; and {more} more" if more > 0 else ""),
                stacklevel=4,
            )
        changed = dict.fromkeys(previous) if reset else {}
        for entry in entries:
            self._apply(entry)
            changed[entry.id] = None
        if changed:
            self._frame = None
        return list(changed)

    def _check_header(self, header: dict[str, Any]) -> None:
        if header.get("version", 0) > VERSION:
            raise DataError(
                f"{self.location} was written by a newer galwidget (format version "
                f"{header['version']}, this one reads {VERSION}); upgrade galwidget"
            )
        theirs = header.get("fingerprint")
        if (
            self._check_fingerprint
            and self.fingerprint
            and theirs not in self._fingerprints | {None}
        ):
            raise DataError(
                f"the label log {self.location} was written for different data (fingerprint "
                f"{theirs}, this data has {self.fingerprint}: the ids or features differ). To use "
                f"those labels anyway, open it with LabelStore(..., check_fingerprint=False) or "
                f"copy them into this data's store with store.import_labels({self.location!r})"
            )
        self.header = dict(header)
        self.fingerprint = self.fingerprint or theirs

    def _usable(self, located: list[Located]) -> tuple[list[Entry], list[str]]:
        """The entries of the records that can be applied, in order, and what is wrong with each
        of the others (naming where it is)."""
        where = self._backend.where
        checked: list[tuple[int, Entry]] = []
        problems: list[str] = []
        for number, record in located:
            try:
                checked.append((number, check_record(where, number, record)))
            except DataError as error:
                problems.append(str(error))
        if self._ids is not None and checked:
            known = self._ids.locate([e.id for _, e in checked]) >= 0
            for index in np.flatnonzero(~known):
                number, entry = checked[index]
                problems.append(
                    f"{where(number)}: {self.id_column} {entry.id!r} is not an id of this data "
                    f"(labels of other data? open them with ids=None and check_fingerprint=False)"
                )
            checked = [pair for pair, ok in zip(checked, known, strict=True) if ok]
        entries: list[Entry] = []
        ops = set(self._ops)
        for number, entry in checked:
            target = entry.undoes or entry.redoes
            if target is not None and target not in ops:
                problems.append(
                    f"{where(number)}: it undoes or redoes an unknown operation {target!r}"
                )
                continue
            ops.add(entry.op)
            entries.append(entry)
        return entries, problems

    def _apply(self, entry: Entry) -> None:
        if entry.op not in self._ops:  # the first record of a new operation
            if entry.undoes is not None:
                _move(entry.undoes, self._undo, self._redo)
            elif entry.redoes is not None:
                _move(entry.redoes, self._redo, self._undo)
            else:
                self._undo.append(entry.op)
                self._redo.clear()
            self._ops[entry.op] = []
        if entry.undoes is None and entry.redoes is None:
            self._ops[entry.op].append((entry.id, entry.label, entry.prev))
        if entry.label is None:
            self._current.pop(entry.id, None)
        else:
            self._current[entry.id] = entry
        self._history.append(entry)

    def _notify(self, changed: list[str]) -> None:
        if changed:
            for callback in list(self._callbacks):
                callback(changed)


def _move(op: str, source: list[str], target: list[str]) -> None:
    if op in source:
        source.remove(op)
    target.append(op)


def _adopt(legacy: Path, path: Path) -> Path:
    """Rename a log found under a legacy fingerprint to ``path`` (never over an existing file);
    where that is impossible (a read-only folder), keep using it where it is."""
    try:
        os.link(legacy, path)
    except FileExistsError:
        return path
    except OSError:
        return legacy
    try:
        os.unlink(legacy)
    except FileNotFoundError:
        pass
    return path


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long
        return False


def _read_file(path: Path) -> pd.DataFrame:
    """A table to import from a CSV/TSV, parquet or JSON-lines file; :class:`DataError` naming
    the file for anything else."""
    if not _is_file(path):
        raise DataError(f"no such file: {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".tsv", ".parquet", ".pq", ".jsonl"}:
        raise DataError(f"cannot import {path.name!r}: expected .csv, .parquet or .jsonl")
    try:
        if suffix == ".jsonl":
            return _read_jsonl(path)
        if suffix in {".parquet", ".pq"}:
            check_file_kind(path, "parquet")
            return pd.read_parquet(path)
        check_file_kind(path, "CSV")
        # Every cell as its text ("" and "NA" too): which cells are missing is decided per column.
        return pd.read_csv(
            path, sep="\t" if suffix == ".tsv" else ",", dtype=object, keep_default_na=False
        )
    except DataError:
        raise
    except (OSError, ValueError) as error:  # pyarrow's and pandas' parse errors included
        raise DataError(f"cannot import {path}: {type(error).__name__}: {error}") from None


def _read_jsonl(path: Path) -> pd.DataFrame:
    """A JSON-lines table (one object per line), read only."""
    try:
        return pd.read_json(path, lines=True, dtype=False)
    except ValueError as error:
        raise DataError(
            f"cannot import {path}: it is neither a galwidget label log nor a JSON-lines table "
            f"({error})"
        ) from None


def _numbers_back(column: pd.Series) -> pd.Series:
    """A label column read from CSV as text, as numbers if every label is one (interest scores)."""
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() != column.notna().sum():
        return column
    return pd.Series(
        [int(v) if float(v).is_integer() else float(v) for v in numbers.dropna()],
        index=numbers.dropna().index,
        dtype=object,
    ).reindex(column.index)
