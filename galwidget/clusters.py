"""Clusters of galaxies in representation space, with their representative galaxies and names.

:func:`find_clusters` runs scikit-learn's HDBSCAN (density clustering: any number of clusters
of any shape, and "noise" for galaxies in no dense region) on the leading principal components of
the shared PCA (:func:`galwidget.learn.learning_features`). HDBSCAN's cost grows faster than
``n log n`` (measured here, 10 components: 5,000 galaxies ~1.7 s, 20,000 ~30 s), so beyond
``sample`` galaxies it clusters a seeded sample and gives every other galaxy the cluster of its
nearest sampled galaxy (noise stays noise).

Each cluster gets a *representative*: its medoid in representation space (the member with the
smallest total distance to the others, over at most :data:`MEDOID_SAMPLE` members), and a few
more by the same centrality. Names are ``"cluster <id>"`` until :meth:`Clusters.name_by` names
them after the majority value of a column (a catalogue column or the user's labels) or
:meth:`Clusters.rename` renames one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN
from sklearn.neighbors import NearestNeighbors

from galwidget.data import Representations
from galwidget.errors import DataError
from galwidget.learn import learning_features
from galwidget.util import preview

__all__ = ["CLUSTER_SAMPLE", "MIN_GALAXIES", "NOISE", "Clusters", "find_clusters"]

CLUSTER_SAMPLE = 10_000
"""HDBSCAN clusters at most this many galaxies; the others join their nearest sampled galaxy."""
MIN_GALAXIES = 20
"""Fewer galaxies than this cannot hold density clusters worth the name."""
NOISE = -1
"""The cluster id of galaxies in no cluster."""
# Medoids are computed over at most this many members of a cluster.
MEDOID_SAMPLE = 2000
# Components of the PCA shared with the learner and the neighbor index.
SHARED_COMPONENTS = 40


@dataclass
class Clusters:
    """Clusters of the galaxies (see the module docstring).

    Attributes:
        ids: the galaxy ids.
        labels: ``(n,)`` int cluster id per galaxy, :data:`NOISE` for none.
        representatives: cluster id → positions of its most central members, medoid first.
        names: cluster id → name.
    """

    ids: pd.Index
    labels: np.ndarray
    representatives: dict[int, np.ndarray]
    names: dict[int, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        for cluster in self.representatives:
            self.names.setdefault(cluster, f"cluster {cluster}")

    @property
    def table(self) -> pd.DataFrame:
        """One row per cluster, largest first: ``cluster``, ``name``, ``size``,
        ``representative`` (the medoid's id) and ``central`` (ids of the most central members,
        medoid first)."""
        sizes = np.bincount(self.labels[self.labels >= 0], minlength=len(self.representatives))
        rows = [
            {
                "cluster": cluster,
                "name": self.names[cluster],
                "size": int(sizes[cluster]),
                "representative": str(self.ids[central[0]]),
                "central": [str(i) for i in self.ids[central]],
            }
            for cluster, central in self.representatives.items()
        ]
        columns = ["cluster", "name", "size", "representative", "central"]
        table = pd.DataFrame(rows, columns=columns)
        return table.sort_values(["size", "cluster"], ascending=[False, True], ignore_index=True)

    def members(self, cluster: int) -> np.ndarray:
        """Positions of the galaxies of ``cluster``."""
        self._check(cluster)
        return np.flatnonzero(self.labels == cluster)

    def named_labels(self) -> pd.Series:
        """The cluster name of every galaxy (``None`` for noise), indexed by id."""
        names = np.array(
            [self.names[c] for c in range(len(self.representatives))] + [None], dtype=object
        )
        return pd.Series(names[self.labels], index=self.ids, name="cluster")

    def rename(self, cluster: int, name: str) -> None:
        """Call ``cluster`` ``name``."""
        self._check(cluster)
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"a cluster name must be a non-empty string, got {name!r}")
        with self._lock:
            self.names[cluster] = name

    def name_by(self, values: pd.Series | np.ndarray) -> None:
        """Name every cluster after the most frequent of ``values`` (one per galaxy, missing
        ones ignored) among its members, with its share: ``"spiral (72%)"``; a cluster whose
        members all lack a value keeps its name."""
        values = pd.Series(np.asarray(values, dtype=object))
        if len(values) != len(self.labels):
            raise DataError(
                f"naming clusters needs one value per galaxy ({len(self.labels)}), got "
                f"{len(values)}"
            )
        names = {}
        for cluster in self.representatives:
            present = values[self.labels == cluster].dropna()
            if len(present):
                counts = present.astype(str).value_counts()
                names[cluster] = f"{counts.index[0]} ({counts.iloc[0] / len(present):.0%})"
        with self._lock:
            self.names.update(names)

    def _check(self, cluster: int) -> None:
        if cluster not in self.representatives:
            raise DataError(
                f"no cluster {cluster!r}; the clusters are {preview(list(self.representatives))}"
            )


def find_clusters(
    data: Representations | np.ndarray,
    *,
    n_components: int = 10,
    min_cluster_size: int | None = None,
    sample: int = CLUSTER_SAMPLE,
    n_central: int = 5,
    seed: int = 0,
) -> Clusters:
    """Density clusters of the galaxies (see the module docstring).

    Args:
        data: ``Representations`` (clustered on their shared PCA) or an ``(n, d)`` array (on
            its first ``n_components`` columns).
        n_components: leading principal components clustered.
        min_cluster_size: HDBSCAN's smallest cluster (default 1% of the clustered galaxies,
            at least 10).
        sample: galaxies clustered by HDBSCAN; the rest join their nearest sampled galaxy.
        n_central: representative galaxies kept per cluster (the medoid first).
        seed: seeds the sample.

    Raises:
        DataError: fewer than :data:`MIN_GALAXIES` galaxies, or no cluster found.
    """
    ids = data.ids if isinstance(data, Representations) else pd.RangeIndex(len(data))
    if len(ids) < MIN_GALAXIES:
        raise DataError(
            f"clustering needs at least {MIN_GALAXIES} galaxies, got {len(ids)}: with so few "
            "there are no dense regions to find"
        )
    if sample < MIN_GALAXIES or n_central < 1 or n_components < 1:
        raise DataError(
            f"sample ({sample}) must be at least {MIN_GALAXIES}, n_central ({n_central}) and "
            f"n_components ({n_components}) at least 1"
        )
    features = learning_features(data, max(n_components, SHARED_COMPONENTS))[:, :n_components]
    features = np.ascontiguousarray(features, dtype=np.float32)
    n = len(features)
    chosen = np.arange(n)
    if n > sample:
        chosen = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    size = min_cluster_size or max(10, len(chosen) // 100)
    sampled = HDBSCAN(min_cluster_size=size, copy=True).fit(features[chosen]).labels_
    if sampled.max() < 0:
        raise DataError(
            f"no cluster found among {len(chosen):,} galaxies with min_cluster_size={size}: "
            "the galaxies have no dense regions at that size; try a smaller min_cluster_size"
        )
    labels = np.full(n, NOISE, dtype=np.int64)
    labels[chosen] = sampled
    if len(chosen) < n:
        rest = np.setdiff1d(np.arange(n), chosen)
        nearest = NearestNeighbors(n_neighbors=1).fit(features[chosen])
        labels[rest] = sampled[nearest.kneighbors(features[rest], return_distance=False)[:, 0]]
    rng = np.random.default_rng([seed, 1])
    representatives = {
        int(cluster): _most_central(features, np.flatnonzero(labels == cluster), n_central, rng)
        for cluster in range(int(labels.max()) + 1)
    }
    return Clusters(pd.Index(ids), labels, representatives)


def _most_central(
    features: np.ndarray, members: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Positions of the ``count`` members with the smallest total distance to the others (over
    at most :data:`MEDOID_SAMPLE` of them), most central first."""
    if len(members) > MEDOID_SAMPLE:
        members = np.sort(rng.choice(members, MEDOID_SAMPLE, replace=False))
    rows = features[members].astype(np.float64)
    squared = (rows**2).sum(axis=1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * rows @ rows.T, 0))
    order = np.argsort(distances.sum(axis=1), kind="stable")[:count]
    return members[order]
