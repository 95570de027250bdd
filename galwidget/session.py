"""The labelling session behind an Explorer: its label store, label codes and active learning.

:class:`LabellingSession` opens the :class:`~galwidget.LabelStore` on first need, keeps a copy of
every galaxy's label (as values, as label codes and in the DataFrame's label column), counts label
changes in :attr:`LabellingSession.version`, retrains a :class:`~galwidget.learn.Learner` on a
background thread a moment after the labels stop changing, and carries out the front end's labelling
requests. It knows nothing of widgets or wire formats: it tells its owner through two callbacks
what changed, and the owner (the Explorer, through :mod:`galwidget.protocol`) shows it.

Label codes (uint8): :data:`UNLABELLED` 0, ``i + 1`` for class ``i``, :data:`OTHER_LABEL` 255 for a
label outside the classes.

Interest mode (``classes="interest"``), as Walmsley et al. (2022) scored galaxies with Astronomaly:
keys 0–5 give an interest score on Astronomaly's scale (0 dull … 5 most interesting), stored in
the same label store as the strings ``"0"`` … ``"5"`` (so with the same provenance, undo and team
sync); Backspace or Delete removes a score. The ``"ei"`` strategy then learns from the graded
scores starting from the anomaly ranking (:class:`~galwidget.anomaly.AnomalyJob` as the learner's
prior: Astronomaly's "protege" workflow), and suggests the most anomalous galaxies before the
first two scores. ``"active_search"`` (Bayesian active search, the default in interest mode:
:data:`INTEREST_STRATEGY` replaces the class default ``"uncertainty"``) uses the same scores as
outcomes (score / 5) and suggests the galaxies most probably interesting, the most anomalous first
until an interesting and a dull galaxy are both scored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from galwidget.anomaly import AnomalyJob
from galwidget.data import Representations
from galwidget.errors import DataError
from galwidget.jobs import JobRunner
from galwidget.labels import (
    MAX_CLASSES,
    OTHER_LABEL,
    UNLABELLED,
    Classes,
    Label,
    LabelStore,
    check_labels_location,
    check_user,
    class_names,
    find_log,
)
from galwidget.learn import Fit, Learner, ModelReport, check_strategy

__all__ = [
    "DEFAULT_STRATEGY",
    "INTEREST",
    "INTEREST_SCORES",
    "INTEREST_STRATEGY",
    "OTHER_LABEL",
    "UNLABELLED",
    "LabellingSession",
    "LabelsChanged",
]

# Keys the label bar uses itself: remove, undo, redo.
RESERVED_KEYS = frozenset({"0", "z", "Z"})
INTEREST = "interest"
"""``classes=INTEREST`` labels in interest mode: keys 0–5 give interest scores (Astronomaly's scale)."""
INTEREST_SCORES: tuple[str, ...] = ("0", "1", "2", "3", "4", "5")
"""The interest scores, as stored labels: ``"0"`` … ``"5"``."""
# Strategies that use the anomaly scores (``"ei"`` and ``"active_search"`` only in interest mode).
PRIOR_STRATEGIES = frozenset({"anomalous"})
DEFAULT_STRATEGY = "uncertainty"
"""The Explorer's default strategy; in interest mode it means :data:`INTEREST_STRATEGY`."""
INTEREST_STRATEGY = "active_search"
"""Interest mode's default strategy (bench/README.md: it finds more rings than ``"ei"``)."""
INTEREST_PRIOR_STRATEGIES = frozenset({"ei", "active_search"})
# Strategies that train (or suggest) with labels of fewer than two classes.
ONE_CLASS_STRATEGIES = frozenset({"random", "ei", "active_search", "anomalous"})
# Labelling a selection larger than this asks for confirmation in the browser.
CONFIRM_OVER = 50
# Seconds without a new label before the classifier retrains (bursts cost one retrain).
RETRAIN_DELAY = 0.3
N_SUGGESTIONS = 48
# Seconds between looks at the label log for changes by other processes (other people).
WATCH_INTERVAL = 0.5
LabelsSpec: TypeAlias = Mapping[Any, Any] | pd.Series | tuple[Any, Any]
# ``on_labels(positions, base_version, version)``: the codes at ``positions`` changed.
LabelsChanged: TypeAlias = Callable[[np.ndarray, int, int], Any]
"""``on_labels(positions, base_version, version)``: the label codes at ``positions`` changed."""


class LabellingSession:
    """The labels and active learning of one data set, as an Explorer shows them.

    Args:
        reps: the galaxies.
        classes: the label classes: a list (keys 1–9 in order), a dict class → key, ``None``, or
            ``"interest"`` for interest mode (see the module docstring).
        labels: the label store of ``reps``, or where to open it and who labels
            (``{"path": …, "user": …}``; default the data's log in the labels dir, and
            :func:`galwidget.labels.default_user`).
        frame: the DataFrame the data came from, or ``None``.
        label_column: the column of ``frame`` kept equal to the labels (``None``: leave it alone).
        strategy: active-learning strategy, one of :data:`galwidget.learn.STRATEGIES`
            (``"uncertainty"`` means :data:`INTEREST_STRATEGY` in interest mode).
        target: the class whose probability is the score (``None``: the first class).
        on_labels: called as ``on_labels(positions, base_version, version)``, holding
            :attr:`lock`, after the labels at ``positions`` changed (see :attr:`codes`,
            :attr:`values`, :meth:`summary`); :attr:`version` went from ``base_version`` to
            ``version``.
        on_learning: called with ``True`` once a retrain has finished (:attr:`scores`,
            :meth:`suggested` and :attr:`status` changed; holding :attr:`lock`), with ``False``
            when only :attr:`status` changed.
        anomaly: the anomaly scores of ``reps`` (the prior of ``"anomalous"``, and of ``"ei"`` and
            ``"active_search"`` in interest mode); made when first needed if not given.
    """

    def __init__(
        self,
        reps: Representations,
        *,
        classes: Classes | str,
        labels: LabelStore | Mapping[str, Any] | None,
        frame: pd.DataFrame | None,
        label_column: str | None,
        strategy: str,
        target: str | None,
        on_labels: LabelsChanged,
        on_learning: Callable[[bool], Any],
        anomaly: AnomalyJob | None = None,
    ) -> None:
        self.reps = reps
        self.interest = classes == INTEREST
        keyed: Classes
        if self.interest:
            keyed = {score: score for score in INTEREST_SCORES}
        elif isinstance(classes, str):
            raise DataError(
                f"classes={classes!r}: give a list or dict of classes, or {INTEREST!r} for "
                "interest scores 0–5"
            )
        else:
            keyed = classes
        self.classes = class_names(keyed)
        if self.classes is not None and len(self.classes) > MAX_CLASSES:
            raise DataError(f"at most {MAX_CLASSES} classes, got {len(self.classes)}")
        self._class_keys = keyed
        given = labels if isinstance(labels, LabelStore) else None
        options: Mapping[str, Any] = labels if isinstance(labels, Mapping) else {}
        if given is not None and self.interest and given.classes != self.classes:
            raise DataError(
                f"interest mode scores 0–5, but the LabelStore given as labels= has classes "
                f"{given.classes}: open it with classes={{s: s for s in '012345'}} or leave "
                "classes out"
            )
        if given is not None and keyed is not None and given.classes != self.classes:
            raise DataError(
                f"classes {self.classes} differ from those of the LabelStore given as labels= "
                f"({given.classes}): give classes to one of them"
            )
        if given is not None and classes is None:
            self.classes = given.classes
        self._given_store = given
        self._anomaly = anomaly
        self._labels_path = options.get("path")
        check_labels_location(self._labels_path)  # now, not when the store is first opened
        self._user = check_user(options.get("user"))
        self._frame = frame
        self.label_column = label_column if frame is not None else None
        if self.interest and strategy == DEFAULT_STRATEGY:  # no classes to be uncertain about
            strategy = INTEREST_STRATEGY
        self.strategy = check_strategy(strategy)
        self.target = self.check_target(target)
        self._on_labels = on_labels
        self._on_learning = on_learning
        self.in_use = classes is not None or labels is not None or find_log(reps) is not None
        self.lock = threading.RLock()  # the labels and what shows them
        self._learn_lock = threading.RLock()  # retrain scheduling and the learner
        self._store: LabelStore | None = None
        # Each galaxy's label as the DataFrame column shows it: only kept when there is one
        # (n Python references: 608 MB at 76M galaxies).
        self.values = (
            np.full(len(reps), None, dtype=object) if self.label_column is not None else None
        )
        self.codes = np.zeros(len(reps), dtype=np.uint8)
        self.version = 0
        self._learner: Learner | None = None
        self._retrain_jobs = JobRunner("retrain")  # debounced: a burst of labels, one fit
        self._requested = self._applied = 0
        self._training: Future[Fit | None] = Future()
        self._training.set_result(None)
        self._scores: np.ndarray | None = None
        self._suggested = np.empty(0, np.int64)
        self.suggestions_version = 0
        self.report: ModelReport | None = None
        self.status: dict[str, Any] = _learn_status("off", "", 0, None)

    # -- labels --------------------------------------------------------------------------------

    def open(self) -> LabelStore:
        """The label store, opened (and its labels shown) on first need; from then on it is
        watched, so labels written by other processes (other people) are shown within about
        :data:`WATCH_INTERVAL` seconds."""
        with self.lock:
            if self._store is None:
                store = self._given_store or LabelStore.for_data(
                    self.reps, path=self._labels_path, classes=self._class_keys, user=self._user
                )
                reserved = RESERVED_KEYS - ({"0"} if self.interest else set())
                for key in reserved & set(store.key_map):
                    raise DataError(
                        f"key {key!r} of class {store.key_map[key]!r} is reserved (0 removes a "
                        f"label, z undoes, Z redoes); give that class another key"
                    )
                self._check_label_column(store.series())
                self._store = store
                store.on_change(self._labels_changed)
                self._labels_changed(list(store.series().index))
                store.watch(WATCH_INTERVAL)
                if self.interest or self.strategy in PRIOR_STRATEGIES:
                    self.retrain()  # suggestions from the anomaly ranking before any label
            return self._store

    def set_labels(self, labels: LabelsSpec) -> None:
        """Label galaxies: a mapping or Series id → label (``None``/NaN removes), or
        ``(ids, label)``; everything is checked before anything is written."""
        store = self.open()
        if isinstance(labels, tuple):
            if len(labels) != 2:
                raise DataError("set_labels((ids, label)) needs a pair of ids and one label")
            ids, label = labels
            ids = [ids] if isinstance(ids, str) else list(ids)
            series = pd.Series([label] * len(ids), index=pd.Index(ids, dtype=object), dtype=object)
        elif isinstance(labels, pd.Series | Mapping):
            series = pd.Series(labels, dtype=object)
        else:
            raise DataError(
                f"set_labels takes a mapping or Series id → label or (ids, label), "
                f"got {type(labels).__name__}"
            )
        self.reps.positions([str(i) for i in series.index])  # unknown ids: DataError
        missing = series.isna().to_numpy()
        groups = pd.Series(series[~missing].map(self.check_label))
        with self.lock:
            if missing.any():
                store.remove([str(i) for i in series.index[missing]], source="python")
            for label, ids in groups.groupby(groups, sort=False).groups.items():
                store.set([str(i) for i in ids], label, source="python")

    def check_label(self, label: Any) -> Label:
        """``label`` as the store keeps it; a clear :class:`~galwidget.DataError` for a class in
        interest mode or an interest score in class mode (nothing is written)."""
        store = self.open()
        if self.interest:
            if isinstance(label, bool) or not isinstance(label, str | int | float | np.number):
                raise DataError(
                    f"interest mode takes scores 0–5 (keys 0–5), got {label!r}: a class label "
                    "needs an Explorer made with classes=[...]"
                )
            text = str(label)
            if isinstance(label, float | np.floating) and float(label).is_integer():
                text = str(int(label))
            if text not in INTEREST_SCORES:
                raise DataError(
                    f"interest mode takes whole scores 0–5 (Astronomaly's scale), got {label!r}"
                )
            return store.check_label(text)
        try:
            return store.check_label(label)
        except DataError as error:
            if self.classes is not None and str(label) in INTEREST_SCORES:
                raise DataError(
                    f"{error}. {label!r} looks like an interest score: score galaxies 0–5 in an "
                    f"Explorer made with classes={INTEREST!r}"
                ) from None
            raise

    def summary(self) -> dict[str, Any]:
        """The ``_label_meta`` description: classes, their keys and counts, undo state, version."""
        store = self.open()
        classes = self.classes or []
        keys = {name: key for key, name in store.key_map.items()}
        counts = np.bincount(self.codes, minlength=256)
        return {
            "classes": classes,
            "keys": [keys.get(name, "") for name in classes],
            "counts": [int(c) for c in counts[1 : len(classes) + 1]],
            "labelled": int(len(self.codes) - counts[UNLABELLED]),
            "can_undo": store.can_undo,
            "can_redo": store.can_redo,
            "version": self.version,
            "read_only": store.read_only,
        }

    def _labels_changed(self, changed: list[str]) -> None:
        """Copy changed labels (values, codes, DataFrame column), show them and retrain."""
        store = self._store
        if store is None:
            return
        with self.lock:
            positions = self.reps.positions(changed)
            labels = store.series().reindex(pd.Index(changed, dtype=object))
            values = labels.astype(object).where(labels.notna(), None).to_numpy(dtype=object)
            if self.values is not None:
                self.values[positions] = values
            self.codes[positions] = [self._code(v) for v in values]
            self._write_label_column(positions)
            base_version = self.version
            self.version += 1 if len(positions) else 0
            self._on_labels(positions, base_version, self.version)
        if changed:
            self.retrain()

    def _code(self, label: Label | None) -> int:
        if label is None:
            return UNLABELLED
        classes = self.classes or []
        return classes.index(label) + 1 if label in classes else OTHER_LABEL

    def _check_label_column(self, current: pd.Series) -> None:
        """Refuse to overwrite a DataFrame column holding labels that the log does not have."""
        column = self.label_column
        if self._frame is None or column is None or column not in self._frame.columns:
            return
        existing = self._frame[column].astype(object)
        logged = current.reindex(self.reps.ids).to_numpy(dtype=object)
        given = existing.notna().to_numpy()
        differs = [
            i for i in np.flatnonzero(given) if logged[i] is None or logged[i] != existing.iat[i]
        ]
        if differs:
            shown = [f"{self.reps.ids[i]}: {existing.iat[i]!r}" for i in differs[:5]]
            raise DataError(
                f"the DataFrame already has a column {column!r} with labels that are not in the "
                f"label log ({len(differs)}, e.g. {', '.join(shown)}). Import them with "
                f"gw.LabelStore.for_data(reps).import_labels(df), or pass "
                f"label_column='another_name' or None"
            )

    def _write_label_column(self, positions: np.ndarray) -> None:
        """Copy the labels at ``positions`` into the DataFrame's column (all of it if new)."""
        frame, column, values = self._frame, self.label_column, self.values
        if frame is None or column is None or values is None:
            return
        if column not in frame.columns or frame[column].dtype != object:
            frame[column] = pd.Series(values.copy(), index=frame.index, dtype=object)
            return
        frame.iloc[positions, frame.columns.get_loc(column)] = values[positions]

    # -- front-end requests --------------------------------------------------------------------

    def label_positions(self, positions: np.ndarray, label: Label | None) -> dict[str, Any]:
        """Label rows ``positions`` (``None`` removes their labels) from a key press: one undo
        step. Returns ``saved`` (once the log is fsync'd) and the new ``version``."""
        if len(positions) == 0:
            raise DataError("no galaxy to label")
        self._label([str(i) for i in self.reps.ids[positions]], label, "key")
        return {"saved": True, "version": self.version}

    def label_selection(self, selected: pd.Index, label: Label | None) -> dict[str, Any]:
        """Label the selected galaxies (one undo step); also returns their ``count``."""
        if len(selected) == 0:
            raise DataError("select some galaxies first")
        self._label([str(i) for i in selected], label, "bulk")
        return {"saved": True, "version": self.version, "count": len(selected)}

    def history(self, kind: str) -> dict[str, Any]:
        """Undo (``kind`` ``"undo"``) or redo the latest labelling operation."""
        store = self.open()
        store.undo() if kind == "undo" else store.redo()
        return {"saved": True, "version": self.version}

    def _label(self, ids: list[str], label: Label | None, source: str) -> list[str]:
        store = self.open()
        if label is None:
            return store.remove(ids, source=source)
        return store.set(ids, self.check_label(label), source=source)

    # -- active learning -----------------------------------------------------------------------

    @property
    def scores(self) -> pd.Series | None:
        """Score per galaxy from the latest fit, or ``None`` before the first one."""
        scores = self._scores
        if scores is None:
            return None
        return pd.Series(scores, index=self.reps.ids, name="score")

    def score_values(self) -> tuple[np.ndarray | None, int]:
        """Scores per position (``None`` before the first fit) and
        :attr:`suggestions_version`, which changes with them."""
        with self.lock:
            return self._scores, self.suggestions_version

    @property
    def suggestions(self) -> pd.Index:
        """Ids of the galaxies suggested for labelling next, best first (labelled ones left out)."""
        return self.reps.ids[self._unlabelled_suggestions()]

    def suggested(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions (best first, labelled ones left out) and float32 scores (NaN before the
        first fit) of the suggestions."""
        positions = self._unlabelled_suggestions()
        scores = self._scores
        if scores is None:
            return positions, np.full(len(positions), np.nan, np.float32)
        return positions, scores[positions].astype(np.float32)

    @property
    def training(self) -> Future[Fit | None]:
        """The latest requested retraining, done once its outcome has been shown."""
        return self._training

    def check_target(self, target: str | None) -> str | None:
        """``target`` if it is a class (``None``: the first class)."""
        if target is None:
            return self.classes[0] if self.classes else None
        if self.classes is not None and target not in self.classes:
            raise DataError(f"target {target!r} is not a class; the classes: {self.classes}")
        return target

    def set_learning(self, strategy: str, target: str | None) -> None:
        """Change the strategy and target; retrains once labelling has started."""
        self.strategy, self.target = strategy, target
        if self._store is not None:
            self.retrain()

    def retrain(self, delay: float = RETRAIN_DELAY) -> Future[Fit | None]:
        """Retrain ``delay`` seconds from now unless another request comes first."""
        with self._learn_lock:
            self._requested += 1
            if self._training.done():
                self._training = Future()
            request = self._requested
            self._retrain_jobs.submit(lambda: self._start_fit(request), key="retrain", delay=delay)
            return self._training

    @property
    def anomaly(self) -> AnomalyJob:
        """The anomaly scores of the galaxies (computed in the background on first need)."""
        with self._learn_lock:
            if self._anomaly is None:
                self._anomaly = AnomalyJob(self.reps)
            return self._anomaly

    def close(self) -> None:
        """Cancel a pending retrain, stop the learner's worker thread and the store's watcher."""
        self._retrain_jobs.close()
        with self._learn_lock:
            learner, self._learner = self._learner, None
        if learner is not None:
            learner.close()
        if self._anomaly is not None:
            self._anomaly.close()
        if self._store is not None:
            self._store.close()

    def _unlabelled_suggestions(self) -> np.ndarray:
        positions = self._suggested
        return positions[self.codes[positions] == UNLABELLED]

    def _start_fit(self, request: int) -> None:
        """Start a fit on the learner's worker (runs on the retrain runner's thread, never the comm's)."""
        labels = self.open().series()
        uses_prior = self.strategy in PRIOR_STRATEGIES or (
            self.interest and self.strategy in INTEREST_PRIOR_STRATEGIES
        )
        if self.strategy not in ONE_CLASS_STRATEGIES and labels.nunique() < 2:
            self._learned(request, None, "label galaxies of at least two classes to train")
            return
        message = f"training on {len(labels):,} labels…"
        if uses_prior and (self._anomaly is None or not self._anomaly.done):
            message = "computing anomaly scores…"
        self.status = {**self.status, "status": "training", "message": message}
        self._on_learning(False)
        try:
            with self._learn_lock:
                if self._learner is None:
                    self._learner = Learner(self.reps)
                learner = self._learner
            learner.prior = self.anomaly.result().to_numpy() if uses_prior else None
            learner.strategy = self.strategy
            learner.target = self.target
            future = learner.retrain_async(labels)
        except Exception as error:  # shown in the toolbar; the training future must finish
            self._learned(request, None, _training_failure(error))
            return
        future.add_done_callback(lambda done: self._fit_finished(request, done))

    def _fit_finished(self, request: int, done: Future[Fit]) -> None:
        if done.cancelled():  # superseded by a newer request, which will report
            return
        error = done.exception()
        if error is not None:
            self._learned(request, None, _training_failure(error))
            return
        fit = done.result()
        learner = self._learner
        try:
            scores = None if learner is None else learner.scores
            suggested = learner.suggest(N_SUGGESTIONS) if learner is not None else None
        except DataError as error:
            self._learned(request, None, str(error))
            return
        if scores is not None and scores.ndim != 1:
            scores = None
        self._learned(request, fit, "", scores, suggested)

    def _learned(
        self,
        request: int,
        fit: Fit | None,
        message: str,
        scores: np.ndarray | None = None,
        suggested: pd.Index | None = None,
    ) -> None:
        """Show the outcome of request ``request`` unless a newer one was shown already."""
        with self._learn_lock:
            if request < self._applied:
                return
            self._applied = request
            latest = request == self._requested
            training = self._training
        with self.lock:
            self._scores = scores
            self._suggested = (
                self.reps.positions(suggested) if suggested is not None else np.empty(0, np.int64)
            )
            self.suggestions_version += 1
            self.report = None if fit is None else fit.report
            if fit is None:
                self.status = _learn_status("waiting", message, self.suggestions_version, None)
            else:
                text = f"trained on {len(fit.labelled):,} labels in {fit.seconds:.2f} s"
                report = None if fit.report is None else fit.report.as_dict()
                self.status = _learn_status("ready", text, self.suggestions_version, report)
            self._on_learning(True)
        if latest and not training.done():
            training.set_result(fit)


def _learn_status(
    status: str, message: str, suggestions_version: int, report: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``_learn`` trait (:class:`galwidget.protocol.LearnState`)."""
    return {
        "status": status,
        "message": message,
        "suggestions_version": suggestions_version,
        "report": report,
    }


def _training_failure(error: BaseException) -> str:
    return str(error) if isinstance(error, DataError) else f"training failed: {error!r}"
