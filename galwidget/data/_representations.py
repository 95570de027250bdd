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

import dataclasses
import hashlib
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from galwidget import catalogues
from galwidget.data._ids import IdLookup, ids_from_column, validate_ids
from galwidget.data._schema import (
    FeatureSpec,
    check_numeric,
    find_feature_columns,
    find_id_column,
    list_names,
    stack_list_column,
)
from galwidget.data._validate import (
    MAX_ABS_FEATURE,
    OnInvalid,
    check_finite,
    check_on_invalid,
    degrees,
)
from galwidget.errors import DataError
from galwidget.pca import PCA
from galwidget.sky import IAUNAME, parse_iauname
from galwidget.util import preview

if TYPE_CHECKING:
    from galwidget.data._streaming import RawSource
    from galwidget.images import ImagesSpec

# Ids whose lengths the fingerprint hashes at a time.
_FINGERPRINT_CHUNK = 1 << 20
# Builds each Representations' id lookup once when several threads ask for it at the same time.
_ID_LOOKUP_LOCK = threading.Lock()
# Starts at most one background build of an id lookup per Representations (warm_id_lookup).
_WARMING_LOCK = threading.Lock()


# Feature matrices already checked by _check_features, by id (entries vanish with the array):
# dataclasses.replace (join, crossmatch, …) builds a new Representations on the same matrix.
_checked_features: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def _check_features(matrix: np.ndarray, ids: pd.Index) -> None:
    """:class:`DataError` naming the rows, ids and columns if a feature is NaN, infinite or beyond
    ±:data:`MAX_ABS_FEATURE` (one max and one min over the matrix when all are valid)."""
    if _checked_features.get(id(matrix)) is matrix:
        return
    if not (matrix.max() <= MAX_ABS_FEATURE and matrix.min() >= -MAX_ABS_FEATURE):  # NaN: False
        names = [f"column {j}" for j in range(matrix.shape[1])]
        try:
            check_finite(matrix, ids, "raise", names)
        except DataError as error:
            message = str(error).removesuffix("; pass on_invalid='drop' to drop them")
            raise DataError(
                message + "; Representations takes valid rows only: drop these rows, or build it "
                "with Representations.from_array(features, ids, meta, on_invalid='drop')"
            ) from None
    _checked_features[id(matrix)] = matrix


