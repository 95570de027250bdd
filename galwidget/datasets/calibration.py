"""How hard a set of representations is: the figures Walmsley et al. (2022) published for the real
GZ DECaLS Zoobot features, measured the same way on any :class:`~galwidget.Representations`.

- ``pca10_variance``: the share of the feature variance held by the first 10 principal components
  (real file: 0.844).
- ``ring_probe_accuracy``: accuracy of a logistic regression on PCA-40 trained on 79 rings and 79
  non-rings drawn among the featured, face-on, non-spiral galaxies (vote fractions
  ``smooth-or-featured_featured-or-disk`` > 0.6, ``disk-edge-on_no`` > 0.75,
  ``has-spiral-arms_no`` > 0.5), scored on held-out galaxies of that selection, balanced
  (real: ~0.86); the mean over ``repeats`` random draws.
- ``knn_same_class``: the share of each galaxy's 10 nearest neighbors (PCA-40, Euclidean) of
  the same ground-truth class.
- ``ring_fraction``: the share of galaxies whose ``is_ring`` is true.

These need ``meta`` columns ``is_ring`` and ``morphology`` (ground truth) and the three vote
fractions, as :func:`galwidget.datasets.synthetic` writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors

from galwidget.data import Representations
from galwidget.errors import DataError

__all__ = ["RING_SELECTION", "W22_FIGURES", "difficulty"]

# W+22's selection of candidate ring hosts: vote-fraction column → lower bound.
RING_SELECTION: dict[str, float] = {
    "smooth-or-featured_featured-or-disk_fraction": 0.6,
    "disk-edge-on_no_fraction": 0.75,
    "has-spiral-arms_no_fraction": 0.5,
}
"""W+22's selection of candidate ring hosts: vote-fraction column → lower bound."""
# The published figures of the real GZ DECaLS features (Walmsley et al. 2022).
W22_FIGURES: dict[str, float] = {"pca10_variance": 0.844, "ring_probe_accuracy": 0.86}
"""The published figures of the real GZ DECaLS features (Walmsley et al. 2022) that the synthetic set is calibrated to."""
PROBE_LABELS = 79
KNN = 10


def difficulty(
    reps: Representations, *, seed: int = 0, repeats: int = 20, knn_rows: int = 5000
) -> dict[str, Any]:
    """The difficulty figures of ``reps`` (see the module docstring), seeded by ``seed``.

    ``knn_rows`` galaxies (a seeded sample) are queried for the nearest-neighbor share.
    """
    missing = [c for c in ["is_ring", "morphology", *RING_SELECTION] if c not in reps.meta]
    if missing:
        raise DataError(f"difficulty needs meta columns {missing}")
    rng = np.random.default_rng(seed)
    pca = PCA(n_components=40, random_state=seed).fit(reps.features)
    embedded = pca.transform(reps.features)
    rings = reps.meta["is_ring"].to_numpy(dtype=bool)
    morphology = reps.meta["morphology"].to_numpy(dtype=object)

    selected = np.ones(len(reps), dtype=bool)
    for column, low in RING_SELECTION.items():
        selected &= reps.meta[column].to_numpy() > low
    pool_rings, pool_other = np.flatnonzero(selected & rings), np.flatnonzero(selected & ~rings)
    if len(pool_rings) < PROBE_LABELS + 10 or len(pool_other) < PROBE_LABELS + 10:
        raise DataError(
            f"too few selected galaxies for the ring probe: {len(pool_rings)} rings, "
            f"{len(pool_other)} others (need {PROBE_LABELS + 10} of each)"
        )
    accuracies = []
    for _ in range(repeats):
        ring_order, other_order = rng.permutation(pool_rings), rng.permutation(pool_other)
        train = np.concatenate([ring_order[:PROBE_LABELS], other_order[:PROBE_LABELS]])
        test_rings, test_other = ring_order[PROBE_LABELS:], other_order[PROBE_LABELS:]
        model = LogisticRegression(max_iter=2000).fit(embedded[train], rings[train])
        accuracies.append(
            (
                model.predict(embedded[test_rings]).mean()
                + (~model.predict(embedded[test_other])).mean()
            )
            / 2
        )

    queries = rng.choice(len(reps), min(knn_rows, len(reps)), replace=False)
    nn = NearestNeighbors(n_neighbors=KNN + 1).fit(embedded)
    _, neighbors = nn.kneighbors(embedded[queries])
    same = morphology[neighbors[:, 1:]] == morphology[queries, None]
    return {
        "pca10_variance": float(pca.explained_variance_ratio_[:10].sum()),
        "ring_probe_accuracy": float(np.mean(accuracies)),
        "ring_probe_accuracy_std": float(np.std(accuracies)),
        "knn_same_class": float(same.mean()),
        "knn_same_class_rings": float(same[rings[queries]].mean()),
        "ring_fraction": float(rings.mean()),
        "probe_pool": {"rings": len(pool_rings), "others": len(pool_other)},
    }
