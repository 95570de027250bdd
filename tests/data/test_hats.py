"""HATS catalogues (LSDB) in and out: streamed loads on a real Dask LocalCluster, crossmatch
against astropy's, to_hats round trips, and each bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import galwidget as gw

pytestmark = pytest.mark.slow
lsdb = pytest.importorskip("lsdb")
distributed = pytest.importorskip("distributed")
coordinates = pytest.importorskip("astropy.coordinates")
units = pytest.importorskip("astropy.units")

N, D = 3000, 16


def survey(n: int = N, d: int = D, seed: int = 0) -> pd.DataFrame:
    """Galaxies spread over the sky: ``id_str``, ``ra``/``dec``, ``mag`` and ``feat_<i>``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * np.linspace(3.0, 0.1, d) @ rng.standard_normal((d, d))
    frame = pd.DataFrame(
        {
            "id_str": [f"G{i:05d}" for i in range(n)],
            "ra": rng.uniform(0, 360, n),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
            "mag": rng.uniform(14, 22, n),
        }
    )
    return pd.concat([frame, pd.DataFrame(x, columns=[f"feat_{j}" for j in range(d)])], axis=1)


def write_hats(frame: pd.DataFrame, path: Path, **kwargs) -> Path:
    catalogue = lsdb.from_dataframe(frame, partition_rows=400, **kwargs)
    catalogue.write_catalog(path, catalog_name=path.name, progress_bar=False)
    return path


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return survey()


@pytest.fixture(scope="module")
def hats_path(tmp_path_factory, table) -> Path:
    return write_hats(table, tmp_path_factory.mktemp("hats") / "galaxies")


def partition_files(path: Path) -> list[Path]:
    return sorted(path.glob("galaxies/dataset/Norder=*/Dir=*/Npix=*.parquet"))


def test_a_hats_folder_streams_through_the_two_passes_on_dask(client, hats_path, table, tmp_path):
    assert len(partition_files(hats_path)) >= 4
    ours = gw.load_representations(hats_path, reduce_to=4, columns=["mag"], progress=False)
    assert len(ours) == N and ours.features.shape == (N, 4)
    assert list(ours.meta.columns) == ["id_str", "ra", "dec", "mag"]
    by_id = table.set_index("id_str").loc[ours.ids]
    np.testing.assert_array_equal(ours.meta["mag"].to_numpy(), by_id["mag"].to_numpy())
    np.testing.assert_array_equal(ours.radec, by_id[["ra", "dec"]].to_numpy())
    # The same rows as one parquet file, streamed in this process: the same PCA.
    flat = tmp_path / "flat.parquet"
    pq.write_table(pa.Table.from_pandas(by_id.reset_index(), preserve_index=False), flat)
    local = gw.load_representations(flat, reduce_to=4, progress=False)
    assert local.ids.equals(ours.ids)
    np.testing.assert_allclose(
        ours.reduction.explained_variance_ratio, local.reduction.explained_variance_ratio, atol=1e-5
    )
    signs = np.sign((ours.features * local.features).sum(axis=0))
    scale = np.abs(local.features).max()
    np.testing.assert_allclose(ours.features * signs, local.features, atol=1e-4 * scale)
    # Raw rows come back from the partition files.
    np.testing.assert_allclose(
        ours.raw_rows([0, N - 1]),
        by_id[[f"feat_{j}" for j in range(D)]].to_numpy()[[0, N - 1]],
        rtol=1e-6,
    )


def test_a_filtered_lsdb_catalogue_streams_only_its_rows(client, hats_path, table):
    cone = lsdb.open_catalog(hats_path).cone_search(ra=40.0, dec=10.0, radius_arcsec=30 * 3600)
    ours = gw.load_representations(cone, reduce_to=3, progress=False)
    centre = coordinates.SkyCoord(40.0 * units.deg, 10.0 * units.deg)
    everyone = coordinates.SkyCoord(
        table["ra"].to_numpy() * units.deg, table["dec"].to_numpy() * units.deg
    )
    inside = table["id_str"][everyone.separation(centre).deg <= 30.0]
    assert 100 < len(ours) < N
    assert set(ours.ids) == set(inside)
    assert ours.reduction.components.shape == (3, D)


def test_a_hats_catalogue_read_into_memory(hats_path, table):
    ours = gw.load_representations(hats_path)
    by_id = table.set_index("id_str").loc[ours.ids]
    assert ours.n_features == D and set(ours.ids) == set(table["id_str"])
    np.testing.assert_array_equal(
        ours.features, by_id[[f"feat_{j}" for j in range(D)]].to_numpy(dtype=np.float32)
    )
    np.testing.assert_array_equal(ours.radec, by_id[["ra", "dec"]].to_numpy())


