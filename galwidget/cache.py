"""Where galwidget keeps computed results (PCA, kNN index, layouts) between sessions."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "data_dir"]


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "galwidget"


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``override``, else ``$GALWIDGET_CACHE``, else ``~/.cache/galwidget``.

    Created if missing.
    """
    path = Path(override or os.environ.get("GALWIDGET_CACHE") or _user_cache())
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where downloaded data files go: ``override``, else ``$GALWIDGET_DATA``, else
    ``~/.cache/galwidget/data``. Created if missing."""
    path = Path(override or os.environ.get("GALWIDGET_DATA") or _user_cache() / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path
