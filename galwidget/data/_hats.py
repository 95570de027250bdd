"""HATS catalogues in and out (extra ``galwidget[hats]``: lsdb, imported lazily).

- :func:`load_hats` (what :func:`~galwidget.load_representations` runs for an ``lsdb.Catalog`` or
  a HATS folder): with ``reduce_to``, the partitions stream through the same two passes as any
  parquet part files, on Dask: a catalogue folder's partition files one task per run of row groups
  (errors name the ``Norder=…/Npix=…`` file), an ``lsdb.Catalog`` (perhaps filtered, e.g. a cone
  search) one task per partition, each computing lsdb's partition and naming its pixel and file
  if it cannot be read. Without ``reduce_to`` the catalogue is read into memory.
  The ids, the catalogue's ra/dec columns (kept as ``ra``/``dec``) and the ``columns`` asked for
  are kept.
- :func:`to_hats` writes galaxies, labels or scores as a HATS catalogue with LSDB, so they can be
  crossmatched and joined back in a survey pipeline.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galwidget.catalogues import hats_radec_columns, open_hats, quiet_lsdb
from galwidget.data._dask import reduce_with_dask
from galwidget.data._representations import Representations
from galwidget.data._schema import FeatureSpec, find_id_column
from galwidget.data._validate import OnInvalid, check_on_invalid
from galwidget.errors import DataError
from galwidget.util import PROGRESS_THRESHOLD, preview

__all__ = ["load_hats", "to_hats"]


def load_hats(
    source: Any,
    *,
    reduce_to: int | None,
    features: FeatureSpec,
    id_column: str | None,
    columns: Sequence[str] | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    """A HATS catalogue (an ``lsdb.Catalog`` or its folder) as representations; see
    :func:`galwidget.data.load_representations` and the module docstring."""
    check_on_invalid(on_invalid)
    catalogue = open_hats(source)
    where = (
        str(source) if isinstance(source, str | PathLike) else f"lsdb catalogue {catalogue.name!r}"
    )
    ra, dec = hats_radec_columns(catalogue, where)
    available = list(catalogue.columns)
    try:
        id_column = find_id_column(available, id_column)
    except DataError as error:
        raise DataError(f"{where}: {error}; its columns: {preview(available)}") from None
    if reduce_to is None:
        frame = _compute(catalogue, where).reset_index(drop=True)
        try:
            reps = Representations.from_dataframe(frame, features, id_column, on_invalid)
        except DataError as error:
            raise DataError(f"{where}: {error}") from None
        return _named_radec(reps, ra, dec)
    keep = list(dict.fromkeys([ra, dec, *(columns or [])]))
    unknown = [c for c in keep if c not in available]
    if unknown:
        raise DataError(f"{where} has no columns {unknown}; its columns: {preview(available)}")
    files = _partition_files(catalogue) if isinstance(source, str | PathLike) else None
    try:
        reps = reduce_with_dask(
            files if files is not None else _guarded_frame(catalogue),
            reduce_to=reduce_to,
            features=features,
            id_column=id_column,
            columns=[c for c in keep if c != id_column],
            on_invalid=on_invalid,
            progress=progress,
            batch_rows=batch_rows,
        )
    except DataError as error:
        raise DataError(f"{where}: {error}") from None
    except ImportError:
        raise
    except Exception as error:  # lsdb's or Dask's own, outside any one partition
        raise DataError(
            f"{where}: streaming the catalogue failed ({type(error).__name__}: {error})"
        ) from error
    return _named_radec(reps, ra, dec)


def _partition_files(catalogue: Any) -> list[Path] | None:
    """The local parquet file of each partition of an unfiltered catalogue, in partition order
    (``None`` for remote catalogues or partitions stored as folders)."""
    from hats.io.paths import pixel_catalog_file  # lsdb's own dependency

    structure = catalogue.hc_structure
    base = structure.catalog_base_dir
    if base is None or getattr(base, "protocol", "") not in ("", "file", "local"):
        return None
    if getattr(structure.catalog_info, "npix_suffix", ".parquet") != ".parquet":
        return None
    return [Path(str(pixel_catalog_file(base, p))) for p in catalogue.get_healpix_pixels()]


class _Lazy:
    """A lazy partition carried into a task as it is (Dask computes the arguments it can see)."""

    def __init__(self, partition: Any) -> None:
        self.partition = partition


def _guarded_frame(catalogue: Any) -> Any:
    """``catalogue``'s dask DataFrame, each partition computed inside a task that names its
    HEALPix pixel (and file) if it cannot be read."""
    import dask.dataframe as dd

    pixels = catalogue.get_healpix_pixels()
    files: Sequence[Path | None] = _partition_files(catalogue) or [None] * len(pixels)
    pieces = [
        (_Lazy(partition), f"Norder={pixel.order}/Npix={pixel.pixel}", file and str(file))
        for partition, pixel, file in zip(catalogue.to_delayed(), pixels, files, strict=True)
    ]
    meta = catalogue.to_dask_dataframe()._meta
    return dd.from_map(_read_partition, pieces, meta=meta, enforce_metadata=False)


def _read_partition(piece: tuple[_Lazy, str, str | None]) -> pd.DataFrame:
    lazy, pixel, file = piece
    try:
        return lazy.partition.compute(scheduler="sync")
    except Exception as error:  # lsdb's reading of this partition
        where = f"partition {pixel}" + (f" ({file})" if file else "")
        raise DataError(f"{where} cannot be read: {type(error).__name__}: {error}") from None


def _compute(catalogue: Any, where: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            quiet_lsdb()
            return pd.DataFrame(catalogue.compute())
    except Exception as error:  # a partition lsdb could not read
        raise DataError(
            f"{where}: reading the catalogue failed ({type(error).__name__}: {error})"
        ) from error


def _named_radec(reps: Representations, ra: str, dec: str) -> Representations:
    """``reps`` with the catalogue's ra/dec columns named ``ra``/``dec`` (what
    :attr:`Representations.radec` reads), unless those names are taken."""
    names = {ra: "ra", dec: "dec"}
    if (ra, dec) == ("ra", "dec") or {"ra", "dec"} & set(reps.meta.columns):
        return reps
    return dataclasses.replace(reps, meta=reps.meta.rename(columns=names))


def to_hats(
    data: Representations | pd.DataFrame | pd.Series,
    path: str | PathLike[str],
    *,
    reps: Representations | None = None,
    features: bool = False,
    catalog_name: str | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Write galaxies, labels or scores as a HATS catalogue at ``path`` (with LSDB), to crossmatch
    and join them in a survey pipeline.

    Args:
        data: ``Representations`` (ids and meta; ``features=True`` adds ``feat_<i>`` columns),
            or a DataFrame/Series of per-galaxy values such as ``w.labels`` or ``w.scores``,
            indexed by id (or with ``reps``' id column). Positions come from its ``ra``/``dec``
            columns, else from ``reps`` by id.
        path: the folder to write (a HATS collection: the catalogue and a 5-arcsec margin).
        reps: the galaxies ``data``'s ids belong to, for their ids' positions.
        features: with ``Representations``, also write the feature matrix.
        catalog_name: the catalogue's name (default: the folder's name).
        overwrite: replace an existing folder at ``path``.
        progress: show LSDB's progress bar (default: for large inputs).

    Returns:
        ``path``, which ``lsdb.open_catalog`` and :func:`~galwidget.load_representations` open.

    Raises:
        ImportError: lsdb is not installed (``pip install galwidget[hats]``).
        DataError: ``path`` exists (without ``overwrite``); no positions (neither ``ra``/``dec``
            columns nor ``reps``); ids unknown to ``reps`` or galaxies without a position
            (named); an empty table; a write that failed.

    Examples:
        ``gw.to_hats(w.labels, "labels_hats", reps=w.reps)`` then
        ``lsdb.open_catalog("labels_hats").crossmatch(survey)``.
    """
    try:
        import lsdb
    except ImportError:
        raise ImportError(
            "writing HATS catalogues needs lsdb: pip install galwidget[hats]"
        ) from None
    target = Path(path)
    if target.exists() and not overwrite:
        raise DataError(f"{target} exists: pass overwrite=True to replace it")
    frame = _table(data, reps, features)
    show = progress if progress is not None else frame.size > PROGRESS_THRESHOLD
    try:
        with warnings.catch_warnings():
            quiet_lsdb()
            catalogue = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec")
            catalogue.write_catalog(
                target,
                catalog_name=catalog_name or target.name,
                overwrite=overwrite,
                progress_bar=show,
            )
    except Exception as error:  # lsdb's, hats' and the file system's own errors
        raise DataError(
            f"cannot write the HATS catalogue {target} ({type(error).__name__}: {error})"
        ) from error
    return target


