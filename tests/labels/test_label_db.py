"""Label logs in SQL databases: a real PostgreSQL server (Debian's ``postgresql``) and SQLite."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import numpy as np
import pytest
from pgserver import PostgresServer, find_binaries
from sqlalchemy import text
from teammate import CLASSES, IDS, explorer_teammate, run_team, team_frame, wait_for

import galwidget as gw
from galwidget.labels._sql import connect

BINARIES = find_binaries()
# SQL that makes the database refuse a record of J000009, and undoes that, per dialect.
REFUSE_J9 = {
    "postgresql": (
        "ALTER TABLE galwidget_labels ADD CONSTRAINT refuse_j9 CHECK (id <> 'J000009')",
        "ALTER TABLE galwidget_labels DROP CONSTRAINT refuse_j9",
    ),
    "sqlite": (
        "CREATE TRIGGER refuse_j9 BEFORE INSERT ON galwidget_labels WHEN NEW.id = 'J000009' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END",
        "DROP TRIGGER refuse_j9",
    ),
}


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server for the whole session (stopped and removed at its end)."""
    if BINARIES is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on "
            "PATH): apt-get install postgresql, which `make test` does when run as root"
        )
    server = PostgresServer(BINARIES).start()
    yield server.url
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.db'}"
    return request.getfixturevalue("postgres_url")


def new_log() -> str:
    """A fingerprint nobody used: a log of its own in a shared database."""
    return uuid.uuid4().hex[:20]


