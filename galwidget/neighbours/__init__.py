"""Similarity search: galaxies like this one, in the shared PCA space, exact or approximate."""

from galwidget.neighbours._index import NeighbourIndex

__all__ = ["NeighbourIndex"]
