"""Recognising what a file really is before reading it (HTML pages, gzip, truncated parquet),
and reading zoobot's HDF5 prediction files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from galwidget.errors import DataError

HDF5_SUFFIXES = (".hdf5", ".h5")
# Rows of zoobot's ``predictions`` dataset read (and averaged over forward passes) at a time.
HDF5_CHUNK_ROWS = 65_536


def check_file_kind(path: Path, kind: Literal["parquet", "CSV", "HDF5"]) -> None:
    """Refuse a file that is plainly not a ``kind`` file, naming it: a folder, an empty file, an
    HTML page (a failed download or login page), gzip given as parquet or as ``.csv``, parquet
    given as CSV, or a parquet file without its closing magic bytes (truncated)."""
    path = Path(path)
    a_kind = f"an {kind}" if kind == "HDF5" else f"a {kind}"
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not {a_kind} file; to read a folder of parquet parts pass "
            "reduce_to=… (see galwidget.data) or name one file"
        )
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path} is empty (0 bytes), not {a_kind} file: fetch or write it again")
    with path.open("rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    text = head.lstrip().lower()
    # Data never starts with "<"; an HTML page does (possibly after a comment or XML prolog).
    if text.startswith(b"<") and (b"<html" in text or text.startswith(b"<!doctype html")):
        raise DataError(
            f"{path} is an HTML page, not {a_kind} file (a proxy, login or error page saved in "
            "its place?): delete it and fetch the file again"
        )
    gzipped = head[:2] == b"\x1f\x8b"
    if kind == "HDF5":
        if gzipped:
            raise DataError(f"{path} is gzip-compressed, not an HDF5 file: decompress it first")
        if head[:4] == b"PAR1":
            raise DataError(f"{path} is a parquet file, not HDF5: give it a .parquet name")
    elif kind == "parquet":
        if gzipped:
            raise DataError(f"{path} is gzip-compressed, not a parquet file: decompress it first")
        if head[:4] != b"PAR1":
            raise DataError(f"{path} is not a parquet file (it does not begin with 'PAR1')")
        if size < 12 or tail != b"PAR1":
            raise DataError(
                f"{path} is truncated: a parquet file ends with 'PAR1' and this one does not "
                "(an interrupted copy or download?): fetch it again"
            )
    else:
        if head[:4] == b"PAR1":
            raise DataError(f"{path} is a parquet file, not CSV: give it a .parquet name")
        if gzipped and not path.name.lower().endswith(".gz"):
            raise DataError(
                f"{path} is gzip-compressed: name it …{path.suffix}.gz or decompress it"
            )


def read_zoobot_hdf5(path: Path) -> pd.DataFrame:
    """The table of a zoobot ``predict_on_catalog`` HDF5 file, as zoobot wrote it.

    zoobot (``zoobot.shared.save_predictions.predictions_to_hdf5``) writes three datasets:
    ``predictions`` of shape ``(n, k)`` or ``(n, k, passes)`` (``passes`` forward passes per
    galaxy), ``id_str`` (``n`` UTF-8 strings) and ``label_cols`` (``k`` names; zoobot's default
    is ``feat_0 … feat_{k-1}``). The table has ``id_str`` then one float32 column per label,
    the mean over the forward passes when there are several. Needs h5py (``galwidget[hdf5]``).

    Raises:
        ImportError: h5py is not installed.
        DataError: the file is not HDF5, lacks one of the three datasets, or their lengths or
            shapes disagree (naming the file and the datasets).
    """
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"reading {path.name} (HDF5) needs h5py: pip install galwidget[hdf5]"
        ) from None
    check_file_kind(path, "HDF5")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path} is not a readable HDF5 file: {error}") from None
    with file:
        missing = [name for name in ("predictions", "id_str", "label_cols") if name not in file]
        if missing:
            raise DataError(
                f"{path} is not a zoobot predictions file: it has no dataset "
                f"{', '.join(repr(m) for m in missing)} (its datasets: "
                f"{', '.join(repr(str(k)) for k in file) or 'none'}); zoobot's predict_on_catalog "
                "writes 'predictions', 'id_str' and 'label_cols'"
            )
        predictions, ids, labels = file["predictions"], file["id_str"], file["label_cols"]
        labels_list = [str(label) for label in _strings(labels, path, "label_cols")]
        shape = predictions.shape
        if len(shape) not in (2, 3) or not np.issubdtype(predictions.dtype, np.number):
            raise DataError(
                f"{path}: dataset 'predictions' is {predictions.dtype} of shape {shape}; zoobot "
                "writes numbers of shape (galaxies, outputs) or (galaxies, outputs, passes)"
            )
        if shape[1] != len(labels_list):
            raise DataError(
                f"{path}: 'predictions' has {shape[1]} outputs but 'label_cols' names "
                f"{len(labels_list)}"
            )
        if len(ids) != shape[0]:
            raise DataError(
                f"{path}: 'predictions' has {shape[0]} rows but 'id_str' has {len(ids)} ids"
            )
        values = np.empty(shape[:2], dtype=np.float32)
        for start in range(0, shape[0], HDF5_CHUNK_ROWS):
            chunk = np.asarray(predictions[start : start + HDF5_CHUNK_ROWS], dtype=np.float32)
            values[start : start + len(chunk)] = chunk.mean(axis=2) if chunk.ndim == 3 else chunk
        id_values = _strings(ids, path, "id_str")
    frame = pd.DataFrame(values, columns=labels_list, copy=False)
    frame.insert(0, "id_str", pd.Series(id_values, dtype="str"))
    return frame


def _strings(dataset: Any, path: Path, name: str) -> np.ndarray:
    """A 1-D dataset of strings as an object array of ``str`` (:class:`DataError` otherwise)."""
    if dataset.ndim != 1 or dataset.dtype.kind not in "OSU":
        raise DataError(
            f"{path}: dataset {name!r} is {dataset.dtype} of shape {dataset.shape}, not a list "
            "of strings"
        )
    try:
        return np.asarray(dataset.asstr()[()], dtype=object)
    except (UnicodeDecodeError, TypeError) as error:
        raise DataError(f"{path}: dataset {name!r} is not UTF-8 text: {error}") from None
