"""Astronomers' catalogues: read them as DataFrames, and match them to galaxies by sky position.

:func:`read_catalogue` takes a pandas ``DataFrame`` (returned as it is), an astropy ``Table``, or a
path to a FITS (``.fits``, ``.fit``, ``.fts``, optionally ``.gz``), VOTable (``.vot``, ``.votable``,
``.xml``), ECSV, CSV (``.csv``, ``.csv.gz``) or parquet file. Tables become DataFrames with native
byte order, masked values as NaN (float columns), ``<NA>`` (integer and boolean columns with
masked values become pandas' nullable ``Int64``/``UInt64``/``boolean``: every digit of a 64-bit id
kept) or missing values (``None``, shown by pandas as NaN, for text and other columns), and
byte strings decoded to ``str``. (VOTables have no null for text: masked text reads back as ``""``.) FITS, VOTable and
ECSV need astropy (the ``astropy`` extra).

:func:`crossmatch` joins a catalogue to the galaxies' meta table by position (for
:meth:`Representations.crossmatch <galwidget.Representations.crossmatch>`): each
galaxy gets the columns of its nearest catalogue source within ``radius_arcsec`` (great-circle
distance, found with a k-d tree on unit vectors), or NaN when there is none, plus the separation
in arcseconds.

HATS catalogues (the hierarchical HEALPix parquet layout LSDB reads: Rubin, ZTF, Gaia, PS1, the
Multimodal Universe) are opened with :func:`open_hats` and matched by :func:`crossmatch` through
LSDB's own crossmatch on Dask, partition by partition, so the catalogue never has to fit in memory.
They need the ``hats`` extra (``pip install galwidget[hats]``).
"""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from galwidget.errors import DataError
from galwidget.sky import chord_to_arcsec, sky_unit_vectors
from galwidget.util import preview

__all__ = [
    "HATS_MARKERS",
    "CatalogueInput",
    "crossmatch",
    "hats_radec_columns",
    "is_hats",
    "join",
    "open_hats",
    "quiet_lsdb",
    "read_catalogue",
]

CatalogueInput: TypeAlias = Any  # a DataFrame, an astropy Table, an lsdb Catalog or a path
"""A catalogue: a pandas DataFrame, an astropy Table, an ``lsdb.Catalog``, or the path of a FITS,
VOTable, ECSV, CSV or parquet file or of a HATS catalogue (a folder)."""

HATS_MARKERS = ("hats.properties", "collection.properties", "properties", "partition_info.csv")
"""Files whose presence makes a folder a HATS catalogue (or collection) for :func:`is_hats`."""
# Our galaxies' columns in the LSDB crossmatch (names no survey catalogue uses).
_ROW, _RA, _DEC = "_galwidget_row", "_galwidget_ra", "_galwidget_dec"

# File suffix (lower case, without a trailing ".gz") → reader name.
FORMATS: dict[str, str] = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".vot": "votable",
    ".votable": "votable",
    ".xml": "votable",
    ".ecsv": "ascii.ecsv",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SEPARATION = "separation_arcsec"


def read_catalogue(source: CatalogueInput) -> pd.DataFrame:
    """``source`` as a DataFrame (see the module docstring for the formats and conversions).

    Raises:
        DataError: an unreadable or missing file (naming it), an unknown format, or a table with
            multidimensional columns.
    """
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, str | PathLike):
        return _read_file(Path(source))
    if _is_astropy_table(source):
        return _table_to_frame(source, "the table")
    raise DataError(
        "a catalogue must be a DataFrame, an astropy Table or a path to a FITS, VOTable, ECSV, "
        f"CSV or parquet file, got {type(source).__name__}"
    )


