"""The Explorer's grouped options (``index=``, ``labels=``) and galwidget 0.1's keyword arguments,
which still work with a DeprecationWarning that says what to write."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import galwidget as gw


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((300, 8)), columns=[f"feat_{i}" for i in range(8)])
    frame["id_str"] = [f"G{i}" for i in range(300)]
    frame[["x", "y"]] = rng.standard_normal((300, 2))
    return frame


def test_index_options_reach_the_index(frame: pd.DataFrame) -> None:
    w = gw.Explorer(frame, layout=("x", "y"), index={"n_components": 4, "metric": "cosine"})
    assert w.index.metric == "cosine"
    assert w.index.embedding.shape == (300, 4)
    # More components than features: the features themselves are searched.
    wide = gw.Explorer(frame, layout=("x", "y"), index={"n_components": 40})
    assert wide.index.embedding.shape == (300, 8)


def test_a_prebuilt_index_is_used_as_it_is(frame: pd.DataFrame) -> None:
    reps = gw.load_representations(frame)
    index = gw.NeighborIndex(reps, n_components=3, metric="manhattan")
    w = gw.Explorer(reps, layout=("x", "y"), index=index)
    assert w.index is index
    other = gw.load_representations(frame.assign(feat_0=frame["feat_0"] + 1))
    with pytest.raises(gw.DataError, match="other galaxies"):
        gw.Explorer(other, layout=("x", "y"), index=index)


def test_unknown_options_are_named(frame: pd.DataFrame) -> None:
    with pytest.raises(gw.DataError, match=r"unknown index= option\(s\) 'metrik'.*'metric'"):
        gw.Explorer(frame, layout=("x", "y"), index={"metrik": "cosine"})
    with pytest.raises(gw.DataError, match=r"unknown labels= option\(s\) 'who'"):
        gw.Explorer(frame, layout=("x", "y"), labels={"who": "alice"})
    with pytest.raises(gw.DataError, match=r"index= takes a galwidget\.NeighborIndex"):
        gw.Explorer(frame, layout=("x", "y"), index="exact")


def test_label_options_and_a_label_store(frame: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "labels.jsonl"
    w = gw.Explorer(
        frame, layout=("x", "y"), classes=["a", "b"], labels={"path": path, "user": "alice"}
    )
    w.set_labels({"G1": "a"})
    assert w.labels.loc["G1", "user"] == "alice"
    w.close()
    store = gw.LabelStore.for_data(gw.load_representations(frame), path, classes=["a", "b"])
    again = gw.Explorer(frame.copy(), layout=("x", "y"), labels=store)
    assert again.label_store is store
    assert again.labels.loc["G1", "label"] == "a"
    assert again._label_meta["classes"] == ["a", "b"]  # the store's classes show the label bar
    with pytest.raises(gw.DataError, match="differ from those of the LabelStore"):
        gw.Explorer(frame.copy(), layout=("x", "y"), classes=["c"], labels=store)
    again.close()


def test_old_keywords_warn_and_say_what_to_write(frame: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "old.jsonl"
    with pytest.warns(DeprecationWarning, match=r"index=\{'n_components': 4, 'metric': 'cosine'\}"):
        w = gw.Explorer(frame, layout=("x", "y"), n_components=4, metric="cosine")
    assert (w.index.metric, w.index.embedding.shape[1]) == ("cosine", 4)
    with pytest.warns(DeprecationWarning, match=r"labels=\{'path': .*'user': 'bob'\}") as caught:
        w = gw.Explorer(frame, layout=("x", "y"), classes=["a"], labels_path=path, user="bob")
    assert caught[0].filename == __file__  # the warning points at the caller's line
    w.set_labels({"G2": "a"})
    assert w.labels.loc["G2", "user"] == "bob"
    assert path.exists()
    with pytest.warns(DeprecationWarning, match="Explorer.neighbors"):
        assert w.neighbours.empty
    w.close()
    with pytest.warns(DeprecationWarning, match="gw.NeighborIndex"):
        assert gw.NeighbourIndex is gw.NeighborIndex
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spellings warn about nothing
        gw.Explorer(
            frame, layout=("x", "y"), index={"n_components": 4}, labels={"path": path}
        ).close()
