"""Load and validate galaxy representations: features, ids, catalogue columns and sky positions.

The Galaxy Zoo representation files (Zenodo 5536995) are parquet tables with 1280 float64 columns
``feat_0_pred … feat_1279_pred`` plus ``iauname`` (GZ DECaLS) or ``id_str`` (GZ2) and ``png_loc``.
:func:`load_representations` reads them (and CSV files, DataFrames and arrays) into a
:class:`Representations`: float32 features in one C-contiguous array, unique string ids, and every
other column as ``meta``.

Invariants of loaded data: features are finite and at most :data:`MAX_ABS_FEATURE` in magnitude
(other rows are refused or, with ``on_invalid="drop"``, dropped); ids are the source's text
exactly (integers of every width in full, CSV ids as written, never through a float) and valid
Unicode. Anything else is a :class:`DataError` naming the file, column, rows and values.
"""

from __future__ import annotations

import hashlib
import re
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galwidget.errors import DataError

__all__ = [
    "DataError",
    "Representations",
    "format_iauname",
    "load_representations",
    "parse_iauname",
]

FEATURE_COLUMN = re.compile(r"^feat_(\d+)(?:_pred)?$")
ID_COLUMN_CANDIDATES = ("iauname", "id_str", "objid", "dr8_id", "id")
IAUNAME = re.compile(
    r"^J(?P<hh>\d{2})(?P<mm>\d{2})(?P<ss>\d{2}(?:\.\d*)?)"
    r"(?P<sign>[+-])(?P<dd>\d{2})(?P<am>\d{2})(?P<as>\d{2}(?:\.\d*)?)$"
)
# Above this many feature values, loading shows a progress bar.
PROGRESS_THRESHOLD = 50_000_000
SHOW_AT_MOST = 5
# Feature columns moved per transposed copy when loading parquet (cache-sized tiles).
TRANSPOSE_COLUMNS = 16
# Largest usable feature magnitude. Squared distances between rows within it, summed over d
# dimensions, stay below float32's 3.4e38 for any d up to ~8e7; from ~1e18 they overflow, PCA does
# not converge and exact search returns wrong neighbours. Rows beyond it are refused like NaN rows
# (see _valid_rows): rescaling silently would change the values users see and could not repair a
# mix of magnitudes; genuine data this large can be divided by a constant by its owner.
MAX_ABS_FEATURE = 1e15
# Text that pandas reads as missing; ids are read without it (only an empty field is missing).
CSV_MISSING = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

OnInvalid = Literal["raise", "drop"]
FeatureSpec = str | Sequence[str] | None


def _preview(values: Iterable[Any], total: int | None = None) -> str:
    """Format the first few offending values for an error message."""
    values = list(values)
    total = len(values) if total is None else total
    shown = ", ".join(repr(v) for v in values[:SHOW_AT_MOST])
    return f"{shown}, … ({total} in all)" if total > SHOW_AT_MOST else shown