def join(
    meta: pd.DataFrame, ids: pd.Index, catalogue: CatalogueInput, *, on: str, suffix: str = "_cat"
) -> pd.DataFrame:
    """``meta`` (one row per galaxy, galaxies identified by ``ids``) with ``catalogue``'s columns
    left-joined by key: see :meth:`Representations.join <galwidget.Representations.join>`."""
    catalogue = read_catalogue(catalogue)
    if on not in catalogue.columns:
        raise DataError(
            f"catalogue has no column {on!r} to join on; its columns are: "
            f"{preview(list(catalogue.columns))}"
        )
    keys = _keys(catalogue[on], on)
    missing = keys.isna()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} catalogue rows have no {on!r} (masked or missing, e.g. row "
            f"{int(np.flatnonzero(missing)[0])}): they match no galaxy",
            stacklevel=3,
        )
        catalogue, keys = catalogue[~missing.to_numpy()], keys[~missing]
    duplicated = keys[keys.duplicated()]
    if len(duplicated):
        raise DataError(
            f"catalogue column {on!r} has duplicate keys: {preview(duplicated.unique())}"
        )
    ours = meta[on].astype(str) if on in meta.columns else pd.Series(ids)
    matched = ours.isin(set(keys))
    if not matched.any():
        raise DataError(
            f"no catalogue row matches: catalogue {on!r} values like {preview(keys[:3])} vs "
            f"ids like {preview(list(ours[:3]))}"
        )
    extra = catalogue.drop(columns=[on]).set_axis(keys.to_numpy(), axis=0)
    extra = extra.rename(columns=lambda c: f"{c}{suffix}" if c in meta.columns else c)
    joined = extra.reindex(ours.to_numpy())
    result = pd.concat([meta.reset_index(drop=True), joined.reset_index(drop=True)], axis=1)
    if not matched.all():
        warnings.warn(
            f"{int((~matched).sum())} of {len(ids)} galaxies have no catalogue row "
            f"(e.g. {preview(list(ids[~matched.to_numpy()][:3]))}); their columns are NaN",
            stacklevel=3,
        )
    return result


def crossmatch(
    meta: pd.DataFrame,
    radec: np.ndarray | None,
    catalogue: CatalogueInput,
    *,
    ra: str = "ra",
    dec: str = "dec",
    radius_arcsec: float = 1.0,
    suffix: str = "_cat",
) -> pd.DataFrame:
    """``meta`` (one row per galaxy, at ``radec``) with the columns of each galaxy's nearest
    ``catalogue`` source within ``radius_arcsec`` added (NaN where none is that close).

    The galaxies' positions are ``(n, 2)`` ra/dec in degrees (:attr:`Representations.radec`:
    ``ra``/``dec`` columns or IAU-name ids; ``None`` when there are none); the catalogue's are its
    ``ra`` and ``dec`` columns, in degrees. An ``lsdb.Catalog`` or a HATS folder is matched by
    LSDB on Dask (the columns its properties name as ra/dec; give it a margin cache so sources just
    across a partition border are found): only the matched rows come back into memory.
    Catalogue columns whose names are already in ``meta`` get ``suffix``; the separation in
    arcseconds is the column ``separation_arcsec`` (plus ``suffix`` if taken). Unmatched galaxies
    and, when several galaxies share one nearest source (many-to-one), those counts are reported
    in a warning.

    Raises:
        DataError: no galaxy positions, missing or non-numeric catalogue position columns, a
            non-positive radius, a folder that is not a HATS catalogue, or no match at all.
    """
    if not np.isfinite(radius_arcsec) or radius_arcsec <= 0:
        raise DataError(f"radius_arcsec must be a positive number, got {radius_arcsec!r}")
    ours = radec
    n = len(meta)
    if ours is None:
        raise DataError(
            "these galaxies have no positions: add 'ra'/'dec' columns to meta (e.g. "
            "reps.join(catalogue_with_ra_dec, on=<id column>)) or use IAU-name ids"
        )
    if is_hats(catalogue) or (isinstance(catalogue, str | PathLike) and Path(catalogue).is_dir()):
        return _crossmatch_hats(meta, ours, open_hats(catalogue), radius_arcsec, suffix)
    table = read_catalogue(catalogue)
    theirs = np.column_stack([_degrees(table, column, dec) for column in (ra, dec)])
    usable = np.isfinite(theirs).all(axis=1)
    if not usable.any():
        raise DataError(f"the catalogue has no finite {ra!r}/{dec!r} position")
    tree = cKDTree(sky_unit_vectors(theirs[usable]))
    located = np.isfinite(ours).all(axis=1)
    chord = 2 * np.sin(np.radians(min(radius_arcsec / 3600, 180.0)) / 2)
    distance = np.full(n, np.inf)
    nearest = np.full(n, len(theirs[usable]))
    distance[located], nearest[located] = tree.query(
        sky_unit_vectors(ours[located]), distance_upper_bound=chord
    )
    matched = np.isfinite(distance)
    if not matched.any():
        raise DataError(
            f"no catalogue source lies within {radius_arcsec} arcsec of any of the {n} "
            f"galaxies (catalogue ra/dec like {preview(theirs[usable][:2].round(5).tolist())}, "
            f"galaxies like {preview(ours[located][:2].round(5).tolist())})"
            + units_hint(theirs[usable], "the catalogue's", ra, dec)
            + units_hint(ours[located], "the galaxies'", "ra", "dec")
        )
    rows = np.flatnonzero(usable)[nearest[matched]]
    columns = table.rename(columns=lambda c: f"{c}{suffix}" if c in meta.columns else c)
    added = columns.iloc[rows].set_axis(np.flatnonzero(matched), axis=0).reindex(range(n))
    separation = SEPARATION if SEPARATION not in meta.columns else SEPARATION + suffix
    added[separation] = np.nan
    added.loc[matched, separation] = chord_to_arcsec(distance[matched])
    result = pd.concat([meta.reset_index(drop=True), added.reset_index(drop=True)], axis=1)
    _warn_about_matches(n, matched, rows, radius_arcsec)
    return result


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------


