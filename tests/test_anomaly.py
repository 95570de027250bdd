"""Anomaly scores: isolation forest and local outlier factor, blocked, cached by fingerprint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import galwidget as gw
from galwidget import anomaly, learn
from galwidget.anomaly import AnomalyOptions, anomaly_scores


def planted_outliers(n: int = 4000, d: int = 12, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian cloud with 20 galaxies planted far outside it."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)).astype(np.float32)
    outliers = rng.choice(n, 20, replace=False)
    features[outliers] += rng.choice([-7.0, 7.0], size=(20, d)).astype(np.float32)
    return features, outliers


@pytest.mark.parametrize("method", anomaly.METHODS)
def test_planted_outliers_rank_highest(method):
    features, outliers = planted_outliers()
    scores = anomaly_scores(features, AnomalyOptions(method=method, n_components=12))
    assert isinstance(scores, pd.Series) and scores.name == "anomaly"
    assert len(scores) == len(features) and np.isfinite(scores).all()
    top = np.argsort(-scores.to_numpy())[:20]
    assert set(top) == set(outliers)
    ordinary = np.delete(scores.to_numpy(), outliers)
    assert scores.to_numpy()[outliers].min() > np.quantile(ordinary, 0.99)


def test_seeded_scores_repeat_and_blocks_do_not_change_them(monkeypatch):
    features, _ = planted_outliers()
    first = anomaly_scores(features, AnomalyOptions(n_components=12, seed=5)).to_numpy()
    again = anomaly_scores(features, AnomalyOptions(n_components=12, seed=5)).to_numpy()
    np.testing.assert_array_equal(first, again)
    other_seed = anomaly_scores(features, AnomalyOptions(n_components=12, seed=6)).to_numpy()
    assert not np.array_equal(first, other_seed)
    monkeypatch.setattr(anomaly, "BLOCK_ROWS", 333)
    calls: list[tuple[int, int]] = []
    blocked = anomaly_scores(
        features,
        AnomalyOptions(n_components=12, seed=5),
        progress=lambda done, total: calls.append((done, total)),
    ).to_numpy()
    np.testing.assert_allclose(blocked, first, rtol=1e-6)
    assert [done for done, _ in calls] == [*range(333, 4000, 333), 4000]
    assert {total for _, total in calls} == {4000}


def test_representations_are_scored_on_their_pca_and_cached(monkeypatch):
    reps = gw.datasets.synthetic(n=3000)
    scores = anomaly_scores(reps, progress=False)
    assert scores.index.equals(reps.ids)
    expected = anomaly_scores(learn.learning_features(reps)[:, :10], progress=False)
    np.testing.assert_allclose(scores.to_numpy(), expected.to_numpy(), rtol=1e-6)

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(anomaly, "_score", refuse)
    np.testing.assert_array_equal(anomaly_scores(reps).to_numpy(), scores.to_numpy())
    with pytest.raises(AssertionError, match="recomputed"):  # other settings: another file
        anomaly_scores(reps, AnomalyOptions(seed=1))


def test_bad_options_and_too_few_galaxies_are_clear_errors():
    with pytest.raises(gw.DataError, match=r"unknown anomaly method 'svm'.*isolation_forest"):
        AnomalyOptions(method="svm")  # type: ignore[arg-type]
    with pytest.raises(gw.DataError, match="n_estimators must be a positive integer, got 0"):
        AnomalyOptions(n_estimators=0)
    with pytest.raises(gw.DataError, match="at least 2 galaxies, got 1"):
        anomaly_scores(np.zeros((1, 3)))


def test_anomalous_strategy_suggests_by_the_prior_without_labels():
    features, outliers = planted_outliers()
    prior = anomaly_scores(features, AnomalyOptions(n_components=12)).to_numpy()
    learner = learn.Learner(features, strategy="anomalous", prior=prior, report=False)
    learner.retrain((np.empty(0, np.int64), np.empty(0)))
    first = learner.suggest(10)
    assert set(first) <= set(outliers)
    learner.retrain((first.to_numpy(), np.zeros(10)))
    second = learner.suggest(10)
    assert set(second) == set(outliers) - set(first)
    learner.prior = None
    with pytest.raises(gw.DataError, match="'anomalous' strategy needs anomaly scores"):
        learner.retrain((np.empty(0, np.int64), np.empty(0)))
    with pytest.raises(gw.DataError, match="one finite score per galaxy \\(4000\\)"):
        learner.prior = prior[:10]


def test_ei_starts_from_the_prior_and_learns_graded_scores():
    """With a prior, 'ei' suggests the most anomalous galaxies before two scores; graded scores
    then pull the suggestions towards the best-scored outliers (those planted on the + side)."""
    features, outliers = planted_outliers()
    prior = anomaly_scores(features, AnomalyOptions(n_components=12)).to_numpy()
    positive = outliers[features[outliers, 0] > 0]
    interest = np.zeros(len(features))
    interest[outliers] = 3.0
    interest[positive] = 5.0
    learner = learn.Learner(features, strategy="ei", prior=prior, report=False)
    assert learner.retrain((np.empty(0, np.int64), np.empty(0))).kind == "prior"
    assert set(learner.suggest(5)) <= set(outliers)
    scored = learn.simulate_interest(features, interest, "ei", prior=prior, n_labels=40, batch=5)
    assert len(set(scored)) == 40
    assert set(outliers) <= set(scored[:30])  # the prior finds every outlier early
    fit = learner.retrain((scored, interest[scored]))
    assert fit.kind == "gp"
    assert fit.scores[positive].mean() > fit.scores[np.setdiff1d(outliers, positive)].mean()
