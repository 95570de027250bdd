"""Zenodo-like parquet part files for the streaming, Dask, index and layout tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N, D = 3000, 24
SPLITS = [(0, 900), (900, 2100), (2100, 3000)]


def raw_matrix(n: int = N, d: int = D, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.linspace(4.0, 0.2, d)
    return rng.standard_normal((n, d)) * scales @ rng.standard_normal((d, d)) + 5.0


def write_parts(
    folder: Path, x: np.ndarray, schema: str = "columns", row_group_size: int = 250
) -> list[Path]:
    """Zenodo-like part files: ``feat_<i>_pred`` float64 columns or one list column."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"J{i:07d}" for i in range(len(x))])
    paths = []
    for k, (a, b) in enumerate(SPLITS):
        columns = {"iauname": ids[a:b], "mag": np.arange(a, b) * 0.5, "png_loc": ids[a:b]}
        if schema == "columns":
            columns |= {f"feat_{j}_pred": x[a:b, j] for j in range(x.shape[1])}
        else:
            kind = (
                pa.list_(pa.float32(), x.shape[1]) if schema == "fixed" else pa.list_(pa.float64())
            )
            columns["features"] = pa.array(list(x[a:b]), type=kind)
        path = folder / f"part-{k}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
        paths.append(path)
    return paths
