"""zoobot's HDF5 predictions, generated here in the exact schema its ``predict_on_catalog`` writes.

``zoobot.shared.save_predictions.predictions_to_hdf5`` (zoobot 2): datasets ``predictions``
(``(n, k, passes)``: ``predict_on_catalog`` stacks the forward passes on the last axis; gzip),
``id_str`` and ``label_cols`` (``h5py.string_dtype("utf-8")``; ``label_cols`` defaults to
``feat_0 … feat_{k-1}``).
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest

import galwidget as gw

h5py = pytest.importorskip("h5py")


def write_zoobot_hdf5(
    path: Path,
    predictions: np.ndarray,
    ids: list[str],
    label_cols: list[str] | None = None,
) -> Path:
    """The file zoobot's ``predictions_to_hdf5`` writes (same datasets, types and compression)."""
    if label_cols is None:  # zoobot's get_default_label_cols
        label_cols = [f"feat_{n}" for n in range(predictions.shape[1])]
    with h5py.File(path, "w") as file:
        file.create_dataset(name="predictions", data=predictions, compression="gzip")
        text = h5py.string_dtype(encoding="utf-8")
        file.create_dataset(name="id_str", data=ids, dtype=text)
        file.create_dataset(name="label_cols", data=label_cols, dtype=text)
    return path


def representations(n: int, k: int, passes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, k, passes)).astype(np.float32)


def image_ids(n: int) -> list[str]:
    return [f"images/J{i:06d}+0102.png" for i in range(n)]


def test_representations_of_one_forward_pass_load_as_written(tmp_path) -> None:
    # 12 outputs so the default names feat_10, feat_11 sort before feat_2 as text.
    values = representations(50, 12, 1)
    path = write_zoobot_hdf5(tmp_path / "representations.hdf5", values, image_ids(50))
    reps = gw.load_representations(path)
    assert reps.id_column == "id_str"
    assert reps.ids.tolist() == image_ids(50)
    assert reps.features.dtype == np.float32
    np.testing.assert_array_equal(reps.features, values[:, :, 0])


def test_several_forward_passes_are_averaged(tmp_path) -> None:
    values = representations(40, 5, 3, seed=1)
    path = write_zoobot_hdf5(tmp_path / "dropout.h5", values, image_ids(40))
    reps = gw.load_representations(path)
    np.testing.assert_allclose(reps.features, values.mean(axis=2), rtol=1e-6)


def test_named_label_cols_are_picked_by_name(tmp_path) -> None:
    values = representations(30, 3, 1, seed=2)
    labels = ["smooth-or-featured_smooth", "smooth-or-featured_featured-or-disk", "bar_strong"]
    path = write_zoobot_hdf5(tmp_path / "votes.hdf5", values, image_ids(30), labels)
    reps = gw.load_representations(path, features=labels[::-1])
    np.testing.assert_array_equal(reps.features, values[:, ::-1, 0])


def test_an_hdf5_file_of_another_schema_is_named(tmp_path) -> None:
    path = tmp_path / "other.hdf5"
    with h5py.File(path, "w") as file:
        file.create_dataset("features", data=np.zeros((3, 2)))
    with pytest.raises(
        gw.DataError,
        match=r"other\.hdf5 is not a zoobot predictions file.*"
        r"'predictions', 'id_str', 'label_cols'.*'features'",
    ):
        gw.load_representations(path)


def test_disagreeing_datasets_are_named(tmp_path) -> None:
    path = write_zoobot_hdf5(tmp_path / "short.hdf5", representations(10, 4, 1), image_ids(9))
    with pytest.raises(
        gw.DataError,
        match=r"short\.hdf5: 'predictions' has 10 rows but "
        r"'id_str' has 9 ids",
    ):
        gw.load_representations(path)
    path = write_zoobot_hdf5(
        tmp_path / "labels.hdf5", representations(10, 4, 1), image_ids(10), ["a", "b", "c"]
    )
    with pytest.raises(gw.DataError, match=r"'predictions' has 4 outputs but 'label_cols' names 3"):
        gw.load_representations(path)


def test_duplicate_ids_and_nan_are_refused_as_for_any_file(tmp_path) -> None:
    values = representations(6, 2, 1)
    ids = image_ids(6)
    ids[4] = ids[1]
    path = write_zoobot_hdf5(tmp_path / "dupes.hdf5", values, ids)
    with pytest.raises(gw.DataError, match=r"dupes\.hdf5: .*duplicate ids"):
        gw.load_representations(path)
    values[3, 1, 0] = np.nan
    path = write_zoobot_hdf5(tmp_path / "nan.hdf5", values, image_ids(6))
    with pytest.raises(gw.DataError, match=r"nan\.hdf5"):
        gw.load_representations(path)
    with pytest.warns(UserWarning, match=r"row 3 \(images/J000003\+0102\.png\).*dropped"):
        assert len(gw.load_representations(path, on_invalid="drop")) == 5


def test_not_hdf5_inside_is_named(tmp_path) -> None:
    path = tmp_path / "page.hdf5"
    path.write_text("this is not HDF5 at all\n")
    with pytest.raises(gw.DataError, match=r"page\.hdf5 is not a readable HDF5 file"):
        gw.load_representations(path)


def test_without_h5py_the_error_names_the_extra(tmp_path, monkeypatch) -> None:
    path = write_zoobot_hdf5(tmp_path / "r.hdf5", representations(4, 2, 1), image_ids(4))
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(
        ImportError, match=r"r\.hdf5 \(HDF5\) needs h5py: pip install galwidget\[hdf5\]"
    ):
        gw.load_representations(path)
