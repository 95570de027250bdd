"""Where galwidget keeps computed results (PCA, kNN index, layouts, selections) between sessions.

The cache is an optimisation: when its folder cannot be written (read-only home, full disk,
a path that is a file) galwidget keeps working without it and says so in ONE warning per folder
and session. Writers ask :func:`writable_cache_dir` for a folder (``None``: do not write) and
report a failed write with :func:`warn_unwritable`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import uuid
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["cache_dir", "data_dir", "warn_unwritable", "writable_cache_dir"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "galwidget"


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``override``, else ``$GALWIDGET_CACHE``, else ``~/.cache/galwidget``.

    Created if missing and possible; reading from a folder that could not be created finds
    nothing. Writers use :func:`writable_cache_dir`.
    """
    path = Path(override or os.environ.get("GALWIDGET_CACHE") or _user_cache())
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # unwritable: reads find nothing, writable_cache_dir() warns once
    return path


def writable_cache_dir(
    kind: str | None = None, *, override: str | os.PathLike[str] | None = None
) -> Path | None:
    """The cache folder (its subfolder ``kind``, e.g. ``"selections"``), created, if files can be
    written there; else ``None`` after one warning per folder and session.

    Usage: ``folder = writable_cache_dir("selections")``; when it is ``None`` skip the write
    (the warning has been given).
    """
    root = cache_dir(override)
    folder = root / kind if kind else root
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        warn_unwritable(root, error)  # keyed by the cache root: one warning for all kinds
        return None
    return folder


def warn_unwritable(folder: str | os.PathLike[str], error: BaseException) -> None:
    """Warn (once per ``folder`` and session) that cache files cannot be written there."""
    key = os.path.abspath(folder)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(
        f"galwidget cannot write its cache folder {key} ({type(error).__name__}: {error}); "
        "working without a cache (results are recomputed each session). Set GALWIDGET_CACHE "
        "to a writable folder to keep them.",
        stacklevel=3,
    )


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where downloaded data files go: ``override``, else ``$GALWIDGET_DATA``, else
    ``~/.cache/galwidget/data``. Created if missing."""
    path = Path(override or os.environ.get("GALWIDGET_DATA") or _user_cache() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


# ----------------------------------------------------------------------------------------------
# Cache files: npz with the data fingerprint and a checksum, written atomically
# ----------------------------------------------------------------------------------------------


def _checksum(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_arrays(path: Path, fingerprint: str, **arrays: np.ndarray) -> None:
    """Save ``arrays`` to ``path`` (npz) atomically: a temporary file, then ``os.replace``."""
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    payload["fingerprint"] = np.array(fingerprint)
    payload["checksum"] = np.array(_checksum(payload))
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as file:
            np.savez(file, allow_pickle=False, **payload)  # read back without pickle too
        os.replace(temporary, path)
    except OSError as error:
        warn_unwritable(path.parent, error)  # once per folder: the cache is optional
    finally:
        if os.path.lexists(temporary):
            temporary.unlink()


def read_arrays(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """Arrays saved by :func:`write_arrays`, or ``None`` (with a warning if the file is unusable)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        warn_unusable_file(path, f"{type(error).__name__}: {error}")
        return None
    checksum = str(arrays.pop("checksum", ""))
    if checksum != _checksum(arrays):
        warn_unusable_file(path, "its checksum does not match")
        return None
    if str(arrays.pop("fingerprint")) != fingerprint:
        warn_unusable_file(path, "it belongs to other data")
        return None
    return arrays


def warn_unusable_file(path: Path, reason: str) -> None:
    warnings.warn(f"ignoring cache file {path} ({reason}); recomputing it", stacklevel=4)
