"""The real Galaxy Zoo data: Zoobot representations (Zenodo 5536995) and the GZ DECaLS catalogue
(Zenodo 4573248), downloaded once into :func:`galwidget.cache.data_dir`.

Downloads resume from a partial ``<name>.part`` file (HTTP ``Range``; servers that ignore it are
read from the start again), show a progress bar and, given a checksum, are verified before use.
A file already in the data folder is used without touching the network, so on a machine without
internet you can place the files there by hand.

``GALWIDGET_ZENODO_URL`` replaces the Zenodo record URLs with a base URL of your own (a mirror):
each file is then fetched from ``<base>/<file name>``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from galwidget.cache import data_dir
from galwidget.data import DataError, Representations, load_representations
from galwidget.errors import DownloadError
from galwidget.images import local_files

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
    file = _fetch(DECALS_FILE, REPRESENTATIONS_RECORD, url, checksum, download, path, progress)
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
    file = _fetch(GZ2_FILE, REPRESENTATIONS_RECORD, url, checksum, download, path, progress)
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
    file = _fetch(CATALOGUE_FILE, CATALOGUE_RECORD, url, checksum, download, path, progress)
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
) -> Path:
    """The local path of data file ``name``, downloading it first if it is not there yet."""
    target = Path(path).expanduser() if path is not None else data_dir() / name
    if url is None:
        mirror = os.environ.get(MIRROR_VARIABLE)
        url = f"{mirror.rstrip('/')}/{name}" if mirror else f"{record}/{name}?download=1"
    expected = _parse_checksum(checksum)
    if target.is_file():
        return target
    if not download:
        raise DownloadError(
            f"{name} is not at {target} and download=False. " + _by_hand(url, target)
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _download(url, target, expected, progress)
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


def _download(
    url: str, target: Path, expected: tuple[str, str] | None, progress: bool | None
) -> None:
    """Download ``url`` to ``target`` through ``<target>.part``, resuming and verifying."""
    part = target.with_name(target.name + ".part")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _transfer(url, part, target.name, progress)
            break
        except urllib.error.HTTPError as error:
            if error.code == 416:  # nothing left after the partial file's end
                if error.headers.get("Content-Range") == f"bytes */{part.stat().st_size}":
                    break  # the partial file is already complete
                part.unlink(missing_ok=True)  # it is longer than the file: start over
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
        except (OSError, http.client.HTTPException) as error:
            if attempt == ATTEMPTS:
                raise DownloadError(
                    f"could not download {target.name} from {url} after {ATTEMPTS} attempts "
                    f"({type(error).__name__}: {error}); the partial download is kept at {part} "
                    "and will be resumed. " + _by_hand(url, target)
                ) from None
        time.sleep(RETRY_PAUSE_SECONDS * attempt)
    else:
        raise DownloadError(
            f"could not download {target.name} from {url}: the server refused to resume or "
            "restart the transfer. " + _by_hand(url, target)
        )
    if expected is not None:
        _verify(part, target, expected, progress)
    os.replace(part, target)


def _transfer(url: str, part: Path, name: str, progress: bool | None) -> None:
    """One request: append the rest of ``url`` to ``part`` (or rewrite it if Range is ignored)."""
    from galwidget import __version__  # late: galwidget/__init__ may still be running

    have = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": f"galwidget/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        resumed = have > 0 and response.status == 206
        if resumed and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
            raise http.client.HTTPException(
                f"the server resumed at the wrong place: {response.headers.get('Content-Range')}"
            )
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        show = progress if progress is not None else (total is None or total >= PROGRESS_MIN_BYTES)
        with (
            part.open("ab" if resumed else "wb") as handle,
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
                handle.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise http.client.IncompleteRead(b"", total - size)


def _verify(part: Path, target: Path, expected: tuple[str, str], progress: bool | None) -> None:
    algorithm, digest = expected
    hasher = hashlib.new(algorithm)
    size = part.stat().st_size
    show = progress if progress is not None else size >= PROGRESS_MIN_BYTES
    with (
        part.open("rb") as handle,
        tqdm(
            total=size, desc=f"checking {target.name}", unit="B", unit_scale=True, disable=not show
        ) as bar,
    ):
        while chunk := handle.read(CHUNK_BYTES):
            hasher.update(chunk)
            bar.update(len(chunk))
    actual = hasher.hexdigest()
    if actual != digest:
        bad = target.with_name(target.name + ".bad")
        os.replace(part, bad)
        raise DataError(
            f"checksum mismatch for {target.name}: expected {algorithm}:{digest}, got "
            f"{algorithm}:{actual}. The download was not used; it is kept at {bad} for "
            "inspection (delete it when done). Calling again downloads the file afresh."
        )
