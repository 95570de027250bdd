"""The labelling session behind the Explorer (galwidget.session), without a widget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import galwidget as gw
from galwidget import learn
from galwidget.labels import class_names
from galwidget.learn import check_strategy
from galwidget.session import OTHER_LABEL, LabellingSession

N = 200
CLASSES = ["ring", "not ring"]


class Shown:
    """Records what a session asks its owner to show, as the Explorer would show it."""

    def __init__(self) -> None:
        self.session: LabellingSession | None = None
        self.labels: list[tuple[bytes, dict]] = []
        self.changes: list[tuple[list[int], int, int]] = []
        self.learning: list[tuple[bool, dict]] = []

    def on_labels(self, positions: np.ndarray, base_version: int, version: int) -> None:
        self.labels.append((self.session.codes.tobytes(), self.session.summary()))
        self.changes.append((sorted(positions.tolist()), base_version, version))

    def on_learning(self, trained: bool) -> None:
        self.learning.append((trained, dict(self.session.status)))


def make_frame(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"feat_{i}" for i in range(6)])
    frame.insert(0, "id", [f"G{i:04d}" for i in range(n)])
    return frame


def make_session(frame: pd.DataFrame, tmp_path, **options) -> tuple[LabellingSession, Shown]:
    shown = Shown()
    settings = {
        "classes": CLASSES,
        "labels": {"path": tmp_path / "labels.jsonl"},
        "label_column": "label",
        "strategy": "uncertainty",
        "target": None,
        **options,
    }
    session = LabellingSession(
        gw.load_representations(frame),
        frame=frame,
        on_labels=shown.on_labels,
        on_learning=shown.on_learning,
        **settings,
    )
    shown.session = session
    return session, shown


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


def test_opening_shows_the_logged_labels(frame: pd.DataFrame, tmp_path):
    session, shown = make_session(frame, tmp_path)
    assert session.in_use and session.target == "ring" and shown.labels == []
    store = session.open()
    assert session.open() is store  # opened once
    codes, summary = shown.labels[-1]
    assert codes == bytes(N)
    assert summary == {
        "classes": CLASSES,
        "keys": ["1", "2"],
        "counts": [0, 0],
        "labelled": 0,
        "can_undo": False,
        "can_redo": False,
        "version": 0,
        "read_only": False,
    }
    assert shown.changes == [([], 0, 0)]  # nothing labelled yet: no new version
    store.set(["G0001", "G0002"], "ring", source="python")  # through the store: shown too
    codes, summary = shown.labels[-1]
    assert np.frombuffer(codes, np.uint8)[:4].tolist() == [0, 1, 1, 0]
    assert summary["counts"] == [2, 0] and summary["can_undo"] and summary["version"] == 1
    assert shown.changes[-1] == ([1, 2], 0, 1)  # only what changed
    assert frame.loc[[1, 2], "label"].tolist() == ["ring", "ring"]
    session.close()


def test_set_labels_checks_everything_first(frame: pd.DataFrame, tmp_path):
    session, _ = make_session(frame, tmp_path)
    session.set_labels({"G0001": "ring", "G0002": np.str_("not ring"), "G0003": None})
    assert session.open().series().to_dict() == {"G0001": "ring", "G0002": "not ring"}
    assert session.values[[1, 2, 3]].tolist() == ["ring", "not ring", None]
    with pytest.raises(gw.DataError, match="unknown class 'bar'"):
        session.set_labels({"G0001": None, "G0004": "bar"})
    with pytest.raises(gw.DataError, match="NOPE"):
        session.set_labels((["G0001", "NOPE"], None))
    with pytest.raises(gw.DataError, match="needs a pair"):
        session.set_labels(("G0001", "ring", "extra"))
    assert session.open().series().to_dict() == {"G0001": "ring", "G0002": "not ring"}
    session.close()


def test_labels_outside_the_classes_get_their_own_code(frame: pd.DataFrame, tmp_path):
    path = tmp_path / "labels.jsonl"
    reps = gw.load_representations(frame)
    gw.LabelStore.for_data(reps, path=path).set("G0005", "spiral")  # a log without classes
    session, _ = make_session(frame, tmp_path, label_column=None)
    session.open()
    assert session.codes[5] == OTHER_LABEL
    assert "label" not in frame.columns  # label_column=None leaves the frame alone
    session.close()


def test_label_requests_change_labels_and_versions(frame: pd.DataFrame, tmp_path):
    session, shown = make_session(frame, tmp_path)
    assert session.label_positions(np.array([7]), "ring") == {"saved": True, "version": 1}
    assert session.open().get("G0007") == "ring" and shown.changes[-1] == ([7], 0, 1)
    with pytest.raises(gw.DataError, match="select some galaxies first"):
        session.label_selection(pd.Index([]), "not ring")
    with pytest.raises(gw.DataError, match="no galaxy to label"):
        session.label_positions(np.empty(0, np.int64), "ring")
    reply = session.label_selection(pd.Index(["G0007", "G0008"]), "not ring")
    assert reply == {"saved": True, "version": 2, "count": 2}
    assert session.open().labels.loc["G0008", "source"] == "bulk"
    assert shown.changes[-1] == ([7, 8], 1, 2) and shown.labels[-1][1]["counts"] == [0, 2]
    assert session.history("undo") == {"saved": True, "version": 3}
    assert session.open().get("G0007") == "ring" and session.open().get("G0008") is None
    assert session.codes[[7, 8]].tolist() == [1, 0] and frame.loc[7, "label"] == "ring"
    assert session.history("redo") == {"saved": True, "version": 4}
    assert shown.labels[-1][1]["counts"] == [0, 2]
    assert session.open().labels.loc["G0008", "source"] == "redo"
    session.close()


def test_a_burst_of_labels_costs_one_retrain(frame: pd.DataFrame, tmp_path):
    session, shown = make_session(frame, tmp_path)
    session.set_labels({"G0001": "ring"})
    assert session.training.result(timeout=60) is None  # one class: nothing to train
    assert shown.learning[-1] == (True, session.status)
    assert session.status["status"] == "waiting" and session.status["report"] is None
    waiting_version = session.status["suggestions_version"]
    assert "two classes" in session.status["message"] and session.scores is None
    shown.learning.clear()
    for i in range(2, 42):  # one label at a time, as key presses come
        session.set_labels({f"G{i:04d}": "ring" if frame.loc[i, "feat_0"] > 0 else "not ring"})
    fit = session.training.result(timeout=60)  # done once its outcome has been shown
    assert fit is not None and len(fit.labelled) == 41
    starts = [status["message"] for trained, status in shown.learning if not trained]
    assert len(starts) < 10 and starts[-1] == "training on 41 labels…"  # not one per label
    assert shown.learning[-1] == (True, session.status)
    assert session.status["status"] == "ready"
    assert session.status["suggestions_version"] > waiting_version  # the front end asks again

    scores = session.scores
    assert scores.index.equals(session.reps.ids) and scores.between(0, 1).all()
    suggested = session.suggestions
    assert len(suggested) == 48 and not suggested.isin(session.open().series().index).any()
    positions, suggested_scores = session.suggested()
    assert session.reps.ids[positions].equals(suggested)
    assert suggested_scores.dtype == np.float32
    np.testing.assert_allclose(suggested_scores, scores[suggested], rtol=1e-6)

    session.set_labels({suggested[0]: "ring"})  # labelled suggestions leave the queue at once
    assert suggested[0] not in session.suggestions and len(session.suggestions) == 47
    session.close()


def test_strategy_target_and_class_checks(frame: pd.DataFrame, tmp_path):
    with pytest.raises(gw.DataError, match="target 'bar' is not a class"):
        make_session(frame, tmp_path, target="bar")
    with pytest.raises(gw.DataError, match="unknown strategy 'best'"):
        make_session(frame, tmp_path, strategy="best")
    with pytest.raises(gw.DataError, match="key 'z' of class 'b' is reserved"):
        make_session(frame, tmp_path, classes={"a": "1", "b": "z"})[0].open()
    session, _ = make_session(frame, tmp_path, classes=None, labels=None)
    assert not session.in_use and session.target is None and not session.codes.any()
    assert check_strategy("ei") == "ei"
    assert class_names({"ring": "r", 3: "t"}) == ["ring", "3"] and class_names(None) is None
    with pytest.raises(gw.DataError, match="at least one class"):
        class_names([])
    with pytest.raises(gw.DataError, match="at least one class"):
        gw.LabelStore(fingerprint="f", classes=[])


def test_the_store_checks_labels_for_everyone(tmp_path):
    store = gw.LabelStore(tmp_path / "a.jsonl", classes=["1", "2", "ring"])
    assert store.check_label(np.int64(2)) == "2"  # a class given as a number is its name
    assert store.check_label("ring") == "ring"
    with pytest.raises(gw.DataError, match=r"unknown class 2\.0"):
        store.check_label(2.0)
    free = gw.LabelStore(tmp_path / "b.jsonl")
    assert free.check_label(np.float32(2.5)) == 2.5
    with pytest.raises(gw.DataError, match="finite"):
        free.check_label(float("inf"))
    with pytest.raises(gw.DataError, match="a string or a number"):
        free.check_label([1])


def test_interest_mode_scores_feed_the_learner_from_the_anomaly_ranking(
    frame: pd.DataFrame, tmp_path
):
    """classes="interest": keys 0–5 give scores kept in the label store (provenance, undo);
    'ei' suggests the most anomalous galaxies before two scores, then learns the graded ones."""
    session, _ = make_session(frame, tmp_path, classes="interest", strategy="ei")
    try:
        store = session.open()
        assert session.classes == ["0", "1", "2", "3", "4", "5"]
        assert store.key_map == {s: s for s in "012345"}
        first = session.training.result(timeout=120)
        assert first is not None and first.kind == "prior"
        anomaly = session.anomaly.result()
        expected = anomaly.sort_values(ascending=False, kind="stable").index[:5]
        assert set(session.suggestions[:5]) == set(expected)

        session.label_positions(np.array([3]), "5")  # the key "5"
        session.label_positions(np.array([4, 5]), "0")  # the key "0": a score, not a removal
        assert store.series().to_dict() == {"G0003": "5", "G0004": "0", "G0005": "0"}
        assert store.history()["source"].tolist()[-2:] == ["key", "key"]
        fit = session.retrain(delay=0).result(timeout=120)
        assert fit is not None and fit.kind == "gp" and fit.best == 5.0
        assert session.scores is not None and session.scores["G0003"] > session.scores["G0004"]
        assert not {"G0003", "G0004", "G0005"} & set(session.suggestions)
        session.history("undo")
        assert store.series().to_dict() == {"G0003": "5"}
        assert frame.loc[4, "label"] is None

        for bad in ("ring", 7, 2.5, True):
            with pytest.raises(gw.DataError, match="interest mode takes"):
                session.label_positions(np.array([9]), bad)
        session.set_labels({"G0010": 4, "G0011": 3.0})  # numbers stored as the scores' strings
        assert store.series()[["G0010", "G0011"]].tolist() == ["4", "3"]
        assert store.series().get("G0009") is None
    finally:
        session.close()


def test_interest_scores_feed_active_search_from_the_anomaly_ranking(frame: pd.DataFrame, tmp_path):
    """'active_search', interest mode's default: the most anomalous galaxies before any score,
    then the galaxies most probably interesting, never a scored one."""
    session, _ = make_session(frame, tmp_path, classes="interest")  # strategy "uncertainty"
    try:
        assert session.strategy == "active_search"
        store = session.open()
        first = session.training.result(timeout=120)
        assert first is not None and first.kind == "search"
        anomaly = session.anomaly.result()
        expected = anomaly.sort_values(ascending=False, kind="stable").index[:5]
        assert session.suggestions[:5].tolist() == expected.tolist()

        session.label_positions(np.array([3]), "5")
        session.label_positions(np.array([4]), "0")
        assert store.series().to_dict() == {"G0003": "5", "G0004": "0"}
        fit = session.retrain(delay=0).result(timeout=120)
        assert fit is not None and fit.kind == "search" and fit.best == 1.0
        assert session.scores is not None
        top = session.scores.drop(["G0003", "G0004"]).max()
        assert session.scores[session.suggestions[0]] == top > learn.SEARCH_GAMMA
        assert not {"G0003", "G0004"} & set(session.suggestions)
    finally:
        session.close()


def test_a_score_in_class_mode_and_a_bad_mode_are_clear_errors(frame: pd.DataFrame, tmp_path):
    session, _ = make_session(frame, tmp_path)
    try:
        with pytest.raises(gw.DataError, match=r"looks like an interest score.*classes='interest'"):
            session.label_positions(np.array([1]), "3")
        assert session.open().series().empty
    finally:
        session.close()
    with pytest.raises(gw.DataError, match=r"classes='scores'.*'interest'"):
        make_session(frame, tmp_path, classes="scores")
