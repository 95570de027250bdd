"""Thumbnail sources: URL templates, survey presets, local files, callables and the bytes cache."""

from __future__ import annotations

import io
import os
import shutil
import urllib.parse
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from httpserver import LocalServer
from PIL import Image, ImageOps

import galwidget as gw
from galwidget import images

PNG_DIR = "gz_decals_dr5_example_pngs"
IAU_NAMES = ["J000411.19+020924.0", "J001240.06-000210.4", "J011603.59+041738.9"]


def reps_for(ids, meta: pd.DataFrame | None = None, images_=None) -> gw.Representations:
    ids = list(ids)
    features = np.random.default_rng(0).normal(size=(len(ids), 4))
    reps = gw.Representations.from_array(features, ids=pd.Index(ids, name="iauname"), meta=meta)
    reps.images = images_
    return reps


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def png_catalogue(shared_data: Path) -> pd.DataFrame:
    """The 40 real GZ DECaLS PNGs and their catalogue rows (id_str = iauname)."""
    directory = shared_data / PNG_DIR
    catalogue = pd.read_csv(directory / "selected_subset.csv", dtype={"id_str": str})
    catalogue["png_loc"] = catalogue["id_str"] + ".png"
    catalogue.attrs["directory"] = directory
    return catalogue


def png_reps(catalogue: pd.DataFrame) -> gw.Representations:
    meta = catalogue.drop(columns=["id_str"])
    return reps_for(catalogue["id_str"], meta)


# ----------------------------------------------------------------------------------------------
# URL templates
# ----------------------------------------------------------------------------------------------


def test_url_template_fills_radec_with_six_decimals_and_encodes_plus():
    reps = reps_for(IAU_NAMES)
    source = images.resolve("https://example.org/c?name={id}&ra={ra}&dec={dec}", reps)
    assert source.kind == "url"
    assert source.fields == ["id", "ra", "dec"]
    ra, dec = gw.parse_iauname(IAU_NAMES)
    for position, url in enumerate(source.urls([0, 1, 2])):
        assert url == source.url(position)
        fields = query(url)
        assert fields["name"] == IAU_NAMES[position]  # "+" survives as %2B, not a space
        assert fields["ra"] == f"{ra[position]:.6f}"
        assert fields["dec"] == f"{dec[position]:.6f}"
    assert "%2B020924.0" in source.url(0)
    assert "dec=-0.036" in source.url(1)


def test_url_template_reads_meta_columns_format_specs_and_slices():
    meta = pd.DataFrame({"petro_th50": [3.14159, 2.5, 10.0], "survey": ["dr5", "dr8", "dr5"]})
    reps = reps_for(IAU_NAMES, meta)
    template = "https://h/{survey}/{id[:4]}/{id}.jpg?r={petro_th50:.2f}&ra={ra:.2f}"
    source = images.resolve(template, reps)
    assert source.template == template
    assert source.url(0) == "https://h/dr5/J000/J000411.19%2B020924.0.jpg?r=3.14&ra=1.05"
    assert source.url(1) == "https://h/dr8/J001/J001240.06-000210.4.jpg?r=2.50&ra=3.17"


def test_unknown_placeholders_are_named_with_the_available_columns():
    reps = reps_for(IAU_NAMES, pd.DataFrame({"redshift": [0.1, 0.2, 0.3]}))
    with pytest.raises(gw.DataError) as error:
        images.resolve("https://h/{objid}/{id}.png?z={z:.2f}", reps)
    message = str(error.value)
    assert "{objid}" in message and "{z}" in message
    assert "{redshift}" in message and "{id}" in message and "{ra}" in message


def test_a_source_of_another_kind_has_no_urls_or_bytes():
    reps = reps_for(IAU_NAMES)
    url = images.resolve("https://host/{id}.jpg", reps)
    made = images.resolve(lambda galaxy: np.zeros((8, 8), np.uint8), reps)
    nothing = images.NoImages(len(reps), 64)
    for source in (made, nothing):
        with pytest.raises(gw.ImageError, match="have no URLs"):
            source.url(0)
        with pytest.raises(gw.ImageError, match="have no URLs"):
            source.urls([0, 1])
    for source in (url, nothing):
        with pytest.raises(gw.ImageError, match="not made in the kernel"):
            source.fetch(0)


