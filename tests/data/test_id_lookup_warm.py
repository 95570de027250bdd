"""The id lookup built in the background: once, whatever the threads asking meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

import galwidget as gw
from galwidget.data import _representations

N = 300_000


class CountedIdLookup(_representations.IdLookup):
    """The real lookup, counting how many are built."""

    built = 0

    def __init__(self, ids: pd.Index, **options: Any) -> None:
        type(self).built += 1
        super().__init__(ids, **options)


@pytest.fixture
def counted(monkeypatch) -> type[CountedIdLookup]:
    CountedIdLookup.built = 0
    monkeypatch.setattr(_representations, "IdLookup", CountedIdLookup)
    return CountedIdLookup


def test_warming_builds_once_while_other_threads_ask_for_ids(counted) -> None:
    ids = [f"J{i:07d}" for i in range(N)]
    features = np.random.default_rng(2).random((N, 2))
    reps = gw.load_representations(
        pd.DataFrame({"id_str": ids, "feat_0": features[:, 0], "feat_1": features[:, 1]})
    )
    assert not reps.id_lookup_ready
    warming = reps.warm_id_lookup()
    assert warming is not None
    assert reps.warm_id_lookup() in (warming, None)  # never a second build
    rng = np.random.default_rng(0)
    wanted = [rng.integers(0, N, 50) for _ in range(6)]
    found: list[tuple[np.ndarray, object]] = [None] * len(wanted)  # type: ignore[list-item]

    def ask(k: int) -> None:
        found[k] = (reps.positions([ids[i] for i in wanted[k]]), reps.id_lookup)

    askers = [threading.Thread(target=ask, args=(k,)) for k in range(len(wanted))]
    for thread in askers:
        thread.start()
    for thread in [*askers, warming]:
        thread.join(timeout=120)
        assert not thread.is_alive()
    for rows, (positions, lookup) in zip(wanted, found, strict=True):
        np.testing.assert_array_equal(positions, rows)
        assert lookup is reps.id_lookup
    assert counted.built == 1
    assert reps.id_lookup_ready and reps.warm_id_lookup() is None
    with pytest.raises(gw.DataError, match="unknown id_str ids: 'nope'"):
        reps.positions(["nope"])


def test_an_explorer_builds_the_lookup_of_its_data_without_an_id_call(counted) -> None:
    n = 20_000
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {
            "id": [f"G{i}" for i in range(n)],
            "x": rng.random(n),
            "y": rng.random(n),
            "feat_0": rng.random(n),
            "feat_1": rng.random(n),
        }
    )
    w = gw.Explorer(table, layout=("x", "y"), remember_selection=False)
    reps = w.representations
    warming = reps.warm_id_lookup()  # the Explorer's build, still running, or None when done
    if warming is not None:
        warming.join(timeout=120)
    assert reps.id_lookup_ready
    assert counted.built == 1
    w.focus("G17")
    assert w.focused == "G17" and counted.built == 1