# ----------------------------------------------------------------------------------------------
# Sky positions from IAU names
# ----------------------------------------------------------------------------------------------


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
    3-D, so a k-d tree of them finds nearest sky neighbours."""
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
            + _preview(
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


# ----------------------------------------------------------------------------------------------
# The container
# ----------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Representations:
    """Galaxy representations: one row per galaxy.

    Attributes:
        ids: unique string ids (a pandas Index named after the id column).
        features: float32, C-contiguous, shape ``(n, d)``, all finite.
        meta: every non-feature column, indexed by ``ids``.
        images: the default thumbnail source for this data (see :mod:`galwidget.images`), if any.
        reduction: the fitted :class:`galwidget.index.PCA` when ``features`` is a streamed
            reduction (``load_representations(..., reduce_to=c)``), else ``None``.
        raw_source: where :meth:`raw_rows` reads raw rows of reduced data back from
            (a :class:`galwidget.streaming.RawSource`), else ``None``.
    """

    ids: pd.Index
    features: np.ndarray
    meta: pd.DataFrame
    images: Any = field(default=None, repr=False)
    reduction: Any = field(default=None, repr=False)
    raw_source: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        features = self.features
        if not isinstance(features, np.ndarray) or features.ndim != 2:
            raise DataError(f"features must be a 2-D array, got {type(features).__name__}")
        if features.dtype != np.float32 or not features.flags.c_contiguous:
            self.features = np.ascontiguousarray(features, dtype=np.float32)
        n = len(self.features)
        if n == 0:
            raise DataError("the table is empty: no galaxies to show")
        if self.features.shape[1] == 0:
            raise DataError("there are no feature columns (d = 0)")
        self.ids = _validate_ids(self.ids)
        if len(self.ids) != n:
            raise DataError(f"{len(self.ids)} ids but {n} feature rows: lengths must match")
        if len(self.meta) != n:
            raise DataError(f"{len(self.meta)} meta rows but {n} feature rows: lengths must match")
        self.meta = self.meta.set_axis(self.ids.rename(None), axis=0)

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        features: FeatureSpec = None,
        id_column: str | None = None,
        on_invalid: OnInvalid = "raise",
    ) -> Representations:
        """Build from a DataFrame with one feature column per dimension (or one list column).

        ``features`` is a column prefix (``"feat_"``), a list of columns, or ``None`` to detect
        ``feat_<i>_pred`` / ``feat_<i>`` columns (ordered by ``i``) or a single list column.
        ``id_column`` defaults to ``iauname``, ``id_str``, … or a named index.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if len(df) == 0:
            raise DataError("the table is empty: no galaxies to show")
        if (
            id_column is None
            and df.index.name is not None
            and not isinstance(df.index, pd.RangeIndex)
        ):
            if df.index.name not in df.columns:
                df = df.reset_index()
        _check_on_invalid(on_invalid)
        columns = [str(c) for c in df.columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise DataError(f"column names appear more than once: {_preview(repeated)}")
        df = df.set_axis(columns, axis=1)
        id_column = _find_id_column(columns, id_column)
        feature_columns, list_column = _find_feature_columns(
            columns, {c: df[c].dtype for c in columns}, features, exclude=id_column
        )
        n = len(df)
        if list_column is not None:
            matrix = _stack_list_column(df[list_column], list_column)
            meta_columns = [c for c in columns if c != list_column]
            names = _list_names(list_column, matrix.shape[1])
        else:
            _check_numeric(feature_columns, {c: df[c].dtype for c in feature_columns})
            matrix = np.empty((n, len(feature_columns)), dtype=np.float32)
            with np.errstate(over="ignore"):  # beyond float32: inf, reported below
                for j, column in enumerate(feature_columns):
                    matrix[:, j] = df[column].to_numpy(dtype=np.float64, na_value=np.nan)
            meta_columns = [c for c in columns if c not in set(feature_columns)]
            names = feature_columns
        meta = df[meta_columns].reset_index(drop=True)
        ids = _ids_from_column(meta[id_column], id_column)
        keep = _check_finite(matrix, ids, on_invalid, names)
        if keep is not None:
            matrix, ids, meta = matrix[keep], ids[keep], meta.iloc[keep]
        return cls(ids=ids, features=matrix, meta=meta)

    @classmethod
    def from_array(
        cls,
        features: np.ndarray,
        ids: Iterable[Any] | None = None,
        meta: pd.DataFrame | None = None,
        on_invalid: OnInvalid = "raise",
    ) -> Representations:
        """Build from an ``(n, d)`` array; ids default to ``"0" … "n-1"``."""
        matrix = np.asarray(features)
        if matrix.ndim != 2:
            raise DataError(f"features must be 2-D (n galaxies × d), got shape {matrix.shape}")
        d = matrix.shape[1]
        if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(
            matrix.dtype, np.complexfloating
        ):
            raise DataError(f"features must be real numbers, got dtype {matrix.dtype}")
        _check_on_invalid(on_invalid)
        with np.errstate(over="ignore"):  # beyond float32: inf, reported below
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        n = len(matrix)
        if n == 0:
            raise DataError("the table is empty: no galaxies to show")
        id_index = pd.Index([str(i) for i in range(n)], name="id") if ids is None else None
        if id_index is None:
            id_values = list(ids)  # type: ignore[arg-type]
            if len(id_values) != n:
                raise DataError(f"{len(id_values)} ids but {n} feature rows: lengths must match")
            id_index = _ids_from_column(
                pd.Series(id_values, dtype=object), getattr(ids, "name", None) or "id"
            )
        if meta is None:
            meta = pd.DataFrame(index=pd.RangeIndex(n))
        elif len(meta) != n:
            raise DataError(f"{len(meta)} meta rows but {n} feature rows: lengths must match")
        meta = meta.reset_index(drop=True)
        keep = _check_finite(matrix, id_index, on_invalid, [f"column {j}" for j in range(d)])
        if keep is not None:
            matrix, id_index, meta = matrix[keep], id_index[keep], meta.iloc[keep]
        return cls(ids=id_index, features=matrix, meta=meta)

    # -- derived --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def id_column(self) -> str:
        """Name of the id column (``iauname``, ``id_str``, …)."""
        return str(self.ids.name)

    @property
    def n_features(self) -> int:
        """Dimension ``d`` of the representation."""
        return int(self.features.shape[1])

    @cached_property
    def radec(self) -> np.ndarray | None:
        """``(n, 2)`` float64 ra/dec in degrees from ``ra``/``dec`` columns, else parsed from
        IAU-style ids (NaN for ids that are not IAU names), else ``None``."""
        if {"ra", "dec"} <= set(self.meta.columns):
            return np.column_stack([_degrees(self.meta[c], c) for c in ("ra", "dec")])
        # Only ids starting with "J" can be IAU names: a cheap test first spares the regex.
        is_name = np.asarray(self.ids.str.startswith("J"), dtype=bool)
        if not is_name.any():
            return None
        is_name[is_name] = np.asarray(self.ids[is_name].str.fullmatch(IAUNAME), dtype=bool)
        if not is_name.any():
            return None
        radec = np.full((len(self), 2), np.nan)
        ra, dec = parse_iauname(self.ids[is_name])
        radec[is_name] = np.column_stack([ra, dec])
        return radec

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of ids and features, stable across sessions: the key for caches and labels.

        Each id is hashed with its length, so no two lists of ids give the same bytes.
        """
        # The UTF-8 bytes of the ids and their lengths, straight from the arrow buffers.
        ids = self._arrow_ids(pa.large_string())
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[
            ids.offset : ids.offset + len(ids) + 1
        ]
        data = ids.buffers()[2]
        encoded = b"" if data is None else data.to_pybytes()[offsets[0] : offsets[-1]]
        lengths = np.diff(offsets).astype("<u8")
        return self._fingerprint(b"ids-v2" + lengths.tobytes() + encoded)

    @cached_property
    def legacy_fingerprint(self) -> str:
        """The fingerprint of galwidget 0.1, which joined the ids with ``\\x1f`` (so ``["a\\x1fb"]``
        and ``["a", "b"]`` collided). Label logs written then are named after it: the label store
        looks for them under this name when none exists under :attr:`fingerprint`."""
        ids = self._arrow_ids(pa.string())
        whole = pa.ListArray.from_arrays(pa.array([0, len(ids)], pa.int32()), ids)
        return self._fingerprint(pc.binary_join(whole, "\x1f")[0].as_buffer().to_pybytes())

    def _arrow_ids(self, kind: pa.DataType) -> pa.Array:
        """The ids as one arrow array of ``kind`` (no Python string per id)."""
        ids = pa.array(self.ids.array, type=kind)
        return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids

    def _fingerprint(self, ids: bytes) -> str:
        digest = hashlib.blake2b(digest_size=10)
        digest.update(repr(self.features.shape).encode())
        digest.update(ids)
        step = max(1, len(self.features) // 4096)
        digest.update(np.ascontiguousarray(self.features[::step]).tobytes())
        digest.update(self.features[-1].tobytes())
        column_sums = np.add.reduce(self.features, axis=0, dtype=np.float64)
        digest.update(column_sums.tobytes())
        if self.reduction is not None:  # raw means and variances from the streamed passes
            digest.update(self.reduction.mean.tobytes())
            digest.update(self.reduction.explained_variance.tobytes())
        return digest.hexdigest()

    def raw_rows(self, positions: Any) -> np.ndarray:
        """Raw feature rows at row ``positions`` as ``(m, d_raw)`` float32: read back from the
        parquet files for reduced data, else rows of ``features``."""
        if self.raw_source is not None:
            return self.raw_source.read(positions)
        if self.reduction is not None:
            raise DataError("the raw rows of this reduced data are not available (no files)")
        return self.features[np.asarray(positions, dtype=np.int64)]

    def positions(self, ids: Any) -> np.ndarray:
        """Row positions (int64) of ``ids``; unknown ids raise :class:`DataError` listing them."""
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, Iterable):
            raise DataError(f"expected an id or a list of ids, got {type(ids).__name__}")
        wanted = pd.Index([str(i) for i in ids], dtype=object)
        positions = self.ids.get_indexer(wanted)
        if (positions < 0).any():
            missing = wanted[positions < 0]
            raise DataError(f"unknown {self.id_column} ids: {_preview(missing)}")
        return positions.astype(np.int64)

    def join(self, catalogue: Any, on: str | None = None, suffix: str = "_cat") -> Representations:
        """Left-join catalogue columns into ``meta`` (features are shared, not copied).

        ``catalogue`` is a DataFrame, an astropy ``Table`` or a FITS / VOTable / ECSV / CSV /
        parquet file (read by :func:`galwidget.catalogues.read_catalogue`).
        ``on`` names the catalogue's key column (default: this data's id column); it is matched
        against the id or, if ``meta`` has a column of that name, that column. Catalogue keys must
        be unique; columns already in ``meta`` get ``suffix``. Galaxies without a catalogue row get
        missing values; no match at all is an error.
        """
        from galwidget.catalogues import read_catalogue  # catalogues imports this module

        catalogue = read_catalogue(catalogue)
        on = on or self.id_column
        if on not in catalogue.columns:
            raise DataError(
                f"catalogue has no column {on!r} to join on; its columns are: "
                f"{_preview(list(catalogue.columns))}"
            )
        keys = catalogue[on].astype(str)
        duplicated = keys[keys.duplicated()]
        if len(duplicated):
            raise DataError(
                f"catalogue column {on!r} has duplicate keys: {_preview(duplicated.unique())}"
            )
        ours = self.meta[on].astype(str) if on in self.meta.columns else pd.Series(self.ids)
        matched = ours.isin(set(keys))
        if not matched.any():
            raise DataError(
                f"no catalogue row matches: catalogue {on!r} values like {_preview(keys[:3])} vs "
                f"ids like {_preview(list(ours[:3]))}"
            )
        extra = catalogue.drop(columns=[on]).set_axis(keys.to_numpy(), axis=0)
        extra = extra.rename(columns=lambda c: f"{c}{suffix}" if c in self.meta.columns else c)
        joined = extra.reindex(ours.to_numpy())
        meta = pd.concat([self.meta.reset_index(drop=True), joined.reset_index(drop=True)], axis=1)
        result = Representations(
            ids=self.ids,
            features=self.features,
            meta=meta,
            images=self.images,
            reduction=self.reduction,
            raw_source=self.raw_source,
        )
        if not matched.all():
            warnings.warn(
                f"{int((~matched).sum())} of {len(self)} galaxies have no catalogue row "
                f"(e.g. {_preview(list(self.ids[~matched.to_numpy()][:3]))}); their columns are NaN",
                stacklevel=2,
            )
        return result

    def crossmatch(
        self,
        catalogue: Any,
        *,
        ra: str = "ra",
        dec: str = "dec",
        radius_arcsec: float = 1.0,
        suffix: str = "_cat",
    ) -> Representations:
        """Join ``catalogue`` by sky position: each galaxy gets its nearest source's columns
        within ``radius_arcsec`` and ``separation_arcsec`` (NaN if none); see
        :func:`galwidget.catalogues.crossmatch`."""
        from galwidget.catalogues import crossmatch

        return crossmatch(
            self, catalogue, ra=ra, dec=dec, radius_arcsec=radius_arcsec, suffix=suffix
        )


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


def load_representations(
    source: str | PathLike[str] | pd.DataFrame | np.ndarray | Representations,
    *,
    features: FeatureSpec = None,
    id_column: str | None = None,
    on_invalid: OnInvalid = "raise",
    progress: bool | None = None,
    batch_rows: int = 8192,
    reduce_to: int | None = None,
    columns: Sequence[str] | None = None,
    engine: Literal["local", "dask"] = "local",
) -> Representations:
    """Load representations from a parquet or CSV file, a DataFrame, an array or ``Representations``.

    Parquet files are read in row batches straight into one preallocated float32 array, so peak
    memory stays near the size of that array even for the 343k × 1280 float64 Zenodo files.
    ``on_invalid="drop"`` drops rows with NaN/inf features (with a warning) instead of raising.

    ``reduce_to=c`` streams parquet part files (a folder, glob, list of files, pyarrow Dataset or
    dask DataFrame) in two passes and keeps only their ``c``-component PCA projection, the ids and
    the meta ``columns`` asked for (see :mod:`galwidget.streaming`); ``engine="dask"`` runs the
    passes on the active ``distributed.Client`` (a ``LocalCluster`` if there is none). Batches
    hold ``batch_rows`` rows, fewer when streaming wide rows (at most 16 MiB of features each).
    """
    if isinstance(source, Representations):
        return source
    if reduce_to is not None:
        from galwidget.streaming import load_reduced

        return load_reduced(
            source,
            reduce_to=reduce_to,
            features=features,
            id_column=id_column,
            columns=columns,
            engine=engine,
            on_invalid=on_invalid,
            progress=progress,
            batch_rows=batch_rows,
        )
    if isinstance(source, pd.DataFrame):
        return Representations.from_dataframe(source, features, id_column, on_invalid)
    if isinstance(source, np.ndarray):
        return Representations.from_array(source, on_invalid=on_invalid)
    if not isinstance(source, str | PathLike):
        raise DataError(
            "load_representations reads a file path, a pandas DataFrame, a numpy array or "
            f"Representations; got {type(source).__name__}"
        )
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise DataError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    path = Path(source)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"} or path.is_dir():
        return _load_parquet(path, features, id_column, on_invalid, progress, batch_rows)
    if suffix in {".csv", ".tsv", ".gz"}:
        frame = _read_csv(path, id_column)
        try:
            return Representations.from_dataframe(frame, features, id_column, on_invalid)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
    raise DataError(f"cannot read {path.name!r}: expected a .parquet or .csv file")


def _load_parquet(
    path: Path,
    features: FeatureSpec,
    id_column: str | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    _check_on_invalid(on_invalid)
    check_file_kind(path, "parquet")
    try:
        return _read_parquet(path, features, id_column, on_invalid, progress, batch_rows)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    except (pa.ArrowException, OSError) as error:  # damaged pages, bad metadata, …
        raise DataError(
            f"cannot read {path} as parquet ({type(error).__name__}: {error})"
        ) from None


def _read_parquet(
    path: Path,
    features: FeatureSpec,
    id_column: str | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    # No pre-buffering: with it, iter_batches buffers every row group at once (peak ≈ file size).
    parquet = pq.ParquetFile(path, pre_buffer=False)
    schema = parquet.schema_arrow
    columns = list(schema.names)
    types = {name: schema.field(name).type for name in columns}
    id_column = _find_id_column(columns, id_column)
    feature_columns, list_column = _find_feature_columns(columns, types, features, id_column)
    n = parquet.metadata.num_rows
    if n == 0:
        raise DataError("the file has no rows: no galaxies to show")
    read_columns = [list_column] if list_column else feature_columns
    if list_column is None:
        _check_numeric(feature_columns, types)
    meta_columns = [c for c in columns if c not in set(read_columns)]
    meta = parquet.read(columns=meta_columns).to_pandas(types_mapper=None)
    ids = _ids_from_column(meta[id_column], id_column)

    d = _list_width(parquet, list_column) if list_column else len(feature_columns)
    matrix = np.empty((n, d), dtype=np.float32)
    show = progress if progress is not None else n * d > PROGRESS_THRESHOLD
    bar = tqdm(total=n, desc=f"loading {path.name}", unit="rows", disable=not show)
    keep = np.ones(n, dtype=bool)
    start = 0
    block = np.empty((d, batch_rows), dtype=np.float32)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=read_columns):
        rows = batch.num_rows
        stop = start + rows
        if list_column is not None:
            matrix[start:stop] = _stack_list_column(batch.column(0), list_column, d, start)
        else:
            for j in range(d):
                with np.errstate(over="ignore"):  # beyond float32: inf, reported below
                    block[j, :rows] = _float_values(batch.column(j))
            # Transposing a few columns at a time stays in cache: ~4× faster than one copy.
            for j in range(0, d, TRANSPOSE_COLUMNS):
                tile = slice(j, j + TRANSPOSE_COLUMNS)
                matrix[start:stop, tile] = block[tile, :rows].T
        keep[start:stop] = _valid_rows(matrix[start:stop])
        start = stop
        bar.update(rows)
    bar.close()
    bad = np.flatnonzero(~keep)
    if len(bad):
        names = _list_names(list_column, d) if list_column else feature_columns
        _report_invalid(bad, ids, on_invalid, matrix[bad], names)
        matrix = matrix[keep]
        ids, meta = ids[keep], meta.iloc[keep]
    return Representations(ids=ids, features=matrix, meta=meta)


def _read_csv(path: Path, id_column: str | None) -> pd.DataFrame:
    """A CSV/TSV file as a DataFrame, the id column read as text exactly as written."""
    check_file_kind(path, "CSV")
    sep = "\t" if ".tsv" in path.name.lower() else ","
    try:
        header = [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
        try:
            id_name = _find_id_column(header, id_column)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
        # Only the id column is read as text; elsewhere "NA", "null", … are missing as usual.
        missing = {c: list(CSV_MISSING) for c in header if c != id_name}
        with warnings.catch_warnings():
            # A first row with an extra field would make pandas shift every column by one.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                path,
                sep=sep,
                dtype={id_name: str},
                keep_default_na=False,
                na_values={**missing, id_name: [""]},
                index_col=False,
                low_memory=False,
            )
    except pd.errors.ParserWarning:
        raise DataError(
            f"cannot read {path} as CSV: a row has more fields than the header"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path} as CSV ({type(error).__name__}: {error})") from None
    except (OSError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"cannot read {path} as CSV ({type(error).__name__}: {error})") from None


def check_file_kind(path: Path, kind: Literal["parquet", "CSV"]) -> None:
    """Refuse a file that is plainly not a ``kind`` file, naming it: a folder, an empty file, an
    HTML page (a failed download or login page), gzip given as parquet or as ``.csv``, parquet
    given as CSV, or a parquet file without its closing magic bytes (truncated)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a {kind} file; to read a folder of parquet parts pass "
            "reduce_to=… (see galwidget.streaming) or name one file"
        )
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path} is empty (0 bytes), not a {kind} file: fetch or write it again")
    with path.open("rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    text = head.lstrip().lower()
    # Data never starts with "<"; an HTML page does (possibly after a comment or XML prolog).
    if text.startswith(b"<") and (b"<html" in text or text.startswith(b"<!doctype html")):
        raise DataError(
            f"{path} is an HTML page, not a {kind} file (a proxy, login or error page saved in "
            "its place?): delete it and fetch the file again"
        )
    gzipped = head[:2] == b"\x1f\x8b"
    if kind == "parquet":
        if gzipped:
            raise DataError(f"{path} is gzip-compressed, not a parquet file: decompress it first")
        if head[:4] != b"PAR1":
            raise DataError(f"{path} is not a parquet file (it does not begin with 'PAR1')")
        if size < 12 or tail != b"PAR1":
            raise DataError(
                f"{path} is truncated: a parquet file ends with 'PAR1' and this one does not "
                "(an interrupted copy or download?): fetch it again"
            )
    else:
        if head[:4] == b"PAR1":
            raise DataError(f"{path} is a parquet file, not CSV: give it a .parquet name")
        if gzipped and not path.name.lower().endswith(".gz"):
            raise DataError(
                f"{path} is gzip-compressed: name it …{path.suffix}.gz or decompress it"
            )


# ----------------------------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------------------------


def _find_id_column(columns: Sequence[str], id_column: str | None) -> str:
    if id_column is not None:
        if id_column not in columns:
            raise DataError(
                f"id column {id_column!r} not found; the columns are: {_preview(list(columns))}"
            )
        return id_column
    for candidate in ID_COLUMN_CANDIDATES:
        if candidate in columns:
            return candidate
    raise DataError(
        "no id column found: expected one of "
        + ", ".join(ID_COLUMN_CANDIDATES)
        + "; pass id_column= to name it"
    )


def _is_list_type(dtype: Any) -> bool:
    if isinstance(dtype, pa.DataType):
        return (
            pa.types.is_list(dtype)
            or pa.types.is_fixed_size_list(dtype)
            or pa.types.is_large_list(dtype)
        )
    return dtype == np.dtype(object)


def _find_feature_columns(
    columns: Sequence[str], types: dict[str, Any], features: FeatureSpec, exclude: str
) -> tuple[list[str], str | None]:
    """Return (ordered feature columns, None) or ([], the list column)."""
    if not (features is None or isinstance(features, str) or _is_sequence(features)):
        raise DataError(
            "features must be a column prefix (str), a list of column names or None, got "
            f"{type(features).__name__}"
        )
    candidates = [c for c in columns if c != exclude]
    if isinstance(features, str):
        if features in candidates and _is_list_type(types[features]):
            return [], features
        chosen = [c for c in candidates if c.startswith(features)]
        if not chosen:
            raise DataError(f"no columns start with {features!r}; columns: {_preview(candidates)}")
        numbered = [re.search(r"\d+", c[len(features) :]) for c in chosen]
        if all(numbered):
            order = sorted(range(len(chosen)), key=lambda i: int(numbered[i].group()))  # type: ignore[union-attr]
            chosen = [chosen[i] for i in order]
        return chosen, None
    if features is not None:
        chosen = [str(c) for c in features]
        missing = [c for c in chosen if c not in types]
        if missing:
            raise DataError(
                f"feature columns not found: {_preview(missing)}; the columns are: "
                f"{_preview(candidates, len(candidates))}"
            )
        return chosen, None
    numbered_columns: dict[int, str] = {}
    for c in candidates:
        match = FEATURE_COLUMN.match(c)
        if match:
            i = int(match.group(1))
            if i in numbered_columns:
                raise DataError(
                    f"feature {i} appears twice: columns {numbered_columns[i]!r} and {c!r}"
                )
            numbered_columns[i] = c
    if numbered_columns:
        return [numbered_columns[i] for i in sorted(numbered_columns)], None
    list_columns = [c for c in candidates if _is_list_type(types[c]) and c.startswith("feat")]
    if not list_columns:
        list_columns = [
            c for c in candidates if isinstance(types[c], pa.DataType) and _is_list_type(types[c])
        ]
    if len(list_columns) == 1:
        return [], list_columns[0]
    raise DataError(
        "no feature columns found: expected feat_<i>_pred or feat_<i> columns or one list column; "
        "pass features='prefix' or a list of columns"
    )


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence | pd.Index | np.ndarray) and not isinstance(value, bytes)


