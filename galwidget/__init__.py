"""galwidget: explore and label galaxies through their learned image representations."""

from galwidget import catalogues, datasets, export, images, learn
from galwidget.data import (
    DataError,
    Representations,
    format_iauname,
    load_representations,
    parse_iauname,
)
from galwidget.errors import DownloadError, GalwidgetError, ImageError
from galwidget.index import NeighbourIndex
from galwidget.labels import LabelStorageError, LabelStore
from galwidget.layout import layout
from galwidget.widget import Explorer

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DownloadError",
    "Explorer",
    "GalwidgetError",
    "ImageError",
    "LabelStorageError",
    "LabelStore",
    "NeighbourIndex",
    "Representations",
    "__version__",
    "catalogues",
    "datasets",
    "export",
    "format_iauname",
    "images",
    "layout",
    "learn",
    "load_representations",
    "parse_iauname",
]
