"""HATS catalogues (LSDB): streamed load + PCA-40, crossmatch and to_hats, against baselines.

Data (generated once under ``bench/data/``): :data:`N` galaxies × :data:`DIM` float32 features with
ids and ra/dec, written as a HATS catalogue (``lsdb.from_dataframe`` → ``write_catalog``), and its
partition files copied byte for byte into a plain folder of part files. All on one ``distributed.LocalCluster`` (2 workers ×
1 thread), in the same run:

- load: ``load_representations(<HATS folder>, reduce_to=40)`` against the same two passes over
  the plain part files (``engine="dask"``) and one plain ``pyarrow.parquet.read_table`` of them;
- crossmatch: :data:`N_MATCH` galaxies against the catalogue through LSDB (a HATS folder) against
  the in-memory k-d tree crossmatch of the same catalogue as a DataFrame (the first LSDB call of
  the process, which compiles hats' numba code, is timed separately);
- ``gw.to_hats`` of the loaded (40-d) galaxies.

Each timed call runs :data:`REPEATS` times after a warm-up; the best counts.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import galwidget as gw

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "hats.json"
N, DIM, N_MATCH = 200_000, 128, 20_000
REPEATS = 2


def survey(n: int = N, d: int = DIM, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) * np.linspace(3.0, 0.1, d)).astype(np.float32)
    frame = pd.DataFrame(
        {
            "id_str": [f"G{i:07d}" for i in range(n)],
            "ra": rng.uniform(0, 360, n),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
        }
    )
    return pd.concat([frame, pd.DataFrame(x, columns=[f"feat_{j}" for j in range(d)])], axis=1)


def data() -> tuple[Path, Path, pd.DataFrame]:
    """The HATS folder, the plain part files' folder and the table (written on first use)."""
    import lsdb

    table = survey()
    hats = HERE / "data" / f"hats_{N}"
    parts = HERE / "data" / f"hats_{N}_parts"
    if not hats.exists():
        lsdb.from_dataframe(table, partition_rows=25_000).write_catalog(
            hats, catalog_name="survey", progress_bar=False
        )
    if not parts.exists():
        parts.mkdir(parents=True)
        for k, path in enumerate(sorted(hats.glob("survey/dataset/Norder=*/Dir=*/*.parquet"))):
            shutil.copyfile(path, parts / f"part-{k:03d}.parquet")  # the same bytes
    return hats, parts, table


def best(call: Callable[[], Any]) -> float:
    call()  # warm-up: page cache, imports, compiled code
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> dict[str, Any]:
    import distributed

    hats, parts, table = data()
    files = sorted(parts.glob("*.parquet"))
    rng = np.random.default_rng(1)
    picked = rng.choice(N, N_MATCH, replace=False)
    radec = table[["ra", "dec"]].to_numpy()[picked] + rng.normal(0, 0.3 / 3600, (N_MATCH, 2))
    galaxies = gw.Representations.from_dataframe(
        pd.DataFrame(
            {
                "objid": [f"X{i}" for i in range(N_MATCH)],
                "ra": radec[:, 0] % 360,
                "dec": np.clip(radec[:, 1], -90, 90),
                "f0": rng.normal(size=N_MATCH),
            }
        ),
        features=["f0"],
    )
    catalogue = table  # all its columns, as LSDB returns them
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        galaxies.crossmatch(hats, radius_arcsec=1.0)
        first_crossmatch = time.perf_counter() - started
        read = best(lambda: [pq.read_table(f) for f in files])
        from_parts = best(
            lambda: gw.load_representations(parts, reduce_to=40, engine="dask", progress=False)
        )
        from_hats = best(lambda: gw.load_representations(hats, reduce_to=40, progress=False))
        lsdb_match = best(lambda: galaxies.crossmatch(hats, radius_arcsec=1.0))
        memory_match = best(lambda: galaxies.crossmatch(catalogue, radius_arcsec=1.0))
        reduced = gw.load_representations(hats, reduce_to=40, progress=False)
        out = HERE / "data" / "to_hats_out"
        write = best(lambda: gw.to_hats(reduced, out, features=True, overwrite=True))
    results = {
        "galaxies": N,
        "features": DIM,
        "partitions": len(files),
        "plain_read_s": round(read, 3),
        "parts_on_dask_reduce_to_40_s": round(from_parts, 3),
        "hats_reduce_to_40_s": round(from_hats, 3),
        "hats_over_parts": round(from_hats / from_parts, 2),
        "hats_over_plain_read": round(from_hats / read, 2),
        "crossmatch_galaxies": N_MATCH,
        "crossmatch_first_call_s": round(first_crossmatch, 3),
        "crossmatch_lsdb_s": round(lsdb_match, 3),
        "crossmatch_in_memory_s": round(memory_match, 3),
        "to_hats_40d_s": round(write, 3),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