def test_template_errors_surface_at_resolve_time():
    reps = reps_for(IAU_NAMES)
    with pytest.raises(gw.DataError, match="no placeholders"):
        images.resolve("https://h/same.png", reps)
    with pytest.raises(gw.DataError, match="Unknown format code"):
        images.resolve("https://h/{ra:q}.png", reps)
    with pytest.raises(gw.DataError, match="not a valid format string"):
        images.resolve("https://h/{id.png", reps)
    no_positions = gw.Representations.from_array(np.ones((2, 3)), ids=["a", "b"])
    with pytest.raises(gw.DataError, match="no ra/dec"):
        images.resolve("https://h/{ra}", no_positions)


def test_missing_values_give_no_url():
    meta = pd.DataFrame({"ra": [10.0, np.nan], "dec": [1.0, 2.0]})
    reps = gw.Representations.from_array(np.ones((2, 3)), ids=["a", "b"], meta=meta)
    source = images.resolve(images.legacy_survey(), reps)
    assert source.urls([0, 1])[1] is None
    assert "ra=10.000000" in source.urls([0, 1])[0]
    with pytest.raises(images.ImageError, match="missing"):
        source.url(1)
    with pytest.raises(images.ImageError, match="out of range"):
        source.url(2)


# ----------------------------------------------------------------------------------------------
# Survey presets
# ----------------------------------------------------------------------------------------------


def test_legacy_survey_urls_from_the_real_desi_parquet(shared_data: Path):
    table = pd.read_parquet(shared_data / "galaxy_explorer_desi_50k_pca2" / "50k_pca_2n.parquet")
    reps = gw.load_representations(table, features=["pca_0", "pca_1"])
    preset = images.legacy_survey(pixscale="est_dr5_pixscale")
    source = images.resolve(preset, reps, size=96)
    positions = np.random.default_rng(1).choice(len(reps), size=200, replace=False)
    for position, url in zip(positions, source.urls(positions), strict=True):
        assert url.startswith("https://www.legacysurvey.org/viewer/cutout.jpg?")
        fields = query(url)
        row = table.iloc[position]
        assert abs(float(fields["ra"]) - row["ra"]) <= 5e-7
        assert abs(float(fields["dec"]) - row["dec"]) <= 5e-7
        assert fields["pixscale"] == f"{row['est_dr5_pixscale']:.4f}"
        assert fields["layer"] == "ls-dr10" and fields["size"] == "96"
    # With no images given, galaxies with positions get Legacy Survey cutouts at native scale.
    default = images.resolve(None, reps)
    assert query(default.url(0))["pixscale"] == "0.262"
    assert query(default.url(0))["size"] == "128"
    # The real pixscales obey the GZ DECaLS floor of 0.1"/pixel.
    assert table["est_dr5_pixscale"].min() >= 0.1


def test_legacy_survey_urls_from_iau_names(png_catalogue: pd.DataFrame):
    reps = reps_for(png_catalogue["id_str"])
    source = images.resolve(images.legacy_survey(layer="ls-dr9", pixscale=0.5, size=256), reps)
    ra, dec = gw.parse_iauname(png_catalogue["id_str"])
    for position in range(len(reps)):
        fields = query(source.url(position))
        assert fields["ra"] == f"{ra[position]:.6f}" and fields["dec"] == f"{dec[position]:.6f}"
        assert (fields["layer"], fields["pixscale"], fields["size"]) == ("ls-dr9", "0.5", "256")


def test_sdss_cutout_urls():
    reps = reps_for(IAU_NAMES)
    url = images.resolve(images.sdss(), reps, size=100).url(2)
    assert url.startswith("https://skyserver.sdss.org/dr17/SkyServerWS/ImgCutout/getjpeg?")
    fields = query(url)
    ra, dec = gw.parse_iauname(IAU_NAMES[2])
    assert fields == {
        "ra": f"{ra:.6f}",
        "dec": f"{dec:.6f}",
        "scale": "0.396",
        "width": "100",
        "height": "100",
    }
    assert query(images.resolve(images.sdss(scale=0.2, size=64), reps).url(0))["width"] == "64"


