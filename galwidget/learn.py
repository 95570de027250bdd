"""Active learning: train on the labels so far, score every galaxy, suggest what to label next.

Strategies (:data:`STRATEGIES`):

- ``"uncertainty"``: galaxies closest to the decision boundary (smallest margin between the two
  most probable classes).
- ``"top"``: the most probable galaxies of the ``target`` class ("find more rings").
- ``"ei"``: Gaussian-process regression on numeric interest scores (e.g. 0–5) and expected
  improvement, as in the anomaly search of Walmsley et al. (2022). The GP mean is computed for
  every galaxy, its standard deviation (the O(n · labels²) part) only on a *candidate pool* of
  at most ``gp_pool`` galaxies: the highest predicted interest (half), the farthest from any
  labelled galaxy (a quarter: where the GP is most uncertain) and a seeded random sample (the
  rest). Expected improvement, hence every suggestion, is taken over the pool; ``Fit.std`` is NaN
  outside it. A retrain costs O(n · labels · d) for the mean plus O(gp_pool · labels²), never
  O(n · labels²); with n ≤ ``gp_pool`` everything is exact (float64).
- ``"active_search"``: Bayesian active search (Garnett et al. 2012; Jiang et al. 2017), greedy
  one-step lookahead: the galaxies most probably interesting come first (the one-step optimal
  choice for "find as many as possible"). Each label is an outcome ``y``: score / 5 for interest
  scores (1 for a 5, 0 for a 0, 0.6 for a 3), or 1 for the ``target`` class and 0 for any other.
  The probability of interest comes from the learner's ``search_model``:

  - ``"classifier"`` (default): ``estimator`` (the class-balanced logistic regression) trained on
    the outcomes as soft targets (a positive of weight ``y`` and a negative of weight ``1 - y``);
  - ``"knn"``: the papers' k-nearest-neighbor model, ``(γ + Σ y) / (1 + m)`` over the ``m``
    scored galaxies that have the galaxy among their :data:`SEARCH_K` nearest neighbors (PCA
    features, Euclidean), :data:`SEARCH_GAMMA` = γ for a galaxy near no scored one. Only the
    neighbors of newly scored galaxies are searched (one O(n · d) scan per new score, cached).

  The k-NN model is also used until an interesting and a dull galaxy are both scored. Ties (e.g.
  no scored neighbor) go to the most anomalous with a ``prior``, else are broken at random.
  On the calibrated galaxies the classifier finds rings about twice as often as the k-NN model: rings
  are a direction in feature space, not a cluster (bench/README.md).
- ``"anomalous"``: the most anomalous unlabelled galaxies first (the learner's ``prior``, e.g.
  :func:`galwidget.anomaly.anomaly_scores`); nothing is trained, so it works before any label.
- ``"random"``: unlabelled galaxies at random (the baseline).

With a ``prior`` (anomaly scores), ``"ei"`` starts from the anomaly ranking as Astronomaly's
"protege" workflow does: before two galaxies are scored it suggests the most anomalous ones; after,
the GP models the scores as a trend ``a + b · prior`` (least squares on the labelled galaxies,
``b ≥ 0``: anomalies are never assumed dull) plus a GP on what the trend leaves, so graded scores
(e.g. 0–5) both steer the ranking by anomaly and learn where in feature space the interest lies.

Without a prior, the GP's mean far from every scored galaxy is the *lowest* score given so far
(:func:`gp_prior_mean`), not the mean of the scores: most galaxies are dull, and the scores are
not a sample of all galaxies — active search shows the user more and more interesting ones, so
their mean rises with every ring found and made unexplored regions look ever more promising (on
the calibrated galaxies this alone moved GP + EI from 0.52 ± 0.11 to 0.60 ± 0.04 rings per
suggestion, bench/README.md).

Classifier strategies use any scikit-learn classifier with ``predict_proba`` (default a
class-balanced logistic regression) on PCA features. Suggestions never include labelled galaxies.
After each retrain a :class:`ModelReport` (cross-validated accuracy and ROC AUC with their spread
over folds, labels per class) is computed on the same thread as the training, i.e. on the
background worker for :meth:`Learner.retrain_async`.
:func:`simulate` replays a labelling session against ground truth to compare strategies.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular
from scipy.special import expit, ndtr
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel, WhiteKernel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from galwidget.data import Representations, load_or_fit_pca
from galwidget.errors import DataError
from galwidget.jobs import JobRunner
from galwidget.util import preview

__all__ = [
    "SEARCH_GAMMA",
    "SEARCH_K",
    "SEARCH_MODELS",
    "STRATEGIES",
    "Fit",
    "Learner",
    "ModelReport",
    "check_strategy",
    "expected_improvement",
    "gp_prior_mean",
    "initial_kernel",
    "learning_features",
    "simulate",
    "simulate_interest",
]

STRATEGIES = ("uncertainty", "top", "ei", "active_search", "anomalous", "random")
"""The active-learning strategies: ``"uncertainty"`` (closest to the decision boundary), ``"top"`` (highest score), ``"ei"`` (GP expected improvement), ``"active_search"`` (k-nearest-neighbor Bayesian active search), ``"anomalous"`` (most anomalous first) and ``"random"``."""
SEARCH_K = 50
"""Neighbors per scored galaxy in ``"active_search"``'s model (the k-NN graph of Jiang et al. 2017's experiments)."""
SEARCH_GAMMA = 0.1
"""``"active_search"``'s probability that a galaxy with no scored neighbor is interesting: one pseudo-observation of 0.1, so a neighborhood with one interesting galaxy stays ahead of unexplored ones until it has nine dull ones."""
SEARCH_MODELS = ("classifier", "knn")
"""Models of ``"active_search"``: the learner's classifier on the outcomes, or the k-NN model."""
# Highest interest score: "active_search" uses score / INTEREST_TOP as the probability of interest.
INTEREST_TOP = 5.0
# Rows scored per predict call: bounds the memory of GP kernel matrices for 340k galaxies.
CHUNK = 32768
# Rows per float32 matrix-vector product when a binary logistic regression scores every galaxy.
LINEAR_CHUNK = 1 << 18
# Rows per GP call: short calls let the main thread take the GIL back often (stalls < 50 ms).
GP_CHUNK = 8192
# Default size of the GP + EI candidate pool.
GP_POOL = 8192
# Cross-validation folds of the model report (fewer when a class has fewer labels).
REPORT_FOLDS = 5
# Exploration margin of expected improvement, in interest-score units.
EI_XI = 0.01
# Interest scores the simulated labeller gives for "ei".
INTEREST_POSITIVE, INTEREST_NEGATIVE = 5.0, 0.0