def _check_numeric(columns: Sequence[str], types: dict[str, Any]) -> None:
    def numeric(dtype: Any) -> bool:
        if isinstance(dtype, pa.DataType):
            return (
                pa.types.is_floating(dtype) or pa.types.is_integer(dtype) or pa.types.is_null(dtype)
            )
        return (
            pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
            and not pd.api.types.is_complex_dtype(dtype)
        )

    bad = [f"{c} ({types[c]})" for c in columns if not numeric(types[c])]
    if bad:
        raise DataError(f"feature columns must be numeric; these are not: {_preview(bad)}")


def _list_width(parquet: pq.ParquetFile, column: str) -> int:
    dtype = parquet.schema_arrow.field(column).type
    if pa.types.is_fixed_size_list(dtype):
        return int(dtype.list_size)
    first = next(parquet.iter_batches(batch_size=1, columns=[column])).column(0)
    if first.null_count:
        raise DataError(f"list column {column!r} has missing (null) values at rows 0")
    return len(first[0])


def _list_names(column: str, width: int) -> list[str]:
    return [f"{column}[{j}]" for j in range(width)]


def _float_values(column: pa.Array) -> np.ndarray:
    """A numeric arrow column as float64 (float16/32 kept), nulls as NaN."""
    if not pa.types.is_floating(column.type):  # integers (nullable too), all-null columns
        column = pc.cast(column, pa.float64())
    if column.null_count:
        column = column.fill_null(np.nan)
    return column.to_numpy(zero_copy_only=False)


