"""Linked bqplot views, driven through the same widget state messages the browser sends (the\nbrowser side of bqplot-gl's lasso on ScatterGL is exercised in tests/browser/test_hosts.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from bqplot_gl import ScatterGL
from polygons import inside_polygon

import galwidget as gw
from galwidget import views

COLUMN = "rings_yes_fraction"
# A concave (arrow-shaped) lasso in (ra, dec) degrees.
LASSO = np.array([[40.0, -10.0], [200.0, -15.0], [120.0, 5.0], [210.0, 30.0], [60.0, 25.0]])


@pytest.fixture(scope="module")
def reps() -> gw.Representations:
    return gw.datasets.synthetic(n=3000, seed=0, dim=32)


@pytest.fixture
def explorer(reps: gw.Representations) -> gw.Explorer:
    widget = gw.Explorer(reps, layout=("ra", "dec"))
    yield widget
    widget.close()


def from_browser(widget: Any, **state: Any) -> None:
    """Apply ``state`` as the front end's update message would (serialised, then set_state)."""
    widget.set_state(
        {
            name: widget.trait_metadata(name, "to_json", widget._trait_to_json)(value, widget)
            for name, value in state.items()
        }
    )


def brush_range(figure: Any, low: float, high: float) -> None:
    """Drag a histogram brush over ``[low, high]`` and release it."""
    from_browser(figure.interaction, brushing=True)
    from_browser(figure.interaction, selected=np.array([low, high]))
    from_browser(figure.interaction, brushing=False)


def lasso(figure: Any, polygon: np.ndarray) -> np.ndarray:
    """Draw ``polygon`` with the lasso: the browser marks the points of the lasso's (invisible
    SVG) scatter inside it."""
    proxy = figure.marks[1]
    enclosed = np.flatnonzero(inside_polygon(np.column_stack([proxy.x, proxy.y]), polygon))
    from_browser(proxy, selected=enclosed)
    return enclosed


# -- histogram -------------------------------------------------------------------------------------


def test_histogram_bins_every_galaxy(explorer: gw.Explorer, reps: gw.Representations) -> None:
    figure = views.histogram(explorer, COLUMN, bins=25)
    values = reps.meta[COLUMN].to_numpy(dtype=np.float64)
    counts, edges = np.histogram(values, bins=25)
    all_bars, selected_bars = figure.marks
    np.testing.assert_array_equal(all_bars.y, counts)
    np.testing.assert_allclose(all_bars.x, (edges[:-1] + edges[1:]) / 2)
    np.testing.assert_array_equal(selected_bars.y, np.zeros(25))
    assert figure.title == COLUMN