def test_decals_pixscale_follows_the_gz_decals_rule():
    # max(min(0.04 * th50, 0.02 * th90), 0.1) for 424-pixel cutouts
    assert images.decals_pixscale(10.0, 30.0) == pytest.approx(0.4)
    assert images.decals_pixscale(10.0, 15.0) == pytest.approx(0.3)
    assert images.decals_pixscale(1.0, 3.0) == pytest.approx(0.1)
    scaled = images.decals_pixscale([10.0, 1.0], [30.0, 3.0], size=212)
    np.testing.assert_allclose(scaled, [0.8, 0.2])
    # Per-galaxy scales from a meta column end up in the URLs.
    meta = pd.DataFrame({"petro_th50": [10.0, 1.0, 4.0], "petro_th90": [30.0, 3.0, 9.0]})
    meta["pixscale"] = images.decals_pixscale(meta["petro_th50"], meta["petro_th90"])
    source = images.resolve(images.legacy_survey(pixscale="pixscale"), reps_for(IAU_NAMES, meta))
    assert [query(u)["pixscale"] for u in source.urls([0, 1, 2])] == ["0.4000", "0.1000", "0.1600"]


def test_url_source_points_at_fetchable_files(png_catalogue: pd.DataFrame, tmp_path: Path):
    """A Legacy-Survey-like server: every URL the template yields loads as an image."""
    cutouts = tmp_path / "viewer" / "cutout"
    cutouts.mkdir(parents=True)
    chosen = png_catalogue.iloc[:6]
    for name in chosen["id_str"]:
        shutil.copy(png_catalogue.attrs["directory"] / f"{name}.png", cutouts / f"{name}.png")
    reps = reps_for(chosen["id_str"])
    with LocalServer(tmp_path) as server:
        template = server.url + "/viewer/cutout/{id}.png?ra={ra}&dec={dec}&size=424"
        source = images.resolve(template, reps)
        for url in source.urls(range(len(reps))):
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.status == 200
                assert decode(response.read()).size == (424, 424)
        served = {r.path for r in server.requests}
    assert served == {f"/viewer/cutout/{name}.png" for name in chosen["id_str"]}


# ----------------------------------------------------------------------------------------------
# Local files
# ----------------------------------------------------------------------------------------------


def test_local_files_from_a_column_are_resized_thumbnails(png_catalogue: pd.DataFrame):
    reps = png_reps(png_catalogue)
    directory = png_catalogue.attrs["directory"]
    source = images.resolve(images.local_files("png_loc", root=directory), reps, size=96)
    assert source.kind == "bytes"
    means = []
    for position, name in enumerate(png_catalogue["id_str"]):
        data, mime = source.fetch(position)
        assert mime == "image/jpeg"
        thumbnail = decode(data)
        assert thumbnail.format == "JPEG" and thumbnail.size == (96, 96)
        with Image.open(directory / f"{name}.png") as original:
            expected = ImageOps.fit(original.convert("RGB"), (96, 96))
        difference = np.abs(np.asarray(thumbnail, float) - np.asarray(expected, float)).mean()
        assert difference < 6, f"{name}: thumbnail differs from the file by {difference:.1f}"
        means.append(np.asarray(thumbnail, float).mean())
    assert len(set(np.round(means, 3))) == len(means)  # forty different pictures
    assert source.cache_info().misses == len(png_catalogue)


