"""2-D maps of the galaxies for the scatter plot: the first two PCA axes, UMAP, or the sky.

Both are saved in the cache folder keyed by ``reps.fingerprint`` and the parameters, so reopening the
same data shows the same map instantly. Streamed data (``reps.reduction`` set) is never refitted:
its first two reduced columns are the PCA map and UMAP runs on its reduced columns. Above
:data:`UMAP_SAMPLE` galaxies UMAP is fitted on a seeded random sample and applied to the rest.

``"sky"`` is the Hammer–Aitoff projection of ``reps.radec`` (equal-area, the whole sky in an
ellipse of 2:1, centred on RA 180° with RA increasing to the left as on the sky); :func:`graticule`
gives its RA/Dec grid lines in the same coordinates, :data:`SKY_BOUNDS` its extent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import numpy as np
from tqdm.auto import tqdm

from galwidget import cache
from galwidget.cache import read_arrays, write_arrays
from galwidget.data import Representations, cached_pca_embedding, load_or_fit_pca
from galwidget.errors import DataError
from galwidget.neighbors import NeighborIndex
from galwidget.pca import fit_pca

__all__ = ["SKY_BOUNDS", "UMAP_COMPONENTS", "LayoutMethod", "graticule", "layout", "sky_projection"]

LayoutMethod: TypeAlias = Literal["pca", "umap", "sky"]
"""The 2-D map methods :func:`layout` computes: ``"pca"``, ``"umap"`` (the ``umap`` extra) or
``"sky"`` (the galaxies' ra/dec in an equal-area all-sky projection)."""
METHODS = ("pca", "umap", "sky")
SKY_BOUNDS = (-2 * np.sqrt(2), -np.sqrt(2), 2 * np.sqrt(2), np.sqrt(2))
"""The Hammer–Aitoff ellipse's bounding box: ``(x_min, y_min, x_max, y_max)``."""
SKY_CENTRE_RA = 180.0
"""The RA (degrees) at the centre of the sky map."""
# UMAP runs on this many PCA dimensions (unless an index with its own PCA is given).
UMAP_COMPONENTS = 40
"""UMAP runs on this many PCA dimensions (unless an index with its own PCA is given)."""
# UMAP is fitted on at most this many galaxies (a seeded random sample), then applied to all.
UMAP_SAMPLE = 200_000
# Rows per umap ``transform`` call when applying a fitted map to the rest.
UMAP_TRANSFORM_ROWS = 100_000


def layout(
    reps: Representations,
    method: LayoutMethod = "pca",
    cache_dir: str | os.PathLike[str] | None = None,
    index: NeighborIndex | None = None,
    seed: int | None = 0,
    umap_options: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    *,
    umap_sample: int = UMAP_SAMPLE,
) -> np.ndarray:
    """``(n, 2)`` float32 map coordinates of ``reps``.

    ``"pca"``: the first two principal components (taken from ``index`` or any cached PCA of this
    data, else a fresh fit). ``"umap"``: umap-learn (``pip install galwidget[umap]``) on the PCA
    embedding of ``index``, else on a cached or fresh PCA-40; ``seed`` makes it reproducible
    (``None`` lets UMAP use every core) and ``umap_options`` are passed to ``umap.UMAP``
    (e.g. ``n_neighbors``, ``min_dist``); above ``umap_sample`` galaxies it is fitted on a random
    sample of that many (seeded by ``seed``) and the rest are placed with ``UMAP.transform``.
    Results are cached in ``cache_dir``. ``"sky"``: the Hammer–Aitoff projection of the galaxies'
    ra/dec (:func:`sky_projection`; nothing cached, it is instant).

    Args:
        reps: the galaxies.
        method: ``"pca"``, ``"umap"`` or ``"sky"``.
        cache_dir: where maps are cached (default :func:`galwidget.cache.cache_dir`).
        index: a :class:`~galwidget.NeighborIndex` of ``reps`` whose PCA to reuse.
        seed: the UMAP random seed (``None``: not reproducible, every core).
        umap_options: keyword arguments of ``umap.UMAP``.
        progress: show progress (default: for large inputs).
        umap_sample: fit UMAP on at most this many galaxies.

    Returns:
        ``(n, 2)`` float32 coordinates, in row order of ``reps``.

    Raises:
        DataError: an unknown method, an ``index`` of other data, fewer than 2 features.
        ImportError: ``"umap"`` without umap-learn installed (``pip install 'galwidget[umap]'``).

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=500, seed=0)
        >>> xy = gw.layout(reps, method="pca")
        >>> xy.shape, xy.dtype
        ((500, 2), dtype('float32'))
    """
    if method not in METHODS:
        raise DataError(f"unknown layout method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "sky":
        return _sky_layout(reps)
    if index is not None and index.reps.fingerprint != reps.fingerprint:
        raise DataError("index was built on different data than reps")
    if method == "umap":
        umap = _import_umap()
    pca_index = index if index is not None and index.pca is not None else None
    if method == "pca":
        name = "pca"
    else:
        options = dict(umap_options or {})
        components = UMAP_COMPONENTS if pca_index is None else pca_index.embedding.shape[1]
        settings = hashlib.blake2b(repr(sorted(options.items())).encode(), digest_size=6)
        sample = f"-fit{umap_sample}" if len(reps) > umap_sample else ""
        name = f"umap-pca{components}-seed{seed}-{settings.hexdigest()}{sample}"
    path = cache.cache_dir(cache_dir) / f"layout-{reps.fingerprint}-{name}.npz"
    stored = read_arrays(path, reps.fingerprint)
    if stored is not None and stored.get("xy", np.empty(0)).shape == (len(reps), 2):
        return np.ascontiguousarray(stored["xy"], dtype=np.float32)
    if method == "pca":
        xy = _pca_layout(reps, pca_index, cache_dir, progress)
    else:
        if pca_index is not None:
            embedding = pca_index.embedding
        else:
            embedding = load_or_fit_pca(
                reps, min(UMAP_COMPONENTS, reps.n_features), cache_dir, progress
            )[1]
        model = umap.UMAP(
            n_components=2,
            random_state=seed,
            **({"n_jobs": 1} if seed is not None else {}),
            **options,
        )
        xy = _fit_umap(model, embedding, umap_sample, seed, progress)
    xy = np.ascontiguousarray(xy, dtype=np.float32)
    write_arrays(path, reps.fingerprint, xy=xy)
    return xy


def _pca_layout(
    reps: Representations,
    index: NeighborIndex | None,
    cache_dir: str | os.PathLike[str] | None,
    progress: bool | None,
) -> np.ndarray:
    if reps.n_features < 2:
        raise DataError(f"a PCA layout needs at least 2 features, the data has {reps.n_features}")
    if index is not None and index.embedding.shape[1] >= 2:
        return index.embedding[:, :2]
    embedding = cached_pca_embedding(reps, 2, cache_dir)
    if embedding is not None:
        return embedding[:, :2]
    return fit_pca(reps.features, 2, progress).transform(reps.features, progress)


def _fit_umap(
    model: Any, embedding: np.ndarray, sample: int, seed: int | None, progress: bool | None
) -> np.ndarray:
    """UMAP of all rows: ``fit_transform`` up to ``sample`` rows, else fitted on a sample of
    ``sample`` rows and ``transform`` of the others in blocks."""
    n = len(embedding)
    if n <= sample:
        return model.fit_transform(embedding)
    if sample < 2:
        raise DataError(f"umap_sample must be at least 2, got {sample}")
    chosen = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
    xy = np.empty((n, 2), dtype=np.float32)
    xy[chosen] = model.fit_transform(embedding[chosen])
    rest = np.setdiff1d(np.arange(n), chosen, assume_unique=True)
    show = progress if progress is not None else n > UMAP_SAMPLE
    for start in tqdm(
        range(0, len(rest), UMAP_TRANSFORM_ROWS), desc="UMAP transform", disable=not show
    ):
        rows = rest[start : start + UMAP_TRANSFORM_ROWS]
        xy[rows] = model.transform(embedding[rows])
    return xy


def _import_umap() -> Any:
    try:
        import umap
    except ImportError:
        raise ImportError(
            "layout method 'umap' needs umap-learn: pip install galwidget[umap]"
        ) from None
    return umap


def sky_projection(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """``(n, 2)`` Hammer–Aitoff coordinates of ``ra``, ``dec`` (degrees): equal-area, within
    :data:`SKY_BOUNDS`, centred on RA :data:`SKY_CENTRE_RA` with RA increasing to the left."""
    longitude = np.radians(
        -(((np.asarray(ra, dtype=np.float64) - SKY_CENTRE_RA + 180) % 360) - 180)
    )
    latitude = np.radians(np.asarray(dec, dtype=np.float64))
    cos_latitude = np.cos(latitude)
    denominator = np.sqrt(1 + cos_latitude * np.cos(longitude / 2))
    x = 2 * np.sqrt(2) * cos_latitude * np.sin(longitude / 2) / denominator
    y = np.sqrt(2) * np.sin(latitude) / denominator
    return np.column_stack([x, y])


def graticule(ra_step: float = 30.0, dec_step: float = 30.0, points: int = 91) -> list[np.ndarray]:
    """The RA/Dec grid of the sky map: ``(m, 2)`` polylines in :func:`sky_projection`
    coordinates: meridians every ``ra_step`` degrees, parallels every ``dec_step`` degrees (the
    poles left out) and the map's edge (RA :data:`SKY_CENTRE_RA` ± 180°, both sides)."""
    dec = np.linspace(-90, 90, points)
    latitude = np.radians(dec)
    edge = [
        np.column_stack([side * 2 * np.sqrt(2) * np.cos(latitude), np.sqrt(2) * np.sin(latitude)])
        for side in (-1, 1)
    ]
    meridians = [
        sky_projection(np.full(points, ra), dec)
        for ra in np.arange(0, 360, ra_step)
        if not np.isclose((ra - SKY_CENTRE_RA) % 360, 180)
    ]
    around = SKY_CENTRE_RA + np.linspace(-180, 180, 2 * points)[1:-1]
    parallels = [
        sky_projection(around, np.full(len(around), value))
        for value in np.arange(-90 + dec_step, 90, dec_step)
    ]
    return edge + meridians + parallels


def _sky_layout(reps: Representations) -> np.ndarray:
    radec = reps.radec
    if radec is None:
        raise DataError(
            "the 'sky' layout needs sky positions: the data has no 'ra'/'dec' columns and its ids "
            "are not IAU names (Jhhmmss.ss+ddmmss.s)"
        )
    missing = np.flatnonzero(~np.isfinite(radec).all(axis=1))
    if len(missing):
        shown = ", ".join(str(reps.ids[i]) for i in missing[:5])
        raise DataError(
            f"the 'sky' layout needs a finite ra/dec for every galaxy; {len(missing)} lack one "
            f"({shown}): fill them in or use another layout"
        )
    return sky_projection(radec[:, 0], radec[:, 1]).astype(np.float32)
