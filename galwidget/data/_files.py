"""Recognising what a file really is before reading it (HTML pages, gzip, truncated parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from galwidget.errors import DataError


def check_file_kind(path: Path, kind: Literal["parquet", "CSV"]) -> None:
    """Refuse a file that is plainly not a ``kind`` file, naming it: a folder, an empty file, an
    HTML page (a failed download or login page), gzip given as parquet or as ``.csv``, parquet
    given as CSV, or a parquet file without its closing magic bytes (truncated)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a {kind} file; to read a folder of parquet parts pass "
            "reduce_to=… (see galwidget.data) or name one file"
        )
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path} is empty (0 bytes), not a {kind} file: fetch or write it again")
    with path.open("rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    text = head.lstrip().lower()
    # Data never starts with "<"; an HTML page does (possibly after a comment or XML prolog).
    if text.startswith(b"<") and (b"<html" in text or text.startswith(b"<!doctype html")):
        raise DataError(
            f"{path} is an HTML page, not a {kind} file (a proxy, login or error page saved in "
            "its place?): delete it and fetch the file again"
        )
    gzipped = head[:2] == b"\x1f\x8b"
    if kind == "parquet":
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