def astropy_nearest(ours: np.ndarray, theirs: np.ndarray, radius: float):
    ours_sky = coordinates.SkyCoord(ours[:, 0] * units.deg, ours[:, 1] * units.deg)
    theirs_sky = coordinates.SkyCoord(theirs[:, 0] * units.deg, theirs[:, 1] * units.deg)
    index, separation, _ = coordinates.match_coordinates_sky(ours_sky, theirs_sky)
    within = separation.arcsec <= radius
    return index, separation.arcsec, within


@pytest.mark.parametrize("as_catalogue", [False, True])
def test_crossmatch_with_lsdb_agrees_with_astropy(client, hats_path, table, as_catalogue):
    rng = np.random.default_rng(3)
    picked = rng.choice(N, 400, replace=False)
    radec = table[["ra", "dec"]].to_numpy()[picked]
    radec[:, 1] = np.clip(radec[:, 1] + rng.normal(0, 0.6 / 3600, 400), -90, 90)
    radec[:, 0] = (radec[:, 0] + rng.normal(0, 0.6 / 3600, 400)) % 360
    radec[:100] = np.column_stack([rng.uniform(0, 360, 100), rng.uniform(-60, 60, 100)])
    galaxies = gw.Representations.from_dataframe(
        pd.DataFrame(
            {"objid": [f"X{i}" for i in range(400)], "ra": radec[:, 0], "dec": radec[:, 1]}
        ).assign(f0=rng.normal(size=400), f1=rng.normal(size=400)),
        features=["f0", "f1"],
    )
    catalogue = lsdb.open_catalog(hats_path) if as_catalogue else hats_path
    with pytest.warns(UserWarning, match=r"of 400 galaxies have no catalogue source within 1\.5"):
        matched = galaxies.crossmatch(catalogue, radius_arcsec=1.5).meta
    index, separation, within = astropy_nearest(radec, table[["ra", "dec"]].to_numpy(), 1.5)
    assert within.sum() > 250 and (~within).sum() >= 100
    np.testing.assert_array_equal(matched["id_str"].notna().to_numpy(), within)
    np.testing.assert_array_equal(
        matched["id_str"][within].to_numpy(), table["id_str"].to_numpy()[index[within]]
    )
    np.testing.assert_allclose(
        matched["separation_arcsec"][within].to_numpy(), separation[within], atol=1e-6
    )
    np.testing.assert_allclose(
        matched["mag"][within].to_numpy(), table["mag"].to_numpy()[index[within]]
    )
    assert matched["separation_arcsec"][~within].isna().all()
    assert {"ra_cat", "dec_cat", "feat_0"} <= set(matched.columns)


def test_to_hats_round_trip_of_representations(client, table, tmp_path):
    reps = gw.load_representations(table)
    path = gw.to_hats(reps, tmp_path / "reps", features=True, progress=False)
    back = gw.load_representations(path)
    assert set(back.ids) == set(reps.ids) and back.id_column == "id_str"
    order = reps.positions(back.ids)
    np.testing.assert_array_equal(back.features, reps.features[order])
    np.testing.assert_array_equal(back.radec, reps.radec[order])
    np.testing.assert_array_equal(back.meta["mag"].to_numpy(), table["mag"].to_numpy()[order])
    with pytest.raises(gw.DataError, match=r"reps exists: pass overwrite=True"):
        gw.to_hats(reps, path)


def test_to_hats_writes_labels_and_scores_with_the_galaxies_positions(table, tmp_path):
    reps = gw.load_representations(table)
    labels = pd.DataFrame(
        {"label": ["ring", "merger", "ring"], "source": ["click", "key", "click"]},
        index=pd.Index(["G00007", "G01234", "G02999"], name="id_str"),
    )
    path = gw.to_hats(labels, tmp_path / "labels", reps=reps, progress=False)
    written = lsdb.open_catalog(path).compute().set_index("id_str").loc[labels.index]
    assert written["label"].tolist() == ["ring", "merger", "ring"]
    np.testing.assert_array_equal(
        written[["ra", "dec"]].to_numpy(), reps.radec[reps.positions(labels.index)]
    )
    scores = pd.Series([0.9, 0.1], index=["G00010", "G00020"], name="score")
    path = gw.to_hats(scores, tmp_path / "scores", reps=reps, progress=False)
    written = lsdb.open_catalog(path).compute().set_index("id_str")
    assert written.loc["G00010", "score"] == 0.9 and len(written) == 2


