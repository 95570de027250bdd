"""The label store: what a key press costs on each backend, how fast a teammate sees it, and
what opening a long log costs.

1. Acknowledged single-label writes (``LabelStore.set`` of one id, a key press), median of
   :data:`PRESSES`: the JSON-lines log (the baseline), SQLite and PostgreSQL (a throwaway local
   server from Debian's ``postgresql``; skipped when it is not installed).
2. Team latency: a store in a second process writes a label; the time until this process's
   watcher (``watch(interval=WATCH)``) delivers it to ``on_change``, median of :data:`ROUNDS`.
   The baseline is the polling interval itself (the expected latency is about half of it).
3. Opening a log of :data:`N_RECORDS` records (replay with every record checked) against parsing
   the same lines with ``json.loads`` alone (the baseline), in the same run.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import galwidget as gw

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "labels.json"
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
from pgserver import PostgresServer, find_binaries  # noqa: E402

PRESSES = 200
ROUNDS = 20
WATCH = 0.5
N_RECORDS = 200_000
IDS = [f"J{i:07d}" for i in range(N_RECORDS)]


def key_presses(location: str) -> float:
    """Median seconds of one acknowledged single-label write."""
    store = gw.LabelStore(location, "bench", IDS[:1000], ["ring", "smooth"])
    times = []
    for i in range(PRESSES):
        start = time.perf_counter()
        store.set(IDS[i % 1000], "ring" if i % 2 else "smooth", source="key")
        times.append(time.perf_counter() - start)
    store.close()
    return statistics.median(times)


def _writer(location: str, go: Any, written: Any) -> None:
    store = gw.LabelStore(location, "team", IDS[:100], ["ring", "smooth"])
    for i in range(ROUNDS):
        go.get(timeout=60)
        store.set(IDS[i], "ring", source="key")
        written.put(time.time())


def team_latency(location: str) -> float:
    """Median seconds from a write acknowledged in another process to ``on_change`` here."""
    store = gw.LabelStore(location, "team", IDS[:100], ["ring", "smooth"])
    seen: queue.Queue[float] = queue.Queue()
    store.on_change(lambda ids: seen.put(time.time()))
    store.watch(interval=WATCH)
    context = multiprocessing.get_context("spawn")
    go, written = context.Queue(), context.Queue()
    writer = context.Process(target=_writer, args=(location, go, written))
    writer.start()
    latencies = []
    for _ in range(ROUNDS):
        go.put(True)
        sent = written.get(timeout=120)
        latencies.append(seen.get(timeout=60) - sent)
        time.sleep(0.13)  # land at different phases of the polling interval
    writer.join(timeout=60)
    store.close()
    return statistics.median(latencies)


def open_log(folder: Path) -> dict[str, float]:
    """Seconds to open a log of N_RECORDS records, and to json-parse its lines alone."""
    path = folder / "long.jsonl"
    store = gw.LabelStore(path, "long", IDS, ["ring", "smooth"])
    for start in range(0, N_RECORDS, 20_000):
        store.set(IDS[start : start + 20_000], "ring", source="bulk")
    start = time.perf_counter()
    with open(path, "rb") as log:
        parsed = [json.loads(line) for line in log]
    parse = time.perf_counter() - start
    start = time.perf_counter()
    reopened = gw.LabelStore(path, "long", IDS, ["ring", "smooth"])
    replay = time.perf_counter() - start
    assert len(reopened) == N_RECORDS == len(parsed) - 1
    return {"json_loads_only_s": parse, "open_s": replay, "ratio": replay / parse}


def main() -> dict[str, Any]:
    """Run the measurements, write ``bench/results/labels.json`` and return the results."""
    results: dict[str, Any] = {}
    binaries = find_binaries()
    server = PostgresServer(binaries).start() if binaries else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        databases = {"sqlite": f"sqlite:///{folder}/labels.db"}
        if server is not None:
            databases["postgresql"] = server.url
        try:
            presses = {"log": key_presses(str(folder / "presses.jsonl"))}
            presses |= {name: key_presses(url) for name, url in databases.items()}
            results["key_press_s"] = presses
            results["key_press_vs_log"] = {k: v / presses["log"] for k, v in presses.items()}
            team = {"log": team_latency(str(folder / "team.jsonl"))}
            team |= {name: team_latency(url) for name, url in databases.items()}
            results["team_latency_s"] = team
            results["team_latency_vs_interval"] = {k: v / WATCH for k, v in team.items()}
            results["open_log"] = open_log(folder)
        finally:
            if server is not None:
                server.stop()
    results["setup"] = {"presses": PRESSES, "rounds": ROUNDS, "watch_interval_s": WATCH}
    results["setup"]["n_records"] = N_RECORDS
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