LabelsInput = Any  # pd.Series id → label, a LabelStore, or a (positions, labels) pair


def check_strategy(strategy: str) -> str:
    """``strategy`` if it is one of :data:`STRATEGIES`, else :class:`~galwidget.DataError`."""
    if strategy not in STRATEGIES:
        raise DataError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return strategy


def learning_features(data: Representations | np.ndarray, n_components: int = 40) -> np.ndarray:
    """The features active learning trains on: the (cached) PCA embedding of ``reps`` that
    :class:`~galwidget.neighbors.NeighborIndex` also uses, or an array used as it is."""
    if not isinstance(data, Representations):
        features = np.asarray(data, dtype=np.float32)
        if features.ndim != 2 or not np.isfinite(features).all():
            raise DataError(f"features must be a finite 2-D array, got shape {features.shape}")
        return features
    if data.n_features <= n_components:
        return data.features
    return load_or_fit_pca(data, n_components)[1]


@dataclass(frozen=True)
class ModelReport:
    """How good the classifier is now: cross-validated on the labels so far.

    Out-of-fold predictions of ``n_folds`` stratified folds (at most :data:`REPORT_FOLDS`, fewer
    when a class has fewer labels); the metrics are means over folds and ``*_std`` their standard
    deviation over folds. Classifiers: accuracy of the most probable class; ROC AUC of the
    ``target`` class against the rest (of the second class when no target is set; one-vs-rest
    macro average with more than two classes and no target). GP (``"ei"``): a galaxy counts as
    interesting when its score is above the middle of the labelled range; accuracy of the
    predicted mean on that side, ROC AUC of the predicted mean. With fewer than two labels in any
    class the metrics are NaN and ``n_folds`` is 0.

    Attributes:
        accuracy, accuracy_std, roc_auc, roc_auc_std: the metrics and their spread over folds.
        n_folds: number of folds (0: too few labels to cross-validate).
        labels_per_class: number of labels per class (``str`` of the label; scores as ``"5"``).
    """

    accuracy: float
    accuracy_std: float
    roc_auc: float
    roc_auc_std: float
    n_folds: int
    labels_per_class: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields; NaN metrics become ``None``."""
        return {
            **{
                name: None if np.isnan(value) else float(value)
                for name, value in (
                    ("accuracy", self.accuracy),
                    ("accuracy_std", self.accuracy_std),
                    ("roc_auc", self.roc_auc),
                    ("roc_auc_std", self.roc_auc_std),
                )
            },
            "n_folds": int(self.n_folds),
            "labels_per_class": {str(k): int(v) for k, v in self.labels_per_class.items()},
        }


@dataclass(frozen=True)
class Fit:
    """A trained model and its scores over all galaxies.

    Attributes:
        kind: ``"classifier"`` (probabilities of ``classes``), ``"gp"`` (predicted interest and its
            uncertainty), ``"search"`` (``"active_search"``'s probability of interest),
            ``"prior"`` (the learner's anomaly scores, nothing trained) or ``"none"`` (too few
            classes; only random suggestions).
        scores: ``(n, k)`` class probabilities, ``(n,)`` GP mean interest, probability of
            interest or anomaly scores; ``None`` for "none".
        std: ``(n,)`` GP standard deviation (``"gp"`` only).
        labelled: positions of the galaxies trained on (never suggested).
        best: the highest interest score labelled (``"gp"``; for ``"search"`` the highest outcome).
        seconds: time taken to train and score (the report not included).
        report: cross-validated quality of the model (``None`` for ``"none"``, ``"prior"`` and
            ``"search"`` fits or when the learner was made with ``report=False``).
    """

    kind: str
    model: Any
    classes: list[Any]
    scores: np.ndarray | None
    std: np.ndarray | None
    labelled: np.ndarray
    best: float
    seconds: float
    report: ModelReport | None = None


class Learner:
    """Trains on labels, scores all galaxies and suggests the next ones to label.

    Args:
        data: ``Representations`` (learns on :func:`learning_features`) or an ``(n, d)`` array.
        estimator: scikit-learn classifier with ``predict_proba``, cloned on every retrain
            (default ``LogisticRegression(max_iter=1000, class_weight="balanced")``).
        strategy: one of :data:`STRATEGIES`; may be changed later (switching to or from ``"ei"``
            needs a retrain).
        target: the class ``"top"`` looks for; also selects the column :attr:`scores` returns.
        ids: galaxy ids for an array (default: positions 0..n-1); taken from ``data`` otherwise.
        seed: seeds the ``"random"`` strategy, the GP's random pool and tied suggestions.
        gp_pool: size of the ``"ei"`` candidate pool (see the module docstring).
        report: compute a :class:`ModelReport` after each retrain.
        prior: ``(n,)`` anomaly scores (higher = more unusual): what ``"anomalous"`` suggests and
            the trend ``"ei"`` starts from (see the module docstring); settable later.
        search_model: ``"active_search"``'s model of the probability of interest: ``"classifier"``
            (``estimator`` trained on the outcomes) or ``"knn"`` (see the module docstring).
    """

    def __init__(
        self,
        data: Representations | np.ndarray,
        estimator: Any = None,
        strategy: str = "uncertainty",
        target: Any = None,
        ids: pd.Index | None = None,
        n_components: int = 40,
        seed: int = 0,
        *,
        gp_pool: int = GP_POOL,
        report: bool = True,
        prior: np.ndarray | None = None,
        search_model: str = "classifier",
    ) -> None:
        self.features = learning_features(data, n_components)
        if isinstance(data, Representations):
            ids = data.ids
        self.ids = pd.RangeIndex(len(self.features)) if ids is None else pd.Index(ids)
        if len(self.ids) != len(self.features):
            raise DataError(f"{len(self.ids)} ids but {len(self.features)} feature rows")
        if estimator is None:
            estimator = LogisticRegression(max_iter=1000, class_weight="balanced")
        self.estimator = estimator
        if not hasattr(self.estimator, "predict_proba"):
            raise DataError(f"{type(self.estimator).__name__} has no predict_proba")
        self.strategy = strategy
        self.target = target
        if gp_pool < 1:
            raise DataError(f"gp_pool must be a positive number of galaxies, got {gp_pool}")
        self.gp_pool = int(gp_pool)
        self.report = report
        self.prior = prior
        if search_model not in SEARCH_MODELS:
            raise DataError(
                f"unknown search model {search_model!r}; choose one of {', '.join(SEARCH_MODELS)}"
            )
        self.search_model = search_model
        self._rng = np.random.default_rng(seed)
        self._pool_rng = np.random.default_rng([seed, 1])
        self._centred: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._neighbors: dict[int, np.ndarray] = {}  # scored position → its SEARCH_K neighbors
        self._fit: Fit | None = None
        self._installed = 0  # request number of the installed fit
        self._requests = 0
        self._lock = threading.Lock()
        self._jobs = JobRunner("learn")

    @property
    def strategy(self) -> str:
        """The suggestion strategy: one of :data:`STRATEGIES`."""
        return self._strategy

    @strategy.setter
    def strategy(self, strategy: str) -> None:
        self._strategy = check_strategy(strategy)

    @property
    def prior(self) -> np.ndarray | None:
        """``(n,)`` anomaly scores that ``"anomalous"`` and ``"ei"`` start from, or ``None``."""
        return self._prior

    @prior.setter
    def prior(self, prior: np.ndarray | None) -> None:
        if prior is not None:
            prior = np.asarray(prior, dtype=np.float64)
            if prior.shape != (len(self.features),) or not np.isfinite(prior).all():
                raise DataError(
                    f"the prior must hold one finite score per galaxy ({len(self.features)}), "
                    f"got shape {prior.shape}"
                )
        self._prior = prior

    @property
    def latest(self) -> Fit | None:
        """The latest fit, or ``None`` before the first retrain."""
        return self._fit

    @property
    def scores(self) -> np.ndarray | None:
        """Scores of all galaxies from the latest fit: the probability of ``target`` (``(n,)``)
        if set, else all class probabilities ``(n, k)``; for ``"ei"`` the predicted interest."""
        fit = self._fit
        if fit is None or fit.scores is None:
            return None
        if fit.kind == "classifier" and self.target is not None:
            return fit.scores[:, _class_column(fit, self.target)]
        return fit.scores

    # ------------------------------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------------------------------

    def retrain(self, labels: LabelsInput) -> Fit:
        """Train on ``labels`` (a Series id → label, a ``LabelStore`` or ``(positions, labels)``)
        and rescore every galaxy; the new fit becomes :attr:`latest` and is returned."""
        with self._lock:
            self._requests += 1
            request = self._requests
        return self._train(request, self._positions_and_labels(labels))

    def retrain_async(
        self, labels: LabelsInput, callback: Callable[[Fit], Any] | None = None
    ) -> Future[Fit]:
        """Retrain on a background thread; returns a future of the :class:`Fit`.

        One worker trains at a time; a request still waiting when a newer one arrives is
        superseded (its future is cancelled), so bursts of labels cost one retrain. ``callback``
        gets the fit when it is done (on the worker thread, or at once if it is done already);
        training errors are set on the future.
        """
        snapshot = self._positions_and_labels(labels)
        with self._lock:
            self._requests += 1
            request = self._requests
        future = self._jobs.submit(lambda: self._train(request, snapshot), key="retrain")
        if callback is not None:

            def deliver(done: Future[Fit]) -> None:
                if not done.cancelled() and done.exception() is None:
                    callback(done.result())

            future.add_done_callback(deliver)
        return future

    def close(self) -> None:
        """Stop the background worker (pending requests are cancelled)."""
        self._jobs.close(wait=True)

    def _train(self, request: int, labelled: tuple[np.ndarray, np.ndarray]) -> Fit:
        positions, values = labelled
        started = time.perf_counter()
        if self.strategy == "anomalous" or (self.strategy == "ei" and self._prior_only(values)):
            fit = self._prior_fit(positions, started)
        elif self.strategy == "ei":
            fit = self._train_gp(positions, values, started)
        elif self.strategy == "active_search":
            fit = self._train_search(positions, values, started)
        else:
            fit = self._train_classifier(positions, values, started)
        if self.report and fit.kind not in ("none", "prior", "search"):
            fit = dataclasses.replace(fit, report=self._report(fit, values))
        with self._lock:
            if request > self._installed:
                self._fit, self._installed = fit, request
        return fit

    def _prior_only(self, values: np.ndarray) -> bool:
        """``"ei"`` with a prior and fewer than two scores: suggest by the prior alone."""
        return self._prior is not None and len(values) < 2

    def _prior_fit(self, positions: np.ndarray, started: float) -> Fit:
        if self._prior is None:
            raise DataError(
                "the 'anomalous' strategy needs anomaly scores: set learner.prior (e.g. "
                "galwidget.anomaly.anomaly_scores(data).to_numpy())"
            )
        seconds = time.perf_counter() - started
        return Fit("prior", None, [], self._prior, None, positions, np.nan, seconds)

    def _train_classifier(self, positions: np.ndarray, values: np.ndarray, started: float) -> Fit:
        classes = list(pd.unique(values))
        if len(classes) < 2:
            if self.strategy == "random":
                return Fit("none", None, classes, None, None, positions, np.nan, 0.0)
            found = f"only {classes[0]!r}" if classes else "no labels"
            raise DataError(
                f"the {self.strategy!r} strategy needs labelled galaxies of at least two classes; "
                f"so far there are {found}"
            )
        if self.strategy == "top" and self.target not in classes:
            raise DataError(
                f"no galaxy is labelled {self.target!r} yet: label one to find more like it "
                f"(labelled classes: {preview(classes)})"
            )
        with threadpool_limits(1, "blas"):  # tiny BLAS calls: threads only add contention
            model = clone(self.estimator).fit(self.features[positions], values)
        scores = _probabilities(model, self.features)
        seconds = time.perf_counter() - started
        return Fit(
            "classifier", model, list(model.classes_), scores, None, positions, np.nan, seconds
        )

    def _train_gp(self, positions: np.ndarray, values: np.ndarray, started: float) -> Fit:
        try:
            interest = values.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(
                "the 'ei' strategy needs numeric interest scores (e.g. 0–5) as labels, got "
                f"{preview(pd.unique(values))}"
            ) from None
        if len(interest) < 2:
            raise DataError("the 'ei' strategy needs at least two labelled galaxies")
        train = self.features[positions].astype(np.float64)
        previous = self._fit
        if previous is not None and previous.kind == "gp":  # warm start: far fewer iterations
            kernel = previous.model.kernel_
        else:
            kernel = initial_kernel(train)
        trend = self._trend(positions, interest)
        residual = interest if trend is None else interest - trend[positions]
        # Interest scores are standardised here (not by sklearn) so predictions need only public
        # attributes of the fitted model; the centre is the GP's mean away from every label.
        centre = gp_prior_mean(residual, trend=trend is not None)
        scale = float(residual.std()) or 1.0
        model = GaussianProcessRegressor(kernel, random_state=0)
        with warnings.catch_warnings(), threadpool_limits(1, "blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)  # noise at its bound: exact labels
            model.fit(train, (residual - centre) / scale)
            origin, centred, norms = self._centred_features()
            predictor = _GPPredictor(model, centre, scale, origin)
            mean, std = self._gp_scores(predictor, centred, norms, trend)
        seconds = time.perf_counter() - started
        return Fit("gp", model, [], mean, std, positions, float(interest.max()), seconds)

    def _train_search(self, positions: np.ndarray, values: np.ndarray, started: float) -> Fit:
        """The probability of interest of every galaxy: the classifier's, or the k-NN model's
        ``(γ + Σ y) / (1 + m)`` (also the classifier's until both outcomes are seen)."""
        found = _search_outcomes(values, self.target)
        if len(positions) and len(np.unique(positions)) != len(positions):
            raise DataError("a galaxy is labelled twice: one label per galaxy")
        if self.search_model == "classifier" and (found > 0).any() and (found < 1).any():
            return self._train_search_classifier(positions, found, started)
        successes = np.zeros(len(self.features))
        trials = np.zeros(len(self.features))
        for position, outcome in zip(positions.tolist(), found.tolist(), strict=True):
            near = self._search_neighbors(position)
            successes[near] += outcome
            trials[near] += 1.0
        probability = (SEARCH_GAMMA + successes) / (1.0 + trials)
        seconds = time.perf_counter() - started
        best = float(found.max()) if len(found) else np.nan
        return Fit("search", None, [], probability, None, positions, best, seconds)

    def _train_search_classifier(
        self, positions: np.ndarray, found: np.ndarray, started: float
    ) -> Fit:
        """``estimator`` on soft outcomes: each galaxy is a positive of weight ``y`` and a negative
        of weight ``1 - y`` (cross-entropy with the outcome as target)."""
        positive, negative = found > 0, found < 1
        rows = np.r_[positions[positive], positions[negative]]
        targets = np.r_[np.ones(positive.sum()), np.zeros(negative.sum())]
        weights = np.r_[found[positive], 1.0 - found[negative]]
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                model = clone(self.estimator).fit(
                    self.features[rows], targets, sample_weight=weights
                )
            except TypeError:
                raise DataError(
                    f"{type(self.estimator).__name__} takes no sample_weight: use "
                    "search_model='knn' or an estimator that does"
                ) from None
        probability = _probabilities(model, self.features)[:, list(model.classes_).index(1.0)]
        seconds = time.perf_counter() - started
        best = float(found.max())
        return Fit(
            "search", model, [], probability.astype(np.float64), None, positions, best, seconds
        )

    def _search_neighbors(self, position: int) -> np.ndarray:
        """The :data:`SEARCH_K` nearest other galaxies of ``position`` (cached)."""
        near = self._neighbors.get(position)
        if near is None:
            _, centred, norms = self._centred_features()
            squared = norms - 2.0 * (centred @ centred[position]) + norms[position]
            squared[position] = np.inf
            k = min(SEARCH_K, len(squared) - 1)
            near = np.argpartition(squared, k - 1)[:k] if k > 0 else np.empty(0, np.int64)
            self._neighbors[position] = near
        return near

    def _trend(self, positions: np.ndarray, interest: np.ndarray) -> np.ndarray | None:
        """``a + b · prior`` fitted to the scores by least squares with ``b ≥ 0`` (``None``
        without a prior)."""
        if self._prior is None:
            return None
        prior = self._prior
        spread = float(prior.std()) or 1.0
        standard = (prior - prior.mean()) / spread
        x = standard[positions]
        variance = float(x.var())
        slope = (
            float(((x - x.mean()) * (interest - interest.mean())).mean()) / variance
            if variance > 0
            else 0.0
        )
        slope = max(slope, 0.0)
        offset = float(interest.mean()) - slope * float(x.mean())
        return offset + slope * standard

    def _centred_features(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(origin, float32 features - origin, their squared norms)``, made once per learner
        (the GP's distances in float32 stay accurate when the coordinates are centred)."""
        if self._centred is None:
            origin = self.features.mean(axis=0, dtype=np.float64)
            centred = (self.features - origin.astype(np.float32)).astype(np.float32)
            self._centred = (origin, centred, np.einsum("ij,ij->i", centred, centred))
        return self._centred

    def _exact_rows(self, rows: np.ndarray | slice, origin: np.ndarray) -> np.ndarray:
        return self.features[rows].astype(np.float64) - origin

    def _gp_scores(
        self,
        gp: _GPPredictor,
        centred: np.ndarray,
        norms: np.ndarray,
        trend: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """GP mean of every galaxy (plus the ``trend``, if any); standard deviation on the
        candidate pool, NaN elsewhere.

        Work is done in blocks of :data:`GP_CHUNK` rows of BLAS products and NumPy ufuncs, which
        release the GIL, so the main thread is never held up for long.
        """
        n = len(self.features)
        mean, std = np.empty(n), np.full(n, np.nan)
        pooled = n > self.gp_pool
        far = np.empty(n)  # squared distance to the nearest labelled galaxy (pooled only)
        if not pooled:  # exact, in float64
            for start in range(0, n, GP_CHUNK):
                block = slice(start, start + GP_CHUNK)
                kernel = gp.kernel(gp.squared_distances(self._exact_rows(block, gp.origin)))
                mean[block], std[block] = gp.mean(kernel), gp.std(kernel)
            if trend is not None:
                mean += trend
            return mean, std
        for start in range(0, n, GP_CHUNK):
            block = slice(start, start + GP_CHUNK)
            squared = gp.squared_distances(centred[block], norms[block])
            far[block] = squared.min(axis=1)
            mean[block] = gp.mean(gp.kernel(squared))
        if trend is not None:
            mean += trend
        top, novel = max(1, self.gp_pool // 2), self.gp_pool // 4
        chosen = np.zeros(n, dtype=bool)
        chosen[np.argpartition(-mean, top - 1)[:top]] = True
        if novel:
            chosen[np.argpartition(-far, novel - 1)[:novel]] = True
        extra = self.gp_pool - int(chosen.sum())
        while extra > 0:  # random rows (a few draws at most: the pool is small next to n)
            chosen[self._pool_rng.integers(0, n, extra)] = True
            extra = self.gp_pool - int(chosen.sum())
        pool = np.flatnonzero(chosen)
        for start in range(0, len(pool), GP_CHUNK):
            rows = pool[start : start + GP_CHUNK]
            std[rows] = gp.std(gp.kernel(gp.squared_distances(self._exact_rows(rows, gp.origin))))
        return mean, std

    def _report(self, fit: Fit, values: np.ndarray) -> ModelReport:
        """Cross-validate a model like ``fit``'s on its labels (see :class:`ModelReport`)."""
        features = self.features[fit.labelled]
        if fit.kind == "gp":
            interest = values.astype(np.float64)
            counts = pd.Series(interest).value_counts(sort=False)
            per_class = {f"{value:g}": int(count) for value, count in counts.items()}
            middle = (interest.min() + interest.max()) / 2
            interesting = interest > middle
            model = GaussianProcessRegressor(
                fit.model.kernel_, normalize_y=True, optimizer=None, random_state=0
            )

            def fold(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
                predicted = (
                    clone(model).fit(features[train], interest[train]).predict(features[test])
                )
                truth = interesting[test]
                return float(((predicted > middle) == truth).mean()), _auc(truth, predicted)

            return _cross_validate(interesting, per_class, fold)
        counts = pd.Series(values).value_counts(sort=False)
        per_class = {str(value): int(count) for value, count in counts.items()}
        positive = self.target if self.target in fit.classes else None
        if positive is None and len(fit.classes) == 2:
            positive = fit.classes[1]

        def class_fold(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
            model = clone(self.estimator).fit(features[train], values[train])
            proba = model.predict_proba(features[test])
            classes = list(model.classes_)
            accuracy = float(
                (np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == values[test]).mean()
            )
            if positive is not None:
                return accuracy, _auc(values[test] == positive, proba[:, classes.index(positive)])
            return accuracy, float(
                roc_auc_score(values[test], proba, multi_class="ovr", labels=classes)
            )

        return _cross_validate(values, per_class, class_fold)

    def _positions_and_labels(self, labels: LabelsInput) -> tuple[np.ndarray, np.ndarray]:
        if hasattr(labels, "series") and callable(labels.series):  # a LabelStore
            labels = labels.series()
        if isinstance(labels, pd.Series):
            labels = labels[labels.notna()]
            keys = labels.index if isinstance(self.ids, pd.RangeIndex) else labels.index.astype(str)
            positions = self.ids.get_indexer(keys)
            if (positions < 0).any():
                raise DataError(f"labels of unknown ids: {preview(labels.index[positions < 0])}")
            return positions.astype(np.int64), labels.to_numpy(dtype=object)
        positions, values = labels
        positions = np.asarray(positions, dtype=np.int64)
        values = np.asarray(values)
        if positions.shape != values.shape[:1]:
            raise DataError(f"{len(positions)} positions but {len(values)} labels")
        if len(positions) and (positions.min() < 0 or positions.max() >= len(self.features)):
            raise DataError(f"label positions must lie in 0..{len(self.features) - 1}")
        return positions, values

    # ------------------------------------------------------------------------------------------
    # Suggesting
    # ------------------------------------------------------------------------------------------

    def suggest(self, n: int = 10, exclude: Iterable[Any] = ()) -> pd.Index:
        """The ids of the ``n`` unlabelled galaxies to label next, best first (ties in random
        order, seeded by ``seed``).

        ``exclude`` adds ids never to suggest (e.g. ones the user skipped).
        """
        fit = self._fit
        if fit is None:
            raise DataError("no model yet: call retrain(labels) first")
        priority = self._priority(fit)
        skip = np.zeros(len(priority), dtype=bool)
        skip[fit.labelled] = True
        excluded = pd.Index(list(exclude))
        if len(excluded):
            positions = self.ids.get_indexer(excluded)
            if (positions < 0).any():
                raise DataError(f"cannot exclude unknown ids: {preview(excluded[positions < 0])}")
            skip[positions] = True
        # Shuffled so that ties (e.g. a flat EI far from every label) are broken at random.
        candidates = self._rng.permutation(np.flatnonzero(~skip))
        n = min(n, len(candidates))
        if n <= 0:
            return self.ids[:0]
        best = np.argpartition(-priority[candidates], n - 1)[:n]
        best = best[np.argsort(-priority[candidates][best], kind="stable")]
        return self.ids[candidates[best]]

    def _priority(self, fit: Fit) -> np.ndarray:
        """Higher first, for the current strategy."""
        if self.strategy == "random":
            return self._rng.random(len(self.features))
        if fit.scores is None:
            raise DataError("this fit has no scores: label galaxies of two classes and retrain")
        expected = {
            "ei": ("gp", "prior"),
            "anomalous": ("prior",),
            "active_search": ("search",),
        }.get(self.strategy, ("classifier",))
        if fit.kind not in expected:
            raise DataError(f"the strategy changed to {self.strategy!r}: retrain first")
        if fit.kind == "prior":
            return fit.scores
        if fit.kind == "search":  # ties (no scored neighbor) go to the most anomalous
            if self._prior is None:
                return fit.scores
            rank = np.argsort(np.argsort(self._prior, kind="stable"), kind="stable")
            return fit.scores + 1e-6 * rank / len(rank)
        if self.strategy == "ei":  # NaN outside the candidate pool: never suggested
            if fit.std is None:
                raise DataError("this fit has no uncertainties: retrain with strategy 'ei'")
            return np.nan_to_num(expected_improvement(fit.scores, fit.std, fit.best), nan=-np.inf)
        if self.strategy == "top":
            if self.target is None:
                raise DataError("the 'top' strategy needs a target class: set learner.target")
            return fit.scores[:, _class_column(fit, self.target)]
        top2 = np.partition(fit.scores, fit.scores.shape[1] - 2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])


def gp_prior_mean(residual: np.ndarray, *, trend: bool) -> float:
    """The interest the ``"ei"`` GP predicts far from every scored galaxy, given the scores (minus
    the anomaly ``trend``, if any) of the scored ones.

    Without a trend: the lowest score given (most galaxies are dull; the mean of the scores is
    biased upwards by active search itself). With a trend: 0, as the least-squares trend already
    holds the scores' level (its residuals have mean 0).
    """
    if trend:
        return float(residual.mean())
    return float(residual.min())


def initial_kernel(train: np.ndarray) -> Kernel:
    """The GP kernel before its first fit: ``ConstantKernel * RBF + WhiteKernel``.

    The length scale starts at the median distance ``s`` of the labelled galaxies from their mean
    and stays within ``0.3 s … 10 s``; the noise stays below 0.1 (of the standardised scores'
    variance). Both bounds keep a single interesting galaxy among many dull ones from being
    explained away (as noise, or as a spike no wider than itself), which left early sessions
    exploring blindly; in the benchmark they double the rings found (bench/README.md).
    """
    spread = float(np.median(np.linalg.norm(train - train.mean(axis=0), axis=1))) or 1.0
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(spread, (0.3 * spread, 10 * spread))
    return kernel + WhiteKernel(0.01, (1e-6, 0.1))


class _GPPredictor:
    """Predictions of a fitted ``ConstantKernel * RBF + WhiteKernel`` GP regressor (trained on
    standardised targets ``(y - centre) / scale``), as sklearn's ``predict`` makes them, with BLAS
    products and NumPy ufuncs only (both release the GIL): squared distances
    ``|x|² + |t|² - 2 x·t`` of coordinates centred on ``origin`` (the mean of all galaxies), the
    predictive variance through the inverse of the Cholesky factor. The mean of all galaxies is
    computed in float32 (relative error ~1e-5, a fraction of the time), the standard deviation in
    float64."""

    def __init__(
        self, model: GaussianProcessRegressor, centre: float, scale: float, origin: np.ndarray
    ) -> None:
        kernel = model.kernel_
        self.amplitude = float(kernel.k1.k1.constant_value)
        self.length_scale = float(kernel.k1.k2.length_scale)
        self.noise = float(kernel.k2.noise_level)
        train = np.asarray(model.X_train_, dtype=np.float64)
        self.origin = origin
        self.train: dict[type[np.floating[Any]], np.ndarray] = {np.float64: train - self.origin}
        self.train[np.float32] = self.train[np.float64].astype(np.float32)
        self.train_squared = {t: (v**2).sum(axis=1) for t, v in self.train.items()}
        alpha = np.asarray(model.alpha_, dtype=np.float64).ravel()
        self.alpha = {np.float64: alpha, np.float32: alpha.astype(np.float32)}
        self.inverse_factor = solve_triangular(model.L_, np.eye(len(train)), lower=True)
        self.centre, self.scale = centre, scale

    def squared_distances(self, rows: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
        """Squared distances of centred ``rows`` (float32 or float64, with their squared norms if
        known) to the labelled galaxies."""
        dtype = rows.dtype.type
        squared = rows @ self.train[dtype].T
        squared *= dtype(-2.0)
        squared += (np.einsum("ij,ij->i", rows, rows) if norms is None else norms)[:, None]
        squared += self.train_squared[dtype][None, :]
        return np.maximum(squared, 0.0, out=squared)

    def kernel(self, squared: np.ndarray) -> np.ndarray:
        squared *= squared.dtype.type(-0.5 / self.length_scale**2)
        kernel = np.exp(squared, out=squared)
        kernel *= kernel.dtype.type(self.amplitude)
        return kernel

    def mean(self, kernel: np.ndarray) -> np.ndarray:
        return self.centre + self.scale * (kernel @ self.alpha[kernel.dtype.type]).astype(
            np.float64
        )

    def std(self, kernel: np.ndarray) -> np.ndarray:
        projected = self.inverse_factor @ kernel.T
        variance = self.amplitude + self.noise - np.square(projected, out=projected).sum(axis=0)
        return self.scale * np.sqrt(np.maximum(variance, 0.0))


def expected_improvement(
    mean: np.ndarray, std: np.ndarray, best: float, xi: float = EI_XI
) -> np.ndarray:
    """Expected improvement over ``best`` of a Gaussian prediction ``(mean, std)``."""
    std = np.maximum(std, 1e-12)
    gain = mean - best - xi
    z = gain / std
    return gain * ndtr(z) + std * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)


def _search_outcomes(values: np.ndarray, target: Any) -> np.ndarray:
    """``"active_search"``'s outcome of each label: score / 5 (clipped to 0…1) for numeric
    interest scores, else 1 for the ``target`` class (``True`` without one) and 0 for any other."""
    if len(values) and all(isinstance(value, (bool, np.bool_)) for value in values):
        found = np.asarray(values, dtype=bool)
        return (found if target is None else found == target).astype(np.float64)
    try:
        scores = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        if target is None:
            raise DataError(
                "the 'active_search' strategy needs numeric interest scores (e.g. 0–5) or a "
                f"target class, got labels {preview(pd.unique(values))}"
            ) from None
        return (np.asarray(values, dtype=object) == target).astype(np.float64)
    if not np.isfinite(scores).all():
        raise DataError(f"interest scores must be finite, got {preview(pd.unique(values))}")
    if target is not None and not isinstance(target, str):
        return (scores == float(target)).astype(np.float64)
    return np.clip(scores / INTEREST_TOP, 0.0, 1.0)


def _class_column(fit: Fit, target: Any) -> int:
    if target not in fit.classes:
        raise DataError(f"no class {target!r} in the model; its classes: {preview(fit.classes)}")
    return fit.classes.index(target)


def _probabilities(model: Any, features: np.ndarray) -> np.ndarray:
    """``(n, k)`` float32 class probabilities of every row.

    A binary :class:`~sklearn.linear_model.LogisticRegression` (the default model) is scored as
    one float32 matrix-vector product and a sigmoid per block of rows — what ``predict_proba``
    computes, without its float64 copy of the features (8.7M galaxies: ~0.4 s instead of
    ~2 s); any other model through its ``predict_proba``.
    """
    if not (isinstance(model, LogisticRegression) and len(model.classes_) == 2):
        return _in_chunks(model.predict_proba, features).astype(np.float32)
    weights = model.coef_.ravel().astype(np.float32)
    bias = np.float32(model.intercept_[0])
    rows = np.asarray(features, dtype=np.float32)
    probabilities = np.empty((len(rows), 2), dtype=np.float32)
    for start in range(0, len(rows), LINEAR_CHUNK):
        positive = expit(rows[start : start + LINEAR_CHUNK] @ weights + bias)
        probabilities[start : start + len(positive), 1] = positive
        probabilities[start : start + len(positive), 0] = 1 - positive
    return probabilities


def _in_chunks(predict: Callable[[np.ndarray], np.ndarray], features: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [predict(features[start : start + CHUNK]) for start in range(0, len(features), CHUNK)]
    )


def _auc(truth: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(truth, score)) if 0 < truth.sum() < len(truth) else np.nan


def _cross_validate(
    strata: np.ndarray,
    per_class: dict[str, int],
    fold: Callable[[np.ndarray, np.ndarray], tuple[float, float]],
) -> ModelReport:
    """Mean and spread over stratified folds of ``fold(train, test) -> (accuracy, auc)``."""
    counts = pd.Series(strata).value_counts()
    n_folds = min(REPORT_FOLDS, int(counts.min())) if len(counts) >= 2 else 0
    if n_folds < 2:
        return ModelReport(np.nan, np.nan, np.nan, np.nan, 0, per_class)
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    with warnings.catch_warnings(), threadpool_limits(1, "blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = np.array(
            [fold(train, test) for train, test in splitter.split(strata, strata.astype(str))]
        )
    accuracy, auc = scores.T
    return ModelReport(
        float(accuracy.mean()),
        float(accuracy.std()),
        float(np.nanmean(auc)) if np.isfinite(auc).any() else np.nan,
        float(np.nanstd(auc)) if np.isfinite(auc).any() else np.nan,
        n_folds,
        per_class,
    )


# ----------------------------------------------------------------------------------------------
# Simulated labelling sessions
# ----------------------------------------------------------------------------------------------


def simulate(
    data: Representations | np.ndarray,
    truth: Any,
    strategy: str,
    n_labels: int = 200,
    batch: int = 10,
    seed: int = 0,
    n_components: int = 40,
    start: int = 10,
    estimator: Any = None,
    curve_length: int = 1000,
    *,
    gp_pool: int = GP_POOL,
) -> dict[str, Any]:
    """Simulate a labelling session that looks for a rare class, answering from ground truth.

    The session starts from one randomly chosen known positive (as a user who found one example,
    like Walmsley et al. 2022) plus ``start - 1`` random galaxies, then labels the ``batch``
    top suggestions of ``strategy`` per round until ``n_labels`` galaxies are labelled. Labels are
    ``True``/``False`` for classifier strategies and interest scores 5 (positive) / 0 for
    ``"ei"`` and ``"active_search"`` (with a candidate pool of ``gp_pool`` galaxies, see :class:`Learner`). A classifier round without both classes labelled suggests at random.

    The final model is trained on all labels (a logistic regression for ``"random"`` too, so the
    baseline is random labelling with the same classifier). All galaxies, labelled ones included,
    are ranked by its score (probability of the positive class; GP mean interest for ``"ei"``,
    probability of interest for ``"active_search"``),
    and precision@N is the fraction of the top N that are truly positive.

    Args:
        data: the galaxies, or their ``(n, d)`` feature matrix.
        truth: a boolean array of length ``n``: which galaxies are of the class looked for.
        strategy: one of :data:`STRATEGIES`.
        n_labels: how many galaxies the simulated user labels in all.
        batch: labels per round (between retrains).
        seed: the random seed (first positive, random galaxies, random strategy).
        n_components: PCA dimensions the classifier sees.
        start: labels before the first suggestion (one of them positive).
        estimator: a scikit-learn classifier to use instead of the default logistic regression.
        curve_length: the longest N of ``precision_curve``.
        gp_pool: candidates scored per round by the ``"ei"`` strategy's GP.

    Returns:
        A dict with ``precision@50``, ``precision@200``, ``precision_curve`` (precision@N for
        N = 1..``curve_length``), ``n_found`` (positives among the labelled), ``labels``
        (Series position → truth, in labelling order) and ``strategy``/``n_labels``.

    Raises:
        DataError: an unknown strategy, ``truth`` not a boolean array of length ``n`` or
            without a positive.

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=2000, seed=0)
        >>> run = gw.learn.simulate(reps, truth=reps.meta["is_ring"].to_numpy(),
        ...                         strategy="top", n_labels=40)
        >>> run["strategy"], run["n_labels"], len(run["labels"]), 0 <= run["precision@50"] <= 1
        ('top', 40, 40, True)
    """
    features = learning_features(data, n_components)
    truth = np.asarray(truth)
    if truth.dtype != bool or truth.shape != (len(features),):
        raise DataError(f"truth must be a boolean array of length {len(features)}")
    positives = np.flatnonzero(truth)
    if not len(positives):
        raise DataError("truth has no positive galaxy to find")
    if not 2 <= start <= n_labels <= len(features):
        raise DataError(f"need 2 <= start ({start}) <= n_labels ({n_labels}) <= n")
    rng = np.random.default_rng(seed)
    first = int(rng.choice(positives))
    others = rng.permutation(np.delete(np.arange(len(features)), first))[: start - 1]
    labelled = [first, *others.tolist()]

    is_ei = strategy in ("ei", "active_search")  # both learn from interest scores 5/0
    learner = Learner(
        features,
        estimator,
        strategy,
        target=None if is_ei else True,
        seed=seed,
        gp_pool=gp_pool,
        report=False,
    )

    def answers() -> tuple[np.ndarray, np.ndarray]:
        known = truth[labelled]
        values = np.where(known, INTEREST_POSITIVE, INTEREST_NEGATIVE) if is_ei else known
        return np.asarray(labelled), values

    while len(labelled) < n_labels:
        size = min(batch, n_labels - len(labelled))
        known = truth[labelled]
        if is_ei or (known.any() and not known.all()):
            learner.retrain(answers())
            suggested = learner.suggest(size).to_numpy()
        else:  # one class only: nothing to learn from yet
            unlabelled = np.setdiff1d(np.arange(len(features)), labelled)
            suggested = rng.choice(unlabelled, size, replace=False)
        labelled.extend(int(i) for i in suggested)

    if strategy == "random":
        learner.strategy = "uncertainty"  # the same classifier, trained on the random labels
    learner.retrain(answers())
    score = learner.scores
    if score is None:
        raise DataError("the simulated labels hold fewer than two classes: nothing to score")
    order = np.argsort(-score, kind="stable")[:curve_length]
    curve = np.cumsum(truth[order]) / np.arange(1, len(order) + 1)
    return {
        "strategy": strategy,
        "n_labels": len(labelled),
        "precision@50": float(curve[min(50, len(curve)) - 1]),
        "precision@200": float(curve[min(200, len(curve)) - 1]),
        "precision_curve": curve,
        "n_found": int(truth[labelled].sum()),
        "labels": pd.Series(truth[labelled], index=pd.Index(labelled, name="position")),
    }


def simulate_interest(
    data: Representations | np.ndarray,
    interest: np.ndarray,
    strategy: str,
    *,
    prior: np.ndarray | None = None,
    start: np.ndarray | None = None,
    n_labels: int = 200,
    batch: int = 10,
    seed: int = 0,
    n_components: int = 40,
    gp_pool: int = GP_POOL,
    search_model: str = "classifier",
) -> np.ndarray:
    """Replay an interest-scoring session (Walmsley et al. 2022's protocol) against an expert
    whose score of every galaxy is ``interest`` (e.g. rings 5, other interesting classes 3, the
    rest 0).

    The expert scores the ``start`` galaxies (default: none), then ``batch`` suggestions of
    ``strategy`` (``"ei"``, ``"active_search"``, ``"anomalous"`` or ``"random"``, with ``prior`` anomaly scores if
    given, and ``search_model`` for ``"active_search"``) per round until ``n_labels`` galaxies
    are scored. Returns the positions scored, in order.
    """
    features = learning_features(data, n_components)
    interest = np.asarray(interest, dtype=np.float64)
    if interest.shape != (len(features),) or not np.isfinite(interest).all():
        raise DataError(f"interest must hold one finite score per galaxy ({len(features)})")
    if not 1 <= n_labels <= len(features):
        raise DataError(f"need 1 <= n_labels ({n_labels}) <= n ({len(features)})")
    learner = Learner(
        features,
        strategy=strategy,
        seed=seed,
        gp_pool=gp_pool,
        report=False,
        prior=prior,
        search_model=search_model,
    )
    scored = [] if start is None else [int(i) for i in np.asarray(start)]
    while len(scored) < n_labels:
        positions = np.asarray(scored, dtype=np.int64)
        learner.retrain((positions, interest[positions]))
        scored.extend(int(i) for i in learner.suggest(min(batch, n_labels - len(scored))))
    learner.close()
    return np.asarray(scored[:n_labels], dtype=np.int64)
