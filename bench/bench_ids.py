"""Id-based calls against their position-based twins, before and after the one id lookup.

For each size in ``BENCH_IDS_N`` (default 340k, 1M and 8.7M): DESI-style ids
(``{brickid}_{objid}``, arrow-backed ``str`` as loaded) and a small ``n × 8`` float32 feature matrix
(the id paths do not depend on the width), searched exactly in the raw space. Same run, same data:

- *before*: what galwidget did until this change, called as it did: ``ids.get_indexer`` of an
  object-dtype ``pd.Index`` of the wanted ids (pandas converts and re-hashes all ids per call)
  and ``ids.to_numpy()[rows]`` for the neighbor ids; a label store's own ``pd.Index`` of every id;
  ``Finder``'s sorted UTF-8 ids for an exact id.
- *after*: ``reps.positions`` / ``reps.id_lookup.locate`` (one lookup per Representations, built
  once, lazily) and ``ids.array.take``.
- *position path*: ``NeighborIndex.query_positions``, what a click costs.

Medians of :data:`REPEATS` calls (:data:`OLD_REPEATS` for the slow "before" calls), milliseconds.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import galwidget as gw
from galwidget.search import Finder

HERE = Path(__file__).parent
RESULTS = Path(os.environ.get("BENCH_IDS_RESULTS", HERE / "results" / "ids.json"))
SIZES = (340_000, 1_000_000, 8_700_000)
D = 8
K = 12
REPEATS = 30
OLD_REPEATS = 3
MANY = 1000


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up (and any one-off build)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds) * 1e3)


def seconds(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def desi_ids(n: int) -> pd.Index:
    """``n`` unique DESI-style ids ``{brickid}_{objid}`` as arrow-backed strings."""
    rows = np.arange(n)
    brick = pa.array(rows // 3000 + 100_000)
    objid = pa.array(rows % 3000 * 7 + 1)
    joined = pc.binary_join_element_wise(
        pc.cast(brick, pa.string()), pc.cast(objid, pa.string()), "_"
    )
    return pd.Index(pd.array(joined, dtype="str"), name="targetid")


def old_positions(reps: gw.Representations, ids: list[str]) -> np.ndarray:
    """Representations.positions until this change."""
    return reps.ids.get_indexer(pd.Index([str(i) for i in ids], dtype=object))


def old_frame(reps: gw.Representations, rows: np.ndarray, distances: np.ndarray) -> pd.DataFrame:
    """NeighborIndex._frame until this change."""
    return pd.DataFrame({"id": reps.ids.to_numpy()[rows], "distance": distances})


def measure(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    features = rng.standard_normal((n, D)).astype(np.float32)
    ids = desi_ids(n)
    reps = gw.Representations(ids=ids, features=features, meta=pd.DataFrame(index=range(n)))
    index = gw.NeighborIndex(reps, n_components=None, backend="exact", progress=False)
    rows = rng.choice(n, MANY, replace=False)
    one = [str(reps.ids[int(rows[0])])]
    many = [str(i) for i in reps.ids[rows]]
    one_rows = rows[:1]
    neighbors, distances = index.query_positions(one_rows, K)
    result: dict[str, Any] = {"n": n, "d": D}
    result["lookup_build_seconds"] = seconds(lambda: reps.id_lookup)
    assert old_positions(reps, many).tolist() == reps.positions(many).tolist() == rows.tolist()
    result["one_id_to_position_ms"] = {
        "before": median_ms(lambda: old_positions(reps, one), OLD_REPEATS),
        "after": median_ms(lambda: reps.positions(one), REPEATS),
    }
    result[f"{MANY}_ids_to_positions_ms"] = {
        "before": median_ms(lambda: old_positions(reps, many), OLD_REPEATS),
        "after": median_ms(lambda: reps.positions(many), REPEATS),
    }
    result["neighbor_ids_out_ms"] = {
        "before": median_ms(lambda: old_frame(reps, neighbors[0], distances[0]), OLD_REPEATS),
        "after": median_ms(lambda: index._frame(neighbors[0], distances[0]), REPEATS),
    }

    def old_query() -> pd.DataFrame:
        found, found_distances = index.query_positions(old_positions(reps, one), K)
        return old_frame(reps, found[0], found_distances[0])

    clicks = max(5, REPEATS // 3)
    result["query_ms"] = {
        "position_path": median_ms(lambda: index.query_positions(one_rows, K), clicks),
        "before": median_ms(old_query, OLD_REPEATS),
        "after": median_ms(lambda: index.query(one[0], K), clicks),
    }
    result["more_like_3_ms"] = {"after": median_ms(lambda: index.more_like(many[:3], K), clicks)}
    assert reps.fingerprint  # computed once, not part of either figure below
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels.jsonl"
        result["label_store_ids_seconds"] = {
            "before": seconds(lambda: pd.Index([str(i) for i in reps.ids]).get_indexer(one)),
            "after": seconds(lambda: gw.LabelStore(path, reps.fingerprint, reps.id_lookup)),
        }
        store = gw.LabelStore.for_data(reps, path=path)
        result["set_one_label_ms"] = {"after": median_ms(lambda: store.set(one, "x"), REPEATS)}
    result["find_exact_id"] = {
        "before_first_seconds": seconds(lambda: Finder(reps).complete(one[0])),
        "after_ms": median_ms(lambda: Finder(reps).find(one[0]), REPEATS),
    }
    return result


def main() -> dict[str, Any]:
    sizes = [int(s) for s in os.environ.get("BENCH_IDS_N", ",".join(map(str, SIZES))).split(",")]
    results: dict[str, Any] = {}
    for n in sizes:
        results[str(n)] = measure(n)
        print(json.dumps(results[str(n)], indent=2), flush=True)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
