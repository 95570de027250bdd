"""The Representations constructor validates what the loaders validate."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import galwidget as gw


def table(n: int = 5) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    ids = [f"g{i}" for i in range(n)]
    features = np.arange(n * 3, dtype=np.float64).reshape(n, 3)
    return ids, features, pd.DataFrame({"z": np.linspace(0, 1, n)})


@pytest.mark.parametrize(
    ("value", "kind"),
    [(np.nan, "1 NaN"), (np.inf, "1 infinite"), (-1e16, "1 beyond"), (1e39, "1 infinite")],
)
def test_features_that_a_loader_refuses_are_refused(value, kind) -> None:
    ids, features, meta = table()
    features[3, 1] = value
    with pytest.raises(gw.DataError, match=rf"row 3 \(g3\): {kind}.*column 1.*from_array") as error:
        gw.Representations(pd.Index(ids), features, meta)
    assert "on_invalid='drop' to drop them" not in str(error.value)
    # what the message suggests works
    reps_warning = pytest.warns(UserWarning, match="dropped")
    with reps_warning:
        reps = gw.Representations.from_array(features, ids, meta, on_invalid="drop")
    assert reps.ids.tolist() == ["g0", "g1", "g2", "g4"]


@pytest.mark.parametrize(
    ("ids", "features", "meta", "message"),
    [
        (["a", "a"], np.zeros((2, 2)), None, "duplicate|more than once|unique"),
        (["a", None], np.zeros((2, 2)), None, "missing"),
        ([1.5, 2.5], np.zeros((2, 2)), None, "floating point"),
        (["a", "b"], np.array([["x", "y"], ["z", "w"]]), None, "real numbers"),
        (["a", "b"], np.zeros((2, 2), complex), None, "real numbers"),
        (["a", "b"], np.zeros(2), None, "2-D array"),
        (["a", "b"], [[0.0, 1.0], [2.0, 3.0]], None, "2-D array .* got list"),
        (["a", "b"], np.zeros((2, 2)), {"z": [1, 2]}, "meta must be a pandas DataFrame"),
        (["a", "b"], np.zeros((2, 2)), pd.DataFrame({"z": [1]}), "1 meta rows but 2"),
    ],
)
def test_ids_features_and_meta_are_checked(ids, features, meta, message) -> None:
    meta = pd.DataFrame(index=range(2)) if meta is None else meta
    with pytest.raises(gw.DataError, match=message):
        gw.Representations(pd.Index(ids, dtype=object), features, meta)


def test_valid_input_is_kept_and_replace_does_not_check_again() -> None:
    ids, features, meta = table()
    reps = gw.Representations(pd.Index(ids), features, meta)
    assert reps.features.dtype == np.float32
    np.testing.assert_array_equal(reps.features, features)
    reps.features[0, 0] = np.nan  # in place, after the check: replace() reuses the checked matrix
    joined = dataclasses.replace(reps, meta=reps.meta.assign(w=1))
    assert joined.features is reps.features
    with pytest.raises(gw.DataError, match="NaN"):  # a new matrix is checked
        gw.Representations(reps.ids, reps.features.copy(), reps.meta)