def _stack_list_column(
    values: Any, name: str, width: int | None = None, offset: int = 0
) -> np.ndarray:
    """Stack a list column (pandas Series of sequences or an arrow list array) into float32 rows
    of ``width`` values (default: the first row's). Missing rows and rows of another length are
    errors naming the rows (counted from ``offset``)."""
    if isinstance(values, pd.Series):
        return _stack_sequences(values.tolist(), name, width, offset)
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if array.null_count:
        rows = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False)) + offset
        raise DataError(
            f"list column {name!r} has missing (null) values at rows {_preview(rows.tolist())}"
        )
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    width = _common_width(lengths, name, width, offset)
    flat = array.flatten()
    if not (
        pa.types.is_integer(flat.type)
        or pa.types.is_floating(flat.type)
        or pa.types.is_null(flat.type)
    ):
        raise DataError(f"list column {name!r} holds non-numeric values ({array.type})")
    with np.errstate(over="ignore"):  # beyond float32: inf, reported by the caller
        return _float_values(flat).astype(np.float32).reshape(len(array), width)


def _common_width(lengths: np.ndarray, name: str, width: int | None, offset: int) -> int:
    """The one length of every list row (``width``, else the first row's); ragged rows are a
    :class:`DataError` naming them (``offset``: the global row of the first)."""
    width = int(lengths[0]) if width is None else width
    wrong = np.flatnonzero(lengths != width)
    if len(wrong):
        raise DataError(
            f"list column {name!r} has rows of different lengths: {width} values in the first "
            f"row but {lengths[wrong[0]]} in row {offset + wrong[0]} "
            f"(rows of another length: {_preview((wrong + offset).tolist())})"
        )
    return width


