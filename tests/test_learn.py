"""Active learning: classifiers, scores, suggestion strategies and simulated sessions."""

from __future__ import annotations

import json
import threading
import time
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

import galwidget as gw
from galwidget import learn


def rare_class_problem(n: int = 5000, d: int = 10, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A broad population with a rare (~2%) compact cluster offset along three dimensions."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)).astype(np.float32)
    truth = rng.random(n) < 0.02
    features[truth] = rng.normal(size=(truth.sum(), d)) * 0.5
    features[truth, :3] += 1.5
    return features, truth


def linear_tail_problem(n: int = 5000, d: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A rare class (2%) beyond a linear threshold: what a linear classifier can learn."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, d)).astype(np.float32)
    score = features[:, :5].sum(axis=1)
    return features, score > np.quantile(score, 0.98)


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, np.ndarray]:
    return rare_class_problem()


def mean_precision(features, truth, strategy: str, n_labels: int) -> float:
    runs = [learn.simulate(features, truth, strategy, n_labels=n_labels, seed=s) for s in (0, 1, 2)]
    return float(np.mean([run["precision@50"] for run in runs]))


@pytest.mark.parametrize(
    ("strategy", "make_problem", "n_labels"),
    [
        ("uncertainty", linear_tail_problem, 200),
        ("top", linear_tail_problem, 200),
        ("ei", rare_class_problem, 100),  # a compact anomaly, as in Walmsley et al. 2022
        ("active_search", rare_class_problem, 100),
    ],
)
def test_strategies_beat_random_labelling(strategy, make_problem, n_labels):
    features, truth = make_problem()
    baseline = mean_precision(features, truth, "random", n_labels)
    assert baseline < 0.8
    assert mean_precision(features, truth, strategy, n_labels) > baseline + 0.15


def test_simulate_reports_its_session(problem):
    features, truth = problem
    run = learn.simulate(features, truth, "top", n_labels=60, batch=20, seed=3, curve_length=300)
    assert run["strategy"] == "top" and run["n_labels"] == 60
    labels = run["labels"]
    assert len(labels) == 60 and labels.index.is_unique
    assert labels.iloc[0]  # starts from one known positive
    assert np.array_equal(labels.to_numpy(), truth[labels.index])
    assert run["n_found"] == labels.sum() > 10  # far above the 2% of random picks
    curve = run["precision_curve"]
    assert curve.shape == (300,) and ((curve >= 0) & (curve <= 1)).all()
    assert run["precision@50"] == curve[49] and run["precision@200"] == curve[199]
    with pytest.raises(gw.DataError, match="boolean array"):
        learn.simulate(features, truth.astype(int), "top")


def test_top_finds_the_target_class():
    features, truth = linear_tail_problem()
    rng = np.random.default_rng(0)
    negatives = rng.choice(np.flatnonzero(~truth), 200, replace=False)
    known = np.concatenate([np.flatnonzero(truth)[:15], negatives])
    kinds = np.where(truth[known], "ring", np.where(features[known, 5] > 0, "disk", "smooth"))
    learner = learn.Learner(features, strategy="top", target="ring")
    fit = learner.retrain((known, kinds))
    assert fit.kind == "classifier" and set(fit.classes) == {"ring", "disk", "smooth"}
    assert fit.scores.shape == (len(features), 3)
    assert np.allclose(fit.scores.sum(axis=1), 1, atol=1e-5)
    assert learner.scores.shape == (len(features),)  # the target's probability
    suggested = learner.suggest(20)
    assert truth[suggested].mean() >= 0.7  # the base rate is 0.02
    assert not set(suggested) & set(known)


def test_uncertainty_suggests_galaxies_near_the_boundary():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(3000, 2)).astype(np.float32)
    side = features[:, 0] > 0.3
    known = rng.choice(3000, 200, replace=False)
    learner = learn.Learner(features)  # uncertainty is the default
    learner.retrain((known, side[known]))
    suggested = learner.suggest(30).to_numpy()
    distance = np.abs(features[:, 0] - 0.3)
    assert np.percentile(distance[suggested], 90) < np.percentile(distance, 5)
    assert not set(suggested) & set(known)