def _table(
    data: Representations | pd.DataFrame | pd.Series,
    reps: Representations | None,
    features: bool,
) -> pd.DataFrame:
    """One row per galaxy: its id, ``ra``/``dec`` in degrees and the values to write."""
    if isinstance(data, Representations):
        frame = data.meta.reset_index(drop=True)
        if data.id_column not in frame.columns:
            frame.insert(0, data.id_column, data.ids.to_numpy())
        if features:
            width = data.n_features
            frame = pd.concat(
                [frame, pd.DataFrame(data.features, columns=[f"feat_{j}" for j in range(width)])],
                axis=1,
            )
        return _with_positions(frame, data.ids, data)
    if features:
        raise DataError("features=True writes the features of Representations, not of a table")
    if isinstance(data, pd.Series):
        data = data.to_frame(data.name if data.name is not None else "value")
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            "to_hats writes Representations or a DataFrame/Series of per-galaxy values, got "
            f"{type(data).__name__}"
        )
    if len(data) == 0:
        raise DataError("the table is empty: nothing to write")
    frame = data.copy()
    if reps is not None and reps.id_column in frame.columns:
        ids = pd.Index(frame[reps.id_column].astype(str))
        frame = frame.reset_index(drop=True)
    else:
        name = reps.id_column if reps is not None else frame.index.name or "id"
        ids = pd.Index(frame.index.astype(str))
        frame = frame.reset_index(drop=True)
        if name in frame.columns:
            raise DataError(f"the table has both an index and a column named {name!r}")
        frame.insert(0, name, ids.to_numpy())
    return _with_positions(frame, ids, reps)


def _with_positions(
    frame: pd.DataFrame, ids: pd.Index, reps: Representations | None
) -> pd.DataFrame:
    if {"ra", "dec"} <= set(frame.columns):
        radec = frame[["ra", "dec"]].to_numpy(dtype=np.float64, na_value=np.nan)
    elif reps is not None and reps.radec is not None:
        radec = reps.radec[reps.positions(ids)]
        frame = frame.assign(ra=radec[:, 0], dec=radec[:, 1])
    else:
        raise DataError(
            "a HATS catalogue needs positions: give the table 'ra'/'dec' columns or pass "
            "reps= (galaxies with ra/dec columns or IAU-name ids)"
        )
    missing = ~np.isfinite(radec).all(axis=1)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} galaxies have no ra/dec (e.g. ids "
            f"{preview(list(ids[missing][:3]))}): a HATS catalogue places every row on the sky"
        )
    return frame