def _stack_sequences(rows: list[Any], name: str, width: int | None, offset: int) -> np.ndarray:
    lengths = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        if row is None or (isinstance(row, float) and np.isnan(row)):
            raise DataError(f"list column {name!r} has missing values at rows {offset + i}")
        if isinstance(row, str | bytes) or not hasattr(row, "__len__"):
            raise DataError(
                f"list column {name!r} holds {type(row).__name__} values, not lists of numbers "
                f"(row {offset + i}: {_preview([row])})"
            )
        lengths[i] = len(row)
    width = _common_width(lengths, name, width, offset)
    try:
        with np.errstate(over="ignore"):
            matrix = np.asarray(rows, dtype=np.float64).astype(np.float32)
    except (TypeError, ValueError) as error:
        raise DataError(f"list column {name!r} holds non-numeric values: {error}") from None
    if matrix.shape != (len(rows), width):
        raise DataError(f"list column {name!r} holds nested lists (shape {matrix.shape})")
    return matrix


# The index _ids_from_column returned last: loaders validate ids, then build Representations,
# which would validate them again (7 s for 8.7M ids).
_last_validated: Callable[[], pd.Index | None] = weakref.ref(pd.Index([]))


def _validate_ids(ids: Any) -> pd.Index:
    if isinstance(ids, pd.Index) and ids is _last_validated():
        return ids
    index = ids if isinstance(ids, pd.Index) else pd.Index(ids, dtype=object)
    name = index.name or "id"
    return _ids_from_column(pd.Series(index, copy=False), name)


