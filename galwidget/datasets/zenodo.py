"""The real Galaxy Zoo data: Zoobot representations (Zenodo 5536995) and the GZ DECaLS catalogue
(Zenodo 4573248), downloaded once into :func:`galwidget.cache.data_dir`.

Downloads go to ``<name>.part`` and become ``<name>`` only once they are valid: a parquet file
with its footer and the expected columns, or a CSV file with the expected header that ends with a
complete row; of the announced size (``Content-Length``/``Content-Range``) and, given one, of the
right checksum. ``Content-Encoding: gzip`` is decoded. An interrupted download resumes from the
``.part`` file only when the server can prove the file has not changed since (``If-Range`` with
the ``ETag`` or ``Last-Modified`` recorded in ``<name>.part.json``); otherwise it starts again.
Anything invalid (an HTML login page from a proxy, a body that ended early, a checksum mismatch)
is moved aside to ``<name>.bad`` and a :class:`~galwidget.DownloadError` says what was wrong.

A file already in the data folder is used without touching the network (so on a machine without
internet you can place the files there by hand), after the same validation (and the checksum,
if one is given); a file that fails it is moved aside to ``<name>.bad``.

``GALWIDGET_ZENODO_URL`` replaces the Zenodo record URLs with a base URL of your own (a mirror):
each file is then fetched from ``<base>/<file name>``.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import json
import os
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galwidget.cache import data_dir
from galwidget.data import (
    FeatureSpec,
    Representations,
    check_file_kind,
    find_feature_columns,
    find_id_column,
    load_representations,
)
from galwidget.errors import DataError, DownloadError
from galwidget.images import local_files
from galwidget.version import __version__

__all__ = [
    "DownloadError",
    "decals_representations",
    "gz2_representations",
    "gz_decals_catalogue",
]

REPRESENTATIONS_RECORD = "https://zenodo.org/records/5536995/files"
CATALOGUE_RECORD = "https://zenodo.org/records/4573248/files"
DECALS_FILE = "cnn_features_decals.parquet"
GZ2_FILE = "cnn_features_gz2.parquet"
CATALOGUE_FILE = "gz_decals_volunteers_5.csv"
MIRROR_VARIABLE = "GALWIDGET_ZENODO_URL"

TIMEOUT_SECONDS = 60
ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.5
CHUNK_BYTES = 1024 * 1024
# Downloads at least this large (or of unknown size) show a progress bar unless progress=False.
PROGRESS_MIN_BYTES = 10 * 1024 * 1024
# How much of a CSV file's end is read to check that its last row is complete.
CSV_TAIL_BYTES = 64 * 1024
# Content-Encodings decoded on the fly (zlib's auto-detection reads gzip and zlib streams).
DECODED_ENCODINGS = {"gzip", "x-gzip", "deflate"}


@dataclass(frozen=True)
class Expected:
    """What a valid download looks like: its format and the columns it must have.

    ``representations``: an id column and feature columns found as
    :func:`~galwidget.load_representations` finds them (``id_column``/``features``).
    """

    format: Literal["parquet", "CSV"]
    columns: tuple[str, ...] = ()
    representations: bool = False
    id_column: str | None = None
    features: FeatureSpec = None

    @classmethod
    def for_representations(cls, load_kwargs: dict[str, Any]) -> Expected:
        features = load_kwargs.get("features")
        return cls(
            "parquet",
            representations=True,
            id_column=load_kwargs.get("id_column"),
            features=features if isinstance(features, str) or features is None else tuple(features),
        )


def decals_representations(
    url: str | None = None,
    checksum: str | None = None,
    download: bool = True,
    path: str | PathLike[str] | None = None,
    progress: bool | None = None,
    png_root: str | PathLike[str] | None = None,
    **load_kwargs: Any,
) -> Representations:
    """Zoobot representations of the ~343k GZ DECaLS DR5 galaxies (1280 features, ``iauname``).

    Downloads ``cnn_features_decals.parquet`` from Zenodo record 5536995 (Walmsley et al. 2022,
    "Practical Morphology Tools") into the data folder unless it is already there, then loads it
    with :func:`galwidget.load_representations` (``load_kwargs`` are passed on).

    Args:
        url: where to download from; default: the Zenodo record, or ``$GALWIDGET_ZENODO_URL/<file>``.
        checksum: ``"md5:<hex>"`` or ``"sha256:<hex>"`` to verify the download; ``None`` skips the
            check (Zenodo's checksum for this file is not built in).
        download: if ``False``, never use the network: the file must already be in place.
        path: where the file is (or goes); default ``data_dir() / "cnn_features_decals.parquet"``.
        progress: progress bars for download and loading (default: for large files).
        png_root: a local copy of the GZ DECaLS images laid out as ``<iauname[:4]>/<iauname>.png``:
            ``png_loc`` (absolute paths on the authors' disks) is remapped under it and the images
            become the thumbnails (see :func:`with_local_pngs`).

    Join volunteer votes with ``reps.join(gz_decals_catalogue(), on="iauname")``.
    """
    expected = Expected.for_representations(load_kwargs)
    file = _fetch(
        DECALS_FILE, REPRESENTATIONS_RECORD, url, checksum, download, path, progress, expected
    )
    reps = load_representations(file, progress=progress, **load_kwargs)
    return reps if png_root is None else with_local_pngs(reps, png_root)


def gz2_representations(
    url: str | None = None,
    checksum: str | None = None,
    download: bool = True,
    path: str | PathLike[str] | None = None,
    progress: bool | None = None,
    png_root: str | PathLike[str] | None = None,
    **load_kwargs: Any,
) -> Representations:
    """Zoobot representations of ~240k Galaxy Zoo 2 (SDSS) galaxies, keyed by ``id_str``.

    The same model as :func:`decals_representations`, not retrained on GZ2 images; downloads
    ``cnn_features_gz2.parquet`` from Zenodo record 5536995. Arguments as for
    :func:`decals_representations`.
    """
    expected = Expected.for_representations(load_kwargs)
    file = _fetch(
        GZ2_FILE, REPRESENTATIONS_RECORD, url, checksum, download, path, progress, expected
    )
    reps = load_representations(file, progress=progress, **load_kwargs)
    return reps if png_root is None else with_local_pngs(reps, png_root)


def with_local_pngs(reps: Representations, png_root: str | PathLike[str]) -> Representations:
    """Point ``png_loc`` at a local image folder and use those images as thumbnails.

    Each ``png_loc`` keeps its last folder and file name (``…/J000/J000411.19+020924.0.png`` →
    ``J000/J000411.19+020924.0.png``), read below ``png_root``; no path may lead outside it.
    """
    if "png_loc" not in reps.meta.columns:
        raise DataError("these representations have no png_loc column to remap")
    root = Path(png_root)
    if not root.is_dir():
        raise DataError(f"png_root {str(root)!r} is not a folder")
    paths = reps.meta["png_loc"].astype(str).str.replace("\\", "/", regex=False)
    relative = paths.str.split("/").str[-2:].str.join("/")
    meta = reps.meta.assign(png_loc=relative)
    return Representations(reps.ids, reps.features, meta, images=local_files("png_loc", root=root))


def gz_decals_catalogue(
    url: str | None = None,
    checksum: str | None = None,
    download: bool = True,
    columns: Sequence[str] | None = None,
    path: str | PathLike[str] | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The GZ DECaLS DR5 volunteer catalogue ``gz_decals_volunteers_5.csv`` (Zenodo 4573248).

    One row per galaxy: ``iauname``, ``ra``, ``dec``, ``redshift``, NSA photometry
    (``petro_th50``, ``petro_th90``, …) and for every question the vote counts and fractions
    (``smooth-or-featured_featured-or-disk_fraction``, …). ``columns`` selects columns
    (``iauname`` is always kept). Other arguments as for :func:`decals_representations`.

    Add the votes to representations with ``reps.join(catalogue, on="iauname")``.
    """
    expected = Expected("CSV", columns=("iauname",))
    file = _fetch(
        CATALOGUE_FILE, CATALOGUE_RECORD, url, checksum, download, path, progress, expected
    )
    usecols = None
    if columns is not None:
        available = pd.read_csv(file, nrows=0).columns
        missing = [c for c in columns if c not in available]
        if missing:
            raise DataError(
                f"{file.name} has no columns {', '.join(map(repr, missing))}; it has: "
                + ", ".join(available)
            )
        usecols = ["iauname", *(c for c in columns if c != "iauname")]
    return pd.read_csv(file, usecols=usecols, dtype={"iauname": str}, low_memory=False)


# ----------------------------------------------------------------------------------------------
# Downloading
# ----------------------------------------------------------------------------------------------


def _fetch(
    name: str,
    record: str,
    url: str | None,
    checksum: str | None,
    download: bool,
    path: str | PathLike[str] | None,
    progress: bool | None,
    expected: Expected,
) -> Path:
    """The local path of data file ``name``, validated, downloading it first if it is not there."""
    target = Path(path).expanduser() if path is not None else data_dir() / name
    if url is None:
        mirror = os.environ.get(MIRROR_VARIABLE)
        url = f"{mirror.rstrip('/')}/{name}" if mirror else f"{record}/{name}?download=1"
    digest = _parse_checksum(checksum)
    if target.is_file():
        problem = _problem(target, expected, digest, progress)
        if problem is None:
            return target
        bad = _move_aside(target, target)
        again = "Call again" if download else "Call again with download=True"
        raise DownloadError(
            f"{target} is not a valid {name}: {problem}. It was moved to {bad} (delete it when "
            f"done); {again} to download it afresh. " + _by_hand(url, target)
        )
    if not download:
        raise DownloadError(
            f"{name} is not at {target} and download=False. " + _by_hand(url, target)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _download(url, target, digest, progress, expected)
    return target


def _by_hand(url: str, target: Path) -> str:
    return (
        f"To install it by hand, download {url} on a machine with internet access and put it at "
        f"{target} (set GALWIDGET_DATA to use another folder)."
    )


def _parse_checksum(checksum: str | None) -> tuple[str, str] | None:
    if checksum is None:
        return None
    algorithm, _, digest = checksum.partition(":")
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    width = {"md5": 32, "sha256": 64}.get(algorithm)
    if width is None or len(digest) != width or any(c not in "0123456789abcdef" for c in digest):
        raise DataError(
            f"checksum must look like 'md5:<32 hex digits>' or 'sha256:<64 hex digits>', "
            f"got {checksum!r}"
        )
    return algorithm, digest


class _NotData(Exception):
    """The server answered with something that is not the file (an HTML page)."""

    def __init__(self, what: str, body: bytes) -> None:
        super().__init__(what)
        self.body = body


def _download(
    url: str,
    target: Path,
    digest: tuple[str, str] | None,
    progress: bool | None,
    expected: Expected,
) -> None:
    """Download ``url`` to ``target`` through ``<target>.part``, resuming and validating."""
    part = target.with_name(target.name + ".part")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _transfer(url, part, target.name, progress)
            break
        except _NotData as error:  # the partial download, if any, is left as it was
            bad = _bad_path(target)
            bad.write_bytes(error.body)
            raise DownloadError(
                f"could not download {target.name}: {url} answered with {error} instead of the "
                f"file (a proxy, captive portal or login page?). It is saved at {bad}. Open the "
                "URL in a browser to log in, then call again. " + _by_hand(url, target)
            ) from None
        except urllib.error.HTTPError as error:
            if error.code == 416:  # nothing left after the partial file's end
                if error.headers.get("Content-Range") == f"bytes */{part.stat().st_size}":
                    break  # the partial file is already complete (validated below)
                _discard(part)  # it is longer than the file: start over
            elif error.code < 500 or attempt == ATTEMPTS:
                raise DownloadError(
                    f"could not download {target.name}: {url} answered HTTP {error.code} "
                    f"{error.reason}. " + _by_hand(url, target)
                ) from None
        except urllib.error.URLError as error:
            # Refused connections and unknown hosts mean "offline": retrying will not help.
            raise DownloadError(
                f"could not download {target.name} from {url}: {error.reason}. "
                + _by_hand(url, target)
            ) from None
        except (OSError, http.client.HTTPException, zlib.error) as error:
            if attempt == ATTEMPTS:
                raise DownloadError(
                    f"could not download {target.name} from {url} after {ATTEMPTS} attempts "
                    f"({type(error).__name__}: {error}); the partial download is kept at {part} "
                    "and will be resumed if the server allows. " + _by_hand(url, target)
                ) from None
        time.sleep(RETRY_PAUSE_SECONDS * attempt)
    else:
        raise DownloadError(
            f"could not download {target.name} from {url}: the server refused to resume or "
            "restart the transfer. " + _by_hand(url, target)
        )
    problem = _problem(part, expected, digest, progress)
    if problem is not None:
        bad = _move_aside(part, target)
        _record_path(part).unlink(missing_ok=True)
        raise DownloadError(
            f"the download of {target.name} from {url} is not valid: {problem}. Nothing was "
            f"installed at {target}; the download is kept at {bad} for inspection (delete it when "
            "done). Calling again downloads the file afresh. " + _by_hand(url, target)
        )
    os.replace(part, target)
    _record_path(part).unlink(missing_ok=True)


def _record_path(part: Path) -> Path:
    """Where the validators of a partial download are kept (``<name>.part.json``)."""
    return part.with_name(part.name + ".json")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _record_path(part).unlink(missing_ok=True)


def _move_aside(path: Path, target: Path) -> Path:
    bad = _bad_path(target)
    os.replace(path, bad)
    return bad


def _bad_path(target: Path) -> Path:
    """A new name for a bad download: ``<name>.bad``, else ``<name>.bad.1``, … (none replaced)."""
    bad, number = target.with_name(target.name + ".bad"), 0
    while bad.exists():
        number += 1
        bad = target.with_name(f"{target.name}.bad.{number}")
    return bad


def _resume_from(part: Path, url: str) -> tuple[int, str | None, int | None]:
    """``(bytes to keep, If-Range validator, total size)`` for resuming ``part``: 0 unless the
    part was written, unencoded, from ``url`` by a response with a strong ETag or a
    Last-Modified date (without one the server cannot tell us if the file changed since)."""
    if not part.is_file():
        return 0, None, None
    try:
        record = json.loads(_record_path(part).read_text())
    except (OSError, ValueError):
        return 0, None, None
    if not isinstance(record, dict) or record.get("url") != url or record.get("encoded"):
        return 0, None, None
    etag = record.get("etag")
    validator = etag if etag and not etag.startswith("W/") else record.get("last_modified")
    if not validator:
        return 0, None, None
    return part.stat().st_size, validator, record.get("total")


def _transfer(url: str, part: Path, name: str, progress: bool | None) -> None:
    """One request: append the rest of ``url`` to ``part``, or rewrite it when resuming is not
    safe or the server sends the whole file."""
    have, validator, recorded_total = _resume_from(part, url)
    # identity: a compressed transfer could not be resumed (it is still decoded if sent).
    headers = {"User-Agent": f"galwidget/{__version__}", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = str(validator)
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() in {"text/html", "application/xhtml+xml"}:
            raise _NotData(f"an HTML page ({content_type})", response.read(CSV_TAIL_BYTES))
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in DECODED_ENCODINGS | {"identity", ""}:
            raise http.client.HTTPException(f"unsupported Content-Encoding {encoding!r}")
        encoded = encoding in DECODED_ENCODINGS
        resumed = have > 0 and response.status == 206 and not encoded
        total = _expected_total(response, have if resumed else 0, encoded)
        now = {response.headers.get("ETag"), response.headers.get("Last-Modified")} - {None}
        changed = (recorded_total is not None and total not in (None, recorded_total)) or (
            now and validator not in now  # a server that resumed despite If-Range
        )
        if resumed and changed:
            _discard(part)  # the next attempt starts afresh
            raise http.client.HTTPException("the file changed on the server during the download")
        if not resumed:
            record = {
                "url": url,
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "total": total,
                "encoded": encoded,
            }
            part.write_bytes(b"")
            _record_path(part).write_text(json.dumps(record))
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        decoder = zlib.decompressobj(32 + zlib.MAX_WBITS) if encoded else None
        show = progress if progress is not None else (total is None or total >= PROGRESS_MIN_BYTES)
        received = 0
        with (
            part.open("ab") as handle,
            tqdm(
                total=total,
                initial=start,
                desc=f"downloading {name}",
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=not show,
            ) as bar,
        ):
            while chunk := response.read(CHUNK_BYTES):
                received += len(chunk)
                handle.write(decoder.decompress(chunk) if decoder else chunk)
                bar.update(len(chunk))
            if decoder is not None:
                handle.write(decoder.flush())
    if length is not None and received != int(length):
        raise http.client.IncompleteRead(b"", int(length) - received)
    if decoder is not None and not decoder.eof:
        raise http.client.IncompleteRead(b"", None)  # the compressed stream was cut short
    size = part.stat().st_size
    if total is not None and size != total:
        raise http.client.IncompleteRead(b"", total - size)


def _expected_total(response: Any, start: int, encoded: bool) -> int | None:
    """The size of the whole (decoded) file, if the response says: ``Content-Range``'s total,
    else the offset plus ``Content-Length`` (unknown for encoded bodies)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206:
        if not content_range.startswith(f"bytes {start}-"):
            raise http.client.HTTPException(
                f"the server resumed at the wrong place: {content_range or 'no Content-Range'}"
            )
        whole = content_range.rpartition("/")[2]
        return int(whole) if whole.isdigit() else None
    length = response.headers.get("Content-Length")
    if encoded or length is None or not length.isdigit():
        return None
    return start + int(length)


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def _problem(
    path: Path, expected: Expected, digest: tuple[str, str] | None, progress: bool | None
) -> str | None:
    """Why ``path`` is not a valid download (``None`` if it is)."""
    try:
        _check_contents(path, expected)
    except DataError as error:
        return str(error).replace(f"{path}: ", "").replace(f"{path} ", "it ")
    if digest is not None:
        actual = _hash(path, digest[0], progress)
        if actual != digest[1]:
            return f"checksum mismatch: expected {digest[0]}:{digest[1]}, got {digest[0]}:{actual}"
    return None


def _check_contents(path: Path, expected: Expected) -> None:
    """Raise :class:`DataError` unless ``path`` is a complete file of the expected kind."""
    check_file_kind(path, expected.format)
    if expected.format == "parquet":
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as error:
            raise DataError(f"its parquet footer cannot be read ({error})") from None
        names = list(schema.names)
        if expected.representations:
            id_column = find_id_column(names, expected.id_column)
            types = {n: schema.field(n).type for n in names}
            find_feature_columns(names, types, expected.features, id_column)
    else:
        names = _complete_csv_header(path)
    missing = [c for c in expected.columns if c not in names]
    if missing:
        raise DataError(f"it has no column {', '.join(map(repr, missing))}")


def _complete_csv_header(path: Path) -> list[str]:
    """The header of a CSV file whose last row is complete: it ends with a line break and has
    as many fields as the header (a body cut short rarely does both)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        first = handle.readline(CSV_TAIL_BYTES)
        handle.seek(max(0, size - CSV_TAIL_BYTES))
        tail = handle.read()
    if not tail.endswith(b"\n"):
        raise DataError("it does not end with a line break: the download was cut short")
    header = next(csv.reader([first.decode("utf-8", "replace")]), [])
    last = tail.rstrip(b"\r\n").rpartition(b"\n")[2]
    fields = next(csv.reader([last.decode("utf-8", "replace")]), [])
    if len(fields) != len(header):
        raise DataError(
            f"its last row has {len(fields)} fields but the header {len(header)}: the download "
            "was cut short"
        )
    return header


def _hash(path: Path, algorithm: str, progress: bool | None) -> str:
    hasher = hashlib.new(algorithm)
    size = path.stat().st_size
    show = progress if progress is not None else size >= PROGRESS_MIN_BYTES
    with (
        path.open("rb") as handle,
        tqdm(
            total=size, desc=f"checking {path.name}", unit="B", unit_scale=True, disable=not show
        ) as bar,
    ):
        while chunk := handle.read(CHUNK_BYTES):
            hasher.update(chunk)
            bar.update(len(chunk))
    return hasher.hexdigest()
