"""galwidget on the real files in ``../shared/data`` (see its SOURCES.md).

- The 470-galaxy GZ DECaLS ring catalogue of Zoobot's examples, imported as labels.
- The 40 real GZ DECaLS PNGs of that catalogue, served as local thumbnails.
- 50,000 GZ DESI galaxies with a real 2-D PCA of their Zoobot representations, shown as a
  precomputed layout with Legacy Survey cutouts.

The Zenodo representation parquet is not among these files, so where a test needs features for the
catalogue's galaxies it uses stand-ins: the catalogue's three CNN vote fractions.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

import galwidget as gw
from galwidget.widget import THUMBNAIL_SIZE, normalize_layout

RING_CATALOGUE = Path("zoobot_ring_catalog_basic") / "example_ring_catalog_basic.csv"
PNG_DIR = Path("gz_decals_dr5_example_pngs")
DESI_PCA = Path("galaxy_explorer_desi_50k_pca2") / "50k_pca_2n.parquet"
NAME_SAMPLE = Path("gz_decals_nsa_name_radec_sample") / "gordon_galaxies_sample_2_unique.csv"
VOTE_COLUMNS = [
    "smooth-or-featured_featured-or-disk_fraction",
    "disk-edge-on_no_fraction",
    "has-spiral-arms_no_fraction",
]
CLASSES = ["ring", "not ring"]
LEGACY_SURVEY = "https://www.legacysurvey.org/viewer/cutout.jpg"


def read_catalogue(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id_str": str})


def stand_in_representations(catalogue: pd.DataFrame) -> gw.Representations:
    """The catalogue's galaxies, keyed by iauname, with its vote fractions as stand-in features."""
    return gw.load_representations(catalogue, features=VOTE_COLUMNS, id_column="id_str")


