"""Anomaly scores: how unusual each galaxy is in representation space, higher = more unusual.

Two methods (:data:`METHODS`), both on the leading principal components of the features (the
shared, cached PCA of :func:`galwidget.learn.learning_features`):

- ``"isolation_forest"`` (default), as Astronomaly (Lochner & Bassett 2021) and Walmsley et al.
  (2022) rank galaxies: scikit-learn's ``IsolationForest`` with Liu et al.'s (2008) settings, which
  are also scikit-learn's and Astronomaly's: 100 trees of 256 galaxies each (sub-sampling is what
  makes isolation work on large data: a tree sees too few galaxies to be swamped by dense
  regions), every feature per tree. The score is the forest's mean isolation depth turned into
  ``2^(-depth / c(256))`` (about 0.5 for an ordinary galaxy, towards 1 for an outlier).
  ``n_components=10``: W+22's first 10 components hold 84% of the variance of the real Zoobot
  features; a forest splits on one random axis at a time, so trailing components of mostly noise
  would spend splits isolating nothing.
- ``"local_outlier_factor"``: scikit-learn's ``LocalOutlierFactor`` (20 neighbors, novelty mode)
  fitted on a seeded sample of at most :data:`LOF_SAMPLE` galaxies; the score is the local outlier
  factor (about 1 for an ordinary galaxy, larger for one in a sparser place than its neighbors).
  Slower than the forest; better at outliers that sit between dense groups.

Fitting uses a sample (the forest's trees are small by design); scoring goes over all galaxies in
blocks of :data:`BLOCK_ROWS` rows, so memory stays bounded and a progress callback or bar shows how
far it is (8.7M galaxies: ~130 blocks). Scores are cached by the data's fingerprint and the
settings (:func:`galwidget.cache.read_arrays`): a new session on the same data reads them back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from tqdm.auto import tqdm

from galwidget import cache
from galwidget.data import Representations
from galwidget.errors import DataError
from galwidget.jobs import JobRunner
from galwidget.learn import learning_features

__all__ = ["LOF_SAMPLE", "METHODS", "AnomalyJob", "AnomalyOptions", "anomaly_scores"]

Method: TypeAlias = Literal["isolation_forest", "local_outlier_factor"]
METHODS: tuple[Method, ...] = ("isolation_forest", "local_outlier_factor")
"""The anomaly scorers: ``"isolation_forest"`` (the default) and ``"local_outlier_factor"``."""
# Rows scored per block: bounds memory and sets the progress steps.
BLOCK_ROWS = 65_536
LOF_SAMPLE = 50_000
"""The local outlier factor is fitted on at most this many galaxies (its queries cost O(log sample))."""
# Components of the PCA shared with the learner and the neighbor index.
SHARED_COMPONENTS = 40
# A progress callback: ``progress(rows_done, rows_total)``.
Progress: TypeAlias = Callable[[int, int], Any]


@dataclass(frozen=True)
class AnomalyOptions:
    """How anomaly scores are computed (see the module docstring for why these defaults).

    Attributes:
        method: one of :data:`METHODS`.
        n_components: leading principal components the scores are computed on.
        n_estimators, max_samples: trees of the isolation forest and galaxies per tree.
        n_neighbors: neighbors of the local outlier factor.
        seed: seeds the forest's sampling and the outlier factor's sample.
    """

    method: Method = "isolation_forest"
    n_components: int = 10
    n_estimators: int = 100
    max_samples: int = 256
    n_neighbors: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise DataError(
                f"unknown anomaly method {self.method!r}; choose one of {', '.join(METHODS)}"
            )
        for name in ("n_components", "n_estimators", "max_samples", "n_neighbors"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise DataError(f"anomaly option {name} must be a positive integer, got {value!r}")

    @property
    def cache_name(self) -> str:
        """The cache file name of these settings for data of ``fingerprint`` (without it)."""
        if self.method == "isolation_forest":
            settings = f"t{self.n_estimators}-m{self.max_samples}"
        else:
            settings = f"k{self.n_neighbors}"
        return f"{self.method}-c{self.n_components}-{settings}-s{self.seed}"


def anomaly_scores(
    data: Representations | np.ndarray,
    options: AnomalyOptions | None = None,
    *,
    progress: Progress | bool | None = None,
    cache_dir: str | Path | None = None,
) -> pd.Series:
    """Anomaly score of every galaxy (higher = more unusual), indexed by id, named ``"anomaly"``.

    Args:
        data: ``Representations`` (scored on their cached PCA, cached by fingerprint) or an
            ``(n, d)`` array (scored as it is, on its first ``n_components`` columns; not cached).
        options: the method and its settings (default :class:`AnomalyOptions`).
        progress: a callback ``progress(rows_done, rows_total)`` after each block, ``True`` for a
            progress bar, ``False`` for none; default a bar above 1M galaxies.
        cache_dir: the cache folder (default :func:`galwidget.cache.cache_dir`).

    Raises:
        DataError: fewer than 2 galaxies, or bad options.
    """
    options = options or AnomalyOptions()
    if isinstance(data, Representations):
        ids: pd.Index = data.ids
        fingerprint: str | None = data.fingerprint
    else:
        ids, fingerprint = pd.RangeIndex(len(data)), None
    if len(ids) < 2:
        raise DataError(f"anomaly scores need at least 2 galaxies, got {len(ids)}")
    path = None
    if fingerprint is not None:
        path = cache.cache_dir(cache_dir) / "anomaly" / f"{fingerprint}-{options.cache_name}.npz"
        stored = cache.read_arrays(path, fingerprint)
        if stored is not None and stored["scores"].shape == (len(ids),):
            return pd.Series(stored["scores"], index=ids, name="anomaly")
    # The leading columns of the shared PCA-40 (that of the learner and the neighbor index) are
    # the leading components: no second PCA is fitted.
    features = learning_features(data, max(options.n_components, SHARED_COMPONENTS))
    features = features[:, : options.n_components]
    scores = _score(np.ascontiguousarray(features, dtype=np.float32), options, progress)
    if path is not None and fingerprint is not None:
        folder = cache.writable_cache_dir("anomaly", override=cache_dir)
        if folder is not None:
            cache.write_arrays(path, fingerprint, scores=scores)
    return pd.Series(scores, index=ids, name="anomaly")


def _score(
    features: np.ndarray, options: AnomalyOptions, progress: Progress | bool | None
) -> np.ndarray:
    n = len(features)
    if options.method == "isolation_forest":
        model: Any = IsolationForest(
            n_estimators=options.n_estimators,
            max_samples=min(options.max_samples, n),
            random_state=options.seed,
        ).fit(features)
    else:
        rng = np.random.default_rng(options.seed)
        fitted = features
        if n > LOF_SAMPLE:
            fitted = features[np.sort(rng.choice(n, LOF_SAMPLE, replace=False))]
        model = LocalOutlierFactor(
            n_neighbors=min(options.n_neighbors, len(fitted) - 1), novelty=True
        ).fit(fitted)
    scores = np.empty(n, dtype=np.float32)
    report = _progress_reporter(progress, n, options.method)
    try:
        for start in range(0, n, BLOCK_ROWS):
            block = features[start : start + BLOCK_ROWS]
            # score_samples is the opposite of the anomaly score in both models.
            scores[start : start + len(block)] = -model.score_samples(block)
            report(start + len(block), n)
    finally:
        report(-1, n)
    return scores


def _progress_reporter(progress: Progress | bool | None, n: int, method: str) -> Progress:
    """A callback ``(done, total)``; ``done = -1`` means finished (closes a bar)."""
    if callable(progress):
        user = progress
        return lambda done, total: None if done < 0 else user(done, total)
    show = progress if progress is not None else n > 1_000_000
    if not show:
        return lambda done, total: None
    bar = tqdm(total=n, desc=f"anomaly scores ({method.replace('_', ' ')})", unit="galaxy")

    def report(done: int, total: int) -> None:
        if done < 0:
            bar.close()
        else:
            bar.update(done - bar.n)

    return report


class AnomalyJob:
    """The anomaly scores of one data set, computed once on a background worker
    (:class:`~galwidget.jobs.JobRunner`) and shared by whoever needs them (the Explorer's colors
    and :attr:`~galwidget.Explorer.anomaly`, the labelling session's prior).

    Args:
        reps: the galaxies.
        options: as for :func:`anomaly_scores`.
    """

    def __init__(self, reps: Representations, options: AnomalyOptions | None = None) -> None:
        self.reps = reps
        self.options = options or AnomalyOptions()
        self._jobs = JobRunner("anomaly")
        self._future: Future[pd.Series] | None = None
        self._lock = threading.Lock()

    def start(self, *, progress: Progress | bool | None = None) -> Future[pd.Series]:
        """The future of the scores; the first call starts the work (reporting to ``progress``
        as :func:`anomaly_scores` does), later calls return the same future."""
        with self._lock:
            if self._future is None:
                reps, options = self.reps, self.options
                self._future = self._jobs.submit(
                    lambda: anomaly_scores(reps, options, progress=progress)
                )
            return self._future

    @property
    def done(self) -> bool:
        """Whether the scores are ready (or failed)."""
        future = self._future
        return future is not None and future.done()

    def result(self) -> pd.Series:
        """The scores, waiting for them (and starting the work) if need be."""
        return self.start().result()

    def close(self) -> None:
        """Stop the worker once the running computation, if any, has finished."""
        self._jobs.close()