def _read_file(path: Path) -> pd.DataFrame:
    name = path.name.lower().removesuffix(".gz")
    kind = FORMATS.get(Path(name).suffix)
    if kind is None:
        raise DataError(
            f"{path}: unknown catalogue format {Path(name).suffix or '(no suffix)'!r}; use one of "
            f"{', '.join(sorted(FORMATS))}"
        )
    if not path.is_file():
        raise DataError(f"catalogue file not found: {path}")
    try:
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "parquet":
            return pd.read_parquet(path)
        try:
            from astropy.table import Table
        except ImportError:
            raise DataError(
                f"{path}: reading {kind} catalogues needs astropy: pip install 'galwidget[astropy]'"
            ) from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unit and VO-standard chatter, not errors
            table = Table.read(path, format=kind)
    except DataError:
        raise
    except Exception as error:  # every parser's own error type: reported with the file's name
        raise DataError(f"cannot read catalogue {path}: {error}") from error
    return _table_to_frame(table, str(path))


def _is_astropy_table(value: Any) -> bool:
    try:
        from astropy.table import Table
    except ImportError:
        return False
    return isinstance(value, Table)


def _table_to_frame(table: Any, where: str) -> pd.DataFrame:
    columns = {}
    for name in table.colnames:
        column = table[name]
        if column.ndim > 1:
            raise DataError(
                f"{where}: column {name!r} holds {column.shape[1:]} values per row; a catalogue "
                "column must hold one value per row"
            )
        columns[name] = _column_values(column)
    return pd.DataFrame(columns)


def _column_values(column: Any) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """Native-endian values of one astropy column; masked → NaN (floats), ``<NA>`` (nullable
    integers and booleans) or None."""
    data = np.ma.getdata(column)
    data = np.asarray(getattr(data, "value", data))  # Quantity → plain numbers
    mask = np.ma.getmaskarray(column) if np.ma.isMaskedArray(column) else None
    if data.dtype.kind == "S":
        data = np.char.decode(data, "utf-8")
    if data.dtype.byteorder not in ("=", "|"):
        data = data.astype(data.dtype.newbyteorder("="))
    if mask is None or not mask.any():
        return data
    if data.dtype.kind in "iu":  # nullable integers: every digit of a 64-bit id kept
        return pd.arrays.IntegerArray(data, mask)
    if data.dtype.kind == "b":
        return pd.arrays.BooleanArray(data, mask)
    if data.dtype.kind == "f":
        values = data.astype(np.float64)
        values[mask] = np.nan
        return values
    values = data.astype(object)
    values[mask] = None
    return values


# ----------------------------------------------------------------------------------------------
# HATS catalogues (LSDB)
# ----------------------------------------------------------------------------------------------


def is_hats(source: Any) -> bool:
    """Whether ``source`` is an ``lsdb.Catalog`` or a folder holding a HATS catalogue or collection
    (one of :data:`HATS_MARKERS`). Needs no lsdb."""
    if type(source).__module__.startswith("lsdb"):
        return True
    if not isinstance(source, str | PathLike):
        return False
    path = Path(source)
    return path.is_dir() and any((path / name).is_file() for name in HATS_MARKERS)