def test_brush_selects_the_galaxies_in_its_range(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    figure = views.histogram(explorer, COLUMN)
    values = reps.meta[COLUMN].to_numpy(dtype=np.float64)
    from_browser(figure.interaction, brushing=True)
    from_browser(figure.interaction, selected=np.array([0.3, 0.6]))
    assert len(explorer.selected_ids) == 0, "nothing is selected while the brush is dragged"
    from_browser(figure.interaction, brushing=False)
    expected = reps.ids[(values >= 0.3) & (values <= 0.6)]
    assert 0 < len(expected) < len(reps)
    assert explorer.selected_ids.equals(expected)
    # A brush dragged right-to-left gives the same range.
    brush_range(figure, 0.5, 0.1)
    assert explorer.selected_ids.equals(reps.ids[(values >= 0.1) & (values <= 0.5)])


def test_selection_is_highlighted_per_bin(explorer: gw.Explorer, reps: gw.Representations) -> None:
    figure = views.histogram(explorer, "redshift", bins=30)
    values = reps.meta["redshift"].to_numpy(dtype=np.float64)
    edges = np.histogram_bin_edges(values, bins=30)
    chosen = np.random.default_rng(1).choice(len(reps), size=400, replace=False)
    explorer.select(reps.ids[chosen])
    np.testing.assert_array_equal(figure.marks[1].y, np.histogram(values[chosen], edges)[0])
    explorer.select("morphology == 'ring'")
    ring = (reps.meta["morphology"] == "ring").to_numpy()
    np.testing.assert_array_equal(figure.marks[1].y, np.histogram(values[ring], edges)[0])
    explorer.select(None)
    assert not np.any(figure.marks[1].y)


def test_brush_selects_once_and_linked_views_only_highlight(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    changes: list[pd.Index] = []
    explorer.on_select(changes.append)
    first = views.histogram(explorer, COLUMN)
    second = views.histogram(explorer, "redshift")
    scatter = views.scatter_plot(explorer, "ra", "dec")
    brush_range(first, 0.2, 0.4)
    assert len(changes) == 1, "one brush release makes exactly one selection change"
    values = reps.meta[COLUMN].to_numpy(dtype=np.float64)
    selected = (values >= 0.2) & (values <= 0.4)
    redshift = reps.meta["redshift"].to_numpy(dtype=np.float64)
    edges = np.histogram_bin_edges(redshift, bins=40)
    np.testing.assert_array_equal(second.marks[1].y, np.histogram(redshift[selected], edges)[0])
    np.testing.assert_array_equal(scatter.marks[0].selected, np.flatnonzero(selected))
    assert len(changes) == 1


def test_clearing_the_brush_clears_only_its_own_selection(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    figure = views.histogram(explorer, COLUMN)
    brush_range(figure, 0.2, 0.4)
    assert len(explorer.selected_ids) > 0
    from_browser(figure.interaction, selected=None)
    assert len(explorer.selected_ids) == 0

    brush_range(figure, 0.2, 0.4)
    elsewhere = reps.ids[:10]
    explorer.select(elsewhere)
    from_browser(figure.interaction, selected=None)
    assert explorer.selected_ids.equals(elsewhere), "a selection made elsewhere is kept"


def test_missing_values_are_left_out_and_counted(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    values = reps.meta["redshift"].to_numpy(dtype=np.float64)
    values[::10] = np.nan
    values[1] = np.inf
    figure = views.histogram(explorer, pd.Series(values, name="z_phot"), bins=20)
    finite = np.isfinite(values)
    np.testing.assert_array_equal(figure.marks[0].y, np.histogram(values[finite], bins=20)[0])
    assert figure.title == f"z_phot ({(~finite).sum():,} without a value left out)"
    assert figure.marks[0].tooltip.labels == ["z_phot", f"galaxies ({(~finite).sum():,} missing)"]
    brush_range(figure, float(np.nanmin(values[finite])), float(np.nanmax(values[finite])))
    assert explorer.selected_ids.equals(reps.ids[finite])


def test_series_indexed_by_id_is_aligned_by_id(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    values = reps.meta[COLUMN]
    shuffled = values.sample(frac=1.0, random_state=0)
    assert not shuffled.index.equals(reps.ids)
    figure = views.histogram(explorer, shuffled)
    brush_range(figure, 0.5, 1.0)
    assert explorer.selected_ids.equals(reps.ids[(values >= 0.5).to_numpy()])


def test_dataframe_selected_column_follows_the_brush(reps: gw.Representations) -> None:
    features = pd.DataFrame(reps.features, columns=[f"feat_{i}_pred" for i in range(32)])
    frame = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)
    explorer = gw.Explorer(frame, layout=("ra", "dec"))
    try:
        figure = views.histogram(explorer, "bar_strong_fraction")
        brush_range(figure, 0.4, 1.0)
        expected = (frame["bar_strong_fraction"] >= 0.4) & (frame["bar_strong_fraction"] <= 1.0)
        assert expected.any()
        assert frame["selected"].equals(expected.rename("selected"))
        from_browser(figure.interaction, selected=None)
        assert not frame["selected"].any()
    finally:
        explorer.close()


# -- scatter -------------------------------------------------------------------------------------


def test_lasso_selects_the_galaxies_inside(explorer: gw.Explorer, reps: gw.Representations) -> None:
    figure = views.scatter_plot(explorer, "ra", "dec")
    assert isinstance(figure.marks[0], ScatterGL)
    np.testing.assert_array_equal(figure.marks[0].x, reps.meta["ra"].to_numpy(dtype=np.float32))
    drawn = lasso(figure, LASSO)
    assert 0 < len(drawn) < len(reps)
    assert explorer.selected_ids.equals(reps.ids[drawn])
    np.testing.assert_array_equal(figure.marks[0].selected, drawn)


def test_selection_is_highlighted_in_the_scatter(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    figure = views.scatter_plot(explorer, "ra", "bar_strong_fraction", selector="brush")
    chosen = np.sort(np.random.default_rng(2).choice(len(reps), size=50, replace=False))
    explorer.select(reps.ids[chosen])
    np.testing.assert_array_equal(figure.marks[0].selected, chosen)
    explorer.select(None)
    assert figure.marks[0].selected is None


def test_clearing_the_lasso_clears_its_selection_and_keeps_others(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    figure = views.scatter_plot(explorer, "ra", "dec")
    lasso(figure, LASSO)
    from_browser(figure.marks[1], selected=None)  # the lasso is deleted
    assert len(explorer.selected_ids) == 0
    lasso(figure, LASSO)
    explorer.select(reps.ids[:5])
    from_browser(figure.marks[1], selected=np.array([], dtype=np.int64))
    assert explorer.selected_ids.equals(reps.ids[:5])
    np.testing.assert_array_equal(figure.marks[0].selected, np.arange(5))


def test_scatter_brush_selects_the_rectangle(
    explorer: gw.Explorer, reps: gw.Representations
) -> None:
    figure = views.scatter_plot(explorer, "ra", "dec", selector="brush")
    brush = figure.interaction
    from_browser(brush, brushing=True)
    from_browser(brush, selected_x=np.array([250.0, 100.0]), selected_y=np.array([-5.0, 20.0]))
    assert len(explorer.selected_ids) == 0
    from_browser(brush, brushing=False)
    ra, dec = reps.meta["ra"].to_numpy(), reps.meta["dec"].to_numpy()
    inside = (ra >= 100) & (ra <= 250) & (dec >= -5) & (dec <= 20)
    assert explorer.selected_ids.equals(reps.ids[inside])
    from_browser(brush, selected_x=None, selected_y=None)
    assert len(explorer.selected_ids) == 0


def test_large_scatter_draws_every_galaxy_and_lassoes_through_a_sample() -> None:
    reps = gw.datasets.synthetic(n=60_000, seed=0, dim=8)
    explorer = gw.Explorer(reps, layout=("ra", "dec"))
    try:
        ra = reps.meta["ra"].to_numpy(copy=True)
        ra[::5] = np.nan  # not drawn, never selected
        dec = reps.meta["dec"].to_numpy()
        valid = np.isfinite(ra)
        figure = views.scatter_plot(explorer, ra, "dec")
        scatter, proxy = figure.marks
        np.testing.assert_array_equal(scatter.x, ra[valid].astype(np.float32))
        assert len(proxy.x) == valid.sum(), "up to 50,000 points the lasso is exact"
        assert f"({(~valid).sum():,} without a value left out)" in figure.title

        small = views.scatter_plot(explorer, ra, "dec", max_lasso_points=5_000)
        assert len(small.marks[0].x) == valid.sum() and len(small.marks[1].x) == 5_000
        again = views.scatter_plot(explorer, ra, "dec", max_lasso_points=5_000)
        np.testing.assert_array_equal(again.marks[1].x, small.marks[1].x)
        enclosed = lasso(small, LASSO)
        truly_inside = inside_polygon(np.column_stack([ra, dec]), LASSO)  # NaN rows: outside
        selected = np.zeros(len(reps), dtype=bool)
        selected[explorer.selection] = True
        assert selected.sum() > 5 * len(enclosed), "unsampled galaxies inside the lasso join"
        assert not (selected & ~valid).any()
        # They follow their nearest sampled point: only the lasso's edge is approximate.
        recall = (selected & truly_inside).sum() / truly_inside.sum()
        precision = (selected & truly_inside).sum() / selected.sum()
        assert recall > 0.95 and precision > 0.95, (recall, precision)
        drawn_selected = np.flatnonzero(selected[valid])
        np.testing.assert_array_equal(small.marks[0].selected, drawn_selected)

        explorer.select(None)
        lasso(figure, LASSO)
        assert explorer.selected_ids.equals(reps.ids[truly_inside]), "exact on all 60,000"
    finally:
        explorer.close()


# -- live score views --------------------------------------------------------------------------


def test_score_views_exist_before_training_and_fill_in_after_each_retrain(
    reps: gw.Representations, tmp_path: Any
) -> None:
    explorer = gw.Explorer(
        reps, layout=("ra", "dec"), classes=["ring", "other"], labels={"path": tmp_path / "l.jsonl"}
    )
    try:
        histogram = explorer.histogram("score", bins=10)
        scatter = explorer.scatter_plot("redshift", "score")
        assert "no scores yet" in histogram.title and "no scores yet" in scatter.title
        assert not np.any(histogram.marks[0].y) and len(scatter.marks[0].x) == 0
        explorer.select(reps.ids[:100])
        assert not np.any(histogram.marks[1].y) and len(scatter.marks[0].selected) == 0

        ring = (reps.meta["morphology"] == "ring").to_numpy()
        labels = dict.fromkeys(reps.ids[ring][:20], "ring")
        labels.update(dict.fromkeys(reps.ids[~ring][:20], "other"))
        explorer.set_labels(labels)
        trained = []  # the public hook the score views use: scores are current when it runs
        explorer.on_train(lambda: trained.append(explorer.scores.copy()))
        assert explorer.retrain().result(timeout=60) is not None
        scores = explorer.scores.to_numpy()
        assert trained and np.array_equal(trained[-1].to_numpy(), scores)
        assert histogram.title == "score" and scatter.title == "score vs redshift"
        assert int(histogram.marks[0].y.sum()) == len(reps)
        edges = np.histogram_bin_edges(scores, bins=10)
        np.testing.assert_array_equal(histogram.marks[1].y, np.histogram(scores[:100], edges)[0])
        np.testing.assert_array_equal(scatter.marks[0].y, scores.astype(np.float32))
        np.testing.assert_array_equal(scatter.marks[0].selected, np.arange(100))

        brush_range(histogram, 0.5, 1.0)  # brushing selects on the current scores
        assert explorer.selected_ids.equals(reps.ids[scores >= 0.5])
        explorer.set_labels(dict.fromkeys(reps.ids[ring][20:40], "ring"))
        assert explorer.retrain().result(timeout=60) is not None
        rescored = explorer.scores.to_numpy()
        assert not np.array_equal(rescored, scores)
        np.testing.assert_array_equal(scatter.marks[0].y, rescored.astype(np.float32))
        edges = np.histogram_bin_edges(rescored, bins=10)
        np.testing.assert_array_equal(histogram.marks[0].y, np.histogram(rescored, edges)[0])
        assert explorer.selected_ids.equals(reps.ids[scores >= 0.5]), "a retrain keeps it"
    finally:
        explorer.close()


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_column_lists_the_numeric_ones(explorer: gw.Explorer) -> None:
    with pytest.raises(gw.DataError, match="no column 'ring_fraction'") as error:
        views.histogram(explorer, "ring_fraction")
    assert "rings_yes_fraction" in str(error.value)
    assert "morphology" not in str(error.value)
    with pytest.raises(gw.DataError, match="no column 'decl' for y"):
        views.scatter_plot(explorer, "ra", "decl")


@pytest.mark.parametrize("column", ["morphology", "is_ring", "iauname"])
def test_non_numeric_column_is_named(explorer: gw.Explorer, column: str) -> None:
    with pytest.raises(gw.DataError, match=f"column '{column}' is not numeric"):
        views.histogram(explorer, column)


def test_bad_arrays_and_options_are_refused(explorer: gw.Explorer) -> None:
    n = len(explorer.representations)
    with pytest.raises(gw.DataError, match=f"one value per galaxy \\({n}\\), got shape \\(10,\\)"):
        views.histogram(explorer, np.arange(10.0))
    with pytest.raises(gw.DataError, match="must be numbers, got dtype"):
        views.histogram(explorer, np.array(["a"] * n))
    with pytest.raises(gw.DataError, match="no finite values"):
        views.histogram(explorer, np.full(n, np.nan))
    with pytest.raises(gw.DataError, match="bins must be a positive integer, got 0"):
        views.histogram(explorer, "ra", bins=0)
    with pytest.raises(gw.DataError, match="selector must be 'lasso' or 'brush'"):
        views.scatter_plot(explorer, "ra", "dec", selector="circle")  # type: ignore[arg-type]
    with pytest.raises(gw.DataError, match="max_lasso_points must be a positive integer"):
        views.scatter_plot(explorer, "ra", "dec", max_lasso_points=0)