def ring_labels(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue's 0/1 ``ring`` column as class names in a ``label`` column."""
    labels = catalogue["ring"].map({1: "ring", 0: "not ring"})
    assert labels.notna().all(), "ring must be 0 or 1"
    return pd.DataFrame({"id_str": catalogue["id_str"], "label": labels})


@pytest.fixture(scope="module")
def catalogue(shared_data: Path) -> pd.DataFrame:
    frame = read_catalogue(shared_data / RING_CATALOGUE)
    assert len(frame) == 470 and frame["ring"].sum() == 235
    return frame


@pytest.fixture(scope="module")
def subset(shared_data: Path) -> pd.DataFrame:
    frame = read_catalogue(shared_data / PNG_DIR / "selected_subset.csv")
    assert len(frame) == 40
    return frame


# -- the ring catalogue as labels ----------------------------------------------------------------


def test_ring_catalogue_galaxies_get_sky_positions_from_their_names(catalogue: pd.DataFrame):
    reps = stand_in_representations(catalogue)
    assert reps.id_column == "id_str"
    assert reps.ids[0] == "J000411.19+020924.0"
    ra, dec = reps.radec[0]
    assert ra == pytest.approx(15 * (0 + 4 / 60 + 11.19 / 3600))
    assert dec == pytest.approx(2 + 9 / 60 + 24.0 / 3600)
    assert np.isfinite(reps.radec).all()


def test_ring_catalogue_imports_into_a_label_store_and_survives_reopening(
    catalogue: pd.DataFrame,
):
    reps = stand_in_representations(catalogue)
    store = gw.LabelStore.for_data(reps, classes=CLASSES)
    changed = store.import_labels(ring_labels(catalogue), id_column="id_str")
    assert len(changed) == 470
    labels = store.labels
    assert len(labels) == 470
    assert labels["label"].value_counts().to_dict() == {"ring": 235, "not ring": 235}
    expected = catalogue.set_index("id_str")["ring"].map({1: "ring", 0: "not ring"})
    assert labels["label"].sort_index().equals(expected.sort_index().rename("label"))
    assert (labels["source"] == "import").all()

    reopened = gw.LabelStore.for_data(reps, path=store.path, classes=CLASSES)
    assert reopened.labels["label"].sort_index().equals(labels["label"].sort_index())
    reopened.undo()  # the import is one operation
    assert len(reopened.labels) == 0


def test_ring_catalogue_imports_through_the_explorer(catalogue: pd.DataFrame):
    reps = stand_in_representations(catalogue)
    widget = gw.Explorer(reps, classes=CLASSES)
    try:
        widget.import_labels(ring_labels(catalogue), id_column="id_str", label_column="label")
        labels = widget.labels
        assert len(labels) == 470
        assert labels["label"].value_counts().to_dict() == {"ring": 235, "not ring": 235}
        rings = set(catalogue.loc[catalogue["ring"] == 1, "id_str"])
        assert set(labels.index[labels["label"] == "ring"]) == rings
    finally:
        widget.close()
    reopened = gw.Explorer(reps, classes=CLASSES)  # a later session on the same data
    try:
        assert reopened.labels["label"].sort_index().equals(labels["label"].sort_index())
    finally:
        reopened.close()


def test_labels_for_galaxies_outside_the_data_are_refused(
    catalogue: pd.DataFrame, shared_data: Path
):
    """A real GZ DECaLS-footprint name that is not among the catalogue's galaxies."""
    names = pd.read_csv(shared_data / NAME_SAMPLE, dtype={"sdss_id": str})["sdss_id"]
    stranger = next(name for name in names if name not in set(catalogue["id_str"]))
    reps = stand_in_representations(catalogue)
    store = gw.LabelStore.for_data(reps, classes=CLASSES)
    imported = pd.concat(
        [ring_labels(catalogue), pd.DataFrame({"id_str": [stranger], "label": ["ring"]})],
        ignore_index=True,
    )
    with pytest.raises(gw.DataError, match=re.escape(stranger)):
        store.import_labels(imported, id_column="id_str")
    assert len(store.labels) == 0  # nothing of the failed import was applied


def test_labels_for_galaxies_outside_the_data_are_refused_by_the_explorer(
    catalogue: pd.DataFrame,
):
    outside = catalogue["id_str"].iloc[450]
    reps = stand_in_representations(catalogue.drop(index=450))
    widget = gw.Explorer(reps, classes=CLASSES)
    try:
        with pytest.raises(gw.DataError, match=re.escape(outside)):
            widget.import_labels(ring_labels(catalogue), id_column="id_str")
        assert len(widget.labels) == 0
    finally:
        widget.close()


# -- the real PNGs as thumbnails -------------------------------------------------------------------


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.convert("RGB")


def resized_png(path: Path) -> np.ndarray:
    """The PNG centre-cropped and resized to the thumbnail size, as floats."""
    with Image.open(path) as original:
        size = (THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        image = ImageOps.fit(original.convert("RGB"), size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float64)


def test_every_real_png_becomes_a_thumbnail_of_that_galaxy(subset: pd.DataFrame, shared_data):
    folder = shared_data / PNG_DIR
    reps = stand_in_representations(subset)
    widget = gw.Explorer(reps, images=gw.images.local_files(folder, pattern="{id}.png"))
    resized = {galaxy: resized_png(folder / f"{galaxy}.png") for galaxy in reps.ids}
    try:
        for position, galaxy in enumerate(reps.ids):
            content, buffers = widget._reply(
                {"type": "request", "kind": "thumbnail", "request": 1, "position": position}
            )
            assert content["ok"], content
            assert content["mime"] in {"image/jpeg", "image/png"}
            (data,) = buffers
            thumbnail = np.asarray(decode(data), dtype=np.float64)
            assert thumbnail.shape == (THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3)
            differences = {
                other: np.abs(thumbnail - expected).mean() for other, expected in resized.items()
            }
            # This galaxy's picture, up to JPEG compression, and no other galaxy's.
            assert min(differences, key=differences.get) == galaxy
            assert differences[galaxy] < 6, f"{galaxy}: off by {differences[galaxy]:.1f}"
    finally:
        widget.close()


def test_galaxies_without_a_png_get_a_reason_naming_the_file(
    catalogue: pd.DataFrame, subset: pd.DataFrame, shared_data: Path
):
    """All 470 catalogue galaxies, but only 40 of their images are here."""
    reps = stand_in_representations(catalogue)
    images = gw.images.local_files(shared_data / PNG_DIR, pattern="{id}.png")
    widget = gw.Explorer(reps, images=images)
    try:
        with_png = set(subset["id_str"])
        missing = next(i for i, galaxy in enumerate(reps.ids) if galaxy not in with_png)
        content, buffers = widget._reply(
            {"type": "request", "kind": "thumbnail", "request": 2, "position": missing}
        )
        assert content["ok"] is False and buffers == []
        assert content["reason"] == f"file not found: {reps.ids[missing]}.png"
        present = int(reps.positions([subset["id_str"].iloc[0]])[0])
        content, buffers = widget._reply(
            {"type": "request", "kind": "thumbnail", "request": 3, "position": present}
        )
        assert content["ok"] and len(buffers) == 1
    finally:
        widget.close()


# -- GZ DESI: a precomputed 2-D layout and Legacy Survey cutouts -----------------------------------


@pytest.fixture(scope="module")
def desi(shared_data: Path) -> pd.DataFrame:
    frame = pd.read_parquet(shared_data / DESI_PCA)
    assert len(frame) == 50_000
    return frame


def test_desi_pca_columns_are_the_layout(desi: pd.DataFrame):
    """The file has no features, only its 2-D PCA: those are the features and the layout."""
    reps = gw.load_representations(desi, features=["pca_0", "pca_1"], id_column="id_str")
    assert reps.n_features == 2
    assert list(reps.meta.columns) == ["id_str", "ra", "dec", "est_dr5_pixscale"]
    widget = gw.Explorer(reps, layout=reps.features, images=None)
    try:
        points = np.frombuffer(widget._points, dtype=np.float32).reshape(-1, 2)
        expected = normalize_layout(desi[["pca_0", "pca_1"]].to_numpy()).reshape(-1, 2)
        # The same up to the float32 rounding of the features.
        np.testing.assert_allclose(points, expected, rtol=0, atol=3e-7)
        # normalize_layout keeps the aspect ratio: pca_0 (the wider axis) spans ±0.95.
        assert points[:, 0].min() == pytest.approx(-0.95) and points[:, 0].max() == pytest.approx(
            0.95
        )
        spread = desi[["pca_0", "pca_1"]].max() - desi[["pca_0", "pca_1"]].min()
        assert np.ptp(points[:, 1]) / np.ptp(points[:, 0]) == pytest.approx(
            spread["pca_1"] / spread["pca_0"], rel=1e-5
        )
    finally:
        widget.close()


def test_desi_layout_given_as_meta_columns_matches(desi: pd.DataFrame):
    """``layout=("pca_0", "pca_1")`` reads meta columns: keep them there with the constructor."""
    reps = gw.Representations(
        ids=pd.Index(desi["id_str"], name="id_str"),
        features=desi[["pca_0", "pca_1"]].to_numpy(),
        meta=desi,
    )
    widget = gw.Explorer(reps, layout=("pca_0", "pca_1"))
    try:
        expected = normalize_layout(desi[["pca_0", "pca_1"]].to_numpy())
        np.testing.assert_array_equal(np.frombuffer(widget._points, dtype=np.float32), expected)
    finally:
        widget.close()


def test_legacy_survey_urls_are_built_from_radec_and_the_pixel_scale(desi: pd.DataFrame):
    reps = gw.load_representations(desi, features=["pca_0", "pca_1"], id_column="id_str")
    images = gw.images.legacy_survey(pixscale="est_dr5_pixscale")
    widget = gw.Explorer(reps, layout=reps.features, images=images)
    try:
        content, buffers = widget._reply(
            {"type": "request", "kind": "thumbnail", "request": 1, "position": 0}
        )
        assert content["ok"] and buffers == []
        # Row 0 of the file: 469505_1011 at ra 204.770359, dec 24.676144, 0.145171"/pixel.
        assert content["url"] == (
            f"{LEGACY_SURVEY}?ra=204.770359&dec=24.676144&layer=ls-dr10&pixscale=0.1452&size=128"
        )
        south = int(np.flatnonzero(desi["dec"].to_numpy() < -30)[0])
        rows = [0, south, len(desi) - 1, *range(1000, 50_000, 7919)]
        for row in rows:
            galaxy = desi.iloc[row]
            content, _ = widget._reply(
                {"type": "request", "kind": "thumbnail", "request": 2, "position": row}
            )
            assert content["url"] == (
                f"{LEGACY_SURVEY}?ra={galaxy['ra']:.6f}&dec={galaxy['dec']:.6f}&layer=ls-dr10"
                f"&pixscale={galaxy['est_dr5_pixscale']:.4f}&size={THUMBNAIL_SIZE}"
            )
        assert (
            "&dec=-"
            in widget._reply(
                {"type": "request", "kind": "thumbnail", "request": 3, "position": south}
            )[0]["url"]
        )
    finally:
        widget.close()


def test_desi_table_as_features_and_layout_in_one_call(shared_data: Path) -> None:
    desi = pd.read_parquet(shared_data / "galaxy_explorer_desi_50k_pca2/50k_pca_2n.parquet")
    desi = desi.iloc[:3000].copy()
    w = gw.Explorer(
        desi, features=["pca_0", "pca_1"], id_column="id_str", layout=("pca_0", "pca_1")
    )
    points = np.frombuffer(w._points, dtype=np.float32).reshape(-1, 2)
    expected = normalize_layout(desi[["pca_0", "pca_1"]].to_numpy())
    np.testing.assert_allclose(points.ravel(), expected.ravel(), rtol=1e-6)
    w.select(desi["id_str"].iloc[:5])
    assert desi["selected"].sum() == 5
    w.close()
