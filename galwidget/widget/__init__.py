"""The notebook widget: :class:`Explorer` wires data, neighbors, layouts, labels and the learner
to the front end through :mod:`galwidget.protocol`. Its parts, each in its own private module:
layouts → points, colors, filters, the selection gallery's pages, selection specs and memory."""

from galwidget.widget._colors import MAX_CATEGORIES, encode_colors
from galwidget.widget._coordinates import LAYOUT_MARGIN, LayoutSpec, normalize_layout
from galwidget.widget._explorer import THUMBNAIL_SIZE, Explorer
from galwidget.widget._selection import SelectionMemory, SelectionSpec

__all__ = [
    "LAYOUT_MARGIN",
    "MAX_CATEGORIES",
    "THUMBNAIL_SIZE",
    "Explorer",
    "LayoutSpec",
    "SelectionMemory",
    "SelectionSpec",
    "encode_colors",
    "normalize_layout",
]
