"""galwidget: explore and label galaxies through their learned image representations."""

from galwidget import datasets, images
from galwidget.data import (
    DataError,
    Representations,
    format_iauname,
    load_representations,
    parse_iauname,
)

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Representations",
    "__version__",
    "datasets",
    "format_iauname",
    "images",
    "load_representations",
    "parse_iauname",
]