def open_hats(source: Any, *, columns: list[str] | None = None) -> Any:
    """``source`` as an ``lsdb.Catalog``: a catalogue (returned as it is) or the path of a HATS
    catalogue or collection (opened lazily, with its default margin; ``columns`` read, default
    all of them).

    Raises:
        ImportError: lsdb is not installed (``pip install galwidget[hats]``).
        DataError: the path does not exist, is not a HATS catalogue or collection, or is an
            auxiliary dataset (a margin or index catalogue) rather than a catalogue of sources;
            the message names the path.
    """
    lsdb = _lsdb()
    if isinstance(source, lsdb.Catalog):
        return source
    if type(source).__module__.startswith("lsdb"):
        raise DataError(
            f"expected an lsdb.Catalog of sources, got {type(source).__name__} (a margin or "
            "auxiliary catalogue cannot be matched or loaded on its own)"
        )
    if not isinstance(source, str | PathLike):
        raise DataError(
            f"a HATS catalogue is an lsdb.Catalog or the path of its folder, got "
            f"{type(source).__name__}"
        )
    path = Path(source)
    if not path.exists():
        raise DataError(f"no such HATS catalogue: {path}")
    if not is_hats(path):
        found = sorted(p.name for p in path.iterdir())[:8] if path.is_dir() else []
        raise DataError(
            f"{path} is not a HATS catalogue: a HATS catalogue is a folder with "
            f"{' or '.join(HATS_MARKERS[:2])} and its dataset/ (found: {preview(found) or 'a file'})"
        )
    try:
        catalogue = lsdb.open_catalog(path, columns=columns if columns is not None else "all")
    except Exception as error:  # hats' and lsdb's own errors: reported with the path
        raise DataError(
            f"cannot open {path} as a HATS catalogue ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(catalogue, lsdb.Catalog):
        raise DataError(
            f"{path} is a HATS {type(catalogue).__name__}, not a catalogue of sources: open the "
            "catalogue (or collection) it belongs to"
        )
    return catalogue


def hats_radec_columns(catalogue: Any, where: str) -> tuple[str, str]:
    """The ra and dec column names of an ``lsdb.Catalog`` (from its properties), checked to be
    among its columns (a :class:`DataError` naming ``where`` and the columns otherwise)."""
    info = catalogue.hc_structure.catalog_info
    names = (getattr(info, "ra_column", None), getattr(info, "dec_column", None))
    columns = list(catalogue.columns)
    if not all(names) or not set(names) <= set(columns):
        raise DataError(
            f"{where} has no ra/dec columns (its properties name {names[0]!r}/{names[1]!r}); "
            f"its columns: {preview(columns)}"
        )
    return str(names[0]), str(names[1])


def quiet_lsdb() -> None:
    """Within ``warnings.catch_warnings()``: silence the deprecation notices lsdb's internals
    raise about their own use of pandas and dask (not about anything the caller wrote)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def _lsdb() -> Any:
    try:
        import lsdb
    except ImportError:
        raise ImportError("HATS catalogues need lsdb: pip install galwidget[hats]") from None
    return lsdb


def _crossmatch_hats(
    meta: pd.DataFrame, radec: np.ndarray, catalogue: Any, radius_arcsec: float, suffix: str
) -> pd.DataFrame:
    """:func:`crossmatch` with LSDB: our galaxies become a small lsdb catalogue (row, ra, dec)
    matched to ``catalogue`` on Dask; only the matched rows come back."""
    lsdb = _lsdb()
    name = getattr(catalogue, "name", None) or "the HATS catalogue"
    hats_radec_columns(catalogue, f"catalogue {name!r}")
    n = len(meta)
    located = np.flatnonzero(np.isfinite(radec).all(axis=1))
    ours = pd.DataFrame({_ROW: located, _RA: radec[located, 0] % 360.0, _DEC: radec[located, 1]})
    with warnings.catch_warnings():
        quiet_lsdb()
        left = lsdb.from_dataframe(ours, ra_column=_RA, dec_column=_DEC, margin_threshold=None)
        found = left.crossmatch(
            catalogue,
            n_neighbors=1,
            radius_arcsec=radius_arcsec,
            suffix_method="overlapping_columns",
        ).compute()
    if len(found) == 0:
        raise DataError(
            f"no source of {name!r} lies within {radius_arcsec} arcsec of any of the {n} "
            f"galaxies (galaxies like {preview(radec[located][:2].round(5).tolist())})"
            + units_hint(radec[located], "the galaxies'", "ra", "dec")
        )
    rows = found[_ROW].to_numpy(dtype=np.int64)
    distance = found["_dist_arcsec"].to_numpy(dtype=np.float64)
    sources = pd.factorize(found.index)[0]  # a source is its _healpix_29 index in the catalogue
    columns = found.drop(columns=[_ROW, _RA, _DEC, "_dist_arcsec"]).reset_index(drop=True)
    columns = columns.rename(columns=lambda c: f"{c}{suffix}" if c in meta.columns else c)
    added = columns.set_axis(rows, axis=0).reindex(range(n))
    separation = SEPARATION if SEPARATION not in meta.columns else SEPARATION + suffix
    added[separation] = np.nan
    added.loc[rows, separation] = distance
    result = pd.concat([meta.reset_index(drop=True), added.reset_index(drop=True)], axis=1)
    matched = np.zeros(n, dtype=bool)
    matched[rows] = True
    _warn_about_matches(n, matched, sources, radius_arcsec, stacklevel=5)
    return result


# ----------------------------------------------------------------------------------------------
# Matching
# ----------------------------------------------------------------------------------------------


def _degrees(table: pd.DataFrame, column: str, dec: str) -> np.ndarray:
    if column not in table.columns:
        raise DataError(
            f"the catalogue has no position column {column!r} (pass ra=/dec=); its columns: "
            f"{preview(list(table.columns))}"
        )
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = np.isnan(values) & table[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"catalogue column {column!r} must hold degrees; row {row} is "
            f"{table[column].iloc[row]!r}"
        )
    with np.errstate(invalid="ignore"):
        outside = np.abs(values) > 360 if column != dec else np.abs(values) > 90
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"catalogue column {column!r} must hold degrees within "
            f"{'±90' if column == dec else '±360'}; row {row} is {values[row]:g}"
        )
    return values


def units_hint(radec: np.ndarray, whose: str, ra: str, dec: str) -> str:
    """A sentence about units when every position of ``radec`` (``(m, 2)``, finite) lies within
    ±π (ra up to 2π) and ±π/2: radians given where degrees are expected; else ``""``."""
    if len(radec) < 2 or np.ptp(radec, axis=0).max() == 0:
        return ""
    ra_values, dec_values = radec[:, 0], radec[:, 1]
    if (
        ra_values.min() >= -np.pi
        and ra_values.max() <= 2 * np.pi
        and np.abs(dec_values).max() <= np.pi / 2
    ):
        return (
            f". Every one of {whose} {ra!r}/{dec!r} values lies within ±π: are they in radians? "
            "galwidget expects degrees (multiply by 180/π, e.g. np.degrees)"
        )
    return ""


def _keys(values: pd.Series, on: str) -> pd.Series:
    """Join keys as text, ``<NA>`` where missing: integers (nullable ones too) in full, floats
    only when every value is a whole number float64 holds exactly (a float key of 2⁵³ or more
    has lost digits, so it could match the wrong galaxy or seem a duplicate)."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)[~missing]
        inexact = (numbers != np.round(numbers)) | (np.abs(numbers) >= 2.0**53)
        if inexact.any():
            raise DataError(
                f"catalogue column {on!r} holds floating-point keys such as "
                f"{preview(numbers[inexact][:3].tolist())}: they are not exact ids (digits of "
                "large integers are lost as floats). Read the column as integers or text"
            )
        values = values.astype("Int64")
    text = values.astype("string")
    text[missing] = pd.NA
    return text


def _warn_about_matches(
    n: int, matched: np.ndarray, rows: np.ndarray, radius: float, stacklevel: int = 4
) -> None:
    problems = []
    if not matched.all():
        problems.append(
            f"{int((~matched).sum())} of {n} galaxies have no catalogue source within "
            f"{radius} arcsec (their columns are NaN)"
        )
    _, counts = np.unique(rows, return_counts=True)
    shared = counts > 1
    if shared.any():
        problems.append(
            f"{int(shared.sum())} catalogue sources are the nearest match of several galaxies "
            f"({int(counts[shared].sum())} galaxies in all: many-to-one)"
        )
    if problems:
        warnings.warn("; ".join(problems), stacklevel=stacklevel)