@pytest.mark.parametrize("strategy", ["uncertainty", "top", "ei", "active_search", "random"])
def test_suggestions_exclude_labelled_and_skipped(problem, strategy):
    features, truth = problem
    known = np.arange(0, 5000, 50)
    scored = strategy in ("ei", "active_search")
    labels = np.where(truth[known], 5.0, 0.0) if scored else truth[known]
    labels[:2] = (5.0, 0.0) if scored else (True, False)
    learner = learn.Learner(features, strategy=strategy, target=True, seed=4)
    learner.retrain((known, labels))
    first = learner.suggest(40)
    assert len(first) == 40 and first.is_unique and not set(first) & set(known)
    again = learner.suggest(40, exclude=first[:10])
    assert not set(again) & set(first[:10]) and not set(again) & set(known)
    with pytest.raises(gw.DataError, match="cannot exclude unknown ids: 99999"):
        learner.suggest(5, exclude=[99999])


def test_fewer_than_two_classes_is_a_clear_error():
    features, _ = rare_class_problem(500)
    learner = learn.Learner(features, strategy="uncertainty")
    with pytest.raises(gw.DataError, match="no model yet"):
        learner.suggest()
    with pytest.raises(gw.DataError, match="at least two classes; so far there are only 'ring'"):
        learner.retrain(pd.Series(["ring", "ring"], index=[3, 4]))
    top = learn.Learner(features, strategy="top", target="ring")
    with pytest.raises(gw.DataError, match="no galaxy is labelled 'ring' yet"):
        top.retrain(pd.Series(["disk", "smooth"], index=[3, 4]))

    random = learn.Learner(features, strategy="random")
    assert random.retrain(pd.Series(["ring"], index=[3])).kind == "none"
    assert random.scores is None
    suggested = random.suggest(499)
    assert 3 not in suggested and len(suggested) == 499
    assert len(random.suggest(10, exclude=suggested)) == 0


def test_ei_learns_numeric_interest_scores():
    rng = np.random.default_rng(5)
    features = rng.uniform(-3, 3, size=(2000, 2)).astype(np.float32)
    interest = 5 * np.exp(-np.sum((features - [2, 2]) ** 2, axis=1))  # peak at (2, 2)
    known = rng.choice(2000, 60, replace=False)
    learner = learn.Learner(features, strategy="ei")
    fit = learner.retrain(pd.Series(np.round(interest[known], 1), index=known))
    assert fit.kind == "gp" and fit.scores.shape == fit.std.shape == (2000,)
    assert fit.best == pytest.approx(np.round(interest[known], 1).max())
    assert np.corrcoef(fit.scores, interest)[0, 1] > 0.9
    suggested = learner.suggest(10).to_numpy()
    assert np.linalg.norm(features[suggested] - [2, 2], axis=1).mean() < 1.5
    with pytest.raises(gw.DataError, match="numeric interest scores"):
        learner.retrain(pd.Series(["ring", "disk"], index=[1, 2]))


def test_ei_predicts_the_lowest_score_far_from_every_scored_galaxy():
    """Active search shows mostly interesting galaxies: far from them the GP predicts the lowest
    score given (a dull galaxy), not the mean of the scores."""
    rng = np.random.default_rng(2)
    features = rng.uniform(-3, 3, size=(1500, 2)).astype(np.float32)
    near_peak = np.flatnonzero(np.linalg.norm(features - [2, 2], axis=1) < 0.6)[:8]
    dull = np.flatnonzero(np.linalg.norm(features - [0, 0], axis=1) < 0.6)[:2]
    scored = np.r_[near_peak, dull]
    scores = np.r_[np.full(len(near_peak), 5.0), np.zeros(len(dull))]
    learner = learn.Learner(features, strategy="ei", report=False)
    fit = learner.retrain((scored, scores))
    far = np.linalg.norm(features - [-2.5, -2.5], axis=1) < 0.5  # > 2.8 from every scored galaxy
    assert far.sum() > 5
    assert np.abs(fit.scores[far]).max() < 1.0  # the old centre, the scores' mean, was 4.0
    assert fit.scores[near_peak].min() > 4.5
    assert learn.gp_prior_mean(scores, trend=False) == 0.0
    residual = np.array([0.5, -0.25, -0.25])
    assert learn.gp_prior_mean(residual, trend=True) == pytest.approx(0.0)