def execute(url: str, *statements: str) -> None:
    engine = connect(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_labels_undo_redo_and_provenance_survive_reopening(database):
    fingerprint = new_log()
    with gw.LabelStore(database, fingerprint, IDS, CLASSES, user="alice") as store:
        assert not store.read_only and store.path is None
        store.set(["J000001", "J000002"], "ring", source="bulk")
        store.set("J000001", "spiral", source="key")
        assert store.undo() == ["J000001"] and store.get("J000001") == "ring"

    again = gw.LabelStore(database, fingerprint, IDS, CLASSES, user="bob")
    assert again.series().to_dict() == {"J000001": "ring", "J000002": "ring"}
    assert again.can_redo and again.redo() == ["J000001"]
    assert again.labels.loc["J000001", ["label", "source", "user"]].tolist() == [
        "spiral",
        "redo",
        "bob",
    ]
    assert again.history()[["label", "source", "user"]].values.tolist() == [
        ["ring", "bulk", "alice"],
        ["ring", "bulk", "alice"],
        ["spiral", "key", "alice"],
        ["ring", "undo", "alice"],
        ["spiral", "redo", "bob"],
    ]
    assert str(again.labels["time"].dt.tz) == "UTC"
    assert len(gw.LabelStore(database, new_log(), IDS, CLASSES)) == 0  # one log per data set

    scores = gw.LabelStore(database, new_log())  # labels keep their types through JSON
    scores.set("a", 5)
    scores.set("b", np.float32(2.5))
    scores.set("c", True)
    assert gw.LabelStore(database, scores.fingerprint).series().to_dict() == {
        "a": 5,
        "b": 2.5,
        "c": True,
    }
    again.close()


def test_a_refused_commit_saves_nothing_and_changes_nothing(database):
    dialect = "sqlite" if database.startswith("sqlite") else "postgresql"
    store = gw.LabelStore(database, new_log(), IDS, CLASSES)
    store.set("J000001", "ring")
    refuse, allow = REFUSE_J9[dialect]
    execute(database, refuse)
    try:
        with pytest.raises(gw.LabelStorageError, match="NOT saved"):
            store.set(["J000008", "J000009"], "smooth")  # one transaction: neither is saved
        assert store.series().to_dict() == {"J000001": "ring"}
        assert not store.can_redo and store.undo() == ["J000001"]  # the history is intact
    finally:
        execute(database, allow)
    assert store.history()["id"].tolist() == ["J000001", "J000001"]
    assert gw.LabelStore(database, store.fingerprint, IDS, CLASSES).history().shape[0] == 2


def test_a_role_without_insert_reads_and_is_read_only(postgres_url):
    fingerprint = new_log()
    gw.LabelStore(postgres_url, fingerprint, IDS, CLASSES).set("J000001", "ring")
    execute(
        postgres_url,
        "DROP ROLE IF EXISTS reader",
        "CREATE ROLE reader LOGIN",
        "GRANT SELECT ON galwidget_labels, galwidget_label_logs TO reader",
    )
    as_reader = postgres_url.replace("postgres@", "reader@")
    reader = gw.LabelStore(as_reader, fingerprint, IDS, CLASSES)
    assert reader.read_only and reader.get("J000001") == "ring"
    with pytest.raises(gw.LabelStorageError, match="read-only"):
        reader.set("J000002", "ring")
    assert len(gw.LabelStore(as_reader, new_log(), IDS, CLASSES)) == 0  # a log not there yet


def test_a_read_only_sqlite_file_reads_and_is_read_only(read_only_folder):
    folder, make_read_only = read_only_folder
    fingerprint = new_log()
    gw.LabelStore(f"sqlite:///{folder / 'labels.db'}", fingerprint, IDS, CLASSES).set(
        "J000001", "ring"
    )
    view = make_read_only()
    reader = gw.LabelStore(f"sqlite:///{view / 'labels.db'}", fingerprint, IDS, CLASSES)
    assert reader.read_only and reader.series().to_dict() == {"J000001": "ring"}
    with pytest.raises(gw.LabelStorageError, match="read-only"):
        reader.set("J000002", "ring")
    reader.close()  # so that the read-only mount can be unmounted


def test_bad_rows_are_reported_naming_the_row_and_skipped(database):
    fingerprint = new_log()
    store = gw.LabelStore(database, fingerprint, IDS, CLASSES)
    store.set("J000001", "ring")
    row = "'op1', '{id}', {label}, NULL, '{time}', 'key'"
    insert = f"INSERT INTO galwidget_labels (log, op, id, label, prev, time, source) VALUES ('{fingerprint}', {row})"
    good_time = "2026-01-01T00:00:00+00:00"
    execute(database, insert.format(id="ghost", label="'\"ring\"'", time=good_time))
    with pytest.warns(
        UserWarning, match=r"row seq=\d+ of galwidget_labels.*'ghost' is not an id of"
    ):
        assert store.refresh() == []
    execute(database, insert.format(id="J000002", label="'not json'", time=good_time))
    execute(database, insert.format(id="J000003", label="'\"ring\"'", time="2026-W01-1x"))
    store.set("J000004", "smooth")  # after the bad rows
    with pytest.warns(
        UserWarning, match=r"3 label record.*row seq=\d+ of galwidget_labels.*not JSON"
    ):
        again = gw.LabelStore(database, fingerprint, IDS, CLASSES)
    assert again.series().to_dict() == {"J000001": "ring", "J000004": "smooth"}
    problems = [message.split(f"{again.location}: ", 1)[1] for message in again.unreadable]
    assert [problem[:22] for problem in problems] == [
        "label or prev is not J",
        "time '2026-W01-1x' is ",
        "id 'ghost' is not an i",
    ]


def test_deleted_rows_are_noticed_and_the_log_read_again(database):
    fingerprint = new_log()
    store = gw.LabelStore(database, fingerprint, IDS, CLASSES)
    store.set(["J000001", "J000002"], "ring")
    store.set("J000003", "smooth")
    execute(
        database, f"DELETE FROM galwidget_labels WHERE log = '{fingerprint}' AND id = 'J000003'"
    )
    with pytest.warns(UserWarning, match="deleted by something other than galwidget"):
        assert sorted(store.refresh()) == ["J000001", "J000002", "J000003"]
    assert store.series().to_dict() == {"J000001": "ring", "J000002": "ring"}


def test_database_urls(postgres_url, tmp_path):
    with pytest.raises(gw.DataError, match="must be a file"):
        gw.LabelStore("sqlite://", "f00d")
    with pytest.raises(gw.DataError, match="pass fingerprint="):
        gw.LabelStore(f"sqlite:///{tmp_path / 'x.db'}")
    unreachable = postgres_url.rsplit(":", 1)[0] + ":1/postgres"
    with pytest.raises(gw.LabelStorageError, match="cannot open the label log"):
        gw.LabelStore(unreachable, "f00d")
    reps = gw.Representations.from_array(np.eye(4, dtype=np.float32))
    postgres = postgres_url.replace("postgresql://", "postgres://")  # the short scheme too
    store = gw.LabelStore.for_data(reps, path=postgres, classes=CLASSES, user="zoe")
    store.set(reps.ids[:2], "ring")
    assert store.fingerprint == reps.fingerprint
    assert gw.LabelStore.for_data(reps, path=postgres_url).labels["user"].tolist() == ["zoe"] * 2


def test_a_log_under_a_legacy_name_is_adopted(database):
    old, new = new_log(), new_log()
    gw.LabelStore(database, old, IDS, CLASSES).set(["J000001", "J000002"], "ring")
    store = gw.LabelStore(database, new, IDS, CLASSES, legacy_fingerprints=[old])
    assert store.series().to_dict() == {"J000001": "ring", "J000002": "ring"}
    assert store.can_undo
    assert len(gw.LabelStore(database, old, IDS, CLASSES)) == 0  # renamed, not copied


@pytest.mark.slow
def test_two_processes_on_postgres_see_each_others_labels(postgres_url):
    run_team(postgres_url, new_log())


@pytest.mark.slow
def test_two_explorers_in_two_processes_on_postgres(postgres_url):
    frame = team_frame()
    w = gw.Explorer(
        frame, layout=("x", "y"), classes=CLASSES, labels={"path": postgres_url, "user": "alice"}
    )
    context = multiprocessing.get_context("spawn")
    commands, events = context.Queue(), context.Queue()
    bob = context.Process(target=explorer_teammate, args=(postgres_url, commands, events))
    bob.start()
    try:
        wait_for(events, "ready")
        commands.put("label")
        wait_for(events, "labelled")
        deadline = time.monotonic() + 60
        while frame.loc[3, "label"] != "ring" and time.monotonic() < deadline:
            time.sleep(0.02)  # nothing here asks: the Explorer's watcher brings Bob's label
        assert frame.loc[3, "label"] == "ring"
        w.set_labels({"G0004": "spiral"})
        commands.put("look")
        assert wait_for(events, "seen") == "spiral"
        commands.put(None)
        wait_for(events, "closed")
    finally:
        bob.join(timeout=60)
        w.close()
    assert bob.exitcode == 0
    assert w.labels["user"].to_dict() == {"G0003": "bob", "G0004": "alice"}
