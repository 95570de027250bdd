"""Find a galaxy from one line of text, as typed in the widget's search box or ``w.find("…")``.

The text is tried, in this order, as:

1. an **id**, exactly (case-sensitive);
2. a **sky position** (J2000, ICRS-like degrees), the nearest galaxy on the sky is found:

   - decimal degrees: ``"150.1 2.2"``, ``"150.1, +2.2"``, ``"150.1d -2.2d"``;
   - sexagesimal ra in hours, dec in degrees: ``"10:00:24 +02:12:00"``, ``"10 00 24.5 -02 12 00"``,
     ``"10h00m24s +2d12m"``, ``"10h00m24.5s +02d12m00s"`` (seconds optional after ``h``/``d``);
   - an IAU name ``"J100024.00+021200.0"`` (``JHHMMSS.ss±DDMMSS.s``);
3. an **id prefix**: the ids that start with the text, in sorted (UTF-8 byte) order.

Anything else raises :class:`~galwidget.DataError` saying what was expected. Ranges are checked
(ra in [0, 360] degrees or [0, 24] hours, 360 being 0; dec in [-90, 90], minutes and seconds below 60).
A sky position finds the nearest galaxy only within ``radius_arcsec`` (default
:data:`RADIUS_ARCSEC`); beyond it nothing is focused and :class:`Found` names the nearest galaxy
and how far it is.

Text is at most :data:`MAX_QUERY_LENGTH` characters (the search box's ``maxlength``), and every
run of whitespace counts as one space before parsing, so each pattern's separators match at most
one character: parsing takes time linear in the text (a run of spaces between two fields used to
make the sexagesimal pattern backtrack cubically: 300 spaces took 0.7 s, 3000 minutes).

Invariants: a :class:`Finder` builds its two indexes once, on first need, under a lock: a sorted
array of the ids' UTF-8 bytes (``searchsorted`` answers an exact id or a prefix in O(log n),
milliseconds at 10M ids) and a ``cKDTree`` on the unit vectors of the galaxies' sky positions
(:attr:`Representations.radec`; rows without a position are left out). Separations are great-circle
angles from the chord length (exact to micro-arcseconds).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from galwidget.errors import DataError
from galwidget.sky import IAUNAME, chord_to_arcsec, parse_iauname, sky_unit_vectors

if TYPE_CHECKING:
    from galwidget.data import Representations

__all__ = ["MAX_QUERY_LENGTH", "RADIUS_ARCSEC", "Finder", "Found", "parse_sky_position"]

# How many completions a prefix search lists by default.
COMPLETIONS = 10
MAX_QUERY_LENGTH = 200
"""The longest text :meth:`Finder.find` accepts (the search box's maxlength, through the protocol)."""
RADIUS_ARCSEC = 5.0
"""How far (arcsec) from a sky position the nearest galaxy may be to be found, by default."""

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DECIMAL = re.compile(
    rf"^\+?(?P<ra>{_NUMBER})\s*(?:deg|d|°)?\s*(?:,\s*|\s+)"
    rf"(?P<dec>[+-]?{_NUMBER})\s*(?:deg|d|°)?$"
)
_SEXAGESIMAL = re.compile(
    r"^(?P<h>\d{1,2})(?P<hsep>:|\s+|\s*h\s*)(?P<m>\d{1,2})(?:(?:\s*m\s*|:|\s+)"
    r"(?P<s>\d{1,2}(?:\.\d*)?)\s*s?)?\s*m?\s*(?:,\s*|\s+|(?=[+-]))"
    r"(?P<sign>[+-]?)(?P<d>\d{1,2})(?:\s*[d°]\s*|:|\s+)(?P<am>\d{1,2})"
    r"(?:(?:\s*[m']\s*|:|\s+)(?P<as>\d{1,2}(?:\.\d*)?)\s*(?:s|\"|'')?)?\s*[m']?$"
)


@dataclass(frozen=True)
class Found:
    """What :meth:`Finder.find` made of one line of text.

    Attributes:
        query: the text, stripped.
        kind: ``"id"`` (an exact id), ``"sky"`` (a sky position) or ``"prefix"`` (an id prefix).
        position: row position of the galaxy to focus; ``None`` for a prefix that several ids
            start with (pick one of :attr:`completions`) and for a sky position with no galaxy
            within :attr:`radius_arcsec`.
        id: that galaxy's id; for a sky position with none within the radius, the nearest
            galaxy's (not focused); ``None`` for a prefix of several ids.
        completions: for ``"prefix"``: the first ids (sorted) that start with the text.
        n_completions: for ``"prefix"``: how many ids start with the text.
        ra, dec: for ``"sky"``: the position asked for, in degrees.
        separation_arcsec: for ``"sky"``: how far the nearest galaxy is from it.
        radius_arcsec: for ``"sky"``: how far a galaxy could be to be found.
    """

    query: str
    kind: Literal["id", "sky", "prefix"]
    position: int | None
    id: str | None
    completions: tuple[str, ...] = ()
    n_completions: int = 0
    ra: float | None = None
    dec: float | None = None
    separation_arcsec: float | None = None
    radius_arcsec: float | None = None


class Finder:
    """Finds galaxies of ``reps`` by id, id prefix or sky position (see the module docstring).

    Args:
        reps: the galaxies; their sky positions come from :attr:`Representations.radec`.
    """

    def __init__(self, reps: Representations) -> None:
        self._reps = reps
        self._lock = threading.Lock()
        # UTF-8 bytes of the ids, sorted; the row position of each sorted id
        self._ids_sorted: tuple[np.ndarray, np.ndarray] | None = None
        # a k-d tree of the finite positions; the row position of each tree point
        self._sky_tree: tuple[cKDTree, np.ndarray] | None = None

    def find(
        self, text: str, *, completions: int = COMPLETIONS, radius_arcsec: float = RADIUS_ARCSEC
    ) -> Found:
        """The galaxy (or the completions) that ``text`` names.

        Args:
            text: an id, an id prefix or a sky position (formats in the module docstring), at
                most :data:`MAX_QUERY_LENGTH` characters.
            completions: most ids listed for a prefix.
            radius_arcsec: a sky position finds the nearest galaxy only this close (``math.inf``:
                at any distance); beyond, :attr:`Found.position` is ``None`` and
                :attr:`Found.id` names the nearest galaxy.

        Raises:
            DataError: empty or too long text; a sky position out of range; a sky position when
                the data has no sky positions; a radius that is not a positive number; or text
                that is none of the three.
        """
        if not isinstance(text, str):
            raise DataError(f"find needs text (an id or a sky position), got {text!r}")
        if len(text) > MAX_QUERY_LENGTH:
            raise DataError(
                f"find takes at most {MAX_QUERY_LENGTH} characters (an id or a sky position), "
                f"got {len(text)}: {text[:40]!r}…"
            )
        if (
            isinstance(radius_arcsec, bool)
            or not isinstance(radius_arcsec, int | float)
            or not radius_arcsec > 0
        ):
            raise DataError(f"radius_arcsec must be a positive number, got {radius_arcsec!r}")
        query = text.strip()
        if not query:
            raise DataError("find needs an id, an id prefix or a sky position, got empty text")
        position = self.position_of(query)
        if position is not None:
            return Found(query, "id", position, query)
        radec = parse_sky_position(query)
        if radec is not None:
            ra, dec = radec
            nearest, separation = self.nearest(ra, dec)
            return Found(
                query,
                "sky",
                nearest if separation <= radius_arcsec else None,
                str(self._reps.ids[nearest]),
                ra=ra,
                dec=dec,
                separation_arcsec=separation,
                radius_arcsec=float(radius_arcsec),
            )
        ids, total = self.complete(query, limit=completions)
        if total == 0:
            raise DataError(
                f"no galaxy id is or starts with {query!r}, and it is not a sky position "
                "(expected e.g. '150.1 2.2', '10:00:24 +02:12:00', '10h00m24s +2d12m' or "
                "'J100024.00+021200.0')"
            )
        if total == 1:
            only = self.position_of(ids[0])
            return Found(query, "prefix", only, ids[0], completions=ids, n_completions=1)
        return Found(query, "prefix", None, None, completions=ids, n_completions=total)

    def position_of(self, galaxy_id: str) -> int | None:
        """Row position of the galaxy whose id is exactly ``galaxy_id``, or ``None``."""
        position = int(self._reps.id_lookup.locate(galaxy_id)[0])
        return None if position < 0 else position

    def complete(self, prefix: str, *, limit: int = COMPLETIONS) -> tuple[tuple[str, ...], int]:
        """The first ``limit`` ids (sorted) that start with ``prefix``, and how many do."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise DataError(f"limit must be a non-negative integer, got {limit!r}")
        sorted_ids, _ = self._id_index()
        key = prefix.encode("utf-8")
        if len(key) > sorted_ids.dtype.itemsize:
            return (), 0
        if not key:
            low, high = 0, len(sorted_ids)
        else:
            # The ids starting with ``key`` are those in [key, key with its last byte + 1): UTF-8
            # has no 0xff byte, and the bound is no longer than ``key`` (numpy would otherwise
            # widen the whole array for the comparison).
            after = key[:-1] + bytes([key[-1] + 1])
            low = int(np.searchsorted(sorted_ids, key, side="left"))
            high = int(np.searchsorted(sorted_ids, after, side="left"))
        first = sorted_ids[low : min(high, low + limit)]
        return tuple(value.decode("utf-8") for value in first), high - low

    def nearest(self, ra: float, dec: float) -> tuple[int, float]:
        """Row position of the galaxy nearest ``(ra, dec)`` (degrees) on the sky, and its
        separation in arcseconds."""
        tree, positions = self._sky_index()
        chord, at = tree.query(sky_unit_vectors(np.array([[ra, dec]]))[0])
        separation = chord_to_arcsec(chord)
        return int(positions[at]), float(separation)

    def _id_index(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._ids_sorted is None:
                encoded = _utf8(self._reps.ids)
                order = np.argsort(encoded, kind="stable")
                self._ids_sorted = encoded[order], order
            return self._ids_sorted

    def _sky_index(self) -> tuple[cKDTree, np.ndarray]:
        with self._lock:
            if self._sky_tree is None:
                radec = self._reps.radec
                if radec is None:
                    raise DataError(
                        "cannot search by sky position: the data has no 'ra'/'dec' columns and "
                        "its ids are not IAU names"
                    )
                known = np.flatnonzero(np.isfinite(radec).all(axis=1))
                if len(known) == 0:
                    raise DataError("cannot search by sky position: no galaxy has a finite ra/dec")
                points = sky_unit_vectors(radec[known])
                self._sky_tree = cKDTree(points), known
            return self._sky_tree


def parse_sky_position(text: str) -> tuple[float, float] | None:
    """``(ra, dec)`` in degrees of a sky position written as in the module docstring, or ``None``
    when ``text`` is not written as one.

    Raises:
        DataError: text longer than :data:`MAX_QUERY_LENGTH`; text written as a sky position
            with a value out of range.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise DataError(
            f"a sky position takes at most {MAX_QUERY_LENGTH} characters, got {len(text)}"
        )
    # One space for every run of whitespace: the patterns' separators then match at most one
    # character each, and no pattern backtracks more than a constant number of steps per one.
    text = " ".join(text.replace("−", "-").split())
    if IAUNAME.match(text):
        ra, dec = parse_iauname(text)
        return float(ra), float(dec)
    match = _DECIMAL.match(text)
    if match:
        return _checked(text, float(match["ra"]), float(match["dec"]))
    match = _SEXAGESIMAL.match(text)
    if match:
        hours, minutes, seconds = int(match["h"]), int(match["m"]), float(match["s"] or 0)
        degrees, arcmin, arcsec = int(match["d"]), int(match["am"]), float(match["as"] or 0)
        if hours > 24 or minutes >= 60 or seconds >= 60 or arcmin >= 60 or arcsec >= 60:
            raise DataError(
                f"sky position {text!r}: hours must be at most 24, minutes and seconds below 60"
            )
        ra = 15.0 * (hours + minutes / 60.0 + seconds / 3600.0)
        dec = degrees + arcmin / 60.0 + arcsec / 3600.0
        return _checked(text, ra, -dec if match["sign"] == "-" else dec)
    return None


def _checked(text: str, ra: float, dec: float) -> tuple[float, float]:
    """``(ra, dec)`` with ra 360 (24h, as formatters round 23:59:59.9999…) wrapped to 0."""
    if not 0.0 <= ra <= 360.0 or not -90.0 <= dec <= 90.0:
        raise DataError(
            f"sky position {text!r}: ra must be in [0, 360] degrees and dec in [-90, 90], "
            f"got ra {ra:g}, dec {dec:g}"
        )
    return ra % 360.0, dec


def _utf8(ids: pd.Index) -> np.ndarray:
    """The ids as a fixed-width bytes array (UTF-8), which sorts in code point order."""
    values = ids.to_numpy(dtype=object)
    try:
        return values.astype("S")  # ASCII ids: fast
    except UnicodeEncodeError:
        return np.array([value.encode("utf-8") for value in values], dtype="S")
