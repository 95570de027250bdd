"""Similarity search: galaxies like this one, in the shared PCA space, exact or approximate."""

from galwidget.neighbors._index import NeighborIndex

__all__ = ["NeighborIndex"]