def test_local_files_from_a_directory_and_pattern(png_catalogue: pd.DataFrame, tmp_path: Path):
    reps = png_reps(png_catalogue)
    directory = png_catalogue.attrs["directory"]
    flat = images.resolve(images.local_files(directory), reps, size=64)
    assert decode(flat.fetch(3)[0]).size == (64, 64)

    # The GZ DECaLS layout: J000/J000411.19+020924.0.png
    chosen = png_catalogue.iloc[:5]
    for name in chosen["id_str"]:
        (tmp_path / name[:4]).mkdir(exist_ok=True)
        shutil.copy(directory / f"{name}.png", tmp_path / name[:4] / f"{name}.png")
    nested = images.resolve(images.local_files(tmp_path, pattern="{id[:4]}/{id}.png"), reps, 64)
    by_function = images.resolve(
        images.local_files(str(tmp_path), pattern=lambda name: Path(name[:4]) / f"{name}.png"),
        reps,
        64,
    )
    for position in range(len(chosen)):
        assert nested.fetch(position) == flat.fetch(position)
        assert by_function.fetch(position) == flat.fetch(position)
    with pytest.raises(images.ImageError) as error:
        nested.fetch(len(chosen))
    name = png_catalogue["id_str"].iloc[len(chosen)]
    assert error.value.reason == f"file not found: {name[:4]}/{name}.png"


