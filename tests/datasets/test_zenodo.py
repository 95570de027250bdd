"""Downloading the real data sets, against a real HTTP server on 127.0.0.1 serving Zenodo-schema
files (GALWIDGET_ZENODO_URL points galwidget at it, as a mirror would)."""

from __future__ import annotations

import hashlib
import json
import os
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
    catalogue.drop(columns=["iauname"]).to_csv(files / "plain.csv", index=False)
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


def digest_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def gets(server: LocalServer, path: str) -> list:
    return [r for r in server.requests_for(path) if r.method == "GET"]


def first_etag(server: LocalServer, record: Path) -> str:
    info = (record / DECALS.lstrip("/")).stat()
    return f'"{info.st_size:x}-{info.st_mtime_ns:x}"'


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
    source = record / DECALS.lstrip("/")
    again = datasets.decals_representations(progress=False, checksum="md5:" + digest(source))
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
    with pytest.raises(gw.DownloadError) as error:
        datasets.gz_decals_catalogue(checksum=wrong)
    message = str(error.value)
    assert "checksum mismatch" in message and wrong in message
    assert digest(record / CATALOGUE.lstrip("/")) in message
    bad = data / "gz_decals_volunteers_5.csv.bad"
    assert not catalogue.exists(), "a file that fails its checksum must not be used"
    assert bad.read_bytes() == (record / CATALOGUE.lstrip("/")).read_bytes()
    assert str(bad) in message and "Calling again downloads the file afresh" in message

    right = "md5:" + digest(record / CATALOGUE.lstrip("/")).upper()
    table = datasets.gz_decals_catalogue(checksum=right)
    assert len(table) == len(range(0, N, 3))
    assert len(gets(server, CATALOGUE)) == 2
    assert not catalogue.with_name(catalogue.name + ".part").exists()

    # A file already in place is checked too, when a checksum is given; no bad file is replaced.
    with pytest.raises(gw.DownloadError, match="checksum mismatch") as error:
        datasets.gz_decals_catalogue(checksum=wrong)
    assert not catalogue.exists() and bad.is_file()
    assert f"moved to {bad}.1" in str(error.value) and Path(f"{bad}.1").is_file()
    assert len(gets(server, CATALOGUE)) == 2


def test_malformed_checksums_are_refused_before_downloading(server: LocalServer, data: Path):
    for checksum in ("md5:abc", "crc32:0000", "0" * 32, "sha256:" + "z" * 64):
        with pytest.raises(gw.DataError, match="checksum must look like"):
            datasets.decals_representations(checksum=checksum)
    assert server.requests == []


def test_a_partial_download_is_resumed_when_the_server_proves_it_unchanged(
    server: LocalServer, data: Path, record: Path, monkeypatch: pytest.MonkeyPatch
):
    source = (record / DECALS.lstrip("/")).read_bytes()
    monkeypatch.setattr(zenodo, "ATTEMPTS", 1)
    server.truncate[DECALS] = 12345  # the first session is interrupted
    with pytest.raises(gw.DownloadError, match="will be resumed"):
        datasets.decals_representations(progress=False)
    part = data / "cnn_features_decals.parquet.part"
    assert part.stat().st_size == 12345
    reps = datasets.decals_representations(progress=False, checksum="md5:" + digest_of(source))
    assert len(reps) == N
    _, second = gets(server, DECALS)
    assert second.headers["Range"] == "bytes=12345-"
    assert second.headers["If-Range"] == first_etag(server, record)
    assert (data / "cnn_features_decals.parquet").read_bytes() == source
    assert not part.exists() and not part.with_name(part.name + ".json").exists()


