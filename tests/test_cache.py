"""The cache folder: an unwritable one degrades to no cache with one warning, never an error."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import galwidget as gw
from galwidget import cache


def test_an_unwritable_cache_folder_gives_one_warning_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created below a file (even as root)")
    monkeypatch.setenv("GALWIDGET_CACHE", str(blocker / "cache"))
    features = np.random.default_rng(0).normal(size=(300, 12))
    reps = gw.Representations.from_array(features, ids=[f"g{i}" for i in range(300)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        index = gw.NeighborIndex(reps, 4, backend="exact")
        xy = gw.layout(reps, "pca", index=index)
        again = gw.NeighborIndex(reps, 4, backend="exact")  # nothing cached: recomputed
        assert cache.writable_cache_dir("selections") is None
        assert cache.writable_cache_dir() is None
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert f"cannot write its cache folder {blocker / 'cache'}" in messages[0]
    assert "GALWIDGET_CACHE" in messages[0]
    assert not again.loaded_from_cache
    assert xy.shape == (300, 2)
    np.testing.assert_array_equal(
        again.query_positions([0, 1], k=5)[0], index.query_positions([0, 1], k=5)[0]
    )


def test_a_writable_cache_folder_is_created_per_kind(tmp_path: Path) -> None:
    folder = cache.writable_cache_dir("selections", override=tmp_path / "c")
    assert folder == tmp_path / "c" / "selections" and folder.is_dir()
    assert list(folder.iterdir()) == []  # the write probe leaves nothing behind