def test_active_search_is_the_knn_posterior_of_scored_neighbors():
    """p = (γ + Σ y) / (1 + m) over the scored galaxies that have a galaxy among their k nearest
    neighbors, y = score / 5; the most probable unscored galaxies are suggested."""
    rng = np.random.default_rng(7)
    features = rng.normal(size=(3000, 5)).astype(np.float32)
    ring, dull, graded = 11, 22, 33
    learner = learn.Learner(features, strategy="active_search", seed=1, search_model="knn")
    fit = learner.retrain(pd.Series({ring: "5", dull: "0", graded: "3"}))  # as interest mode stores
    assert fit.kind == "search" and fit.report is None and fit.best == 1.0
    distances = np.linalg.norm(features[:, None, :] - features[[ring, dull, graded]], axis=2)
    distances[[ring, dull, graded], [0, 1, 2]] = np.inf
    near = distances <= np.sort(distances, axis=0)[learn.SEARCH_K - 1]
    successes = near @ np.array([1.0, 0.0, 0.6])
    expected = (learn.SEARCH_GAMMA + successes) / (1 + near.sum(axis=1))
    assert np.allclose(fit.scores, expected)
    assert fit.scores.max() == pytest.approx((learn.SEARCH_GAMMA + 1) / 2)
    suggested = learner.suggest(learn.SEARCH_K).to_numpy()
    assert near[suggested, 0].all() and ring not in suggested  # the ring's neighbors first
    with pytest.raises(gw.DataError, match=r"numeric interest scores .* or a target class"):
        learner.retrain(pd.Series(["ring", "disk"], index=[1, 2]))
    learner.target = "ring"  # class labels: 1 for the target, 0 for any other class
    by_class = learner.retrain(pd.Series(["ring", "disk"], index=[ring, dull]))
    assert by_class.scores[near[:, 0] & ~near[:, 1]] == pytest.approx((learn.SEARCH_GAMMA + 1) / 2)


def test_active_search_with_the_classifier_learns_soft_outcomes():
    """The default model: the logistic regression with each score as a soft target (a 3 is a
    positive of weight 0.6 and a negative of weight 0.4); the k-NN model until both are seen."""
    features, truth = linear_tail_problem()
    rng = np.random.default_rng(3)
    known = np.r_[np.flatnonzero(truth)[:10], rng.choice(np.flatnonzero(~truth), 60, replace=False)]
    scores = np.where(truth[known], 5.0, 0.0)
    scores[-1] = 3.0
    learner = learn.Learner(features, strategy="active_search", report=False)
    fit = learner.retrain((known, scores))
    assert fit.kind == "search" and isinstance(fit.model, LogisticRegression)
    positive, negative = scores > 0, scores < 5
    manual = LogisticRegression(max_iter=1000, class_weight="balanced").fit(
        features[np.r_[known[positive], known[negative]]],
        np.r_[np.ones(positive.sum()), np.zeros(negative.sum())],
        sample_weight=np.r_[scores[positive] / 5, 1 - scores[negative] / 5],
    )
    assert np.allclose(fit.scores, manual.predict_proba(features)[:, 1], atol=1e-5)
    suggested = learner.suggest(20)
    assert truth[suggested].mean() >= 0.7 and not set(suggested) & set(known)  # base rate 0.02
    only_dull = learner.retrain((known[~truth[known]], np.zeros((~truth[known]).sum())))
    assert only_dull.model is None and only_dull.scores.max() == pytest.approx(learn.SEARCH_GAMMA)
    with pytest.raises(gw.DataError, match="unknown search model 'svm'"):
        learn.Learner(features, search_model="svm")


def test_active_search_breaks_ties_by_the_anomaly_prior():
    rng = np.random.default_rng(8)
    features = rng.normal(size=(1000, 3)).astype(np.float32)
    prior = rng.random(1000)
    learner = learn.Learner(features, strategy="active_search", prior=prior, seed=0)
    learner.retrain(([0], [0.0]))  # one dull galaxy: everything else far from it ties at γ
    distances = np.linalg.norm(features - features[0], axis=1)
    near_dull = np.argsort(distances)[1 : learn.SEARCH_K + 1]
    untouched = np.setdiff1d(np.arange(1, 1000), near_dull)
    assert learner.suggest(5).tolist() == untouched[np.argsort(-prior[untouched])][:5].tolist()


