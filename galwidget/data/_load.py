"""Loading representations into memory: parquet and CSV files, DataFrames and arrays."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galwidget.catalogues import is_hats
from galwidget.data._dask import reduce_with_dask
from galwidget.data._files import HDF5_SUFFIXES, check_file_kind, read_zoobot_hdf5
from galwidget.data._hats import load_hats
from galwidget.data._ids import ids_from_column
from galwidget.data._representations import Representations
from galwidget.data._schema import (
    FeatureSpec,
    check_numeric,
    columns_to_rows,
    find_feature_columns,
    find_id_column,
    float_values,
    list_names,
    list_width,
    stack_list_column,
)
from galwidget.data._streaming import (
    ENGINES,
    STREAM_BATCH_ROWS,
    assemble,
    check_pass_one,
    check_reduce_to,
    first_rows_shift,
    moments_pass,
    projection_pass,
    raw_source,
    resolve_files,
    scan,
)
from galwidget.data._validate import OnInvalid, check_on_invalid, report_invalid, valid_rows
from galwidget.errors import DataError
from galwidget.util import PROGRESS_THRESHOLD

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


def load_representations(
    source: str | PathLike[str] | pd.DataFrame | np.ndarray | Representations,
    *,
    features: FeatureSpec = None,
    id_column: str | None = None,
    on_invalid: OnInvalid = "raise",
    progress: bool | None = None,
    batch_rows: int | None = None,
    reduce_to: int | None = None,
    columns: Sequence[str] | None = None,
    engine: Literal["local", "dask"] = "local",
) -> Representations:
    """Load representations from a parquet or CSV file, a DataFrame, an array or ``Representations``.

    ``features="auto"`` (the default, also ``None``) takes the one family of numbered numeric
    columns, in numeric order: ``feat_<i>_pred`` (Galaxy Zoo's Zenodo files, zoobot's
    ``predict_on_catalog`` CSV), ``feat_pca_<i>`` (the GZ DESI representations, with ``id_str``
    and ``ra``/``dec``), ``feat_<i>_pca`` or any ``<prefix><i><suffix>``, else the one list column;
    with several families the error lists them and the ``features=`` that picks each. A column
    prefix or a list of columns picks them explicitly.

    Parquet files are read in row batches straight into one preallocated float32 array, so peak
    memory stays near the size of that array even for the 343k × 1280 float64 Zenodo files.
    ``on_invalid="drop"`` drops rows with NaN/inf features (with a warning) instead of raising.

    ``reduce_to=c`` streams parquet part files (a folder, glob, list of files, pyarrow Dataset or
    dask DataFrame) in two passes and keeps only their ``c``-component PCA projection, the ids and
    the meta ``columns`` asked for (see :func:`~galwidget.data.load_reduced`); ``engine="dask"`` runs the
    passes on the active ``distributed.Client`` (a ``LocalCluster`` if there is none). Batches
    hold ``batch_rows`` rows (default 8192, streamed 65536), fewer when streaming wide rows (at most
    16 MiB of features each).

    A HATS catalogue (an ``lsdb.Catalog`` or its folder; ``galwidget[hats]``) streams its
    partitions through the same passes on Dask, keeping the ids, its ra/dec columns (as
    ``ra``/``dec``) and ``columns``; without ``reduce_to`` it is read into memory.

    Args:
        source: a ``.parquet``/``.csv``/``.tsv``/``.csv.gz`` file, zoobot's ``.hdf5`` predictions
            (h5py: ``galwidget[hdf5]``; several forward passes are averaged), a folder of parquet part files,
            a pandas DataFrame, an ``(n, d)`` numpy array, or ``Representations`` (returned as
            is), a HATS catalogue folder or an ``lsdb.Catalog``. With ``reduce_to``: also a glob,
            a list of files, a pyarrow Dataset or a dask DataFrame.
        features: which columns are the features (a prefix, a list of names); default: found
            (``feat_<i>_pred``, ``feat_<i>``, or one list column).
        id_column: the id column; default: the first of ``iauname``, ``id_str``, ``objid``, …
        on_invalid: ``"raise"`` on rows with NaN, infinite or too large features, or ``"drop"``
            them with a warning.
        progress: show progress bars (default: for large inputs).
        batch_rows: rows read per batch (default: 8192 in memory, 65536 when streaming).
        reduce_to: stream and keep only this many PCA components (for data larger than memory).
        columns: with ``reduce_to``, the meta columns to keep (default: none but the ids).
        engine: with ``reduce_to``, ``"local"`` (in this process) or ``"dask"``.

    Returns:
        The galaxies: unique string ids, float32 features, every other column as ``meta``.

    Raises:
        DataError: the file is missing, empty, not what its name says or damaged; no id column,
            duplicate or missing ids; non-numeric, NaN, infinite or too large features (with
            ``on_invalid="raise"``); part files that disagree on their columns; a HATS folder
            that is not a catalogue, without ra/dec or ids, or whose partition cannot be read.
            The message names the file, column, rows and values.

    Examples:
        >>> import numpy as np, pandas as pd
        >>> import galwidget as gw
        >>> table = pd.DataFrame({"id_str": ["a", "b", "c"], "feat_0": [0.1, 0.2, 0.3],
        ...                       "feat_1": [1.0, 0.5, 0.0], "redshift": [0.02, 0.05, 0.11]})
        >>> reps = gw.load_representations(table)
        >>> reps.id_column, reps.features.shape, list(reps.meta.columns)
        ('id_str', (3, 2), ['id_str', 'redshift'])
        >>> gw.load_representations(np.zeros((4, 8))).ids.tolist()
        ['0', '1', '2', '3']

        Files and folders: ``gw.load_representations("cnn_features_decals.parquet")``;
        ``gw.load_representations("parts/", reduce_to=40, columns=["ra", "dec"])``.
    """
    if isinstance(source, Representations):
        return source
    if is_hats(source):
        return load_hats(
            source,
            reduce_to=reduce_to,
            features=features,
            id_column=id_column,
            columns=columns,
            on_invalid=on_invalid,
            progress=progress,
            batch_rows=STREAM_BATCH_ROWS if batch_rows is None else batch_rows,
        )
    if reduce_to is not None:
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
    batch_rows = 8192 if batch_rows is None else batch_rows
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise DataError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    path = Path(source)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"} or path.is_dir():
        return _load_parquet(path, features, id_column, on_invalid, progress, batch_rows)
    if suffix in HDF5_SUFFIXES:
        frame = read_zoobot_hdf5(path)
        try:
            return Representations.from_dataframe(frame, features, id_column, on_invalid)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
    if suffix in {".csv", ".tsv", ".gz"}:
        frame = _read_csv(path, id_column)
        try:
            return Representations.from_dataframe(frame, features, id_column, on_invalid)
        except DataError as error:
            raise DataError(f"{path}: {error}") from None
    raise DataError(f"cannot read {path.name!r}: expected a .parquet, .csv or zoobot .hdf5 file")


def _load_parquet(
    path: Path,
    features: FeatureSpec,
    id_column: str | None,
    on_invalid: OnInvalid,
    progress: bool | None,
    batch_rows: int,
) -> Representations:
    check_on_invalid(on_invalid)
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
    id_column = find_id_column(columns, id_column)
    feature_columns, list_column = find_feature_columns(columns, types, features, id_column)
    n = parquet.metadata.num_rows
    if n == 0:
        raise DataError("the file has no rows: no galaxies to show")
    read_columns = [list_column] if list_column else feature_columns
    if list_column is None:
        check_numeric(feature_columns, types)
    meta_columns = [c for c in columns if c not in set(read_columns)]
    meta = parquet.read(columns=meta_columns).to_pandas(types_mapper=None)
    ids = ids_from_column(meta[id_column], id_column)

    d = list_width(parquet, list_column) if list_column else len(feature_columns)
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
            matrix[start:stop] = stack_list_column(batch.column(0), list_column, d, start)
        else:
            for j in range(d):
                with np.errstate(over="ignore"):  # beyond float32: inf, reported below
                    block[j, :rows] = float_values(batch.column(j))
            columns_to_rows(block, matrix[start:stop])
        keep[start:stop] = valid_rows(matrix[start:stop])
        start = stop
        bar.update(rows)
    bar.close()
    bad = np.flatnonzero(~keep)
    if len(bad):
        names = list_names(list_column, d) if list_column else feature_columns
        report_invalid(bad, ids, on_invalid, matrix[bad], names)
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
            id_name = find_id_column(header, id_column)
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


def load_reduced(
    source: Any,
    *,
    reduce_to: int,
    features: FeatureSpec = None,
    id_column: str | None = None,
    columns: Sequence[str] | None = None,
    engine: str = "local",
    on_invalid: OnInvalid = "raise",
    progress: bool | None = None,
    batch_rows: int | None = None,
) -> Representations:
    """Stream ``source`` in two passes and keep its ``reduce_to``-component PCA projection.

    See :func:`galwidget.data.load_representations`; ``engine="dask"`` (or a dask DataFrame
    ``source``) runs the passes on a Dask cluster (the Dask engine).
    """
    if engine not in ENGINES:
        raise DataError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    batch_rows = STREAM_BATCH_ROWS if batch_rows is None else batch_rows
    check_on_invalid(on_invalid)
    if engine == "dask" or type(source).__module__.startswith("dask"):
        return reduce_with_dask(
            source,
            reduce_to=reduce_to,
            features=features,
            id_column=id_column,
            columns=columns,
            on_invalid=on_invalid,
            progress=progress,
            batch_rows=batch_rows,
        )
    schema, parts = scan(resolve_files(source), features, id_column, columns)
    check_reduce_to(reduce_to, schema)
    batch_rows = schema.rows_per_batch(batch_rows)
    n = sum(part.rows for part in parts)
    show = progress if progress is not None else n * schema.width > PROGRESS_THRESHOLD
    shift = first_rows_shift(
        parts[0].batches(schema.read_columns, batch_rows), schema, parts[0].path
    )
    with tqdm(total=n, desc="pass 1/2: moments", unit="rows", disable=not show) as bar:
        first = [
            moments_pass(
                part.batches(schema.read_columns, batch_rows), schema, shift, part.path, bar.update
            )
            for part in parts
        ]
    check_pass_one(parts, first, on_invalid)
    pca = sum((result.moments for result in first[1:]), first[0].moments).pca(reduce_to)
    kept_rows = [part.rows - len(result.invalid) for part, result in zip(parts, first, strict=True)]
    out = np.empty((sum(kept_rows), reduce_to), dtype=np.float32)
    tables = []
    start = 0
    columns_read = [*schema.read_columns, *schema.kept_columns]
    with tqdm(total=n, desc="pass 2/2: projection", unit="rows", disable=not show) as bar:
        for part, result, rows in zip(parts, first, kept_rows, strict=True):
            batches = part.batches(list(dict.fromkeys(columns_read)), batch_rows)
            second = projection_pass(
                batches,
                schema,
                pca,
                result.invalid,
                part.path,
                out[start : start + rows],
                bar.update,
            )
            tables.append(second.kept)
            start += rows
    return assemble(out, tables, schema, pca, raw_source(parts, schema, first))