def test_local_files_refuse_paths_outside_the_root(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(outside / "secret.png")
    Image.new("RGB", (20, 20), (10, 200, 10)).save(root / "sub" / "inside.png")
    os.symlink(outside / "secret.png", root / "link-out.png")
    os.symlink(root / "sub" / "inside.png", root / "link-in.png")
    locations = [
        "../outside/secret.png",
        str(outside / "secret.png"),
        "link-out.png",
        "sub/../../outside/secret.png",
        "link-in.png",
        str(root / "sub" / "inside.png"),
    ]
    reps = gw.Representations.from_array(
        np.ones((len(locations), 2)),
        ids=[f"g{i}" for i in range(len(locations))],
        meta=pd.DataFrame({"loc": locations}),
    )
    source = images.resolve(images.local_files("loc", root=root), reps, size=16)
    for position in range(4):
        with pytest.raises(images.ImageError, match="outside the image root"):
            source.fetch(position)
    for position in (4, 5):
        pixel = decode(source.fetch(position)[0]).getpixel((8, 8))
        assert pixel[1] > 150 and pixel[0] < 60  # the green image inside the root

    by_pattern = images.resolve(
        images.local_files(root, pattern="../outside/secret.png#{id}"), reps
    )
    with pytest.raises(images.ImageError, match="outside the image root"):
        by_pattern.fetch(0)


def test_unreadable_files_give_short_reasons(tmp_path: Path):
    (tmp_path / "a.png").write_text("this is not a PNG")
    reps = gw.Representations.from_array(np.ones((3, 2)), ids=["a", "b", "c"])
    source = images.resolve(images.local_files(tmp_path), reps)
    with pytest.raises(images.ImageError) as error:
        source.fetch(0)
    assert error.value.reason == "not an image: a.png"
    with pytest.raises(images.ImageError, match=r"file not found: b\.png"):
        source.fetch(1)
    assert source.cache_info().entries == 0  # failures are not cached
    with pytest.raises(gw.DataError, match="neither a meta column nor a directory"):
        images.resolve(images.local_files(tmp_path / "nowhere"), reps)
    with pytest.raises(gw.DataError, match="local_files"):
        images.resolve(str(tmp_path), reps)


def test_fifos_devices_folders_and_nul_bytes_are_refused_without_blocking(tmp_path: Path):
    os.mkfifo(tmp_path / "fifo.png")  # nobody writes to it: reading it would block forever
    (tmp_path / "folder.png").mkdir()
    paths = [str(tmp_path / "fifo.png"), "/dev/zero", str(tmp_path / "folder.png"), "a\0b.png"]
    reps = reps_for(["a", "b", "c", "d"], pd.DataFrame({"loc": paths}))
    source = images.resolve(images.local_files("loc"), reps, size=16)
    with ThreadPoolExecutor(1) as pool:
        reasons = []
        for position in range(4):
            future = pool.submit(source.fetch, position)
            with pytest.raises(images.ImageError) as error:
                future.result(timeout=20)
            reasons.append(error.value.reason)
    assert reasons[0] == f"cannot read {paths[0]}: it is not a regular file (FIFO, device, …)"
    assert reasons[1] == "cannot read /dev/zero: it is not a regular file (FIFO, device, …)"
    assert reasons[2] == f"cannot read {paths[2]}: it is a folder"
    assert reasons[3] == "invalid file name (it contains a NUL byte): 'a\\x00b.png'"


def test_decompression_bombs_are_image_errors_not_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.new("L", (40, 30)).save(tmp_path / "over.png")  # 1200 px: Pillow would only warn
    Image.new("L", (100, 100)).save(tmp_path / "far-over.png")  # > 2 × the limit: Pillow raises
    Image.new("L", (30, 30)).save(tmp_path / "fine.png")
    reps = reps_for(["over", "far-over", "fine"])
    source = images.resolve(images.local_files(tmp_path), reps, size=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for position, name in enumerate(["over.png", "far-over.png"]):
            with pytest.raises(images.ImageError, match=f"too large .*: {name}: Image size"):
                source.fetch(position)
        data, mime = source.fetch(2)
    assert decode(data).size == (16, 16) and mime == "image/jpeg"
    bomb = io.BytesIO()
    Image.new("L", (100, 100)).save(bomb, format="PNG")
    from_bytes = images.resolve(lambda name: bomb.getvalue(), reps, size=16)
    with pytest.raises(
        images.ImageError, match=r"too large .*the bytes <lambda> returned for over"
    ):
        from_bytes.fetch(0)


# ----------------------------------------------------------------------------------------------
# The bytes cache
# ----------------------------------------------------------------------------------------------


def test_thumbnail_cache_is_bounded_by_bytes_and_counts_hits(png_catalogue: pd.DataFrame):
    reps = png_reps(png_catalogue)
    root = png_catalogue.attrs["directory"]
    unbounded = images.resolve(images.local_files("png_loc", root=root), reps, size=128)
    sizes = [len(unbounded.fetch(p)[0]) for p in range(10)]
    assert unbounded.fetch(0) == unbounded.fetch(0)
    info = unbounded.cache_info()
    assert (info.hits, info.misses, info.entries, info.bytes) == (2, 10, 10, sum(sizes))

    budget = sum(sizes[:3]) + 1  # room for about three thumbnails
    small = images.resolve(images.local_files("png_loc", root=root), reps, 128, max_bytes=budget)
    for position in range(10):
        small.fetch(position)
        assert small.cache_info().bytes <= budget
    assert small.cache_info().entries < 5
    small.fetch(9)  # most recent: still cached
    assert small.cache_info().hits == 1
    small.fetch(0)  # evicted long ago: made again
    assert small.cache_info().misses == 11


def test_concurrent_fetches_agree(png_catalogue: pd.DataFrame):
    reps = png_reps(png_catalogue)
    root = png_catalogue.attrs["directory"]
    source = images.resolve(images.local_files("png_loc", root=root), reps, size=48)
    positions = list(range(len(reps))) * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(source.fetch, positions))
    n = len(reps)
    assert results[:n] == results[n:]
    info = source.cache_info()
    assert info.hits + info.misses == 2 * n and info.entries == n


# ----------------------------------------------------------------------------------------------
# Callables
# ----------------------------------------------------------------------------------------------


def test_callables_returning_arrays_and_bytes():
    def uint8_rgb(name: str) -> np.ndarray:
        image = np.zeros((40, 80, 3), dtype=np.uint8)
        image[:, 20:60] = (255, 0, 0)  # a red square in the middle of a wide image
        return image

    def float_gray(name: str) -> np.ndarray:
        return np.full((30, 30), 0.5)

    def float_rgb(name: str) -> np.ndarray:
        return np.dstack([np.zeros((20, 20)), np.ones((20, 20)), np.zeros((20, 20))])

    def png_bytes(name: str) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (50, 50), (0, 0, 255)).save(buffer, format="PNG")
        return buffer.getvalue()

    reps = reps_for(IAU_NAMES)
    expected = {
        uint8_rgb: (255, 0, 0),  # centre crop keeps only the red square
        float_gray: 128,
        float_rgb: (0, 255, 0),
        png_bytes: (0, 0, 255),
    }
    for render, color in expected.items():
        data, mime = images.resolve(render, reps, size=32).fetch(1)
        assert mime == "image/jpeg"
        thumbnail = decode(data)
        assert thumbnail.size == (32, 32)
        pixels = np.asarray(thumbnail, float).reshape(32 * 32, -1)
        assert np.abs(pixels.mean(axis=0) - np.atleast_1d(color)).max() < 6, render.__name__


