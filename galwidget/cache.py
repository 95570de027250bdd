"""Where galwidget keeps computed results (PCA, kNN index, layouts, selections) between sessions.

The cache is an optimisation: when its folder cannot be written (read-only home, full disk,
a path that is a file) galwidget keeps working without it and says so in ONE warning per folder
and session. Writers ask :func:`writable_cache_dir` for a folder (``None``: do not write) and
report a failed write with :func:`warn_unwritable`.
"""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from pathlib import Path

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
