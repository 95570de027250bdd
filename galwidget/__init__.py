"""galwidget: explore and label galaxies through their learned image representations."""

from typing import Any

from galwidget import catalogues, datasets, images, labels, learn
from galwidget.data import Representations, load_representations, to_hats
from galwidget.errors import DataError, DownloadError, GalwidgetError, ImageError
from galwidget.labels import LabelStorageError, LabelStore
from galwidget.layout import layout
from galwidget.neighbors import NeighborIndex
from galwidget.sky import format_iauname, parse_iauname
from galwidget.util import warn_deprecated
from galwidget.version import __version__
from galwidget.widget import Explorer

__all__ = [
    "DataError",
    "DownloadError",
    "Explorer",
    "GalwidgetError",
    "ImageError",
    "LabelStorageError",
    "LabelStore",
    "NeighborIndex",
    "Representations",
    "__version__",
    "catalogues",
    "datasets",
    "format_iauname",
    "images",
    "labels",
    "layout",
    "learn",
    "load_representations",
    "parse_iauname",
    "to_hats",
]


def __getattr__(name: str) -> Any:
    if name == "NeighbourIndex":  # the British spelling of galwidget 0.1
        warn_deprecated("gw.NeighbourIndex", "gw.NeighborIndex")
        return NeighborIndex
    raise AttributeError(f"module 'galwidget' has no attribute {name!r}")
