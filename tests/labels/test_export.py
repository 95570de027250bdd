"""Labels exported as the catalogue Zoobot's fine-tuning reads (id_str, file_loc, integer label)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from readonly_mount import read_only_folder

import galwidget as gw
from galwidget.labels import export_labels

PNG_DIR = Path("gz_decals_dr5_example_pngs")
RING_CATALOGUE = Path("zoobot_ring_catalog_basic") / "example_ring_catalog_basic.csv"


def test_real_gz_decals_pngs_and_a_label_store(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / PNG_DIR
    subset = pd.read_csv(folder / "selected_subset.csv")
    reps = gw.Representations(
        ids=pd.Index(subset["id_str"], name="iauname"),
        features=subset.filter(like="_fraction").to_numpy(np.float32),
        meta=subset[["ring"]],
        images=gw.images.local_files(folder),  # {id}.png in the folder
    )
    store = gw.LabelStore.for_data(reps, tmp_path / "labels.jsonl", classes=["not ring", "ring"])
    truth = subset.set_index("id_str")["ring"]
    store.set(list(truth.index[truth == 1][:12]), "ring")
    store.set(list(truth.index[truth == 0][:9]), "not ring")

    written = export_labels(reps, store, tmp_path / "out" / "rings.csv", label_column="ring")
    catalogue = pd.read_csv(tmp_path / "out" / "rings.csv")
    pd.testing.assert_frame_equal(catalogue, written)
    # The columns of Zoobot's own example ring catalogue, with the label as 0/1.
    example = pd.read_csv(shared_data / RING_CATALOGUE, nrows=1)
    assert {"id_str", "file_loc", "ring"} <= set(example.columns)
    assert list(catalogue.columns) == ["id_str", "file_loc", "ring", "ring_name"]
    assert len(catalogue) == 21 and catalogue["id_str"].is_unique
    assert list(catalogue["id_str"]) == [i for i in reps.ids if i in set(catalogue["id_str"])]
    assert (catalogue["ring"] == truth[catalogue["id_str"]].to_numpy()).all()
    assert (catalogue["ring_name"] == np.where(catalogue["ring"] == 1, "ring", "not ring")).all()
    for galaxy, file_loc in zip(catalogue["id_str"], catalogue["file_loc"], strict=True):
        assert (
            Path(file_loc).is_absolute() and Path(file_loc) == (folder / f"{galaxy}.png").resolve()
        )
        with Image.open(file_loc) as image:
            assert image.size == (424, 424)


def test_a_path_column_under_a_root(tmp_path: Path) -> None:
    reps = gw.datasets.synthetic(n=40, seed=3, dim=8)
    root = tmp_path / "pngs"
    (root / "J0").mkdir(parents=True)
    for galaxy in reps.ids[:5]:
        Image.new("RGB", (8, 8)).save(root / "J0" / f"{galaxy}.png")
    meta = reps.meta.assign(png_loc=[f"J0/{galaxy}.png" for galaxy in reps.ids])
    local = gw.Representations(
        reps.ids, reps.features, meta, images=gw.images.local_files("png_loc", root=root)
    )
    labels = pd.Series(["a", "b", "a", None, "b"], index=reps.ids[[4, 0, 2, 3, 1]])
    written = export_labels(local, labels, tmp_path / "cat.parquet", classes=["b", "a"])
    assert list(written["id_str"]) == list(reps.ids[[0, 1, 2, 4]])  # unlabelled 3 skipped
    assert list(written["label"]) == [0, 0, 1, 1] and list(written["label_name"]) == list("bbaa")
    assert list(written["file_loc"]) == [str(root / "J0" / f"{g}.png") for g in written["id_str"]]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cat.parquet"), written)

    missing = pd.Series(["a"], index=[reps.ids[7]])
    with pytest.raises(gw.DataError, match=r"1 labelled galaxies have no image file, e\.g\. .*J0/"):
        export_labels(local, missing, tmp_path / "x.csv")
    escaping = gw.Representations(
        reps.ids, reps.features, meta.assign(png_loc="../../etc/passwd"), images=local.images
    )
    with pytest.raises(
        gw.DataError,
        match=r"galaxy 'J115544\.37\+121728\.7': outside the image root: \.\./\.\./etc/passwd",
    ):
        export_labels(escaping, labels, tmp_path / "x.csv")


def test_a_file_pattern_missing_a_value_is_a_clear_error(tmp_path: Path) -> None:
    reps = gw.datasets.synthetic(n=20, seed=4, dim=8)
    meta = reps.meta.assign(folder=["J0"] * 19 + [None])
    local = gw.Representations(
        reps.ids,
        reps.features,
        meta,
        images=gw.images.local_files(tmp_path, pattern="{folder}/{id}.png"),
    )
    labels = pd.Series(["a"], index=[reps.ids[19]])
    with pytest.raises(
        gw.DataError, match=r"lacks a value the file pattern '\{folder\}/\{id\}\.png'"
    ):
        export_labels(local, labels, tmp_path / "x.csv")


def test_images_made_in_the_kernel_are_written_to_image_dir(tmp_path: Path) -> None:
    reps = gw.datasets.synthetic(n=30, seed=2, dim=8)  # thumbnails drawn by the renderer
    labels = pd.Series(["ring", "other", "ring"], index=reps.ids[[5, 6, 7]])
    with pytest.raises(gw.DataError, match="images made in the kernel; pass image_dir="):
        export_labels(reps, labels, tmp_path / "cat.csv")
    written = export_labels(reps, labels, tmp_path / "cat.csv", image_dir=tmp_path / "images")
    assert list(written["label"]) == [1, 0, 1]  # sorted classes: other, ring
    for galaxy, file_loc in zip(written["id_str"], written["file_loc"], strict=True):
        assert file_loc == str(tmp_path / "images" / f"{galaxy}.jpg")
        with Image.open(file_loc) as image:
            assert image.size == (424, 424)


def test_bad_exports_are_clear_errors(tmp_path: Path) -> None:
    reps = gw.datasets.synthetic(n=30, seed=2, dim=8)
    labels = pd.Series(["ring"], index=reps.ids[:1])
    with pytest.raises(gw.DataError, match="unknown export format 'astronomaly'"):
        export_labels(reps, labels, tmp_path / "x.csv", format="astronomaly")
    with pytest.raises(gw.DataError, match="there are no labels to export"):
        export_labels(reps, pd.Series([None], index=reps.ids[:1]), tmp_path / "x.csv")
    with pytest.raises(gw.DataError, match="labels of unknown ids: 'nope'"):
        export_labels(reps, pd.Series(["ring"], index=["nope"]), tmp_path / "x.csv")
    with pytest.raises(gw.DataError, match="labels outside the classes 'bar': 'ring'"):
        export_labels(reps, labels, tmp_path / "x.csv", classes=["bar"])
    cutouts = "https://www.legacysurvey.org/viewer/cutout.jpg?ra={ra}&dec={dec}"
    with pytest.raises(
        gw.DataError,
        match=r"Zoobot trains on local image files, but these thumbnails are URLs; download",
    ):
        export_labels(reps, labels, tmp_path / "x.csv", images=cutouts)
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("path", "image_dir", "message"),
    [
        ("", "images", "the catalogue must be a path, got ''"),
        ("cat\0.csv", "images", "the catalogue 'cat\\\\x00.csv' contains a NUL"),
        ("a_folder", "images", "cannot write the catalogue to .*a_folder: it is a folder"),
        ("a_file/cat.csv", "images", "a_file is a file, not a folder"),
        ("cat.csv", "", "image_dir must be a path, got ''"),
        ("cat.csv", "a_file", "image_dir .*a_file is a file, not a folder"),
        ("cat.csv", "im\0ages", "image_dir 'im\\\\x00ages' contains a NUL"),
    ],
)
def test_bad_targets_fail_before_any_image_is_written(
    tmp_path, monkeypatch, path, image_dir, message
):
    reps = gw.datasets.synthetic(n=30, seed=2, dim=8)
    labels = pd.Series(["ring", "other"], index=reps.ids[[5, 6]])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(gw.DataError, match=message):
        export_labels(reps, labels, path, image_dir=image_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder"]
    assert not list((tmp_path / "a_folder").iterdir())


def test_an_unwritable_target_fails_before_any_image_is_written(tmp_path) -> None:
    reps = gw.datasets.synthetic(n=30, seed=2, dim=8)
    labels = pd.Series(["ring", "other"], index=reps.ids[[5, 6]])
    images = tmp_path / "images"
    with read_only_folder(tmp_path / "ro") as folder:
        with pytest.raises(gw.DataError, match=r"cannot write the catalogue .*ro.* not writable"):
            export_labels(reps, labels, folder / "cat.csv", image_dir=images)
        assert not images.exists()
        with pytest.raises(gw.DataError, match=r"image_dir .*ro/sub/images.* not writable"):
            export_labels(reps, labels, tmp_path / "cat.csv", image_dir=folder / "sub" / "images")
        assert not (tmp_path / "cat.csv").exists()
    written = export_labels(reps, labels, tmp_path / "out" / "cat.csv", image_dir=images)
    assert sorted(p.name for p in images.iterdir()) == sorted(f"{g}.jpg" for g in written["id_str"])
    assert not [p for p in (tmp_path / "out").iterdir() if p.name != "cat.csv"], "no temporary"
