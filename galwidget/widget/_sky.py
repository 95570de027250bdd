"""The sky beside the map: an ipyaladin view linked both ways to an Explorer.

- the Explorer's selection is drawn on the sky as a catalogue overlay (:data:`OVERLAY_NAME`; at
  most :data:`MAX_OVERLAY` galaxies, the first in row order, with a warning beyond);
- a click on a source of that overlay focuses the galaxy in the Explorer;
- focusing a galaxy in the Explorer recentres the sky on it.

ipyaladin is an optional dependency (``pip install galwidget[sky]``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from galwidget.errors import DataError

if TYPE_CHECKING:
    from galwidget.widget._explorer import Explorer

__all__ = ["MAX_OVERLAY", "OVERLAY_NAME", "SkyLink"]

OVERLAY_NAME = "galwidget selection"
# Galaxies drawn on the sky at most (a VOTable of the selection travels to the page each time).
MAX_OVERLAY = 20_000
# The field of view a new sky view opens with, in degrees.
DEFAULT_FOV = 2.0


class SkyLink:
    """Keeps an ipyaladin ``Aladin`` view and an Explorer in step (see the module docstring).

    Args:
        explorer: the Explorer.
        fov: the field of view to open with, in degrees.
        survey: the HiPS survey shown (ipyaladin's default when ``None``).
    """

    def __init__(self, explorer: Explorer, *, fov: float = DEFAULT_FOV, survey: str | None = None):
        radec = explorer.representations.radec
        if radec is None or not np.isfinite(radec).all(axis=1).any():
            raise DataError(
                "w.sky() needs sky positions: the data has no 'ra'/'dec' columns (or no galaxy "
                "with a finite one) and its ids are not IAU names"
            )
        try:
            from ipyaladin import Aladin
        except ImportError:
            raise ImportError("w.sky() needs ipyaladin: pip install galwidget[sky]") from None
        self.explorer = explorer
        self.radec = radec
        known = np.flatnonzero(np.isfinite(radec).all(axis=1))
        centre = explorer.selection if len(explorer.selection) else known
        ra, dec = _mean_position(radec[np.intersect1d(centre, known)])
        options: dict[str, Any] = {"target": f"{ra} {dec}", "fov": fov}
        if survey is not None:
            options["survey"] = survey
        self.aladin = Aladin(**options)
        self._shown = False
        self.aladin.set_listener("object_clicked", self._clicked)
        explorer.observe(self._selection_changed, names="selection")
        explorer.observe(self._focus_changed, names="_focus")
        self._show_selection()

    def close(self) -> None:
        """Stop following the Explorer (the view stays as it is)."""
        self.explorer.unobserve(self._selection_changed, names="selection")
        self.explorer.unobserve(self._focus_changed, names="_focus")

    def _selection_changed(self, _: dict[str, Any]) -> None:
        self._show_selection()

    def _show_selection(self) -> None:
        from astropy.table import Table

        explorer = self.explorer
        positions = explorer.selection
        positions = positions[np.isfinite(self.radec[positions]).all(axis=1)]
        if len(positions) > MAX_OVERLAY:
            warnings.warn(
                f"{len(positions):,} galaxies selected: the sky shows the first {MAX_OVERLAY:,}",
                stacklevel=3,
            )
            positions = positions[:MAX_OVERLAY]
        if self._shown:
            self.aladin.remove_overlay(OVERLAY_NAME)
            self._shown = False
        if len(positions) == 0:
            return
        table = Table(
            {
                "id": [str(i) for i in explorer.representations.ids[positions]],
                "ra": self.radec[positions, 0],
                "dec": self.radec[positions, 1],
            }
        )
        self.aladin.add_table(table, name=OVERLAY_NAME, color="#ff2d6f", shape="circle")
        self._shown = True

    def _clicked(self, source: dict[str, Any]) -> None:
        data = source.get("data") or {}
        galaxy = data.get("id")
        if galaxy is not None:
            self.explorer.focus(str(galaxy))

    def _focus_changed(self, change: dict[str, Any]) -> None:
        position = int(change["new"])
        if position >= 0 and np.isfinite(self.radec[position]).all():
            ra, dec = self.radec[position]
            self.aladin.target = f"{float(ra)} {float(dec)}"


def _mean_position(radec: np.ndarray) -> tuple[float, float]:
    """The direction of the mean unit vector of ``radec`` (degrees), for centring a view."""
    ra, dec = np.radians(radec[:, 0]), np.radians(radec[:, 1])
    vector = np.array(
        [
            (np.cos(dec) * np.cos(ra)).mean(),
            (np.cos(dec) * np.sin(ra)).mean(),
            np.sin(dec).mean(),
        ]
    )
    norm = np.linalg.norm(vector)
    if norm == 0:
        return 0.0, 0.0
    x, y, z = vector / norm
    return float(np.degrees(np.arctan2(y, x)) % 360), float(np.degrees(np.arcsin(z)))
