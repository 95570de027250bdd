"""Positions on the sky: IAU names ``JHHMMSS.ss±DDMMSS.s``, unit vectors and separations."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from galwidget.errors import DataError
from galwidget.util import SHOW_AT_MOST, preview

IAUNAME = re.compile(
    r"^J(?P<hh>\d{2})(?P<mm>\d{2})(?P<ss>\d{2}(?:\.\d*)?)"
    r"(?P<sign>[+-])(?P<dd>\d{2})(?P<am>\d{2})(?P<as>\d{2}(?:\.\d*)?)$"
)


def parse_iauname(names: str | Iterable[str]) -> tuple[Any, Any]:
    """Parse IAU-style names ``JHHMMSS.ss±DDMMSS.s`` into J2000 ``(ra, dec)`` in degrees.

    Vectorised over any iterable of names (returns two float64 arrays); a single string gives two
    floats. Malformed names raise :class:`DataError` listing the first few with their positions.
    """
    scalar = isinstance(names, str)
    if not scalar and not isinstance(names, Iterable):
        raise DataError(f"expected an IAU name or names, got {type(names).__name__}")
    series = pd.Series([names] if scalar else list(names), dtype="object")
    parts = series.astype(str).str.extract(IAUNAME)
    bad = parts["hh"].isna().to_numpy().copy()
    hh, mm, ss = (parts[c].astype(float).to_numpy() for c in ("hh", "mm", "ss"))
    dd, am, sec = (parts[c].astype(float).to_numpy() for c in ("dd", "am", "as"))
    with np.errstate(invalid="ignore"):
        bad |= (hh >= 24) | (mm >= 60) | (ss >= 60) | (am >= 60) | (sec >= 60)
        bad |= dd + am / 60.0 + sec / 3600.0 > 90  # e.g. J…+900030: beyond the pole
    if bad.any():
        rows = np.flatnonzero(bad)
        examples = [f"row {r}: {series.iloc[r]!r}" for r in rows[:SHOW_AT_MOST]]
        more = f" … ({len(rows)} in all)" if len(rows) > SHOW_AT_MOST else ""
        raise DataError(
            "malformed IAU names (expected 'JHHMMSS.ss±DDMMSS.s'): " + "; ".join(examples) + more
        )
    ra = 15.0 * (hh + mm / 60.0 + ss / 3600.0)
    sign = np.where(parts["sign"].to_numpy() == "-", -1.0, 1.0)
    dec = sign * (dd + am / 60.0 + sec / 3600.0)
    if scalar:
        return float(ra[0]), float(dec[0])
    return ra, dec


def sky_unit_vectors(radec: np.ndarray) -> np.ndarray:
    """``(n, 3)`` unit vectors of ``(n, 2)`` ra/dec in degrees: nearest on the sky is nearest in
    3-D, so a k-d tree of them finds nearest sky neighbors."""
    ra, dec = np.radians(radec[:, 0]), np.radians(radec[:, 1])
    return np.column_stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])


def chord_to_arcsec(chord: Any) -> Any:
    """The great-circle separation in arcseconds of unit vectors ``chord`` apart."""
    return np.degrees(2 * np.arcsin(np.clip(np.asarray(chord) / 2, 0.0, 1.0))) * 3600


def format_iauname(ra: Any, dec: Any) -> np.ndarray:
    """Format J2000 ``ra``/``dec`` in degrees as IAU names ``JHHMMSS.ss±DDMMSS.s`` (truncated).

    The inverse of :func:`parse_iauname` to the names' precision (0.01 s in ra, 0.1" in dec).
    """
    try:
        ra = np.atleast_1d(np.asarray(ra, dtype=np.float64))
        dec = np.atleast_1d(np.asarray(dec, dtype=np.float64))
    except (TypeError, ValueError) as error:
        raise DataError(f"ra and dec must be numbers in degrees: {error}") from None
    if ra.shape != dec.shape:
        raise DataError(f"ra and dec differ in shape: {ra.shape} vs {dec.shape}")
    bad = ~np.isfinite(ra) | ~np.isfinite(dec) | (ra < 0) | (ra >= 360) | (np.abs(dec) > 90)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            "ra must be in [0, 360) and dec in [-90, 90]; bad rows: "
            + preview(
                [(int(r), float(ra[r]), float(dec[r])) for r in rows[:SHOW_AT_MOST]], len(rows)
            )
        )
    # Integer hundredths of a second of time and tenths of an arcsecond: exact truncation.
    ra_cs = np.floor(ra / 15.0 * 360000.0 + 1e-7).astype(np.int64) % 8640000
    dec_ds = np.floor(np.abs(dec) * 36000.0 + 1e-7).astype(np.int64)
    signs = np.where(dec < 0, "-", "+")
    return np.array(
        [
            f"J{r // 360000:02d}{r // 6000 % 60:02d}{r // 100 % 60:02d}.{r % 100:02d}"
            f"{s}{d // 36000:02d}{d // 600 % 60:02d}{d // 10 % 60:02d}.{d % 10:d}"
            for r, d, s in zip(ra_cs.tolist(), dec_ds.tolist(), signs.tolist(), strict=True)
        ],
        dtype=object,
    )