def test_labels_from_a_store_by_id(tmp_path):
    features, truth = rare_class_problem(400, d=4)
    ids = pd.Index([f"G{i}" for i in range(400)], name="iauname")
    reps = gw.Representations(ids=ids, features=features, meta=pd.DataFrame(index=ids))
    store = gw.LabelStore.for_data(reps, tmp_path / "labels.jsonl", classes=["ring", "other"])
    store.set(ids[truth][:4], "ring")
    store.set(ids[~truth][:40], "other")
    learner = learn.Learner(reps, strategy="top", target="ring")
    assert learner.features.shape == (400, 4)  # fewer features than components: used as they are
    learner.retrain(store)
    suggested = learner.suggest(5)
    assert pd.api.types.is_string_dtype(suggested) and suggested.str.startswith("G").all()
    assert not set(suggested) & set(store.series().index)
    with pytest.raises(gw.DataError, match="labels of unknown ids: 'nope'"):
        learner.retrain(pd.Series(["ring"], index=["nope"]))


def test_pca_features_for_representations():
    rng = np.random.default_rng(6)
    reps = gw.Representations.from_array(rng.normal(size=(300, 64)).astype(np.float32))
    features = learn.learning_features(reps, n_components=8)
    assert features.shape == (300, 8) and features.dtype == np.float32


def test_pluggable_estimators(problem):
    features, truth = problem
    known = np.arange(0, 5000, 10)
    learner = learn.Learner(features, RandomForestClassifier(50, random_state=0), "top", True)
    learner.retrain((known, truth[known]))
    assert truth[learner.suggest(10)].mean() >= 0.5
    with pytest.raises(gw.DataError, match="LinearSVC has no predict_proba"):
        learn.Learner(features, LinearSVC())


class GatedClassifier(LogisticRegression):
    """A logistic regression whose fit waits for a gate: makes a retrain take as long as we like."""

    gate = threading.Event()

    def fit(self, X, y, sample_weight=None):
        assert self.gate.wait(timeout=30)
        return super().fit(X, y, sample_weight)


def test_retrain_async_supersedes_waiting_requests(problem):
    features, truth = problem
    learner = learn.Learner(features, GatedClassifier(max_iter=1000), "top", True)
    done = []
    GatedClassifier.gate.clear()
    requests = [np.arange(0, 5000, step) for step in (100, 50, 25)]
    futures = [learner.retrain_async((requests[0], truth[requests[0]]), callback=done.append)]
    deadline = time.monotonic() + 30
    while not futures[0].running() and time.monotonic() < deadline:
        time.sleep(0.01)
    for known in requests[1:]:
        futures.append(learner.retrain_async((known, truth[known]), callback=done.append))
    assert futures[1].cancelled()  # superseded while the first one trained
    GatedClassifier.gate.set()
    fits = [futures[0].result(timeout=30), futures[2].result(timeout=30)]
    learner.close()
    assert [len(fit.labelled) for fit in fits] == [50, 200]
    assert done == fits  # callbacks of the trained requests, in order
    assert learner.latest is fits[1]  # the newest request's fit is the current one
    assert learner.scores.shape == (len(features),)

    failing = learn.Learner(features, strategy="uncertainty")
    future = failing.retrain_async(pd.Series([True], index=[0]))
    with pytest.raises(gw.DataError, match="at least two classes"):
        future.result(timeout=30)
    failing.close()


def test_gp_candidate_pool_bounds_the_uncertainty_work():
    features, truth = rare_class_problem(6000, d=6, seed=3)
    rng = np.random.default_rng(0)
    known = np.concatenate([np.flatnonzero(truth)[:3], rng.choice(np.flatnonzero(~truth), 40)])
    labels = np.where(truth[known], 5.0, 0.0)
    learner = learn.Learner(features, strategy="ei", gp_pool=600, seed=1)
    fit = learner.retrain((known, labels))
    pool = np.flatnonzero(np.isfinite(fit.std))
    assert len(pool) == 600 and np.isfinite(fit.scores).all()  # the mean is everywhere
    assert set(np.argsort(-fit.scores)[:300]) <= set(pool)  # the most promising half
    # Where it is computed, the standard deviation is the GP's exact one (sklearn's predict, on
    # the standardised scores the model was fitted to).
    scaled_mean, scaled_std = fit.model.predict(features.astype(np.float64), return_std=True)
    exact_mean, exact_std = labels.min() + labels.std() * scaled_mean, labels.std() * scaled_std
    np.testing.assert_allclose(fit.std[pool], exact_std[pool], rtol=1e-6)
    np.testing.assert_allclose(fit.scores, exact_mean, rtol=1e-4, atol=1e-5)  # float32
    suggested = learner.suggest(10).to_numpy()
    assert set(suggested) <= set(pool) and not set(suggested) & set(known)
    # The pool's suggestions are mostly the exact expected improvement's best ones.
    exact = learn.expected_improvement(exact_mean, exact_std, fit.best)
    exact[known] = -np.inf
    assert len(set(suggested) & set(np.argsort(-exact)[:10])) >= 6
    with pytest.raises(gw.DataError, match="gp_pool must be a positive"):
        learn.Learner(features, strategy="ei", gp_pool=0)