def _ids_from_column(values: pd.Series, name: str) -> pd.Index:
    """Ids as strings exactly as written: integers of every width keep every digit, strings keep
    leading zeros. Missing values, floats (which lose digits of large ids), booleans and text
    that is not valid Unicode (lone surrogates) are refused, naming the rows."""
    missing = np.asarray(values.isna(), dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(f"id column {name!r} has missing values at rows {_preview(rows.tolist())}")
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind in {"floating", "mixed-integer-float", "decimal", "complex", "boolean"}:
        raise DataError(
            f"id column {name!r} holds {'floating point' if 'float' in kind else kind} values "
            f"({_preview(values.iloc[:3].tolist())}), "
            "which lose digits of large ids or are not ids; store ids as strings or integers"
        )
    if kind not in {"string", "integer", "empty"}:  # mixed: check each value
        allowed = (str, int, np.integer)
        for row, value in enumerate(values.tolist()):
            if not isinstance(value, allowed) or isinstance(value, bool | np.bool_):
                raise DataError(
                    f"id column {name!r} holds a {type(value).__name__} at row {row}: "
                    f"{_preview([value])}; ids must be strings or integers"
                )
    # pandas' arrow-backed string dtype: ~16 bytes an id where Python strings take ~70, and
    # string columns read from parquet become the index without a Python object per id.
    try:
        index = pd.Index(
            values if kind == "string" else [str(v) for v in values.tolist()],
            name=name,
            dtype="str",
        )
    except UnicodeEncodeError:
        _check_unicode([str(v) for v in values.tolist()], name)
        raise
    repeated = _repeated_ids(index)
    duplicated = repeated[repeated.duplicated()]
    if len(duplicated):
        rows = np.flatnonzero(index.isin(duplicated))
        raise DataError(
            f"duplicate ids in {name!r}: {_preview(duplicated.unique())} (rows {_preview(rows.tolist())})"
        )
    global _last_validated
    _last_validated = weakref.ref(index)
    return index


HASH_CHUNK_IDS = 1 << 20
# Up to this many ids, pandas' own hash table finds repeats (and then serves id lookups); beyond,
# sorted 64-bit hashes do: the table takes ~100 bytes an id (0.9 GB for 8.7M), the hashes 16.
ID_TABLE_MAX = 2_000_000


def _repeated_ids(index: pd.Index) -> pd.Index:
    """Ids that may repeat (empty when all are unique; compare them exactly): all of them if
    pandas finds a repeat, else those whose 64-bit hash another id shares."""
    if len(index) <= ID_TABLE_MAX:
        return index if index.has_duplicates else index[:0]
    hashes = np.concatenate(
        [
            pd.util.hash_array(index.array[start : start + HASH_CHUNK_IDS])
            for start in range(0, len(index), HASH_CHUNK_IDS)
        ]
        or [np.empty(0, np.uint64)]
    )
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    return index[np.isin(hashes, shared)] if len(shared) else index[:0]


def _check_unicode(strings: list[str], name: str) -> None:
    """Refuse text that cannot be written as UTF-8 (lone surrogates from a bad decode)."""
    try:
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError:
        rows = [i for i, s in enumerate(strings) if not _encodable(s)]
        raise DataError(
            f"id column {name!r} holds text that is not valid Unicode (lone surrogates) at rows "
            f"{_preview(rows)}: {_preview([strings[r] for r in rows[:SHOW_AT_MOST]])}; decode "
            "the source with the right encoding"
        ) from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _degrees(values: pd.Series, name: str) -> np.ndarray:
    """A ra/dec column as float64 degrees (NaN where missing); text that is not a number and
    booleans are refused, naming the rows."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"column {name!r} must hold numbers (degrees), not booleans")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(np.asarray(numbers.isna() & values.notna(), dtype=bool))
    if len(bad):
        raise DataError(
            f"column {name!r} must hold numbers (degrees); it holds {values.dtype} values such "
            f"as {_preview(values.iloc[bad[:SHOW_AT_MOST]].tolist(), len(bad))} at rows "
            f"{_preview(bad.tolist())}: convert it (e.g. astropy SkyCoord for sexagesimal text)"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_on_invalid(on_invalid: Any) -> None:
    if on_invalid not in ("raise", "drop"):
        raise DataError(f"on_invalid must be 'raise' or 'drop', got {on_invalid!r}")


def _valid_rows(block: np.ndarray) -> np.ndarray:
    """Rows whose features are all finite and at most :data:`MAX_ABS_FEATURE` in magnitude."""
    if block.shape[1] == 0:
        return np.ones(len(block), dtype=bool)
    # max/min propagate NaN, and NaN compares False: no temporary the size of the block.
    return (block.max(axis=1) <= MAX_ABS_FEATURE) & (block.min(axis=1) >= -MAX_ABS_FEATURE)


def _check_finite(
    matrix: np.ndarray, ids: pd.Index, on_invalid: OnInvalid, names: Sequence[str]
) -> np.ndarray | None:
    """Return a keep-mask if rows must be dropped, ``None`` if every row is valid."""
    valid = np.ones(len(matrix), dtype=bool)
    for start in range(0, len(matrix), 65536):
        valid[start : start + 65536] = _valid_rows(matrix[start : start + 65536])
    bad = np.flatnonzero(~valid)
    if not len(bad):
        return None
    _report_invalid(bad, ids, on_invalid, matrix[bad], names)
    return valid


def _report_invalid(
    bad: np.ndarray, ids: pd.Index, on_invalid: OnInvalid, values: np.ndarray, names: Sequence[str]
) -> None:
    """Raise (or warn, for ``drop``) about invalid rows, naming rows, ids, columns and the kind
    of value (NaN, infinite, too large)."""
    with np.errstate(invalid="ignore"):
        nan = np.isnan(values)
        infinite = np.isinf(values)
        large = ~nan & ~infinite & (np.abs(values) > MAX_ABS_FEATURE)
    kinds = [
        f"{int(mask.sum())} {label}"
        for label, mask in (
            ("NaN", nan),
            ("infinite (or beyond float32's ±3.4e38)", infinite),
            (f"beyond ±{MAX_ABS_FEATURE:.0e}", large),
        )
        if mask.any()
    ]
    columns = [names[j] for j in np.flatnonzero((nan | infinite | large).any(axis=0))]
    examples = [f"row {r} ({ids[r]})" for r in bad[:SHOW_AT_MOST]]
    more = f" … ({len(bad)} rows in all)" if len(bad) > SHOW_AT_MOST else ""
    message = (
        "invalid features at "
        + ", ".join(examples)
        + more
        + ": "
        + ", ".join(kinds)
        + f"; columns {_preview(columns)}"
    )
    if large.any():
        message += (
            f". Values beyond ±{MAX_ABS_FEATURE:.0e} break float32 distances and PCA: rescale the "
            "features (divide by a constant) if they are genuine"
        )
    if on_invalid == "drop":
        if len(bad) == len(ids):
            raise DataError(message + ": every row is invalid")
        warnings.warn(message + "; these rows were dropped", stacklevel=4)
        return
    raise DataError(message + "; pass on_invalid='drop' to drop them")