def test_a_part_of_unknown_origin_is_never_resumed(server: LocalServer, data: Path, record: Path):
    source = (record / DECALS.lstrip("/")).read_bytes()
    data.mkdir(parents=True)
    part = data / "cnn_features_decals.parquet.part"
    part.write_bytes(source[:5000])  # no record of which version of the file it holds
    assert len(datasets.decals_representations(progress=False)) == N
    (request,) = gets(server, DECALS)
    assert "Range" not in request.headers  # downloaded afresh, not spliced
    assert (data / "cnn_features_decals.parquet").read_bytes() == source


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
    monkeypatch.setattr(zenodo, "ATTEMPTS", 1)
    with LocalServer(record, range_support=False) as plain:
        monkeypatch.setenv("GALWIDGET_ZENODO_URL", plain.url + "/files")
        plain.truncate[DECALS] = 3000
        with pytest.raises(gw.DownloadError):
            datasets.decals_representations(progress=False)
        reps = datasets.decals_representations(progress=False)
        _, second = gets(plain, DECALS)
    assert second.headers["Range"] == "bytes=3000-"  # asked, but the whole file came (200)
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
    rows = "".join(f"g{i},{i}\n" for i in range(zenodo.PROGRESS_MIN_BYTES // 8))
    payload = ("id,x\n" + rows).encode()
    (served / "big.csv").write_bytes(payload)
    with LocalServer(served) as big:
        zenodo._download(
            big.url + "/big.csv", tmp_path / "big.csv", None, None, zenodo.Expected("CSV")
        )
    error = capsys.readouterr().err
    assert "downloading big.csv" in error and "100%" in error
    assert (tmp_path / "big.csv").read_bytes() == payload


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


# ----------------------------------------------------------------------------------------------
# Nothing invalid ever becomes the final file
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "reason"), [(DECALS, "is truncated"), (CATALOGUE, "cut short")])
def test_a_body_that_ends_early_without_content_length_is_not_kept(
    server: LocalServer, data: Path, record: Path, path: str, reason: str
):
    source = (record / path.lstrip("/")).read_bytes()
    server.unannounced[path] = len(source) // 2 + 7  # no Content-Length: looks complete
    fetch = datasets.decals_representations if path == DECALS else datasets.gz_decals_catalogue
    with pytest.raises(gw.DownloadError, match=reason) as error:
        fetch(progress=False)
    name = Path(path).name
    assert not (data / name).exists()
    bad = data / f"{name}.bad"
    assert bad.read_bytes() == source[: len(source) // 2 + 7]
    assert str(bad) in str(error.value) and "Calling again" in str(error.value)
    assert len(fetch(progress=False)) > 0  # called again: downloaded afresh
    assert (data / name).read_bytes() == source


def test_a_captive_portal_page_is_not_kept(server: LocalServer, data: Path, record: Path):
    page = b"<!DOCTYPE html><html><body><form>Accept the terms to use the Wi-Fi</form></html>"
    server.canned[CATALOGUE] = (200, "text/html; charset=utf-8", page)
    data.mkdir(parents=True)
    part = data / "gz_decals_volunteers_5.csv.part"
    part.write_bytes(b"iauname,ra\n")  # an earlier partial download is left alone
    with pytest.raises(gw.DownloadError, match=r"HTML page .*captive portal") as error:
        datasets.gz_decals_catalogue(progress=False)
    assert (data / "gz_decals_volunteers_5.csv.bad").read_bytes() == page
    assert str(data / "gz_decals_volunteers_5.csv.bad") in str(error.value)
    assert not (data / "gz_decals_volunteers_5.csv").exists()
    assert part.read_bytes() == b"iauname,ra\n"
    assert len(gets(server, CATALOGUE)) == 1  # a portal is not retried

    # The same page without an HTML content type is caught by validation.
    server.canned[CATALOGUE] = (200, "application/octet-stream", page)
    with pytest.raises(gw.DownloadError, match="it is an HTML page"):
        datasets.gz_decals_catalogue(progress=False)
    assert not (data / "gz_decals_volunteers_5.csv").exists()


@pytest.mark.parametrize(
    ("validators", "honour_if_range"), [(True, True), (False, True), (True, False)]
)
def test_a_resume_is_never_spliced_onto_another_version(
    tmp_path: Path,
    data: Path,
    record: Path,
    monkeypatch: pytest.MonkeyPatch,
    validators: bool,
    honour_if_range: bool,
):
    served = tmp_path / "served"
    (served / "files").mkdir(parents=True)
    file = served / DECALS.lstrip("/")
    datasets.write_zenodo_like(file, n=N, dim=DIM, seed=5)
    monkeypatch.setattr(zenodo, "ATTEMPTS", 1)
    with LocalServer(served, validators=validators) as mirror:
        mirror.honour_if_range = honour_if_range
        monkeypatch.setenv("GALWIDGET_ZENODO_URL", mirror.url + "/files")
        mirror.truncate[DECALS] = 20000
        with pytest.raises(gw.DownloadError):
            datasets.decals_representations(progress=False)
        # A new version of the file is published before the download is resumed.
        datasets.write_zenodo_like(file, n=N, dim=DIM, seed=6)
        os.utime(file, ns=(10**18, 10**18))
        new = file.read_bytes()
        if not honour_if_range:  # it resumes from the new version: noticed, started afresh
            monkeypatch.setattr(zenodo, "ATTEMPTS", 2)
        datasets.decals_representations(progress=False)
        requests = gets(mirror, DECALS)
    if validators:  # asked with If-Range and the old ETag: the server sent the new file whole
        assert requests[1].headers["Range"] == "bytes=20000-" and requests[1].headers["If-Range"]
    else:  # nothing proves the part is of the same version: not resumed
        assert "Range" not in requests[1].headers
    if not honour_if_range:
        assert len(requests) == 3 and "Range" not in requests[2].headers
    assert (data / "cnn_features_decals.parquet").read_bytes() == new


def test_gzip_content_encoding_is_decoded(server: LocalServer, data: Path, record: Path):
    server.gzip.add(CATALOGUE)
    table = datasets.gz_decals_catalogue(progress=False)
    assert len(table) == len(range(0, N, 3))
    source = (record / CATALOGUE.lstrip("/")).read_bytes()
    assert (data / "gz_decals_volunteers_5.csv").read_bytes() == source
    (request,) = gets(server, CATALOGUE)
    assert request.headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html><body>Service unavailable</body></html>", "it is an HTML page"),
        (b"", "it is empty"),
        ("half", "it is truncated"),
        ("catalogue", "no feature columns found"),
    ],
)
def test_a_bad_file_in_place_is_moved_aside(
    server: LocalServer, data: Path, record: Path, content: bytes | str, reason: str
):
    source = (record / DECALS.lstrip("/")).read_bytes()
    target = data / "cnn_features_decals.parquet"
    data.mkdir(parents=True)
    if content == "catalogue":
        pd.DataFrame({"iauname": ["J000000.00+000000.0"], "ra": [0.0]}).to_parquet(target)
    else:
        target.write_bytes(source[: len(source) // 2] if content == "half" else content)
    placed = target.read_bytes()
    with pytest.raises(gw.DownloadError, match=reason) as error:
        datasets.decals_representations(download=False)
    message = str(error.value)
    bad = data / "cnn_features_decals.parquet.bad"
    assert f"moved to {bad}" in message and "Call again with download=True" in message
    assert bad.read_bytes() == placed and not target.exists()
    assert server.requests == []
    assert len(datasets.decals_representations(progress=False)) == N
    assert target.read_bytes() == source


def test_the_expected_schema_is_checked(server: LocalServer, data: Path, tmp_path: Path):
    with pytest.raises(gw.DownloadError, match="id column 'objid' not found") as error:
        datasets.gz2_representations(progress=False, id_column="objid")
    assert not (data / "cnn_features_gz2.parquet").exists()
    assert (data / "cnn_features_gz2.parquet.bad").is_file()
    assert "is not valid" in str(error.value)
    with pytest.raises(gw.DownloadError, match="it has no column 'iauname'"):
        datasets.gz_decals_catalogue(url=server.url + "/files/plain.csv", path=tmp_path / "c.csv")


def test_a_complete_part_with_its_record_is_installed_without_downloading_again(
    server: LocalServer, data: Path, record: Path
):
    source = (record / DECALS.lstrip("/")).read_bytes()
    data.mkdir(parents=True)
    part = data / "cnn_features_decals.parquet.part"
    part.write_bytes(source)  # complete, but the rename never happened
    url = f"{server.url}/files/cnn_features_decals.parquet"
    fields = {"url": url, "etag": first_etag(server, record), "total": len(source)}
    part.with_name(part.name + ".json").write_text(json.dumps(fields))
    assert len(datasets.decals_representations(progress=False)) == N
    (request,) = gets(server, DECALS)  # answered 416: nothing left to send
    assert request.headers["Range"] == f"bytes={len(source)}-"
    assert (data / "cnn_features_decals.parquet").read_bytes() == source
    assert not part.exists() and not part.with_name(part.name + ".json").exists()