@dataclass(eq=False)
class Representations:
    """Galaxy representations: one row per galaxy.

    Attributes:
        ids: unique string ids (a pandas Index named after the id column).
        features: float32, C-contiguous, shape ``(n, d)``, all finite.
        meta: every non-feature column, indexed by ``ids``.
        images: the default thumbnail source for this data, as ``images=`` of
            :func:`galwidget.images.resolve` takes it, if any.
        reduction: the fitted :class:`galwidget.pca.PCA` when ``features`` is a streamed
            reduction (``load_representations(..., reduce_to=c)``), else ``None``.
        raw_source: where :meth:`raw_rows` reads raw rows of reduced data back from
            (a :class:`galwidget.data.RawSource`), else ``None``.

    Made by :func:`~galwidget.load_representations`, :meth:`from_dataframe`,
    :meth:`from_array` or :func:`galwidget.datasets.synthetic`; constructing one directly
    checks the same invariants (a :class:`~galwidget.DataError` otherwise).

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=500, seed=0)
        >>> len(reps), reps.n_features, reps.id_column
        (500, 1280, 'iauname')
        >>> reps.features.dtype, reps.radec.shape
        (dtype('float32'), (500, 2))
        >>> reps.positions(reps.ids[:2]).tolist()
        [0, 1]
    """

    ids: pd.Index
    features: np.ndarray
    meta: pd.DataFrame
    images: ImagesSpec = field(default=None, repr=False)
    reduction: PCA | None = field(default=None, repr=False)
    raw_source: RawSource | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Validate as the loaders do: real, finite features within ±:data:`MAX_ABS_FEATURE`,
        valid unique ids, a meta table of matching length (:class:`DataError` naming what)."""
        features = self.features
        if not isinstance(features, np.ndarray) or features.ndim != 2:
            shape = f" of shape {features.shape}" if isinstance(features, np.ndarray) else ""
            raise DataError(
                f"features must be a 2-D array (n galaxies × d), got {type(features).__name__}"
                + shape
            )
        if not np.issubdtype(features.dtype, np.number) or np.issubdtype(
            features.dtype, np.complexfloating
        ):
            raise DataError(f"features must be real numbers, got dtype {features.dtype}")
        if features.dtype != np.float32 or not features.flags.c_contiguous:
            with np.errstate(over="ignore"):  # beyond float32: inf, refused below
                self.features = np.ascontiguousarray(features, dtype=np.float32)
        n = len(self.features)
        if n == 0:
            raise DataError("the table is empty: no galaxies to show")
        if self.features.shape[1] == 0:
            raise DataError("there are no feature columns (d = 0)")
        self.ids = validate_ids(self.ids)
        if len(self.ids) != n:
            raise DataError(f"{len(self.ids)} ids but {n} feature rows: lengths must match")
        if not isinstance(self.meta, pd.DataFrame):
            raise DataError(f"meta must be a pandas DataFrame, got {type(self.meta).__name__}")
        if len(self.meta) != n:
            raise DataError(f"{len(self.meta)} meta rows but {n} feature rows: lengths must match")
        self.meta = self.meta.set_axis(self.ids.rename(None), axis=0)
        _check_features(self.features, self.ids)

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
        check_on_invalid(on_invalid)
        columns = [str(c) for c in df.columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise DataError(f"column names appear more than once: {preview(repeated)}")
        df = df.set_axis(columns, axis=1)
        id_column = find_id_column(columns, id_column)
        feature_columns, list_column = find_feature_columns(
            columns, {c: df[c].dtype for c in columns}, features, exclude=id_column
        )
        n = len(df)
        if list_column is not None:
            matrix = stack_list_column(df[list_column], list_column)
            meta_columns = [c for c in columns if c != list_column]
            names = list_names(list_column, matrix.shape[1])
        else:
            check_numeric(feature_columns, {c: df[c].dtype for c in feature_columns})
            matrix = np.empty((n, len(feature_columns)), dtype=np.float32)
            with np.errstate(over="ignore"):  # beyond float32: inf, reported below
                for j, column in enumerate(feature_columns):
                    matrix[:, j] = df[column].to_numpy(dtype=np.float64, na_value=np.nan)
            meta_columns = [c for c in columns if c not in set(feature_columns)]
            names = feature_columns
        meta = df[meta_columns].reset_index(drop=True)
        ids = ids_from_column(meta[id_column], id_column)
        keep = check_finite(matrix, ids, on_invalid, names)
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
        """Build from an ``(n, d)`` array; ids default to ``"0" … "n-1"``.

        More than 2M ids are checked for repeats by :attr:`id_lookup` (which every id-based
        call goes through, and an :class:`~galwidget.Explorer` builds at once in the
        background) rather than here: a repeat is then a :class:`DataError` of every id-based
        call."""
        matrix = np.asarray(features)
        if matrix.ndim != 2:
            raise DataError(f"features must be 2-D (n galaxies × d), got shape {matrix.shape}")
        d = matrix.shape[1]
        if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(
            matrix.dtype, np.complexfloating
        ):
            raise DataError(f"features must be real numbers, got dtype {matrix.dtype}")
        check_on_invalid(on_invalid)
        with np.errstate(over="ignore"):  # beyond float32: inf, reported below
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        n = len(matrix)
        if n == 0:
            raise DataError("the table is empty: no galaxies to show")
        if ids is None:
            id_index = pd.Index([str(i) for i in range(n)], name="id")
        else:
            # A Series, Index or array is taken as it is (arrow-backed strings stay so: no
            # Python object per id, which at tens of millions of ids is gigabytes).
            if isinstance(ids, pd.Series):
                id_values = ids.reset_index(drop=True)
            elif isinstance(ids, pd.Index | np.ndarray):
                id_values = pd.Series(ids)
            else:
                id_values = pd.Series(list(ids), dtype=object)
            if len(id_values) != n:
                raise DataError(f"{len(id_values)} ids but {n} feature rows: lengths must match")
            # Repeats of millions of ids are found by the id lookup (an Explorer builds it at
            # once, in the background): one hashing pass, off the path to the first frame.
            id_index = ids_from_column(
                id_values, getattr(ids, "name", None) or "id", defer_duplicates=True
            )
        if meta is None:
            meta = pd.DataFrame(index=pd.RangeIndex(n))
        elif len(meta) != n:
            raise DataError(f"{len(meta)} meta rows but {n} feature rows: lengths must match")
        meta = meta.reset_index(drop=True)
        keep = check_finite(matrix, id_index, on_invalid, [f"column {j}" for j in range(d)])
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
            return np.column_stack([degrees(self.meta[c], c) for c in ("ra", "dec")])
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
        encoded = memoryview(b"" if data is None else data)[offsets[0] : offsets[-1]]
        # The same bytes as b"ids-v2" + lengths + encoded, hashed piece by piece: no copy of
        # the ids' bytes and no n-long array of lengths (1.2 GB at 76M ids).
        chunk = _FINGERPRINT_CHUNK
        lengths = (
            np.diff(offsets[start : start + chunk + 1]).astype("<u8").tobytes()
            for start in range(0, len(offsets) - 1, chunk)
        )
        return self._fingerprint([b"ids-v2", *lengths, encoded])

    @cached_property
    def legacy_fingerprint(self) -> str:
        """The fingerprint of galwidget 0.1, which joined the ids with ``\\x1f`` (so ``["a\\x1fb"]``
        and ``["a", "b"]`` collided). Label logs written then are named after it: the label store
        looks for them under this name when none exists under :attr:`fingerprint`."""
        ids = self._arrow_ids(pa.string())
        whole = pa.ListArray.from_arrays(pa.array([0, len(ids)], pa.int32()), ids)
        return self._fingerprint([pc.binary_join(whole, "\x1f")[0].as_buffer().to_pybytes()])

    def _arrow_ids(self, kind: pa.DataType) -> pa.Array:
        """The ids as one arrow array of ``kind`` (no Python string per id)."""
        ids = pa.array(self.ids.array, type=kind)
        return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids

    def _fingerprint(self, ids: bytes | Iterable[bytes | memoryview]) -> str:
        """The fingerprint of the ids' bytes (given whole or in pieces) and the features."""
        digest = hashlib.blake2b(digest_size=10)
        digest.update(repr(self.features.shape).encode())
        for piece in [ids] if isinstance(ids, bytes) else ids:
            digest.update(piece)
        step = max(1, len(self.features) // 4096)
        digest.update(np.ascontiguousarray(self.features[::step]).tobytes())
        digest.update(self.features[-1].tobytes())
        column_sums = np.add.reduce(self.features, axis=0, dtype=np.float64)
        digest.update(column_sums.tobytes())
        if self.reduction is not None:  # raw means and variances from the streamed passes
            digest.update(self.reduction.mean.tobytes())
            digest.update(self.reduction.explained_variance.tobytes())
        return digest.hexdigest()

    def raw_rows(self, positions: npt.ArrayLike) -> np.ndarray:
        """Raw feature rows at row ``positions`` as ``(m, d_raw)`` float32: read back from the
        parquet files for reduced data, else rows of ``features``."""
        if self.raw_source is not None:
            return self.raw_source.read(positions)
        if self.reduction is not None:
            raise DataError("the raw rows of this reduced data are not available (no files)")
        return self.features[np.asarray(positions, dtype=np.int64)]

    @property
    def id_lookup(self) -> IdLookup:
        """The id → row position lookup every id-based call goes through, built on first use
        (~0.2 s at 340k ids, a few seconds at 8.7M) and kept."""
        return self._built_id_lookup(None)

    def _built_id_lookup(self, pause: Callable[[], object] | None) -> IdLookup:
        """:attr:`id_lookup`, built (with ``pause``, see :class:`IdLookup`) unless it is."""
        lookup = self.__dict__.get("_id_lookup")
        if lookup is None or lookup.ids is not self.ids:
            with _ID_LOOKUP_LOCK:
                lookup = self.__dict__.get("_id_lookup")
                if lookup is None or lookup.ids is not self.ids:
                    refused = self.__dict__.get("_id_error")
                    if refused is not None and refused[0] is self.ids:
                        raise DataError(str(refused[1]))
                    try:
                        lookup = IdLookup(self.ids, pause=pause)
                        self.__dict__["_id_lookup"] = lookup
                    except DataError as error:  # repeated ids: refused on every id-based call
                        self.__dict__["_id_error"] = (self.ids, error)
                        raise
        return lookup

    @property
    def id_lookup_ready(self) -> bool:
        """Whether :attr:`id_lookup` is built (the next id-based call does not wait for it)."""
        lookup = self.__dict__.get("_id_lookup")
        return lookup is not None and lookup.ids is self.ids

    def warm_id_lookup(
        self,
        *,
        on_error: Callable[[DataError], Any] | None = None,
        pause: Callable[[], object] | None = None,
    ) -> threading.Thread | None:
        """Start building :attr:`id_lookup` in a background (daemon) thread, so that the first
        id-based call (a click by id, ``focus``, ``select``, labels) does not wait for it (~6 s
        at 8.7M ids). An id-based call made during the build waits for that build; it is never
        built twice. The :class:`~galwidget.Explorer` calls this when it is created.

        Args:
            on_error: called (in the thread) with the :class:`DataError` of ids the build
                refuses (repeated ids, when their check was deferred: :meth:`from_array`).
            pause: called by the thread between chunks of ids it hashes (e.g. to wait while a
                request the user waits for runs: the hashing holds the GIL).

        Returns:
            The building thread (the one already running, if any), or ``None`` when the lookup
            is built or its ids were refused (``on_error`` is not called again).
        """
        with _WARMING_LOCK:
            refused = self.__dict__.get("_id_error")
            if self.id_lookup_ready or (refused is not None and refused[0] is self.ids):
                return None  # built, or its ids refused already (and said so once)
            running = self.__dict__.get("_id_lookup_thread")
            if running is not None and running.is_alive():
                return running

            def build() -> None:
                try:
                    self._built_id_lookup(pause)
                except DataError as error:  # every id-based call raises it too
                    if on_error is not None:
                        on_error(error)

            thread = threading.Thread(target=build, name="galwidget-id-lookup", daemon=True)
            self.__dict__["_id_lookup_thread"] = thread
            thread.start()
            return thread

    def positions(self, ids: str | Iterable[object]) -> np.ndarray:
        """Row positions (int64) of ``ids``; unknown ids raise :class:`DataError` listing them."""
        if not isinstance(ids, str | Iterable):
            raise DataError(f"expected an id or a list of ids, got {type(ids).__name__}")
        if not isinstance(ids, str | Sequence | pd.Index | pd.Series | np.ndarray):
            ids = list(ids)  # an iterator: read once
        positions = self.id_lookup.locate(ids)
        if (positions < 0).any():
            wanted = [ids] if isinstance(ids, str) else list(ids)
            missing = [str(wanted[i]) for i in np.flatnonzero(positions < 0)]
            raise DataError(f"unknown {self.id_column} ids: {preview(missing)}")
        return positions

    def join(self, catalogue: Any, on: str | None = None, suffix: str = "_cat") -> Representations:
        """Left-join catalogue columns into ``meta`` (features are shared, not copied).

        ``catalogue`` is a DataFrame, an astropy ``Table`` or a FITS / VOTable / ECSV / CSV /
        parquet file (read by :func:`galwidget.catalogues.read_catalogue`).
        ``on`` names the catalogue's key column (default: this data's id column); it is matched
        against the id or, if ``meta`` has a column of that name, that column. Catalogue keys must
        be unique; columns already in ``meta`` get ``suffix``. Galaxies without a catalogue row get
        missing values; no match at all is an error.
        """
        meta = catalogues.join(
            self.meta, self.ids, catalogue, on=on or self.id_column, suffix=suffix
        )
        return dataclasses.replace(self, meta=meta)

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
        :func:`galwidget.catalogues.crossmatch`. An ``lsdb.Catalog`` or a HATS folder is matched
        with LSDB's crossmatch on Dask (``galwidget[hats]``), for catalogues larger than memory."""
        meta = catalogues.crossmatch(
            self.meta,
            self.radec,
            catalogue,
            ra=ra,
            dec=dec,
            radius_arcsec=radius_arcsec,
            suffix=suffix,
        )
        return dataclasses.replace(self, meta=meta)
