"""The label store: the canonical, crash-safe labels of one data set.

Every change is appended to a JSON-lines log (one record per labelled galaxy, a header line first)
and ``os.fsync``'d before the call returns; the current labels are the replay of that log.

Log format (version 1)::

    {"format": "galwidget-labels", "version": 1, "fingerprint": "…", "id_column": "iauname", …}
    {"op": "<operation id>", "id": "J…", "label": "ring", "prev": null, "time": "<UTC ISO>",
     "source": "key"}
    {"op": "…", "id": "J…", "label": null, "prev": "ring", …, "source": "undo", "undoes": "<op>"}

``label`` ``null`` means the label was removed; ``prev`` is the label before the change, which is
what makes undo possible after a restart. All records of one call share an operation id and are
written with one ``os.write`` under an exclusive ``fcntl.flock``, so several stores (in one process
or many) can append to the same log without interleaving. Undo and redo are themselves records,
so the undo history survives restarts; it is the history of the log, whichever store wrote it.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galwidget.data import DataError, Representations, _preview

__all__ = ["Classes", "LabelStore", "class_names"]

FORMAT = "galwidget-labels"
VERSION = 1
SOURCES = ("key", "bulk", "python", "import", "undo", "redo")
MAX_KEYS = 9

Label = str | int | float | bool
# Allowed labels: class names (keys "1".."9" in order), a dict name → key, or None for any label.
Classes = Sequence[Hashable] | Mapping[Hashable, str] | None
ChangeCallback = Callable[[list[str]], Any]
# The changes of one operation, and for undo/redo the operation it undoes or redoes.
Plan = tuple[list[tuple[str, "Label | None"]], tuple[str, str] | None]


@dataclass(frozen=True)
class _Record:
    id: str
    label: Label | None
    time: str
    source: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_labels_dir() -> Path:
    """``$GALWIDGET_LABELS_DIR``, else ``./galwidget-labels`` (next to the notebook)."""
    return Path(os.environ.get("GALWIDGET_LABELS_DIR") or Path.cwd() / "galwidget-labels")


def class_names(classes: Classes) -> list[str] | None:
    """The class names of ``classes`` in order (``None`` stays ``None``: any label allowed)."""
    if classes is None:
        return None
    names = [str(c) for c in classes]
    if not names:
        raise DataError("classes must name at least one class (or be None to allow any label)")
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
    """The labels of one data set, persisted to an append-only, fsync'd log.

    Args:
        path: the log file; default ``<labels dir>/<fingerprint>.jsonl`` where the labels dir is
            ``$GALWIDGET_LABELS_DIR`` or ``./galwidget-labels``.
        fingerprint: the data's fingerprint (``reps.fingerprint``), recorded in the log header and
            checked against an existing log.
        ids: the data's ids; when given, labelling an unknown id is an error.
        classes: allowed labels: a list of names (keys "1".."9" in order) or a dict name → key.
            ``None`` allows any string or number (e.g. numeric interest scores).
        id_column: the id column name recorded in the header (default ``ids.name`` or "id").
        check_fingerprint: ``False`` opens a log written for other data (its header is kept).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        fingerprint: str | None = None,
        ids: pd.Index | Sequence[str] | None = None,
        classes: Classes = None,
        id_column: str | None = None,
        check_fingerprint: bool = True,
    ) -> None:
        if path is None:
            if fingerprint is None:
                raise DataError("LabelStore needs a path or the data's fingerprint to name its log")
            path = default_labels_dir() / f"{fingerprint}.jsonl"
        self.path = Path(path)
        self.fingerprint = fingerprint
        self._ids = None if ids is None else pd.Index([str(i) for i in ids])
        self.id_column = id_column or (getattr(ids, "name", None) if ids is not None else None)
        self.id_column = self.id_column or "id"
        self._keys = _key_map(classes)
        self._classes = class_names(classes)
        self._check_fingerprint = check_fingerprint
        self._callbacks: list[ChangeCallback] = []
        self._thread_lock = threading.RLock()
        self._reset()
        self.header: dict[str, Any] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as fd:
            self._sync(fd)

    @classmethod
    def for_data(
        cls,
        reps: Representations,
        path: str | os.PathLike[str] | None = None,
        classes: Classes = None,
    ) -> LabelStore:
        """The label store of ``reps`` (fingerprint, ids and id column taken from it)."""
        return cls(path, reps.fingerprint, reps.ids, classes, id_column=reps.id_column)

    # ------------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------------

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
        """Current labels: index id, columns ``label``, ``time`` (UTC timestamps) and ``source``."""
        self.refresh()
        with self._thread_lock:
            if self._frame is None:
                records = list(self._current.values())
                index = pd.Index([r.id for r in records], name=self.id_column, dtype=object)
                times = pd.to_datetime([r.time for r in records], utc=True, format="ISO8601")
                self._frame = pd.DataFrame(
                    {
                        "label": pd.Series([r.label for r in records], index, dtype=object),
                        "time": pd.Series(times.as_unit("us"), index),
                        "source": pd.Series([r.source for r in records], index, dtype=str),
                    }
                ).infer_objects()
            return self._frame.copy()

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
        return f"LabelStore({str(self.path)!r}, {len(self)} labelled)"

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
        """Pick up records appended by other stores or processes; returns the ids they changed.

        Cheap when nothing changed (one ``stat``); called by every read.
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise DataError(f"the label log {self.path} has disappeared") from None
        if size == self._offset:
            return []
        with self._locked() as fd:
            changed = self._sync(fd)
        self._notify(changed)
        return changed

    # ------------------------------------------------------------------------------------------
    # Changing
    # ------------------------------------------------------------------------------------------

    def set(self, ids: str | Iterable[str], label: Label, source: str = "python") -> list[str]:
        """Label one galaxy or many as ``label``; returns the ids whose label changed.

        The whole call is one operation (one undo step). Unknown ids or classes raise
        :class:`~galwidget.DataError` and nothing is written.
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
        """Import labels from a DataFrame, a Series id → label, a CSV/parquet file or a label log.

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
            raise DataError(f"ids with two different labels in the import: {_preview(conflicting)}")
        pairs = pairs.drop_duplicates()
        changes = list(zip(pairs["id"], pairs["label"], strict=True))
        return self._write(lambda: (changes, None), "import")

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the current labels (id, label, time, source) to a CSV file."""
        path = Path(path)
        self.labels.reset_index().to_csv(path, index=False)
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
        stores picked up by :meth:`refresh`."""
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
            known = pd.Index(wanted).isin(self._ids)
            if not known.all():
                missing = [i for i, ok in zip(wanted, known, strict=True) if not ok]
                raise DataError(f"unknown {self.id_column} ids: {_preview(missing)}")
        return wanted

    def _read_table(
        self, source: Any, id_column: str | None, label_column: str
    ) -> tuple[Sequence[Any], Sequence[Any]]:
        if isinstance(source, pd.Series):
            return list(source.index), list(source)
        if not isinstance(source, pd.DataFrame):
            path = Path(source)
            if not path.exists():
                raise DataError(f"no such file: {path}")
            suffix = path.suffix.lower()
            if suffix == ".jsonl":
                labels = LabelStore(path, check_fingerprint=False).labels
                return list(labels.index), list(labels["label"])
            if suffix in {".parquet", ".pq"}:
                source = pd.read_parquet(path)
            elif suffix in {".csv", ".tsv"}:
                source = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=object)
                if label_column in source.columns:
                    source[label_column] = _numbers_back(source[label_column])
            else:
                raise DataError(f"cannot import {path.name!r}: expected .csv, .parquet or .jsonl")
        id_column = id_column or next(
            (c for c in (self.id_column, "id") if c in source.columns), None
        )
        if id_column is None or id_column not in source.columns:
            raise DataError(
                f"no id column to import: pass id_column=; columns: {_preview(list(source.columns))}"
            )
        if label_column not in source.columns:
            raise DataError(
                f"no label column {label_column!r}; columns: {_preview(list(source.columns))}"
            )
        return list(source[id_column]), list(source[label_column])

    # ------------------------------------------------------------------------------------------
    # The log
    # ------------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._current: dict[str, _Record] = {}
        self._ops: dict[str, list[tuple[str, Label | None, Label | None]]] = {}
        self._undo: list[str] = []
        self._redo: list[str] = []
        self._offset = 0
        self._lines = 0
        self._frame: pd.DataFrame | None = None

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The log opened for appending, under this process's and other processes' lock."""
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield fd
            finally:
                os.close(fd)  # releases the flock

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
        """Append one operation, planned from the up-to-date state under the lock."""
        if source not in SOURCES:
            raise DataError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        with self._locked() as fd:
            external = self._sync(fd)
            changes, link = plan()
            op, time = uuid.uuid4().hex[:12], _now()
            lines = []
            for id_, label in changes:
                previous = self._current.get(id_)
                prev = None if previous is None else previous.label
                if prev == label and type(prev) is type(label):
                    continue
                record = {"op": op, "id": id_, "label": label, "prev": prev, "time": time}
                record["source"] = source
                if link is not None:
                    record[link[0]] = link[1]
                lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            if lines:
                _write_all(fd, "".join(lines).encode())
                os.fsync(fd)
            changed = self._sync(fd)
        self._notify(external)
        self._notify(changed)
        return changed

    def _sync(self, fd: int) -> list[str]:
        """Replay the records after the last read position (the caller holds the lock)."""
        size = os.fstat(fd).st_size
        if size < self._offset:  # truncated by someone else: replay from scratch
            self._reset()
        if size == 0:
            self._write_header(fd)
            size = os.fstat(fd).st_size
        data = os.pread(fd, size - self._offset, self._offset)
        lines = data.split(b"\n")
        partial = lines.pop()  # bytes after the last newline (b"" if the file ends with one)
        changed: dict[str, None] = {}
        position = self._offset
        for i, raw in enumerate(lines):
            number = self._lines + 1
            last = i == len(lines) - 1 and not partial
            try:
                parsed = json.loads(raw) if raw.strip() else None
            except ValueError:
                if last:
                    self._repair(fd, position, size)
                    break
                raise DataError(
                    f"line {number} of the label log {self.path} is corrupt ({raw[:80]!r}); the "
                    f"labels before it are intact. Fix or delete that line to open the log."
                ) from None
            position += len(raw) + 1
            self._lines = number
            self._offset = position
            if parsed is None:
                continue
            if number == 1:
                self._read_header(parsed)
            else:
                changed[self._apply(parsed, number)] = None
        else:
            if partial:
                self._repair(fd, position, size)
        if self._lines == 0:  # the torn line was the header itself
            return self._sync(fd)
        if changed:
            self._frame = None
        return list(changed)

    def _write_header(self, fd: int) -> None:
        header = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "id_column": self.id_column,
            "created": _now(),
        }
        _write_all(fd, (json.dumps(header) + "\n").encode())
        os.fsync(fd)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _read_header(self, header: Any) -> None:
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise DataError(f"{self.path} is not a galwidget label log (line 1: {header!r:.80})")
        if header.get("version", 0) > VERSION:
            raise DataError(
                f"{self.path} was written by a newer galwidget (format version "
                f"{header['version']}, this one reads {VERSION}); upgrade galwidget"
            )
        theirs = header.get("fingerprint")
        if self._check_fingerprint and self.fingerprint and theirs and theirs != self.fingerprint:
            raise DataError(
                f"the label log {self.path} was written for different data (fingerprint {theirs}, "
                f"this data has {self.fingerprint}: the ids or features differ). To use those "
                f"labels anyway, open it with LabelStore(..., check_fingerprint=False) or copy "
                f"them into this data's store with store.import_labels({str(self.path)!r})"
            )
        self.header = header
        self.fingerprint = self.fingerprint or theirs

    def _apply(self, record: Any, number: int) -> str:
        try:
            op, id_, label, prev = record["op"], record["id"], record["label"], record["prev"]
            time, source = record["time"], record["source"]
        except (KeyError, TypeError):
            raise DataError(
                f"line {number} of the label log {self.path} is not a label record: {record!r:.120}"
            ) from None
        if op not in self._ops:  # the first record of a new operation
            if "undoes" in record:
                _move(record["undoes"], self._undo, self._redo)
            elif "redoes" in record:
                _move(record["redoes"], self._redo, self._undo)
            else:
                self._undo.append(op)
                self._redo.clear()
            self._ops[op] = []
        if "undoes" not in record and "redoes" not in record:
            self._ops[op].append((id_, label, prev))
        if label is None:
            self._current.pop(id_, None)
        else:
            self._current[id_] = _Record(id_, label, time, source)
        return id_

    def _repair(self, fd: int, start: int, size: int) -> None:
        """Move a torn last line (a crash mid-write) to ``<log>.corrupt-<time>`` and truncate."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        with open(backup, "wb") as out:
            out.write(os.pread(fd, size - start, start))
            out.flush()
            os.fsync(out.fileno())
        os.ftruncate(fd, start)
        os.fsync(fd)
        warnings.warn(
            f"the last line of the label log {self.path} (line {self._lines + 1}) was incomplete, "
            f"probably from a crash while writing; it was skipped and saved to {backup.name}. "
            f"All earlier labels are intact.",
            stacklevel=4,
        )

    def _notify(self, changed: list[str]) -> None:
        if changed:
            for callback in list(self._callbacks):
                callback(changed)


def _move(op: str, source: list[str], target: list[str]) -> None:
    if op in source:
        source.remove(op)
    target.append(op)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
