"""The one fitted PCA of a :class:`Representations` that neighbors, layouts and the learner
share: fitted once, cached on disk by the data fingerprint, or taken from a streamed reduction."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from galwidget import cache
from galwidget.cache import read_arrays, warn_unusable_file, write_arrays
from galwidget.data._representations import Representations
from galwidget.pca import PCA, fit_pca


def load_or_fit_pca(
    reps: Representations,
    n_components: int,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> tuple[PCA, np.ndarray, bool]:
    """The PCA of ``reps`` and its ``(n, c)`` float32 embedding, from the cache if present.

    Returns ``(pca, embedding, loaded_from_cache)``; a fresh fit is saved for next time. Streamed
    data (``reps.reduction`` set) is never refitted: its first ``c`` components and columns are
    the answer.
    """
    if reps.reduction is not None:
        return reps.reduction.truncated(n_components), leading_columns(reps, n_components), True
    path = cache.cache_dir(cache_dir) / f"pca-{reps.fingerprint}-c{n_components}.npz"
    stored = read_arrays(path, reps.fingerprint)
    if stored is not None:
        pca = _pca_from_arrays(stored)
        embedding = stored["embedding"]
        if pca is not None and embedding.shape == (len(reps), n_components):
            return pca, np.ascontiguousarray(embedding, dtype=np.float32), True
        warn_unusable_file(path, "arrays of the wrong shape")
    pca = fit_pca(reps.features, n_components, progress)
    embedding = pca.transform(reps.features, progress)
    write_arrays(
        path,
        reps.fingerprint,
        mean=pca.mean,
        components=pca.components,
        explained_variance=pca.explained_variance,
        explained_variance_ratio=pca.explained_variance_ratio,
        embedding=embedding,
    )
    return pca, embedding, False


def leading_columns(reps: Representations, n_components: int) -> np.ndarray:
    """The first ``n_components`` columns of ``reps.features`` (C-contiguous; no copy if all)."""
    if n_components == reps.n_features:
        return reps.features
    return np.ascontiguousarray(reps.features[:, :n_components])


def cached_pca_embedding(
    reps: Representations, min_components: int, cache_dir: str | os.PathLike[str] | None = None
) -> np.ndarray | None:
    """The embedding of any cached PCA of ``reps`` with at least ``min_components`` (of
    ``reps.reduction``: its features), else ``None``."""
    if reps.reduction is not None and reps.n_features >= min_components:
        return reps.features
    folder = cache.cache_dir(cache_dir)
    for path in sorted(folder.glob(f"pca-{reps.fingerprint}-c*.npz")):
        stored = read_arrays(path, reps.fingerprint)
        if stored is None:
            continue
        embedding = stored.get("embedding")
        if embedding is not None and embedding.ndim == 2 and embedding.shape[0] == len(reps):
            if embedding.shape[1] >= min_components:
                return np.ascontiguousarray(embedding, dtype=np.float32)
    return None


def _pca_from_arrays(stored: Mapping[str, np.ndarray]) -> PCA | None:
    try:
        pca = PCA(
            mean=stored["mean"],
            components=stored["components"],
            explained_variance=stored["explained_variance"],
            explained_variance_ratio=stored["explained_variance_ratio"],
        )
    except KeyError:
        return None
    c, d = pca.components.shape if pca.components.ndim == 2 else (-1, -1)
    if pca.mean.shape != (d,) or pca.explained_variance.shape != (c,):
        return None
    return pca
