"""The Explorer's side of issue 19: selections by polygon and the last lasso, legend filters,
exports from the page, and tables whose only representation is a precomputed 2-D map."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from polygons import distance_to_boundary, inside_polygon

import galwidget as gw
from galwidget import protocol

N = 400


def request(w: gw.Explorer, kind: str, **params: Any) -> tuple[dict, list[bytes]]:
    return w._reply({"type": "request", "kind": kind, "request": 1, **params})


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": [f"g{i}" for i in range(N)],
            "x": rng.normal(10.0, 4.0, N),  # a layout far from [-1, 1], with a shape of its own
            "y": rng.normal(-3.0, 1.0, N),
            "kind": rng.choice(["ring", "spiral", "edge-on"], N),
            "mag": rng.uniform(14, 18, N),
            **{f"feat_{i}": rng.normal(size=N) for i in range(6)},
        }
    )


@pytest.fixture
def w(table: pd.DataFrame) -> gw.Explorer:
    return gw.Explorer(
        table, layout=("x", "y"), classes=["ring", "other"], remember_selection=False
    )


def test_select_by_polygon_takes_what_is_inside_in_layout_coordinates(w, table):
    points = table[["x", "y"]].to_numpy()
    polygon = [(6.0, -4.0), (14.0, -4.5), (15.0, -2.0), (9.0, -1.0), (5.0, -2.5)]
    assert distance_to_boundary(points, polygon).min() > 1e-6
    w.select(polygon=polygon)
    expected = np.flatnonzero(inside_polygon(points, polygon))
    assert 20 < len(expected) < N - 20
    np.testing.assert_array_equal(w.selection, expected)
    assert list(table.loc[table["selected"], "id"]) == list(table["id"][expected])
    # A concave polygon (a U): its notch is outside.
    u = [(4, -6), (16, -6), (16, 0), (13, 0), (13, -4), (7, -4), (7, 0), (4, 0)]
    w.select(polygon=u)
    np.testing.assert_array_equal(w.selection, np.flatnonzero(inside_polygon(points, u)))


def test_select_by_polygon_acts_only_on_the_galaxies_a_filter_shows(w, table):
    w.filter(kind=["ring"], mode="hide")
    w.select(polygon=[(-100, -100), (100, -100), (100, 100), (-100, 100)])
    np.testing.assert_array_equal(w.selection, np.flatnonzero(table["kind"] == "ring"))


@pytest.mark.parametrize(
    ("what", "polygon", "message"),
    [
        (None, [(0, 0), (1, 1)], "at least three"),
        (None, [(0, 0), (1, np.nan), (2, 0)], "finite"),
        (None, "not a polygon", "list of"),
        ("g1", [(0, 0), (1, 0), (0, 1)], "not both"),
    ],
)
def test_a_bad_polygon_is_refused_and_the_selection_kept(w, what, polygon, message):
    w.select(["g3", "g5"])
    with pytest.raises(gw.DataError, match=message):
        w.select(what, polygon=polygon)
    assert list(w.selected_ids) == ["g3", "g5"]


def test_the_last_lasso_is_kept_in_layout_coordinates_and_replays(w, table):
    assert w.lasso_polygon is None
    drawn = np.frombuffer(w._points, "<f4").reshape(-1, 2).astype(np.float64)
    # A lasso the page drew around the drawn points' lower-left quarter (in _points' space).
    lasso = [-0.9, -0.9, 0.05, -0.9, 0.05, 0.05, -0.9, 0.05]
    content, _ = request(w, "lasso", polygon=lasso)
    assert content["ok"] and content["vertices"] == 4
    in_drawn = np.flatnonzero(inside_polygon(drawn, np.reshape(lasso, (-1, 2))))
    polygon = w.lasso_polygon
    assert polygon.shape == (4, 2)
    # In the layout's own coordinates: around the same galaxies of table x, y.
    points = table[["x", "y"]].to_numpy()
    np.testing.assert_array_equal(np.flatnonzero(inside_polygon(points, polygon)), in_drawn)
    w.select(polygon=polygon)
    np.testing.assert_array_equal(w.selection, in_drawn)
    content, _ = request(w, "lasso", polygon=[0.0, 0.0, 1.0])
    assert not content["ok"] and "three" in content["reason"]
    assert w.lasso_polygon.shape == (4, 2)  # kept as it was


def test_legend_clicks_show_only_or_hide_a_category_and_clear(w, table):
    content, _ = request(w, "filter_category", column="kind", category="ring", only=True)
    assert content["ok"] and content["shown"] == (table["kind"] == "ring").sum()
    assert set(table.set_index("id").loc[w.shown, "kind"]) == {"ring"}
    assert w._filter_meta["mode"] == "hide"
    request(w, "filter_category", column="kind", category="ring", only=False)
    assert set(table.set_index("id").loc[w.shown, "kind"]) == {"spiral", "edge-on"}
    request(w, "filter_category", column="kind", category="spiral", only=False)  # adds up
    assert set(table.set_index("id").loc[w.shown, "kind"]) == {"edge-on"}
    # Hiding the one category shown shows the others instead.
    request(w, "filter_category", column="kind", category="edge-on", only=False)
    assert set(table.set_index("id").loc[w.shown, "kind"]) == {"ring", "spiral"}
    content, _ = request(w, "filter_category", column="", category=None, only=False)
    assert content["ok"] and len(w.shown) == N and w._filter == b""
    content, _ = request(w, "filter_category", column="nope", category="a", only=True)
    assert not content["ok"] and "nope" in content["reason"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_export_gives_the_selection_and_the_labels_as_python_has_them(w, kind):
    w.select(["g2", "g7", "g9"])
    w.set_labels({"g2": "ring", "g4": "other"})
    content, buffers = request(w, "export", what="selection", format=kind)
    assert content["ok"] and content["rows"] == 3
    assert content["filename"] == f"galwidget-selection.{kind}"
    read = pd.read_csv if kind == "csv" else pd.read_parquet
    exported = read(io.BytesIO(buffers[0]))
    expected = w.selected
    if kind == "csv":  # the ids are a column of the table already: no index column
        expected = expected.reset_index(drop=True)
    pd.testing.assert_frame_equal(exported, expected, check_index_type=False, check_dtype=False)
    content, buffers = request(w, "export", what="labels", format=kind)
    labels = read(io.BytesIO(buffers[0]))
    if kind == "csv":
        labels = labels.set_index("id")
    assert labels["label"].to_dict() == {"g2": "ring", "g4": "other"}


def test_an_export_too_large_for_a_message_says_what_to_do_instead(w, monkeypatch):
    w.select(list(w.representations.ids))
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 1000)
    content, _ = request(w, "export", what="selection", format="csv")
    assert not content["ok"] and "w.selected.to_csv(path)" in content["reason"]


def test_a_table_of_a_2d_map_and_a_catalogue_searches_neighbors_in_the_map():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "id_str": [f"{i}_1" for i in range(300)],
            "pca_0": rng.normal(size=300),
            "pca_1": rng.normal(size=300),
            "ra": rng.uniform(0, 360, 300),
            "dec": rng.uniform(-30, 30, 300),
        }
    )
    # pca_<i> is a numbered family, so the map's two columns are the features (issue 18) ...
    assert gw.load_representations(table).n_features == 2
    plain = table.rename(columns={"pca_0": "x", "pca_1": "y"})  # no numbered family at all
    with pytest.raises(gw.DataError, match="numeric columns are: 'x', 'y', 'ra', 'dec'"):
        gw.Explorer(plain, remember_selection=False)
    assert (
        gw.Explorer(plain, layout=("x", "y"), remember_selection=False)._config["neighbor_space"]
        == "layout"
    )
    # ... and the panel says the neighbors come from the 2-D map.
    w = gw.Explorer(table, layout=("pca_0", "pca_1"), k=5, remember_selection=False)
    assert w._config["neighbor_space"] == "layout"
    w.focus("7_1")
    xy = table[["pca_0", "pca_1"]].to_numpy()
    distance = np.hypot(*(xy - xy[7]).T)
    distance[7] = np.inf
    assert list(w.neighbors["id"]) == list(table["id_str"][np.argsort(distance)[:5]])
    with_features = gw.Explorer(
        table.assign(feat_0=1.0 * np.arange(300), feat_1=0.0),
        layout=("pca_0", "pca_1"),
        remember_selection=False,
    )
    assert with_features._config["neighbor_space"] == "features"


def test_the_real_desi_map_with_only_pca_0_pca_1_ra_dec_works(shared_data):
    table = pd.read_parquet(shared_data / "galaxy_explorer_desi_50k_pca2" / "50k_pca_2n.parquet")
    w = gw.Explorer(table, layout=("pca_0", "pca_1"), k=8, remember_selection=False)
    assert w._config["neighbor_space"] == "layout" and len(w.representations) == 50_000
    w.focus(str(table["id_str"][123]))
    neighbors = w.neighbors
    assert len(neighbors) == 8 and str(table["id_str"][123]) not in set(neighbors["id"])
    assert (np.diff(neighbors["distance"]) >= 0).all()


def test_the_large_view_gets_images_at_its_own_size(tmp_path) -> None:
    from PIL import Image

    reps = gw.datasets.synthetic(n=200, seed=3)  # thumbnails rendered in the kernel
    w = gw.Explorer(reps)
    try:
        sizes = {}
        for kind in ("thumbnail", "image"):
            content, buffers = w._reply(
                {"type": "request", "kind": kind, "request": 1, "position": 5}
            )
            assert content["ok"], content
            sizes[kind] = Image.open(io.BytesIO(buffers[0])).size
        assert sizes == {"thumbnail": (128, 128), "image": (424, 424)}
    finally:
        w.close()
    urls = gw.Explorer(reps, images="https://example.org/{iauname}.jpg")
    try:
        content, _ = urls._reply({"type": "request", "kind": "image", "request": 1, "position": 5})
        galaxy = reps.ids[5].replace("+", "%2B")  # URL-encoded as the thumbnails' URLs are
        assert content["url"] == f"https://example.org/{galaxy}.jpg"
    finally:
        urls.close()
