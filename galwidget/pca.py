"""Exact principal component analysis for ``n ≫ d``: float64 moments (``XᵀX`` and row sums)
accumulated over row blocks, then ``numpy.linalg.eigh``. Numpy only; shared by the in-memory fit,
the streamed passes over part files and their Dask tasks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from galwidget.errors import DataError
from galwidget.util import PROGRESS_THRESHOLD

COVARIANCE_BLOCK_ROWS = 4096
PROJECTION_BLOCK_ROWS = 16_384


@dataclass(frozen=True)
class PCA:
    """An exact principal component analysis.

    Attributes:
        mean: ``(d,)`` float64 feature means.
        components: ``(c, d)`` float64 unit principal axes, by decreasing variance. Sign
            convention: each component's entry of largest magnitude is positive.
        explained_variance: ``(c,)`` variance along each axis (covariance eigenvalues, ``n - 1``
            denominator as in scikit-learn).
        explained_variance_ratio: ``(c,)`` share of the total variance per axis.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray

    @property
    def n_components(self) -> int:
        """The number of principal axes kept."""
        return len(self.components)

    def truncated(self, n_components: int) -> PCA:
        """The same PCA keeping only its first ``n_components`` axes (no refit)."""
        if not 1 <= n_components <= self.n_components:
            raise DataError(
                f"n_components must be between 1 and the {self.n_components} fitted components, "
                f"got {n_components!r}"
            )
        if n_components == self.n_components:
            return self
        return PCA(
            mean=self.mean,
            components=self.components[:n_components],
            explained_variance=self.explained_variance[:n_components],
            explained_variance_ratio=self.explained_variance_ratio[:n_components],
        )

    def transform(
        self, features: np.ndarray, progress: bool | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Project ``(m, d)`` rows onto the components: ``(m, c)`` float32, C-contiguous (written
        into ``out`` if given)."""
        features = np.asarray(features)
        m = len(features)
        mean = self.mean.astype(np.float32)
        axes = np.ascontiguousarray(self.components.T, dtype=np.float32)
        if out is None:
            out = np.empty((m, self.n_components), dtype=np.float32)
        show = progress if progress is not None else m * len(mean) > PROGRESS_THRESHOLD
        for start in tqdm(
            range(0, m, PROJECTION_BLOCK_ROWS),
            desc="PCA projection",
            unit="block",
            disable=not show,
        ):
            block = np.asarray(features[start : start + PROJECTION_BLOCK_ROWS], dtype=np.float32)
            np.matmul(block - mean, axes, out=out[start : start + len(block)])
        return out

    def transform_columns(self, columns: np.ndarray, out: np.ndarray) -> None:
        """Project rows given column-major, as a ``(d, m)`` float32 block (one row per column),
        into the ``(m, c)`` float32 ``out``: the same arithmetic as :meth:`transform` (the mean
        is subtracted in float32 first), without transposing the block."""
        mean = self.mean.astype(np.float32)[:, None]
        axes = np.ascontiguousarray(self.components.T, dtype=np.float32)
        for start in range(0, columns.shape[1], PROJECTION_BLOCK_ROWS):
            block = columns[:, start : start + PROJECTION_BLOCK_ROWS]
            shifted = np.subtract(block, mean, dtype=np.float32)
            np.matmul(shifted.T, axes, out=out[start : start + block.shape[1]])


class Moments:
    """Running float64 moments of rows for a PCA: count, sums and ``XᵀX`` of shifted rows.

    Rows are shifted by a fixed ``shift`` (e.g. the mean of the first rows), which keeps the sums
    well conditioned. Blocks may arrive in any number of pieces and on different machines: the
    moments of parts combine with ``+`` (same shift) into those of the whole, so the streamed and
    the Dask reductions fit exactly the PCA that :func:`fit_pca` fits in memory.
    """

    def __init__(self, shift: np.ndarray) -> None:
        self.shift = np.asarray(shift, dtype=np.float64)
        d = len(self.shift)
        self.count = 0
        self.total = np.zeros(d, dtype=np.float64)
        self.gram = np.zeros((d, d), dtype=np.float64)

    def add(self, rows: np.ndarray) -> None:
        """Accumulate ``(m, d)`` rows, in blocks of :data:`COVARIANCE_BLOCK_ROWS` (float32 ``syrk``)."""
        shift32 = self.shift.astype(np.float32)
        buffer = np.empty((min(len(rows), COVARIANCE_BLOCK_ROWS), len(shift32)), np.float32)
        for start in range(0, len(rows), COVARIANCE_BLOCK_ROWS):
            part = rows[start : start + COVARIANCE_BLOCK_ROWS]
            block = np.subtract(part, shift32, out=buffer[: len(part)], dtype=np.float32)
            self.total += block.sum(axis=0, dtype=np.float64)
            self.gram += block.T @ block
        self.count += len(rows)

    def add_columns(self, columns: np.ndarray) -> None:
        """Accumulate rows given column-major, as a ``(d, m)`` float32 block (one row per
        column): :meth:`add` without transposing, in the same row blocks and precision."""
        shift32 = self.shift.astype(np.float32)[:, None]
        for start in range(0, columns.shape[1], COVARIANCE_BLOCK_ROWS):
            block = np.subtract(
                columns[:, start : start + COVARIANCE_BLOCK_ROWS], shift32, dtype=np.float32
            )
            self.total += block.sum(axis=1, dtype=np.float64)
            self.gram += block @ block.T
        self.count += columns.shape[1]

    def __add__(self, other: Moments) -> Moments:
        if not np.array_equal(self.shift, other.shift):
            raise ValueError("moments with different shifts cannot be combined")
        combined = Moments(self.shift)
        combined.count = self.count + other.count
        combined.total = self.total + other.total
        combined.gram = self.gram + other.gram
        return combined

    def pca(self, n_components: int) -> PCA:
        """The top ``n_components`` eigenvectors of the covariance ``(G − s sᵀ / n) / (n − 1)``."""
        n, d = self.count, len(self.shift)
        if not 1 <= n_components <= d:
            raise DataError(f"n_components must be between 1 and d = {d}, got {n_components}")
        if n == 0:
            raise DataError("a PCA needs at least one row")
        covariance = (self.gram - np.outer(self.total, self.total) / n) / max(n - 1, 1)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        order = np.argsort(eigenvalues)[::-1][:n_components]
        components = eigenvectors[:, order].T
        largest = np.argmax(np.abs(components), axis=1)
        components *= np.sign(components[np.arange(n_components), largest])[:, None]
        variance = np.clip(eigenvalues[order], 0.0, None)
        total_variance = float(np.trace(covariance))
        ratio = variance / total_variance if total_variance > 0 else np.zeros_like(variance)
        return PCA(
            mean=self.shift + self.total / n,
            components=np.ascontiguousarray(components),
            explained_variance=variance,
            explained_variance_ratio=ratio,
        )


def fit_pca(features: np.ndarray, n_components: int, progress: bool | None = None) -> PCA:
    """Exact PCA of ``(n, d)`` rows for ``n ≫ d``: top ``n_components`` eigenvectors of the covariance.

    The covariance comes from one pass over row blocks (:class:`Moments`): each block, shifted by
    the mean of the first rows, adds its float32 ``XᵀX`` (a BLAS ``syrk``) and row sum into
    float64 accumulators. Cost ``O(n d²)``, memory ``O(d²)``; much faster than randomized or
    incremental PCA for d ~ 1000.
    """
    n, d = features.shape
    if not 1 <= n_components <= d:
        raise DataError(f"n_components must be between 1 and d = {d}, got {n_components}")
    moments = Moments(initial_shift(features))
    show = progress if progress is not None else n * d > PROGRESS_THRESHOLD
    step = COVARIANCE_BLOCK_ROWS * 16
    for start in tqdm(range(0, n, step), desc="PCA covariance", unit="block", disable=not show):
        moments.add(features[start : start + step])
    return moments.pca(n_components)


def initial_shift(rows: np.ndarray) -> np.ndarray:
    """The float64 mean of the first :data:`COVARIANCE_BLOCK_ROWS` rows: the :class:`Moments` shift."""
    return np.asarray(rows[:COVARIANCE_BLOCK_ROWS], dtype=np.float64).mean(axis=0)
