"""Built-in data sets: a synthetic GZ DECaLS-like population that needs no download, and the
real Galaxy Zoo representations and catalogue from Zenodo."""

from galwidget.datasets.render import SyntheticThumbnails
from galwidget.datasets.synthetic import MORPHOLOGIES, synthetic, write_zenodo_like
from galwidget.datasets.zenodo import (
    DownloadError,
    decals_representations,
    gz2_representations,
    gz_decals_catalogue,
    with_local_pngs,
)

__all__ = [
    "MORPHOLOGIES",
    "DownloadError",
    "SyntheticThumbnails",
    "decals_representations",
    "gz2_representations",
    "gz_decals_catalogue",
    "synthetic",
    "with_local_pngs",
    "write_zenodo_like",
]
