"""The JSON-lines label log file: the default backend of :class:`galwidget.LabelStore`.

Line 1 is a header (``{"format": "galwidget-labels", "version": 1, "fingerprint": …,
"id_column": …, "created": …}``), then one record per line (see :mod:`galwidget.labels._records`).

Invariants: the log is opened per access and locked with an exclusive ``fcntl.flock``; each
operation's records are appended with one ``os.write`` and ``os.fsync``'d before it is
acknowledged; a write that fails (disk full, file-size limit, I/O error) is cut off again and
raised as :class:`~galwidget.LabelStorageError`; a lock held by another writer for longer than the
lock timeout is a :class:`~galwidget.LabelStorageError` too. A file that is not a galwidget log is
never modified. A torn last line (a crash mid-write) is moved to ``<log>.corrupt-<time>`` and cut
off (only ignored, with a warning, when the log is read-only); any other line that is not JSON is
left where it is and read as :class:`~galwidget.labels._records.Unreadable` (the store skips it
with a warning). A log truncated, rewritten or replaced
behind the store's back is noticed from its device, inode, size, mtime and the bytes before the
read position, and read again from the start with a warning.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from galwidget.errors import DataError
from galwidget.labels._records import (
    FORMAT,
    LOCK_TIMEOUT,
    LabelStorageError,
    Located,
    Unreadable,
    lock_timeout_error,
)

__all__ = ["LogFile", "is_label_log"]

# How every galwidget log starts (json.dumps of the header puts "format" first).
HEADER_PREFIX = json.dumps({"format": FORMAT})[:-1].encode()
# Bytes before the read position remembered to notice a log rewritten behind the store's back.
TAIL = 4096
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)
# What a blank line parses as (skipped; unlike a line "null", which is not a record).
BLANK = object()


class LogFile:
    """The JSON-lines log: one fd per access, under ``flock``; position = bytes read so far.

    ``lock_timeout``: seconds to wait for another writer's ``flock``.
    """

    def __init__(
        self,
        path: Path,
        *,
        header: dict[str, Any],
        read_only: bool,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.path = path
        self.location = str(path)
        self.read_only = read_only
        self.lock_timeout = lock_timeout
        self.header: dict[str, Any] | None = None
        self._new_header = header
        self._fd = -1
        # The accepted position: bytes and lines read, the bytes before it, and the file's
        # (device, inode, size, mtime) then.
        self._offset = self._lines = 0
        self._tail = b""
        self._stamp: tuple[int, ...] = ()
        self._pending: tuple[int, int, bytes, tuple[int, ...]] = (0, 0, b"", ())
        self._warned_tail: tuple[int, int] | None = None
        if path.exists() and not path.is_file():
            raise DataError(
                f"the label log {path} is not a regular file (a folder, FIFO or device)"
            )
        if not read_only:
            self._create()

    def _create(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644))
        except OSError as error:
            if error.errno not in NOT_WRITABLE or not self.path.is_file():
                raise LabelStorageError(
                    error.errno, f"cannot create the label log {self.path}: {error.strerror}"
                ) from None
            self.read_only = True

    @contextmanager
    def locked(self, write: bool) -> Iterator[None]:
        try:
            fd = os.open(self.path, os.O_RDONLY if self.read_only else os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            raise DataError(f"the label log {self.path} has disappeared") from None
        except OSError as error:
            raise LabelStorageError(
                error.errno, f"cannot open the label log {self.path}: {error.strerror}"
            ) from None
        try:
            self._lock(fd, write)
            self._fd = fd
            yield
        finally:
            self._fd = -1
            os.close(fd)  # releases the flock

    def _lock(self, fd: int, write: bool) -> None:
        """Take the exclusive ``flock``, waiting at most ``lock_timeout`` seconds.

        When the log is locked, a thread waits in a blocking ``flock`` on a duplicate of ``fd``
        (the same open file, so the lock is ``fd``'s), keeping the kernel's fair hand-over
        between writers; given up on, it releases the lock as soon as it gets it.
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        duplicate = os.dup(fd)
        acquired = threading.Event()
        guard = threading.Lock()
        abandoned = False

        def wait() -> None:
            try:
                fcntl.flock(duplicate, fcntl.LOCK_EX)
                with guard:
                    if not abandoned:
                        acquired.set()
                        return
                fcntl.flock(duplicate, fcntl.LOCK_UN)
            finally:
                os.close(duplicate)  # fd still holds the lock when it was taken in time

        threading.Thread(target=wait, name="galwidget-log-lock", daemon=True).start()
        if acquired.wait(self.lock_timeout):
            return
        with guard:
            if acquired.is_set():
                return
            abandoned = True
        doing = "the label change was NOT saved" if write else "cannot read the labels"
        raise lock_timeout_error(self.location, self.lock_timeout, doing)

    def changed(self) -> bool:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return True  # the next read says so
        return _stamp(stat) != self._stamp

    def read(self) -> tuple[bool, list[Located]]:
        fd = self._fd
        stat = os.fstat(fd)
        reset = self._lines > 0 and not self._unchanged(stat)
        if reset:
            warnings.warn(
                f"the label log {self.path} was truncated or replaced by something other than "
                f"galwidget; it is read again from the start (labels no longer in it are gone)",
                stacklevel=5,
            )
            self._offset = self._lines = 0
            self.header = None
        size = stat.st_size
        if size == 0:
            if self.read_only:
                self._pending = (0, 0, b"", _stamp(stat))
                return reset, []
            self._write_header(fd)
            size = os.fstat(fd).st_size
        data = os.pread(fd, size - self._offset, self._offset)
        lines = data.split(b"\n")
        partial = lines.pop()  # bytes after the last newline (b"" if the file ends with one)
        located: list[Located] = []
        position, number, torn = self._offset, self._lines, False
        for i, raw in enumerate(lines):
            try:
                parsed = json.loads(raw) if raw.strip() else BLANK
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                if i == len(lines) - 1 and not partial and self._torn(number, raw):
                    torn = True
                    break
                if number == 0:
                    raise self._not_a_log(raw) from None
                parsed = Unreadable(f"not JSON ({raw[:80]!r}); the line is left as it is")
            position += len(raw) + 1
            number += 1
            if number == 1:
                if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
                    raise self._not_a_log(raw)
                self.header = parsed
            elif parsed is not BLANK:
                located.append((number, parsed))
        if partial and not torn:
            if not self._torn(number, partial):
                raise self._not_a_log(partial)
            torn = True
        if torn and not self.read_only:
            self._repair(position, size)
            again, located = self.read()
            return reset or again, located
        if torn and self._warned_tail != (position, size):
            self._warned_tail = (position, size)
            warnings.warn(
                f"the last line of the read-only label log {self.path} is incomplete (probably "
                f"a crash while writing); it is ignored",
                stacklevel=5,
            )
        start = max(0, position - TAIL)
        tail = os.pread(fd, position - start, start)
        self._pending = (position, number, tail, _stamp(os.fstat(fd)))
        return reset, located

    def accept(self) -> None:
        self._offset, self._lines, self._tail, self._stamp = self._pending

    def where(self, number: int) -> str:
        return f"line {number} of the label log {self.path}"

    def _unchanged(self, stat: os.stat_result) -> bool:
        """Whether the bytes read so far are still there (same file, not rewritten)."""
        if (stat.st_dev, stat.st_ino) != self._stamp[:2] or stat.st_size < self._offset:
            return False
        start = self._offset - len(self._tail)
        return os.pread(self._fd, len(self._tail), start) == self._tail

    def _not_a_log(self, line: bytes) -> DataError:
        return DataError(
            f"{self.path} is not a galwidget label log (line 1: {line[:80]!r}); it was left "
            f"untouched"
        )

    def _torn(self, lines_before: int, raw: bytes) -> bool:
        """Whether ``raw``, an unparsable last line, is a record or header cut short by a crash
        (rather than a sign that this is not a galwidget log at all)."""
        if lines_before > 0:
            return True
        return raw.startswith(HEADER_PREFIX) or HEADER_PREFIX.startswith(raw)

    def _repair(self, start: int, size: int) -> None:
        """Move a torn last line (a crash mid-write) to ``<log>.corrupt-<time>`` and truncate."""
        fd = self._fd
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            with open(backup, "wb") as out:
                out.write(os.pread(fd, size - start, start))
                out.flush()
                os.fsync(out.fileno())
            os.ftruncate(fd, start)
            os.fsync(fd)
        except OSError as error:
            raise LabelStorageError(
                error.errno, f"cannot repair the torn end of the label log {self.path}: {error}"
            ) from None
        warnings.warn(
            f"the last line of the label log {self.path} was incomplete, probably from a crash "
            f"while writing; it was skipped and saved to {backup.name}. All earlier labels are "
            f"intact.",
            stacklevel=6,
        )

    def _write_header(self, fd: int) -> None:
        header = (json.dumps(self._new_header) + "\n").encode()
        try:
            _write_all(fd, header)
            os.fsync(fd)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            _truncate_quietly(fd, 0)
            raise LabelStorageError(
                error.errno, f"cannot write the label log {self.path}: {error.strerror}"
            ) from None

    def append(self, records: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        fd = self._fd
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as error:
            _truncate_quietly(fd, start)
            raise LabelStorageError(
                error.errno,
                f"the label change was NOT saved: writing the label log {self.path} failed "
                f"({error.strerror}); the labels are as they were",
            ) from None

    def close(self) -> None:
        """Nothing to release: the log is opened per access."""


def _stamp(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _truncate_quietly(fd: int, size: int) -> None:
    """Cut off a failed write; if even that fails, the next read repairs the torn end."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass


def is_label_log(path: Path) -> bool:
    """Whether ``path`` begins like a galwidget label log (read only)."""
    with open(path, "rb") as file:
        return file.read(len(HEADER_PREFIX)) == HEADER_PREFIX
