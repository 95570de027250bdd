"""Labelling as a team: stores in two processes see each other's labels, with who made them."""

from __future__ import annotations

import json
import multiprocessing
import queue
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from teammate import CLASSES, teammate

import galwidget as gw
from galwidget.labels import default_user

IDS = [f"J{i:06d}" for i in range(20)]


def wait_for(events: Any, kind: str, predicate=lambda value: True, timeout: float = 60) -> Any:
    """The first event of ``kind`` whose value satisfies ``predicate`` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, value = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if got == kind and predicate(value):
            return value
    raise AssertionError(f"no {kind!r} event within {timeout} s")


def run_team(location: str, fingerprint: str) -> None:
    """Alice here, Bob in a spawned process, both watching ``location``; checks that each sees
    the other's labels without asking, that the last write wins, and the provenance."""
    alice = gw.LabelStore(location, fingerprint, IDS, CLASSES, user="alice")
    seen: queue.Queue[list[str]] = queue.Queue()
    alice.on_change(lambda ids: seen.put(("seen", sorted(ids))))
    alice.watch(interval=0.1)
    context = multiprocessing.get_context("spawn")
    commands, events = context.Queue(), context.Queue()
    bob = context.Process(target=teammate, args=(location, fingerprint, IDS, commands, events))
    bob.start()
    try:
        assert wait_for(events, "ready") == "bob"
        commands.put((["J000001", "J000002"], "ring"))
        # Alice's watcher brings Bob's labels: nothing here reads the store meanwhile.
        wait_for(seen, "seen", lambda ids: ids == ["J000001", "J000002"])

        alice.set("J000002", "spiral", source="key")  # the last write wins...
        wait_for(events, "seen", lambda ids: ids == ["J000002"])  # ...and Bob's watcher sees it
        commands.put((["J000003"], "smooth"))
        wait_for(seen, "seen", lambda ids: ids == ["J000003"])
        commands.put(None)
        wait_for(events, "closed")
    finally:
        bob.join(timeout=60)
        alice.close()
    assert bob.exitcode == 0 and not alice.watching

    labels = alice.labels
    assert labels["label"].to_dict() == {
        "J000001": "ring",
        "J000002": "spiral",
        "J000003": "smooth",
    }
    assert labels["user"].to_dict() == {"J000001": "bob", "J000002": "alice", "J000003": "bob"}
    history = alice.history()
    both = history[history[alice.id_column] == "J000002"]
    assert both[["label", "prev", "user"]].values.tolist() == [
        ["ring", None, "bob"],
        ["spiral", "ring", "alice"],
    ]  # both writes stay in the history
    assert alice.undo() == ["J000003"]  # the history is shared: Alice can undo Bob's last change
    assert alice.get("J000003") is None and alice.history()["user"].iat[-1] == "alice"


@pytest.mark.slow
def test_two_processes_on_one_log_see_each_others_labels(tmp_path):
    run_team(str(tmp_path / "labels.jsonl"), "f00d")


def test_user_comes_from_the_environment_or_the_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "carol")
    assert default_user() == "carol"
    path = tmp_path / "labels.jsonl"
    store = gw.LabelStore(path, "f00d", IDS, CLASSES)
    store.set("J000001", "ring")
    gw.LabelStore(path, "f00d", IDS, CLASSES, user="dave").set("J000002", "ring")
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert default_user()  # the login name
    assert store.labels["user"].to_dict() == {"J000001": "carol", "J000002": "dave"}
    assert [r.get("user") for r in map(json.loads, path.read_text().splitlines()[1:])] == [
        "carol",
        "dave",
    ]


def test_logs_without_user_still_read(tmp_path):
    path = tmp_path / "old.jsonl"
    header = {"format": "galwidget-labels", "version": 1, "fingerprint": "f00d", "id_column": "id"}
    record = {"op": "a1", "id": "J000001", "label": "ring", "prev": None, "source": "key"}
    record["time"] = "2025-01-02T03:04:05.000006+00:00"
    path.write_text(json.dumps(header) + "\n" + json.dumps(record) + "\n")
    store = gw.LabelStore(path, "f00d", IDS, CLASSES, user="erin")
    assert store.labels.loc["J000001", "user"] is None
    store.set("J000001", "smooth")
    assert store.labels.loc["J000001", "user"] == "erin"
    assert store.labels["time"].iat[0] > pd.Timestamp("2025-01-02", tz="UTC")


def test_watcher_notifies_changes_made_through_another_store_and_stops(tmp_path):
    path = tmp_path / "labels.jsonl"
    watched, writer = (gw.LabelStore(path, "f00d", IDS, CLASSES) for _ in range(2))
    seen: queue.Queue[list[str]] = queue.Queue()
    watched.on_change(seen.put)
    watched.watch(interval=0.05)
    watched.watch(interval=0.05)  # idempotent
    writer.set(["J000004", "J000005"], "ring")
    assert seen.get(timeout=30) == ["J000004", "J000005"]
    watched.close()
    assert not watched.watching
    writer.set("J000006", "ring")
    time.sleep(0.3)
    assert seen.empty()  # no watcher any more...
    assert watched.get("J000006") == "ring"  # ...but reads still refresh
    with pytest.raises(gw.DataError, match="interval must be positive"):
        watched.watch(interval=0)


def test_watcher_warns_once_when_the_log_disappears(tmp_path):
    path = tmp_path / "labels.jsonl"
    with gw.LabelStore(path, "f00d", IDS, CLASSES) as store:
        with pytest.warns(UserWarning, match="has disappeared") as caught:
            store.watch(interval=0.02)
            Path(path).unlink()
            time.sleep(0.3)
    assert len([w for w in caught if "disappeared" in str(w.message)]) == 1
