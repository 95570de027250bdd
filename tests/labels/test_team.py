"""Labelling as a team: stores in two processes see each other's labels, with who made them."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path

import pandas as pd
import pytest
from teammate import CLASSES, IDS, run_team

import galwidget as gw
from galwidget.labels import default_user


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
