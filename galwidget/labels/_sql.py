"""Label logs in a SQL database (SQLAlchemy 2): PostgreSQL for teams on several machines, SQLite.

``LabelStore(path="postgresql://user@host/db", fingerprint=…)`` (or ``"sqlite:///labels.db"``)
keeps the same records as the JSON-lines log (see :mod:`galwidget.labels`) as rows, one log per
data fingerprint, in two tables it creates when missing:

- ``galwidget_label_logs``: one row per log: ``name`` (the fingerprint), ``format``, ``version``,
  ``fingerprint``, ``id_column``, ``created``;
- ``galwidget_labels``: one row per record: ``seq`` (increasing), ``log``, ``op``, ``id``,
  ``label`` and ``prev`` (JSON text, NULL for none), ``time`` (UTC ISO text), ``source``,
  ``user_name``, ``undoes``, ``redoes``.

Invariants: writers of one log are serialised (a transaction-scoped advisory lock in PostgreSQL,
``BEGIN IMMEDIATE`` in SQLite), so ``seq`` order is commit order and a reader that has seen
``seq`` ≤ n has seen every committed record ≤ n. A change is acknowledged only after its
transaction committed; a failed commit is a :class:`~galwidget.LabelStorageError` and changes
nothing, and so is a lock held by another writer for longer than the lock timeout (PostgreSQL's
``lock_timeout``, SQLite's busy timeout: the same number of seconds). Other processes' changes are found by polling ``max(seq)``; rows deleted behind the
store's back are noticed (the log is read again, with a warning).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from galwidget.errors import DataError
from galwidget.labels._records import (
    FORMAT,
    LOCK_TIMEOUT,
    LabelStorageError,
    Located,
    Unreadable,
    lock_timeout_error,
)

__all__ = ["SQLLog", "connect"]

METADATA = MetaData()
LOGS = Table(
    "galwidget_label_logs",
    METADATA,
    Column("name", String(128), primary_key=True),
    Column("format", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("fingerprint", String(128)),
    Column("id_column", Text, nullable=False),
    Column("created", String(40), nullable=False),
)
RECORDS = Table(
    "galwidget_labels",
    METADATA,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("log", String(128), nullable=False),
    Column("op", String(64), nullable=False),
    Column("id", Text, nullable=False),
    Column("label", Text),
    Column("prev", Text),
    Column("time", String(40), nullable=False),
    Column("source", String(16), nullable=False),
    Column("user_name", Text),
    Column("undoes", String(64)),
    Column("redoes", String(64)),
    Index("galwidget_labels_log_seq", "log", "seq"),
    sqlite_autoincrement=True,  # never reuse a deleted seq
)
# Advisory-lock key of table creation in PostgreSQL (per-log keys are hashed from the name).
SETUP_KEY = 0x6761_6C77_6964
# PostgreSQL's SQLSTATE of a lock wait cut off by lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"


def connect(url: str, *, lock_timeout: float = LOCK_TIMEOUT) -> Engine:
    """An engine for ``url``: ``postgresql://`` uses psycopg 3; SQLite transactions start with
    ``BEGIN IMMEDIATE`` (one writer at a time, no lost snapshot). Either waits at most
    ``lock_timeout`` seconds for a lock. A URL that is not one is a :class:`DataError`."""
    try:
        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise DataError(f"{url!r}: a label database must be a file (sqlite:///path.db)")
            engine = create_engine(parsed, connect_args={"timeout": lock_timeout})
            event.listen(engine, "connect", _sqlite_manual_transactions)
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            return engine
        # libpq's options: lock waits (the advisory locks included) end after lock_timeout.
        options = " ".join(
            filter(None, [str(parsed.query.get("options", "")), _pg_lock_option(lock_timeout)])
        )
        return create_engine(parsed, pool_pre_ping=True, connect_args={"options": options})
    except (ArgumentError, ValueError, TypeError) as error:  # DataError is a ValueError
        if isinstance(error, DataError):
            raise
        raise DataError(
            f"not a label database URL: {url!r} ({error}); write postgresql://user@host/database "
            f"or sqlite:///path.db"
        ) from None
    except ImportError as error:
        raise DataError(
            f"{url!r} needs a database driver galwidget does not have: pip install "
            f"'galwidget[db]' for PostgreSQL ({error})"
        ) from None


def _pg_lock_option(seconds: float) -> str:
    return f"-c lock_timeout={max(1, round(seconds * 1000))}"


def _sqlite_manual_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # galwidget emits BEGIN itself


def _writable(database: Path) -> bool:
    """Whether SQLite can write ``database`` (the file, and its folder for the journal)."""
    if not database.exists():
        return True
    return os.access(database, os.W_OK) and os.access(database.parent, os.W_OK)


def _lock_key(name: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


class SQLLog:
    """A label log in a database table (the :class:`galwidget.labels._records.Backend` of URLs).

    Args:
        url: the database URL.
        header: the header of a new log (its ``fingerprint`` names the log).
        read_only: never write.
        legacy_names: earlier names of the same log (legacy fingerprints); a log found under one
            of them is renamed to the current name.
        lock_timeout: seconds to wait for another writer's lock.
    """

    def __init__(
        self,
        url: str,
        *,
        header: dict[str, Any],
        read_only: bool,
        legacy_names: list[str],
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.lock_timeout = lock_timeout
        self.engine = connect(url, lock_timeout=lock_timeout)
        self.url: URL = self.engine.url
        self.location = self.url.render_as_string(hide_password=True)
        self.name = str(header["fingerprint"])
        self._postgres = self.engine.dialect.name == "postgresql"
        self.read_only = read_only or (
            self.engine.dialect.name == "sqlite" and not _writable(Path(str(self.url.database)))
        )
        self._last = 0  # the accepted position: the last seq read
        self._pending = 0
        self._conn: Connection | None = None
        self.header: dict[str, Any] | None = None
        try:
            with self.engine.begin() as conn:
                if self._postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SETUP_KEY})
                if not self.read_only:
                    METADATA.create_all(conn)
                if self._postgres and not self.read_only:  # e.g. a role that may only SELECT
                    self.read_only = not conn.execute(
                        text("SELECT has_table_privilege(:t, 'INSERT')"), {"t": RECORDS.name}
                    ).scalar()
                if not self.read_only:
                    self._adopt(conn, legacy_names)
                self.header = self._header(conn, header)
        except SQLAlchemyError as error:
            raise self._error("cannot open the label log", error) from None

    def _header(self, conn: Connection, new: dict[str, Any]) -> dict[str, Any] | None:
        row = conn.execute(select(LOGS).where(LOGS.c.name == self.name)).mappings().first()
        if row is None and not self.read_only:
            conn.execute(insert(LOGS).values(name=self.name, **new))
            return dict(new)
        if row is None:
            return None
        header = {k: v for k, v in row.items() if k != "name"}
        if header["format"] != FORMAT:
            raise DataError(f"the log {self.name} in {self.location} is not a galwidget label log")
        return header

    def _adopt(self, conn: Connection, legacy_names: list[str]) -> None:
        """Rename a log kept under a legacy name, unless one exists under the current name."""
        names = [self.name, *legacy_names]
        found = set(conn.execute(select(LOGS.c.name).where(LOGS.c.name.in_(names))).scalars())
        old = next((n for n in legacy_names if n in found), None)
        if self.name in found or old is None:
            return
        conn.execute(update(LOGS).where(LOGS.c.name == old).values(name=self.name))
        conn.execute(update(RECORDS).where(RECORDS.c.log == old).values(log=self.name))

    def _error(self, doing: str, error: SQLAlchemyError) -> LabelStorageError:
        original = getattr(error, "orig", None)
        reason = str(original or error).strip().splitlines()[0]
        if getattr(original, "sqlstate", None) == LOCK_NOT_AVAILABLE or (
            not self._postgres and "database is locked" in reason
        ):
            return lock_timeout_error(self.location, self.lock_timeout, doing)
        return LabelStorageError(f"{doing} in {self.location}: {reason}")

    @contextmanager
    def locked(self, write: bool) -> Iterator[None]:
        """A transaction, for writers of this log one at a time; commits on exit."""
        try:
            with self.engine.begin() as conn:
                if write and self._postgres:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(self.name)}
                    )
                self._conn = conn
                try:
                    yield
                finally:
                    self._conn = None
        except SQLAlchemyError as error:
            doing = "the label change was NOT saved" if write else "cannot read the labels"
            raise self._error(doing, error) from None

    def changed(self) -> bool:
        try:
            with self.engine.connect() as conn:
                last = conn.execute(
                    select(func.max(RECORDS.c.seq)).where(RECORDS.c.log == self.name)
                ).scalar()
        except SQLAlchemyError as error:
            raise self._error("cannot read the labels", error) from None
        return (last or 0) != self._last

    def read(self) -> tuple[bool, list[Located]]:
        assert self._conn is not None, "read() is called inside locked()"
        rows = self._rows(self._last)
        reset = bool(self._last) and (not rows or rows[0]["seq"] != self._last)
        if reset:
            warnings.warn(
                f"label records of {self.name} in {self.location} were deleted by something "
                f"other than galwidget; the log is read again from the start (labels no longer "
                f"in it are gone)",
                stacklevel=5,
            )
            self._last = 0
            rows = self._rows(0)
        elif self._last:
            rows = rows[1:]
        self._pending = rows[-1]["seq"] if rows else self._last
        return reset, [(row["seq"], self._record(row)) for row in rows]

    def where(self, number: int) -> str:
        return f"row seq={number} of {RECORDS.name} (log {self.name}) in {self.location}"

    def _rows(self, start: int) -> list[Any]:
        query = select(RECORDS).where(RECORDS.c.log == self.name, RECORDS.c.seq >= start)
        assert self._conn is not None
        return list(self._conn.execute(query.order_by(RECORDS.c.seq)).mappings())

    def _record(self, row: Any) -> dict[str, Any] | Unreadable:
        """The log record of a row (:class:`Unreadable` if its label or prev is not JSON)."""
        try:
            label, prev = (
                None if row[c] is None else json.loads(row[c]) for c in ("label", "prev")
            )
        except (ValueError, TypeError, RecursionError):
            return Unreadable(
                f"label or prev is not JSON: {row['label']!r:.60} / {row['prev']!r:.60}"
            )
        record = {k: row[k] for k in ("op", "id", "time", "source", "undoes", "redoes")}
        record.update(label=label, prev=prev, user=row["user_name"])
        return {k: v for k, v in record.items() if v is not None or k in ("label", "prev")}

    def accept(self) -> None:
        self._last = self._pending

    def append(self, records: list[dict[str, Any]]) -> None:
        rows = [
            {
                "log": self.name,
                **{k: r.get(k) for k in ("op", "id", "time", "source", "undoes", "redoes")},
                "label": None if r["label"] is None else json.dumps(r["label"], ensure_ascii=False),
                "prev": None if r["prev"] is None else json.dumps(r["prev"], ensure_ascii=False),
                "user_name": r.get("user"),
            }
            for r in records
        ]
        assert self._conn is not None, "append() is called inside locked(write=True)"
        self._conn.execute(insert(RECORDS), rows)

    def close(self) -> None:
        self.engine.dispose()
