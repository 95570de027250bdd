"""galwidget: explore and label galaxies through their learned image representations."""

from galwidget import catalogues, datasets, images, labels, learn
from galwidget.data import Representations, load_representations
from galwidget.errors import DataError, DownloadError, GalwidgetError, ImageError
from galwidget.labels import LabelStorageError, LabelStore
from galwidget.layout import layout
from galwidget.neighbours import NeighbourIndex
from galwidget.sky import format_iauname, parse_iauname
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
    "NeighbourIndex",
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
]
