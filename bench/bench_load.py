"""Loading a 340k × 1280 Zenodo-schema parquet: time and peak memory of ``gw.load_representations``.

Baseline, in the same run and on the same file: a plain ``pyarrow.parquet.read_table`` (which
gives float64 columns, not a usable float32 matrix). Each reader runs :data:`REPEATS` times
alternately after one warm-up read (so both see the file in the page cache); the best time counts.
Peak memory is measured in a fresh child process per reader: the peak resident set after loading
minus that after imports, compared with the size of the float32 feature matrix. On Linux the peak is
``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` is carried through fork and exec, so a child of
this (by then large) process would report the parent's peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import galwidget as gw

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "load.json"
N_GALAXIES = 340_000
DIM = 1280
REPEATS = 2

PEAK_SCRIPT = """
import re, resource, sys
import numpy, pyarrow.parquet as pq
import galwidget as gw

def peak_bytes():
    try:
        with open("/proc/self/status") as status:
            return int(re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1)) * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

before = peak_bytes()
if sys.argv[2] == "galwidget":
    result = gw.load_representations(sys.argv[1], progress=False)
else:
    result = pq.read_table(sys.argv[1])
print(peak_bytes() - before)
"""


def zenodo_like_file(n: int = N_GALAXIES, dim: int = DIM) -> Path:
    """The synthetic Zenodo-schema parquet under ``bench/data/``, written on first use."""
    path = HERE / "data" / f"zenodo_like_{n}.parquet"
    if not path.exists():
        gw.datasets.write_zenodo_like(path, n, dim=dim)
    return path


def peak_rss(path: Path, reader: str) -> int:
    """Extra peak resident memory (bytes) of one read of ``path`` in a fresh process."""
    output = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path), reader],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(output.split()[-1])


def main() -> dict[str, Any]:
    path = zenodo_like_file()
    matrix_bytes = N_GALAXIES * DIM * 4
    pq.read_table(path)  # warm-up: page cache
    ours, plain = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        table = pq.read_table(path)
        plain.append(time.perf_counter() - started)
        del table
        started = time.perf_counter()
        reps = gw.load_representations(path, progress=False)
        ours.append(time.perf_counter() - started)
        assert reps.features.shape == (N_GALAXIES, DIM)
        del reps
    our_peak = peak_rss(path, "galwidget")
    plain_peak = peak_rss(path, "pyarrow")
    results = {
        "rows": N_GALAXIES,
        "features": DIM,
        "file_gb": path.stat().st_size / 1e9,
        "float32_matrix_gb": matrix_bytes / 1e9,
        "load_representations_s": min(ours),
        "read_table_s": min(plain),
        "time_ratio_vs_read_table": min(ours) / min(plain),
        "load_representations_peak_gb": our_peak / 1e9,
        "read_table_peak_gb": plain_peak / 1e9,
        "peak_ratio_vs_float32_matrix": our_peak / matrix_bytes,
        "all_times_s": {"load_representations": ours, "read_table": plain},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
