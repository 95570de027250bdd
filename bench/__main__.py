"""Run the benchmarks: every ``bench/bench_<name>.py`` (or the names given) in turn.

Each module's ``main()`` measures, writes ``bench/results/<name>.json`` and returns its results.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent


def available() -> list[str]:
    """Names of the benchmark modules, without the ``bench_`` prefix."""
    return sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))


def run(names: list[str]) -> None:
    unknown = sorted(set(names) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmarks: {', '.join(unknown)}; available: {', '.join(available())}")
    for name in names or available():
        print(f"== bench {name}", flush=True)
        results = importlib.import_module(f"bench.bench_{name}").main()
        print(json.dumps(results, indent=2, default=str), flush=True)


if __name__ == "__main__":
    run(sys.argv[1:])