class ThreadRecordingClassifier(LogisticRegression):
    """A logistic regression that records the threads it is fitted on."""

    threads: ClassVar[list[str]] = []

    def fit(self, X, y, sample_weight=None):
        self.threads.append(threading.current_thread().name)
        return super().fit(X, y, sample_weight)


def test_model_report_cross_validates_on_the_background_worker():
    features, truth = linear_tail_problem()
    rng = np.random.default_rng(1)
    known = np.concatenate([np.flatnonzero(truth)[:40], rng.choice(np.flatnonzero(~truth), 80)])
    labels = np.where(truth[known], "ring", "other")
    ThreadRecordingClassifier.threads.clear()
    learner = learn.Learner(
        features, ThreadRecordingClassifier(max_iter=1000), "top", target="ring"
    )
    fit = learner.retrain_async((known, labels)).result(timeout=60)
    learner.close()
    report = fit.report
    assert report.n_folds == 5 and report.labels_per_class == {"ring": 40, "other": 80}
    assert 0.85 <= report.accuracy <= 1 and 0.9 <= report.roc_auc <= 1
    assert 0 <= report.accuracy_std < 0.15 and 0 <= report.roc_auc_std < 0.1
    # 1 fit for the scores + 5 folds, all on the worker thread (never the caller's).
    assert len(ThreadRecordingClassifier.threads) == 6
    assert all(name.startswith("galwidget-learn") for name in ThreadRecordingClassifier.threads)
    as_dict = report.as_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["labels_per_class"] == {"ring": 40, "other": 80}

    # Too few labels of a class to cross-validate: NaN metrics, None in JSON.
    few = learn.Learner(features, strategy="uncertainty").retrain(
        (known[[0, 1, 50]], labels[[0, 1, 50]])
    )
    assert few.report.n_folds == 0 and np.isnan(few.report.accuracy)
    assert few.report.as_dict() == {
        "accuracy": None,
        "accuracy_std": None,
        "roc_auc": None,
        "roc_auc_std": None,
        "n_folds": 0,
        "labels_per_class": {"ring": 2, "other": 1},
    }
    quiet = learn.Learner(features, strategy="uncertainty", report=False)
    assert quiet.retrain((known, labels)).report is None


def test_model_report_of_interest_scores_and_of_many_classes(problem):
    features, truth = problem
    rng = np.random.default_rng(2)
    known = np.concatenate([np.flatnonzero(truth)[:20], rng.choice(np.flatnonzero(~truth), 60)])
    interest = np.where(truth[known], 5.0, rng.choice([0.0, 1.0], len(known)))
    report = learn.Learner(features, strategy="ei").retrain((known, interest)).report
    assert report.n_folds == 5 and set(report.labels_per_class) == {"5", "1", "0"}
    assert sum(report.labels_per_class.values()) == 80 and report.labels_per_class["5"] == 20
    assert report.roc_auc > 0.8 and report.accuracy > 0.7

    kinds = np.where(truth[known], "ring", np.where(features[known, 4] > 0, "disk", "smooth"))
    multi = learn.Learner(features, strategy="uncertainty").retrain((known, kinds)).report
    assert multi.n_folds == 5 and 0 <= multi.roc_auc <= 1 and 0 <= multi.accuracy <= 1


def test_binary_logistic_scores_equal_predict_proba():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(5000, 12)).astype(np.float32)
    labels = np.where(features[:, 0] + 0.5 * rng.normal(size=5000) > 0, "ring", "other")
    binary = LogisticRegression(max_iter=1000).fit(features[:300], labels[:300])
    reference = binary.predict_proba(features.astype(np.float64))
    fast = learn._probabilities(binary, features)
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    np.testing.assert_allclose(fast, reference, atol=2e-6)
    three = np.where(features[:, 1] > 1, "merger", labels)
    multi = LogisticRegression(max_iter=1000).fit(features[:600], three[:600])
    np.testing.assert_allclose(
        learn._probabilities(multi, features), multi.predict_proba(features), atol=1e-6
    )
