"""The errors galwidget raises for bad input, so callers can catch them by kind.

Every error has :class:`GalwidgetError` as a base and keeps the built-in base it always had
(``DataError`` is a ``ValueError``, ``DownloadError`` an ``OSError``), so existing ``except``
clauses keep working. Messages name the file, column, row or value at fault and say what to do.
"""

from __future__ import annotations

__all__ = ["DataError", "DownloadError", "GalwidgetError", "ImageError"]


class GalwidgetError(Exception):
    """Base class of every error galwidget raises on purpose."""


class DataError(GalwidgetError, ValueError):
    """Input data that galwidget cannot use; the message names the file, column, rows or values."""


class DownloadError(GalwidgetError, OSError):
    """A data file could not be downloaded or the download is not valid; the message says what
    was wrong, where a bad file was moved and how to retry or install the file by hand."""


class ImageError(GalwidgetError):
    """One thumbnail could not be made; ``reason`` is a short message (naming the file) that the
    widget can show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
