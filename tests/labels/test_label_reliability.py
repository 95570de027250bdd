"""Issue 17, kind 1: a record the store wrote is always readable, on every backend (JSONL,
SQLite, a real PostgreSQL server). Validation before writing, one bad record never costs the
rest, clear errors for locations that are not label stores, one lock timeout for all backends."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
import uuid
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgserver import PostgresServer, find_binaries
from sqlalchemy import text

import galwidget as gw
from galwidget.labels._sql import _lock_key, connect

IDS = pd.Index([f"J{i:06d}" for i in range(20)], name="iauname")
CLASSES = ["ring", "spiral", "smooth"]
BINARIES = find_binaries()


@pytest.fixture(scope="module")
def postgres_url():
    if BINARIES is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql (make test does)")
    server = PostgresServer(BINARIES).start()
    yield server.url
    server.stop()


@pytest.fixture(params=["jsonl", "sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """Where a new label log lives, on each backend."""
    if request.param == "jsonl":
        return str(tmp_path / "labels.jsonl")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.db'}"
    return request.getfixturevalue("postgres_url")


def new_fingerprint() -> str:
    return uuid.uuid4().hex[:20]


def append_raw(location: str, fingerprint: str, records: list[dict | str]) -> None:
    """Write records behind the store's back, as a hand edit or another program would: JSON
    lines (a str is written as it is), or rows (a str is the raw label text)."""
    if "://" not in location:
        with open(location, "a") as log:
            for record in records:
                log.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
        return
    engine = connect(location)
    with engine.begin() as conn:
        for record in records:
            if isinstance(record, str):
                record = {"op": "raw", "id": "J000003", "label": record, "time": "2026-01-01"}
            else:
                record = {**record, "label": json.dumps(record["label"])}
            conn.execute(
                text(
                    "INSERT INTO galwidget_labels (log, op, id, label, prev, time, source, "
                    "user_name) VALUES (:log, :op, :id, :label, NULL, :time, 'key', :user)"
                ),
                {"log": fingerprint, "user": record.get("user"), **record},
            )
    engine.dispose()


def store_at(location: str, fingerprint: str, **kwargs) -> gw.LabelStore:
    options = {"ids": IDS, "classes": CLASSES, **kwargs}
    return gw.LabelStore(location, fingerprint, **options)


# -- validate before writing -------------------------------------------------------------------


def test_an_empty_or_non_text_user_is_refused_before_anything_is_written(location):
    fingerprint = new_fingerprint()
    for user, shown in [("", "''"), (5, r"5 \(int\)"), (["alice"], r"\['alice'\] \(list\)")]:
        with pytest.raises(
            gw.DataError, match=f"user name must be a non-empty string.*got {shown}"
        ):
            store_at(location, fingerprint, user=user)
    store = store_at(location, fingerprint, user="alice")
    store.set("J000001", "ring")
    assert store_at(location, fingerprint).labels["user"].tolist() == ["alice"]


def test_explorer_refuses_an_empty_user_at_once(tmp_path):
    reps = gw.Representations.from_array(np.eye(6, dtype=np.float32))
    log = tmp_path / "team.jsonl"
    for labels in ({"user": ""}, {"path": str(log), "user": ""}):
        with pytest.raises(gw.DataError, match="user name must be a non-empty string"):
            gw.Explorer(reps, labels=labels, remember_selection=False)
    assert not log.exists()


def test_an_empty_id_is_refused_without_ids_to_check_against(location):
    store = gw.LabelStore(location, new_fingerprint())  # any id allowed
    with pytest.raises(gw.DataError, match="an id must be a non-empty string"):
        store.set(["J1", ""], "ring")
    assert len(store) == 0 and store.history().empty


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12)
LABELS = st.one_of(
    TEXT,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ids=st.lists(TEXT, min_size=1, max_size=3), label=LABELS, user=TEXT)
def test_whatever_a_store_accepts_reads_back_exactly(tmp_path, ids, label, user):
    """Any id, label and user the store accepts is written so that a new store reads it back:
    nothing it accepts can make the log unreadable (JSONL and SQLite here; PostgreSQL below)."""
    fingerprint = new_fingerprint()  # a log of its own per example
    for location in (str(tmp_path / f"{fingerprint}.jsonl"), f"sqlite:///{tmp_path / 'fuzz.db'}"):
        store = gw.LabelStore(location, fingerprint, user=user)
        try:
            store.set(ids, label)
        except gw.DataError:
            assert len(store) == 0  # refused before writing
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no record may be reported unreadable
                again = gw.LabelStore(location, fingerprint)
            assert again.series().to_dict() == {str(i): label for i in ids}
            assert again.labels["user"].unique().tolist() == [user]
            assert again.unreadable == []
        store.close()


def test_postgresql_reads_back_what_it_accepted(postgres_url):
    fingerprint = new_fingerprint()
    store = gw.LabelStore(postgres_url, fingerprint, user="o'brien; DROP TABLE x --")
    values = ["", "NA", "ring ✓", 2**65, -0.0, 1e308, True, "\\N", "a\tb\nc"]
    for i, value in enumerate(values):
        store.set(f"id {i}", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = gw.LabelStore(postgres_url, fingerprint)
    assert again.series().tolist() == values
    store.close()
    again.close()


# -- one bad record never costs the rest ----------------------------------------------------------


def test_bad_records_are_reported_and_skipped_on_every_backend(location):
    fingerprint = new_fingerprint()
    store_at(location, fingerprint).set("J000001", "ring")
    good = {"op": "hand", "id": "J000002", "label": "spiral", "prev": None, "source": "key"}
    good["time"] = "2026-01-01T10:00:00"  # no offset: UTC
    week = {**good, "op": "week", "id": "J000005", "time": "2026-W01-1"}  # a date pandas refused
    bad = [
        {**good, "op": "x2", "user": ""},
        {**good, "op": "x3", "id": "ghost"},
        {**good, "op": "x4", "label": 1e400},  # JSON's Infinity
        {**good, "op": "x5", "time": "yesterday"},
    ]
    append_raw(location, fingerprint, [*bad, week, good])
    with pytest.warns(UserWarning, match=r"4 label record\(s\) in .* could not be used"):
        store_at(location, fingerprint).set("J000004", "smooth")  # after the bad records
    with pytest.warns(UserWarning, match=r"4 label record\(s\) in .* could not be used") as caught:
        store = store_at(location, fingerprint)
    message = next(str(w.message) for w in caught if "label record" in str(w.message))
    for problem in [
        "user must be a non-empty string",
        "'ghost' is not an id",
        "got inf",
        "'yesterday'",
    ]:
        assert problem in message
    assert store.series().to_dict() == {
        "J000001": "ring",
        "J000002": "spiral",
        "J000004": "smooth",
        "J000005": "spiral",
    }
    assert len(store.unreadable) == 4
    times = store.labels["time"]
    assert times["J000002"] == pd.Timestamp("2026-01-01T10:00:00", tz="UTC")
    assert times["J000005"] == pd.Timestamp("2025-12-29", tz="UTC")
    assert len(store.history()) == 4  # the table of every change builds too
    assert store.undo() == ["J000004"] and store.undo() == ["J000002"]


def test_a_line_that_is_json_but_not_a_record_is_reported(tmp_path):
    path = tmp_path / "labels.jsonl"
    store_at(str(path), "f00d").set("J000001", "ring")
    deep = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError
    append_raw(str(path), "f00d", [deep, "null", "[1, 2]", '"text"', ""])
    with pytest.warns(UserWarning, match=r"4 label record\(s\)"):
        store_at(str(path), "f00d").set("J000002", "smooth")
    with pytest.warns(UserWarning, match=r"4 label record\(s\)") as caught:
        store = store_at(str(path), "f00d")
    # (other warnings, e.g. a garbage-collected connection of an earlier test, may come too)
    message = next(str(w.message) for w in caught if "label record" in str(w.message))
    assert "line 3 of the label log" in message and "not JSON" in message
    assert (
        "line 4 of the label log" in message and "(record None)" in message
    )  # not skipped silently
    assert store.series().to_dict() == {"J000001": "ring", "J000002": "smooth"}


# -- where labels go -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("mysql://team@db/galaxies", r"not in mysql://"),
        ("mongodb+srv://db/x", r"not in mongodb\+srv://"),
        ("postgresql://:::/x", r"not a label database URL: 'postgresql://:::/x'"),
        ("postgresql://db:port/x", r"not a label database URL"),
        ("postgresql+nosuchdriver://db/x", r"not a label database URL"),
        ("", r"must be a file path or a database URL"),
    ],
)
def test_a_location_that_is_not_a_label_store_is_a_clear_error(
    tmp_path, monkeypatch, location, problem
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gw.DataError, match=problem):
        gw.LabelStore(location, "f00d")
    reps = gw.Representations.from_array(np.eye(4, dtype=np.float32))
    with pytest.raises(gw.DataError, match=problem):
        gw.Explorer(reps, labels={"path": location}, remember_selection=False)
    assert list(tmp_path.iterdir()) == []  # no ./mysql:/… folder


# -- CSV round trip --------------------------------------------------------------------------------


def test_the_csv_round_trip_keeps_classes_that_look_missing(tmp_path):
    classes = ["", "NA", "None", "null", "1.0", "ring"]
    ids = [f"J{i}" for i in range(len(classes))]
    store = gw.LabelStore(tmp_path / "a.jsonl", "f00d", [*ids, "J9"], classes)
    for id_, label in zip(ids, classes, strict=True):
        store.set(id_, label)
    csv = store.to_csv(tmp_path / "labels.csv")
    copy = gw.LabelStore(tmp_path / "b.jsonl", "f00d", [*ids, "J9"], classes)
    copy.import_labels(csv)
    assert (
        copy.series().to_dict() == store.series().to_dict() == dict(zip(ids, classes, strict=True))
    )

    # A cell that is missing and names no class is still missing, and ids stay as written.
    (tmp_path / "other.csv").write_text("id,label\nJ9,NA\nJ0,\n")
    other = gw.LabelStore(tmp_path / "c.jsonl", "f00d", [*ids, "J9"], ["ring", "smooth"])
    assert other.import_labels(tmp_path / "other.csv") == []


def test_csv_without_classes_warns_about_labels_it_cannot_keep(tmp_path):
    store = gw.LabelStore(tmp_path / "a.jsonl", "f00d")
    store.set("J1", "NA")
    store.set("J2", 0.5)
    with pytest.warns(
        UserWarning, match="1 labels such as 'NA' read back from labels.csv as missing"
    ):
        csv = store.to_csv(tmp_path / "labels.csv")
    copy = gw.LabelStore(tmp_path / "b.jsonl", "f00d")
    copy.import_labels(csv)
    assert copy.series().to_dict() == {"J2": 0.5}


# -- one lock timeout ------------------------------------------------------------------------------


class HeldLock:
    """Another writer holding the lock of a label log, on its backend."""

    def __init__(self, location: str, fingerprint: str) -> None:
        self.location, self.fingerprint = location, fingerprint

    def __enter__(self) -> HeldLock:
        if "://" not in self.location:
            self._fd = os.open(self.location, os.O_RDWR)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        elif self.location.startswith("sqlite"):
            self._db = sqlite3.connect(
                self.location.removeprefix("sqlite:///"), isolation_level=None
            )
            self._db.execute("BEGIN IMMEDIATE")
        else:
            self._engine = connect(self.location)
            self._conn = self._engine.connect()
            self._conn.execute(
                text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(self.fingerprint)}
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if "://" not in self.location:
            os.close(self._fd)
        elif self.location.startswith("sqlite"):
            self._db.rollback()
            self._db.close()
        else:
            self._conn.close()
            self._engine.dispose()


def test_a_held_lock_times_out_after_the_same_time_on_every_backend(location):
    fingerprint = new_fingerprint()
    store = store_at(location, fingerprint, lock_timeout=0.5)
    store.set("J000001", "ring")
    with HeldLock(location, fingerprint):
        start = time.monotonic()
        with pytest.raises(
            gw.LabelStorageError,
            match=r"NOT saved: the labels at .* stayed locked by another writer for 0.5 s",
        ):
            store.set("J000002", "ring")
        waited = time.monotonic() - start
    assert waited >= 0.45  # it waited for the lock, then gave up rather than waiting on
    assert store.series().to_dict() == {"J000001": "ring"}
    assert store.set("J000002", "ring") == ["J000002"]  # the lock is free again
    assert store_at(location, fingerprint).series().to_dict() == {
        "J000001": "ring",
        "J000002": "ring",
    }
    store.close()


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "60"])
def test_the_lock_timeout_is_checked(tmp_path, timeout):
    with pytest.raises(gw.DataError, match="lock_timeout must be a positive number of seconds"):
        gw.LabelStore(tmp_path / "labels.jsonl", "f00d", lock_timeout=timeout)
    assert not (tmp_path / "labels.jsonl").exists()
