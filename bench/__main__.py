"""Run the benchmarks: every ``bench/bench_<name>.py`` (or the names given) in turn.

Each module's ``main()`` measures, writes ``bench/results/<name>.json`` and returns its results.
Options after one name go to that benchmark: ``python -m bench map --sizes 1e6,8.7e6``.
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


def run(names: list[str], options: list[str] | None = None) -> None:
    if options and len(names) != 1:
        sys.exit("options go to one benchmark: python -m bench <name> --option ...")
    unknown = sorted(set(names) - set(available()))
    if unknown:
        sys.exit(f"unknown benchmarks: {', '.join(unknown)}; available: {', '.join(available())}")
    for name in names or available():
        print(f"== bench {name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        results = module.main(options) if options else module.main()
        print(json.dumps(results, indent=2, default=str), flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    first_option = next((i for i, a in enumerate(arguments) if a.startswith("-")), len(arguments))
    run(arguments[:first_option], arguments[first_option:])