def test_to_hats_bad_input_is_named(table, tmp_path):
    reps = gw.load_representations(table)
    labels = pd.Series(["ring", "bar"], index=["G00001", "nope"], name="label")
    with pytest.raises(gw.DataError, match=r"unknown id_str ids: 'nope'"):
        gw.to_hats(labels, tmp_path / "a", reps=reps)
    with pytest.raises(gw.DataError, match="needs positions: give the table 'ra'/'dec'"):
        gw.to_hats(labels, tmp_path / "b")
    holes = pd.DataFrame({"ra": [1.0, np.nan], "dec": [2.0, 3.0], "v": [1, 2]}, index=["a", "b"])
    with pytest.raises(gw.DataError, match=r"1 galaxies have no ra/dec \(e.g. ids 'b'\)"):
        gw.to_hats(holes, tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


def test_a_folder_that_is_not_a_hats_catalogue_is_named(hats_path, tmp_path, table):
    galaxies = gw.load_representations(table.iloc[:50])
    plain = tmp_path / "plain"
    plain.mkdir()
    table.iloc[:10].to_parquet(plain / "part-0.parquet")
    with pytest.raises(gw.DataError, match=rf"{plain} is not a HATS catalogue.*part-0\.parquet"):
        galaxies.crossmatch(plain)
    with pytest.raises(gw.DataError, match=r"no such HATS catalogue: .*missing"):
        gw.catalogues.open_hats(tmp_path / "missing")
    margin = next(hats_path.glob("*arcs"))  # the margin cache: not a catalogue of sources
    with pytest.raises(gw.DataError, match=rf"cannot open {margin} as a HATS catalogue"):
        galaxies.crossmatch(margin)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hats.properties").write_text("dataset_type=object\n")
    with pytest.raises(gw.DataError, match=rf"cannot open {broken} as a HATS catalogue"):
        gw.load_representations(broken, reduce_to=2)


def test_a_catalogue_without_ids_or_positions_is_named(client, table, hats_path, tmp_path):
    nameless = write_hats(table.drop(columns=["id_str"]), tmp_path / "nameless")
    with pytest.raises(gw.DataError, match=rf"{nameless}: no id column.*its columns: .*feat_0"):
        gw.load_representations(nameless, reduce_to=2)
    blind = lsdb.open_catalog(hats_path)[["id_str", "mag", "feat_0", "feat_1"]]
    with pytest.raises(
        gw.DataError, match=r"'galaxies' has no ra/dec columns .*'ra'/'dec'.*columns: .*'mag'"
    ):
        gw.load_representations(blind, reduce_to=1)
    # A catalogue whose properties name position columns it does not have.
    lost = tmp_path / "lost"
    lsdb.from_dataframe(table.iloc[:300]).write_catalog(lost, as_collection=False)
    properties = lost / "hats.properties"
    properties.write_text(properties.read_text().replace("hats_col_ra=ra", "hats_col_ra=ra_deg"))
    with pytest.raises(gw.DataError, match=rf"{lost} has no ra/dec columns .*'ra_deg'/'dec'"):
        gw.load_representations(lost, reduce_to=2)
    with pytest.raises(gw.DataError, match=r"has no ra/dec columns .*'ra_deg'/'dec'"):
        gw.load_representations(table.iloc[:20]).crossmatch(lost)


def corrupt_data_pages(path: Path) -> None:
    """Zero a stretch in the middle of the file: its footer still reads, its pages do not."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 2000] = bytes(2000)
    path.write_bytes(bytes(data))


def test_a_partition_that_fails_mid_pass_is_named(client, table, tmp_path):
    path = write_hats(table, tmp_path / "galaxies", compression="snappy")
    files = partition_files(path)
    victim = files[len(files) // 2]
    corrupt_data_pages(victim)
    pq.ParquetFile(victim)  # the footer is fine: only reading the rows fails
    with pytest.raises(gw.DataError, match=rf"{victim} cannot be read"):
        gw.load_representations(path, reduce_to=3, progress=False)
    order, pixel = (int(part.split("=")[1]) for part in (victim.parent.parent.name, victim.stem))
    with pytest.raises(
        gw.DataError,
        match=rf"lsdb catalogue 'galaxies': partition Norder={order}/Npix={pixel} "
        rf"\({victim}\) cannot be read",
    ):
        gw.load_representations(lsdb.open_catalog(path), reduce_to=3, progress=False)
