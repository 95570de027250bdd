"""Density clusters: HDBSCAN on a sample then assignment, medoids, names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import galwidget as gw
from galwidget.clusters import NOISE, find_clusters

CENTRES = np.array([[0.0, 0.0, 0.0], [12.0, 0.0, 0.0], [0.0, 12.0, 0.0]])


def blobs(sizes=(600, 300, 150), seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Three separated Gaussian blobs in 3-D: features and the true blob of each galaxy."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    features = CENTRES[truth] + rng.normal(size=(len(truth), 3))
    order = rng.permutation(len(truth))
    return features[order].astype(np.float32), truth[order]


def same_partition(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of clustered galaxies whose cluster's majority blob is their own blob."""
    clustered = found != NOISE
    majority = pd.Series(truth[clustered]).groupby(found[clustered]).agg(lambda s: s.mode()[0])
    return float((majority[found[clustered]].to_numpy() == truth[clustered]).mean())


@pytest.mark.parametrize("sample", [10_000, 400])  # all galaxies, and a sample then assignment
def test_blobs_are_found_with_their_medoids(sample):
    features, truth = blobs()
    clusters = find_clusters(features, n_components=3, min_cluster_size=40, sample=sample)
    assert len(clusters.representatives) == 3
    assert same_partition(clusters.labels, truth) > 0.98
    assert (clusters.labels == NOISE).mean() < 0.1
    table = clusters.table
    assert list(table.columns) == ["cluster", "name", "size", "representative", "central"]
    assert table["size"].is_monotonic_decreasing and table["size"].sum() <= len(features)
    assert table["size"].tolist()[0] == pytest.approx(600, rel=0.1)
    for row in table.itertuples():
        medoid = int(row.representative)
        blob = truth[medoid]
        assert np.linalg.norm(features[medoid] - CENTRES[blob]) < 1.0  # near the blob's centre
        assert len(row.central) == 5 and row.central[0] == row.representative
        assert set(clusters.labels[[int(i) for i in row.central]]) == {row.cluster}


def test_seeded_clusters_repeat():
    features, _ = blobs()
    first = find_clusters(features, n_components=3, sample=400, seed=2)
    again = find_clusters(features, n_components=3, sample=400, seed=2)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.table.equals(again.table)


def test_names_from_a_column_and_renaming():
    features, truth = blobs()
    clusters = find_clusters(features, n_components=3, min_cluster_size=40)
    kinds = np.array(["smooth", "spiral", "ring"], dtype=object)[truth]
    kinds[:100] = None  # missing values are ignored
    clusters.name_by(kinds)
    names = set(clusters.table["name"])
    assert {name.split(" (")[0] for name in names} == {"smooth", "spiral", "ring"}
    assert all(name.endswith("%)") for name in names)
    biggest = int(clusters.table["cluster"].iloc[0])
    clusters.rename(biggest, "the big one")
    assert clusters.table["name"].iloc[0] == "the big one"
    named = clusters.named_labels()
    assert (named[clusters.labels == biggest] == "the big one").all()
    assert named[clusters.labels == NOISE].isna().all()
    with pytest.raises(gw.DataError, match="no cluster 17; the clusters are 0, 1, 2"):
        clusters.rename(17, "x")
    with pytest.raises(gw.DataError, match="non-empty string"):
        clusters.rename(biggest, " ")
    with pytest.raises(gw.DataError, match="one value per galaxy \\(1050\\), got 3"):
        clusters.name_by(["a", "b", "c"])


def test_too_few_galaxies_or_no_density_are_clear_errors():
    with pytest.raises(gw.DataError, match="at least 20 galaxies, got 5"):
        find_clusters(np.zeros((5, 3)))
    uniform = np.random.default_rng(0).random((200, 3)).astype(np.float32)
    with pytest.raises(gw.DataError, match="no cluster found among 200 galaxies"):
        find_clusters(uniform, n_components=3, min_cluster_size=150)


def test_representations_are_clustered_on_their_pca():
    reps = gw.datasets.synthetic(n=2000)
    clusters = find_clusters(reps, sample=1000)
    assert clusters.ids.equals(reps.ids)
    assert len(clusters.representatives) >= 1
    assert clusters.table["representative"].isin(reps.ids).all()
