"""Representation files as they are published, generated here in each schema and loaded as they are.

- GZ DESI (Zoobot docs, "Precalculated Representations": ``representations_pca_40_with_coords``):
  parquet with ``id_str`` (``{brickid}_{objid}``), ``ra``, ``dec`` and ``feat_pca_0 … feat_pca_39``.
- zoobot's ``predict_on_catalog.predict(..., save_loc="….csv")`` with ``label_cols`` ``feat_<i>``
  (``zoobot/shared/save_predictions.predictions_to_csv``): ``id_str`` and ``feat_<i>_pred``, one
  number per cell for one forward pass, a JSON list of the passes for several.
- zoobot's ``compress_representations.create_pca_embedding``: ``feat_<i>_pca`` plus the id column.
- any other numbered numeric family, found by ``features="auto"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import galwidget as gw


def gz_desi_table(n: int, d: int, seed: int = 0) -> pa.Table:
    """The GZ DESI representations schema; the feature columns in the lexical order a careless
    writer might give them (feat_pca_0, feat_pca_1, feat_pca_10, …), float32 as published."""
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, d)).astype(np.float32)
    ids = [f"{303240 + i // 7}_{2499 + i % 7}" for i in range(n)]
    columns: dict[str, pa.Array] = {
        "id_str": pa.array(ids),
        "ra": pa.array(rng.uniform(0, 360, n)),
        "dec": pa.array(rng.uniform(-20, 80, n)),
    }
    for j in sorted(range(d), key=str):
        columns[f"feat_pca_{j}"] = pa.array(features[:, j])
    return pa.table(columns)


def zoobot_csv(path: Path, predictions: np.ndarray, id_str: list[str]) -> None:
    """What zoobot's ``predictions_to_csv`` writes for ``predictions`` of shape (galaxy, feature,
    forward pass) with ``label_cols = [f"feat_{n}" for n in range(d)]`` (its representations
    example): a scalar per cell for one pass, a JSON list for several."""
    label_cols = [f"feat_{n}" for n in range(predictions.shape[1])]
    rows = []
    for galaxy, name in zip(predictions, id_str, strict=True):
        row: dict[str, object] = {"id_str": name}
        for column, answer in zip(label_cols, galaxy, strict=True):
            passes = answer.astype(float)
            row[column + "_pred"] = (
                passes.squeeze() if len(passes) == 1 else json.dumps(list(passes))
            )
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)


def test_gz_desi_representations_load_as_published(tmp_path: Path) -> None:
    table = gz_desi_table(300, 12)
    path = tmp_path / "representations_pca_40_with_coords.parquet"
    pq.write_table(table, path)
    reps = gw.load_representations(path)
    assert reps.id_column == "id_str"
    assert reps.ids.tolist() == table["id_str"].to_pylist()
    expected = np.column_stack([table[f"feat_pca_{j}"].to_numpy() for j in range(12)])
    np.testing.assert_array_equal(reps.features, expected)  # numeric order, not lexical
    np.testing.assert_array_equal(reps.radec[:, 0], table["ra"].to_numpy())
    np.testing.assert_array_equal(reps.radec[:, 1], table["dec"].to_numpy())
    assert [c for c in reps.meta.columns] == ["id_str", "ra", "dec"]
    # streamed and reduced, with the same columns
    reduced = gw.load_representations(path, reduce_to=4, features="auto", progress=False)
    assert reduced.features.shape == (300, 4)
    assert reduced.reduction is not None and len(reduced.reduction.mean) == 12
    assert reduced.ids.tolist() == reps.ids.tolist()


def test_zoobot_csv_representations_load_as_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    predictions = rng.standard_normal((40, 16, 1)).astype(np.float32)
    # zoobot's id_str is whatever the catalogue gave, often the image path
    names = [f"images/J{i:04d}.png" for i in range(40)]
    path = tmp_path / "representations.csv"
    zoobot_csv(path, predictions, names)
    reps = gw.load_representations(path)
    assert reps.ids.tolist() == names
    np.testing.assert_allclose(reps.features, predictions[:, :, 0], rtol=1e-6)


def test_zoobot_csv_of_several_forward_passes_is_refused_naming_the_columns(
    tmp_path: Path,
) -> None:
    predictions = np.random.default_rng(2).standard_normal((5, 3, 2))
    path = tmp_path / "dropout.csv"
    zoobot_csv(path, predictions, [f"g{i}" for i in range(5)])
    with pytest.raises(gw.DataError, match=r"must be numeric; these are not: .feat_0_pred"):
        gw.load_representations(path)


def test_zoobot_compressed_representations_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        rng.standard_normal((50, 11)), columns=[f"feat_{n}_pca" for n in range(11)]
    )
    frame["iauname"] = [f"J{100000 + i}.00+021200.0" for i in range(50)]
    frame.to_parquet(tmp_path / "decals_pca10_and_ids.parquet", index=False)
    reps = gw.load_representations(tmp_path / "decals_pca10_and_ids.parquet")
    np.testing.assert_allclose(reps.features, frame.iloc[:, :11].to_numpy(), rtol=1e-6)
    assert reps.id_column == "iauname"


def test_any_numbered_family_is_found_and_several_are_listed(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"objid": np.arange(20) + 10**15, "mag_r": rng.uniform(14, 19, 20)})
    for j in (2, 0, 1, 3):
        frame[f"emb{j}"] = rng.standard_normal(20)
    reps = gw.load_representations(frame, features="auto")
    np.testing.assert_allclose(reps.features, frame[[f"emb{j}" for j in range(4)]], rtol=1e-6)
    assert reps.ids[0] == str(10**15)  # every digit of the integer id
    assert gw.load_representations(frame).n_features == 4  # the default is "auto"

    both = gz_desi_table(20, 3).to_pandas()
    for j in range(5):
        both[f"feat_{j}_pred"] = rng.standard_normal(20)
    both.to_parquet(tmp_path / "both.parquet")
    with pytest.raises(gw.DataError) as error:
        gw.load_representations(tmp_path / "both.parquet")
    message = str(error.value)
    assert "several numbered numeric column families" in message
    assert "feat_<i>_pred (5 columns: " in message
    assert "feat_pca_<i> (3 columns: features='feat_pca_')" in message
    # each suggested features= selects its family
    assert 'features=[f"feat_{i}_pred" for i in range(0, 5)]' in message
    chosen = gw.load_representations(
        tmp_path / "both.parquet", features=[f"feat_{i}_pred" for i in range(0, 5)]
    )
    assert chosen.n_features == 5
    assert gw.load_representations(tmp_path / "both.parquet", features="feat_pca_").n_features == 3


def test_no_feature_family_lists_the_numeric_columns() -> None:
    frame = pd.DataFrame(
        {"id_str": ["a", "b"], "ra": [1.0, 2.0], "dec": [3.0, 4.0], "flux_g": [5, 6], "x_3": [1, 2]}
    )
    with pytest.raises(
        gw.DataError,
        match=r"no feature columns found.*the numeric columns are: 'ra', 'dec', 'flux_g', 'x_3'",
    ):
        gw.load_representations(frame)
    with pytest.raises(gw.DataError, match=r"no columns start with 'emb_'; the numeric columns"):
        gw.load_representations(frame, features="emb_")
    with pytest.raises(gw.DataError, match="there are no numeric columns"):
        gw.load_representations(pd.DataFrame({"id_str": ["a"], "png_loc": ["a.png"]}))


def test_a_gap_in_the_numbering_is_not_a_family() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "feat_pca_0": [1.0, 2.0], "feat_pca_2": [3.0, 4.0]})
    with pytest.raises(gw.DataError, match=r"no feature columns found.*'feat_pca_0', 'feat_pca_2'"):
        gw.load_representations(frame)
