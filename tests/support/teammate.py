"""A second labeller in another process, for the team-labelling tests.

:func:`run_team` labels here while :func:`teammate`, in a spawned process, opens a
:class:`~galwidget.LabelStore` on the same labels (a log file or a database URL), watches it,
reports every change it sees on ``events`` and applies the labels it is sent on ``commands``.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

import numpy as np
import pandas as pd

import galwidget as gw

CLASSES = ["ring", "spiral", "smooth"]
IDS = [f"J{i:06d}" for i in range(20)]


def teammate(path: str, fingerprint: str, ids: list[str], commands: Any, events: Any) -> None:
    """Run as a spawned process: ``("seen", ids)`` for every change noticed, ``("saved", ids)``
    after each ``(ids, label)`` command; ``None`` ends it."""
    store = gw.LabelStore(path, fingerprint, ids, CLASSES, user="bob")
    store.on_change(lambda changed: events.put(("seen", sorted(changed))))
    store.watch(interval=0.1)
    events.put(("ready", store.user))
    while (command := commands.get(timeout=120)) is not None:
        ids_, label = command
        events.put(("saved", store.set(ids_, label, source="key")))
    store.close()
    events.put(("closed", None))


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


def team_frame(n: int = 60) -> pd.DataFrame:
    """The same small data set in every process (so the same fingerprint, the same log)."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(n, 6)).astype(np.float32))
    frame.columns = [f"feat_{i}" for i in range(6)]
    frame.insert(0, "id", [f"G{i:04d}" for i in range(n)])
    frame["x"], frame["y"] = rng.normal(size=n), rng.normal(size=n)
    return frame


def explorer_teammate(location: str, commands: Any, events: Any) -> None:
    """An Explorer in a spawned process: ``"label"`` labels G0003 ring; ``"look"`` waits until its
    own DataFrame shows G0004 as spiral (brought by the Explorer's watcher) and says so."""
    frame = team_frame()
    w = gw.Explorer(
        frame, layout=("x", "y"), classes=CLASSES, labels={"path": location, "user": "bob"}
    )
    events.put(("ready", None))
    while (command := commands.get(timeout=120)) is not None:
        if command == "label":
            w.set_labels({"G0003": "ring"})
            events.put(("labelled", None))
        else:
            deadline = time.monotonic() + 60
            while frame.loc[4, "label"] != "spiral" and time.monotonic() < deadline:
                time.sleep(0.02)
            events.put(("seen", frame.loc[4, "label"]))
    w.close()
    events.put(("closed", None))