def test_callables_with_transparency_give_png():
    def rgba(name: str) -> np.ndarray:
        return np.zeros((10, 10, 4), dtype=np.uint8)

    data, mime = images.resolve(rgba, reps_for(IAU_NAMES), size=16).fetch(0)
    assert mime == "image/png" and decode(data).mode == "RGBA"


def test_callable_failures_become_image_errors():
    def broken(name: str) -> np.ndarray:
        raise ValueError(f"no pixels for {name}")

    def wrong_shape(name: str) -> np.ndarray:
        return np.zeros((4, 4, 2), dtype=np.uint8)

    def with_nan(name: str) -> np.ndarray:
        return np.full((4, 4), np.nan)

    def text(name: str) -> str:
        return "a picture"

    reps = reps_for(IAU_NAMES)
    reasons = {
        broken: "broken raised ValueError: no pixels for J001240.06-000210.4",
        wrong_shape: "wrong_shape returned an array of shape (4, 4, 2): expected HxW or HxWx3",
        with_nan: "with_nan returned an array with NaN or infinite values",
        text: "text returned str: expected an array or bytes",
    }
    for render, reason in reasons.items():
        with pytest.raises(images.ImageError) as error:
            images.resolve(render, reps).fetch(1)
        assert error.value.reason == reason


def test_the_synthetic_renderer_is_the_default_for_synthetic_data():
    from galwidget import datasets

    reps = datasets.synthetic(n=40, dim=16)
    source = images.resolve(None, reps, size=64)
    assert source.kind == "bytes"
    data, mime = source.fetch(5)
    expected = ImageOps.fit(Image.fromarray(reps.images(reps.ids[5])), (64, 64))
    difference = np.abs(np.asarray(decode(data), float) - np.asarray(expected, float)).mean()
    assert mime == "image/jpeg" and difference < 4


def test_resolve_defaults_and_arguments():
    def render(name: str) -> np.ndarray:
        return np.zeros((8, 8), dtype=np.uint8)

    with_renderer = reps_for(IAU_NAMES, images_=render)
    assert images.resolve(None, with_renderer).kind == "bytes"
    assert images.resolve(None, reps_for(IAU_NAMES)).kind == "url"
    anonymous = gw.Representations.from_array(np.ones((2, 2)), ids=["x", "y"])
    assert images.resolve(None, anonymous).kind == "none"
    source = images.resolve(render, with_renderer)
    assert images.resolve(source, with_renderer) is source
    for size in (0, 7, 5000, 12.5, True):
        with pytest.raises(gw.DataError, match="thumbnail size"):
            images.resolve(None, with_renderer, size=size)
    with pytest.raises(gw.DataError, match="images must be"):
        images.resolve(42, with_renderer)
    with pytest.raises(images.ImageError, match="out of range"):
        source.fetch(-1)


def test_default_cutouts_are_framed_by_petrosian_radii_when_known() -> None:
    ids = ["J000411.19+020924.0", "J000410.46-100118.1", "J000413.85+010004.2"]
    meta = pd.DataFrame({"petro_th50": [5.0, 40.0, np.nan], "petro_th90": [12.0, 90.0, 7.0]})
    reps = gw.Representations.from_array(np.eye(3), ids=pd.Index(ids, name="iauname"), meta=meta)
    source = gw.images.resolve(None, reps, size=212)
    # GZ DECaLS: max(min(0.04 th50, 0.02 th90), 0.1) at 424 px; twice that at 212 px.
    expected = [0.2 * 2, 1.6 * 2, 0.262]
    for position, pixscale in enumerate(expected):
        assert f"&pixscale={pixscale:.4f}&size=212" in source.url(position)
    assert "cutout_pixscale" not in reps.meta  # the user's data is left alone
    plain = gw.Representations.from_array(np.eye(3), ids=pd.Index(ids, name="iauname"))
    assert "&pixscale=0.262" in gw.images.resolve(None, plain, size=212).url(0)
