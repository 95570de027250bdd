"""A second labeller in another process, for the team-labelling tests.

:func:`teammate` opens a :class:`~galwidget.LabelStore` on the shared labels, watches it, reports
every change it sees on ``events`` and applies the labels it is sent on ``commands``.
"""

from __future__ import annotations

from typing import Any

import galwidget as gw

CLASSES = ["ring", "spiral", "smooth"]


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
