"""Downloading the real data sets, against a real HTTP server on 127.0.0.1 serving Zenodo-schema
files (GALWIDGET_ZENODO_URL points galwidget at it, as a mirror would)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from httpserver import LocalServer

import galwidget as gw
from galwidget import datasets
from galwidget.datasets import zenodo

N, DIM = 300, 16
DECALS = "/files/cnn_features_decals.parquet"
GZ2 = "/files/cnn_features_gz2.parquet"
CATALOGUE = "/files/gz_decals_volunteers_5.csv"


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the Zenodo records: the two parquet files and the catalogue."""
    root = tmp_path_factory.mktemp("zenodo")
    files = root / "files"
    datasets.write_zenodo_like(files / "cnn_features_decals.parquet", n=N, dim=DIM, seed=1)
    table = pq.read_table(files / "cnn_features_decals.parquet")
    objids = [str(587722981741363200 + i) for i in range(N)]  # GZ2 ids: SDSS objids as strings
    gz2 = table.rename_columns(["id_str", *table.column_names[1:]])
    gz2 = gz2.set_column(0, "id_str", [objids])
    pq.write_table(gz2, files / "cnn_features_gz2.parquet")
    names = table.column("iauname").to_pylist()
    rng = np.random.default_rng(2)
    ra, dec = gw.parse_iauname(names)
    featured = rng.uniform(size=N)
    catalogue = pd.DataFrame(
        {
            "iauname": names,
            "ra": ra,
            "dec": dec,
            "redshift": rng.uniform(0.01, 0.15, N),
            "smooth-or-featured_total-votes": rng.integers(5, 40, N),
            "smooth-or-featured_smooth_fraction": 1 - featured,
            "smooth-or-featured_featured-or-disk_fraction": featured,
        }
    )
    catalogue.iloc[::3].to_csv(files / "gz_decals_volunteers_5.csv", index=False)
    return root


@pytest.fixture
def server(record: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with LocalServer(record) as running:
        monkeypatch.setenv("GALWIDGET_ZENODO_URL", running.url + "/files")
        yield running


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GALWIDGET_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def digest(path: Path, algorithm: str = "md5") -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def gets(server: LocalServer, path: str) -> list:
    return [r for r in server.requests_for(path) if r.method == "GET"]


def test_download_then_load(server: LocalServer, data: Path, record: Path):
    reps = datasets.decals_representations(progress=False)
    assert (len(reps), reps.n_features, reps.id_column) == (N, DIM, "iauname")
    assert "png_loc" in reps.meta.columns
    assert reps.radec is not None  # positions come from the IAU names
    local = data / "cnn_features_decals.parquet"
    assert local.read_bytes() == (record / DECALS.lstrip("/")).read_bytes()
    assert not local.with_name(local.name + ".part").exists()
    (request,) = gets(server, DECALS)
    assert request.headers["User-Agent"] == f"galwidget/{gw.__version__}"
    assert "Range" not in request.headers


def test_gz2_representations_and_load_arguments(server: LocalServer, data: Path):
    reps = datasets.gz2_representations(progress=False, features="feat_")
    assert reps.id_column == "id_str" and reps.ids[0] == "587722981741363200"
    assert reps.n_features == DIM
    assert len(gets(server, GZ2)) == 1


def test_a_file_in_place_needs_no_network(server: LocalServer, data: Path, record: Path):
    first = datasets.decals_representations(progress=False)
    again = datasets.decals_representations(progress=False, checksum="md5:" + "0" * 32)
    assert again.fingerprint == first.fingerprint
    assert len(server.requests) == 1

    # A file placed by hand (e.g. on a machine without internet) is used as it is.
    by_hand = data / "elsewhere" / "gz2.parquet"
    by_hand.parent.mkdir()
    by_hand.write_bytes((record / GZ2.lstrip("/")).read_bytes())
    reps = datasets.gz2_representations(path=by_hand, download=False, progress=False)
    assert len(reps) == N
    assert len(server.requests) == 1


def test_checksums_are_verified(server: LocalServer, data: Path, record: Path):
    source = record / DECALS.lstrip("/")
    reps = datasets.decals_representations(checksum="sha256:" + digest(source, "sha256"))
    assert len(reps) == N

    catalogue = data / "gz_decals_volunteers_5.csv"
    wrong = "md5:" + "0" * 32
    with pytest.raises(gw.DataError) as error:
        datasets.gz_decals_catalogue(checksum=wrong)
    message = str(error.value)
    assert "checksum mismatch" in message and wrong in message
    assert digest(record / CATALOGUE.lstrip("/")) in message
    bad = data / "gz_decals_volunteers_5.csv.bad"
    assert not catalogue.exists(), "a file that fails its checksum must not be used"
    assert bad.read_bytes() == (record / CATALOGUE.lstrip("/")).read_bytes()
    assert str(bad) in message

    right = "md5:" + digest(record / CATALOGUE.lstrip("/")).upper()
    table = datasets.gz_decals_catalogue(checksum=right)
    assert len(table) == len(range(0, N, 3))
    assert len(gets(server, CATALOGUE)) == 2
    assert not catalogue.with_name(catalogue.name + ".part").exists()


def test_malformed_checksums_are_refused_before_downloading(server: LocalServer, data: Path):
    for checksum in ("md5:abc", "crc32:0000", "0" * 32, "sha256:" + "z" * 64):
        with pytest.raises(gw.DataError, match="checksum must look like"):
            datasets.decals_representations(checksum=checksum)
    assert server.requests == []


def test_a_partial_download_is_resumed(server: LocalServer, data: Path, record: Path):
    source = (record / DECALS.lstrip("/")).read_bytes()
    data.mkdir(parents=True)
    part = data / "cnn_features_decals.parquet.part"
    part.write_bytes(source[:12345])
    reps = datasets.decals_representations(
        progress=False, checksum="md5:" + digest(record / DECALS.lstrip("/"))
    )
    assert len(reps) == N
    (request,) = gets(server, DECALS)
    assert request.headers["Range"] == "bytes=12345-"
    assert (data / "cnn_features_decals.parquet").read_bytes() == source
    assert not part.exists()


def test_a_complete_or_overlong_partial_file(server: LocalServer, data: Path, record: Path):
    source = (record / DECALS.lstrip("/")).read_bytes()
    data.mkdir(parents=True)
    part = data / "cnn_features_decals.parquet.part"
    part.write_bytes(source)  # complete, but the rename never happened
    assert len(datasets.decals_representations(progress=False)) == N
    (request,) = gets(server, DECALS)  # answered 416: nothing left to send
    assert request.headers["Range"] == f"bytes={len(source)}-"

    gz2 = (record / GZ2.lstrip("/")).read_bytes()
    part = data / "cnn_features_gz2.parquet.part"
    part.write_bytes(gz2 + b"trailing junk")  # longer than the file: downloaded again
    assert len(datasets.gz2_representations(progress=False)) == N
    assert len(gets(server, GZ2)) == 2
    assert (data / "cnn_features_gz2.parquet").read_bytes() == gz2


def test_an_interrupted_transfer_is_retried_from_where_it_stopped(
    server: LocalServer, data: Path, record: Path
):
    source = (record / CATALOGUE.lstrip("/")).read_bytes()
    server.truncate[CATALOGUE] = 1000  # the first response stops after 1000 bytes
    table = datasets.gz_decals_catalogue(progress=False)
    assert len(table) == len(range(0, N, 3))
    first, second = gets(server, CATALOGUE)
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=1000-"
    assert (data / "gz_decals_volunteers_5.csv").read_bytes() == source


def test_a_server_without_range_support_restarts_the_download(
    record: Path, data: Path, monkeypatch: pytest.MonkeyPatch
):
    source = (record / DECALS.lstrip("/")).read_bytes()
    data.mkdir(parents=True)
    part = data / "cnn_features_decals.parquet.part"
    part.write_bytes(b"stale bytes from another version of the file")
    with LocalServer(record, range_support=False) as plain:
        monkeypatch.setenv("GALWIDGET_ZENODO_URL", plain.url + "/files")
        reps = datasets.decals_representations(progress=False)
        (request,) = gets(plain, DECALS)
    assert (
        request.headers["Range"] == f"bytes={len(b'stale bytes from another version of the file')}-"
    )
    assert len(reps) == N
    assert (data / "cnn_features_decals.parquet").read_bytes() == source


def test_offline_errors_say_where_to_put_the_file(data: Path, monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/files"
    monkeypatch.setenv("GALWIDGET_ZENODO_URL", base)
    with pytest.raises(datasets.DownloadError) as error:
        datasets.decals_representations(progress=False)
    message = str(error.value)
    assert f"{base}/cnn_features_decals.parquet" in message
    assert str(data / "cnn_features_decals.parquet") in message
    assert "by hand" in message

    with pytest.raises(datasets.DownloadError, match="download=False") as error:
        datasets.gz2_representations(download=False)
    assert str(data / "cnn_features_gz2.parquet") in str(error.value)


def test_the_default_urls_are_the_zenodo_records(data: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GALWIDGET_ZENODO_URL", raising=False)
    with pytest.raises(datasets.DownloadError) as error:
        datasets.decals_representations(download=False)
    assert "https://zenodo.org/records/5536995/files/cnn_features_decals.parquet?download=1" in str(
        error.value
    )
    with pytest.raises(datasets.DownloadError) as error:
        datasets.gz_decals_catalogue(download=False)
    assert "https://zenodo.org/records/4573248/files/gz_decals_volunteers_5.csv?download=1" in str(
        error.value
    )


def test_http_errors(server: LocalServer, data: Path):
    server.fail[DECALS] = 404
    with pytest.raises(datasets.DownloadError, match="HTTP 404"):
        datasets.decals_representations(progress=False)
    assert len(gets(server, DECALS)) == 1  # a missing file is not retried

    server.fail[GZ2] = 503
    with pytest.raises(datasets.DownloadError, match="HTTP 503"):
        datasets.gz2_representations(progress=False)
    assert len(gets(server, GZ2)) == zenodo.ATTEMPTS  # server errors are retried, a few times
    assert not (data / "cnn_features_gz2.parquet").exists()


def test_an_explicit_url_and_path(server: LocalServer, tmp_path: Path):
    target = tmp_path / "mine" / "decals.parquet"
    reps = datasets.decals_representations(
        url=server.url + GZ2, path=target, progress=False, id_column="id_str"
    )
    assert target.is_file() and len(reps) == N
    assert len(gets(server, GZ2)) == 1 and gets(server, DECALS) == []


def test_progress_bars(server: LocalServer, data: Path, capsys: pytest.CaptureFixture[str]):
    datasets.gz_decals_catalogue(progress=False)
    assert capsys.readouterr().err == ""
    datasets.gz_decals_catalogue(path=data / "again.csv", progress=True)
    assert "downloading again.csv" in capsys.readouterr().err
    datasets.gz_decals_catalogue(path=data / "small.csv")  # small files: no bar by default
    assert capsys.readouterr().err == ""


def test_large_downloads_show_progress_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    served = tmp_path / "served"
    served.mkdir()
    payload = np.random.default_rng(3).bytes(zenodo.PROGRESS_MIN_BYTES + 1)
    (served / "big.bin").write_bytes(payload)
    with LocalServer(served) as big:
        zenodo._download(big.url + "/big.bin", tmp_path / "big.bin", None, progress=None)
    error = capsys.readouterr().err
    assert "downloading big.bin" in error and "100%" in error
    assert (tmp_path / "big.bin").read_bytes() == payload


def test_catalogue_columns_and_join(server: LocalServer, data: Path):
    wanted = ["ra", "smooth-or-featured_featured-or-disk_fraction"]
    table = datasets.gz_decals_catalogue(columns=wanted, progress=False)
    assert list(table.columns) == ["iauname", *wanted]
    assert table["iauname"].str.startswith("J").all()
    with pytest.raises(gw.DataError, match="'bar_strong_fraction'"):
        datasets.gz_decals_catalogue(columns=["bar_strong_fraction"])

    reps = datasets.decals_representations(progress=False)
    with pytest.warns(UserWarning, match="have no catalogue row"):
        joined = reps.join(datasets.gz_decals_catalogue(), on="iauname")
    fractions = joined.meta["smooth-or-featured_featured-or-disk_fraction"]
    assert fractions.notna().sum() == len(table)
    assert fractions.iloc[::3].notna().all()


def test_png_root_remaps_png_loc_to_a_local_image_folder(tmp_path: Path, shared_data: Path) -> None:
    pngs = sorted((shared_data / "gz_decals_dr5_example_pngs").glob("J*.png"))[:6]
    names = [p.stem for p in pngs]
    frame = pd.DataFrame(
        {
            "iauname": names,
            # As in the Zenodo file: absolute paths on the authors' disks.
            "png_loc": [f"/share/nas/walml/decals/dr5/png/{n[:4]}/{n}.png" for n in names],
        }
    )
    for i in range(4):
        frame[f"feat_{i}_pred"] = np.arange(len(names), dtype=np.float64) * (i + 1)
    frame.to_parquet(tmp_path / "cnn_features_decals.parquet")
    root = tmp_path / "gz_decals_png"
    for png in pngs[:5]:  # the sixth image is missing from the local copy
        (root / png.stem[:4]).mkdir(parents=True, exist_ok=True)
        (root / png.stem[:4] / png.name).write_bytes(png.read_bytes())

    reps = datasets.decals_representations(
        path=tmp_path / "cnn_features_decals.parquet", download=False, png_root=root
    )
    assert reps.meta["png_loc"].iloc[0] == f"{names[0][:4]}/{names[0]}.png"
    source = gw.images.resolve(None, reps, size=64)
    assert source.kind == "bytes"
    data, mime = source.fetch(0)
    assert mime.startswith("image/") and len(data) > 100
    with pytest.raises(gw.images.ImageError, match=f"file not found: .*{names[5]}.png"):
        source.fetch(5)
    with pytest.raises(gw.DataError, match="is not a folder"):
        datasets.with_local_pngs(reps, tmp_path / "nowhere")
