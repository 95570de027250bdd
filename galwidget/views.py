"""Linked bqplot views of an :class:`~galwidget.Explorer`: a histogram with a range brush and a
scatter plot of two catalogue columns with a lasso (or rectangle brush).

Both directions are linked: a brush or lasso in a view selects galaxies in the Explorer
(:meth:`Explorer.select`), and every selection change of the Explorer, wherever it comes from,
is highlighted in each view. Only bin counts and (for large catalogues) a deterministic subsample of
points travel to the browser; selections are always computed on the full columns in Python.

Feedback rules:

- A view's own highlight updates never select anything (no ping-pong between views).
- Clearing a view's brush or lasso clears the Explorer's selection only if that selection is still
  the one this view made; a selection made since elsewhere is left alone.
- A brush rectangle or lasso path stays drawn after the selection changes elsewhere; the highlight
  always shows the Explorer's current selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import bqplot as bq
import numpy as np
import pandas as pd
from sklearn.neighbors import KDTree

from galwidget.data import DataError

if TYPE_CHECKING:
    from galwidget.widget import Explorer

__all__ = ["histogram", "scatter_plot"]

BASE_COLOUR = "#4c78a8"
HIGHLIGHT_COLOUR = "#f58518"
Values = str | Sequence[float] | np.ndarray | pd.Series
# Seed of the deterministic subsample drawn when a scatter plot has more than max_points points.
SUBSAMPLE_SEED = 0


def histogram(
    explorer: Explorer, values: Values, bins: int = 40, title: str | None = None
) -> bq.Figure:
    """A histogram of ``values`` linked to ``explorer``'s selection.

    Brushing a range selects the galaxies whose value lies in it (inclusive); clearing the brush
    clears that selection. The counts of the selected galaxies are overlaid per bin in the
    highlight colour, updated on every selection change.

    Args:
        explorer: the :class:`~galwidget.Explorer` to link to.
        values: a numeric meta column name, or an array / Series of ``n`` numbers (a Series
            indexed by the galaxy ids is aligned by id). NaN and infinite values are left out of
            the bins and counted in the title.
        bins: number of equal-width bins spanning the finite values.
        title: figure title (default: the column name and the number of missing values).
    """
    column, label = _numeric_values(explorer, values, "values")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise DataError(f"bins must be a positive integer, got {bins!r}")
    finite = np.isfinite(column)
    if not finite.any():
        raise DataError(f"{label!r} has no finite values to histogram")
    edges = np.histogram_bin_edges(column[finite], bins=int(bins))
    counts, _ = np.histogram(column[finite], edges)
    centres = (edges[:-1] + edges[1:]) / 2
    missing = int((~finite).sum())

    x_scale = bq.LinearScale(min=float(edges[0]), max=float(edges[-1]))
    y_scale = bq.LinearScale(min=0.0)
    scales = {"x": x_scale, "y": y_scale}
    tooltip_labels = [label, "galaxies" + (f" ({missing:,} missing)" if missing else "")]
    all_bars = bq.Bars(
        x=centres,
        y=counts,
        scales=scales,
        colors=[BASE_COLOUR],
        opacities=[0.6],
        padding=0.05,
        tooltip=bq.Tooltip(fields=["x", "y"], labels=tooltip_labels, formats=[".3g", "d"]),
    )
    selected_bars = bq.Bars(
        x=centres, y=np.zeros_like(counts), scales=scales, colors=[HIGHLIGHT_COLOUR], padding=0.05
    )
    brush = bq.interacts.BrushIntervalSelector(scale=x_scale, marks=[], color=HIGHLIGHT_COLOUR)
    figure = bq.Figure(
        marks=[all_bars, selected_bars],
        axes=[
            bq.Axis(scale=x_scale, label=label),
            bq.Axis(scale=y_scale, side="left", label="galaxies", tick_format="d"),
        ],
        interaction=brush,
        title=title if title is not None else _title(label, missing),
    )
    _HistogramLink(explorer, column, edges, selected_bars, brush)
    return figure


def scatter_plot(
    explorer: Explorer,
    x: Values,
    y: Values,
    max_points: int = 50_000,
    selector: Literal["lasso", "brush"] = "lasso",
    title: str | None = None,
) -> bq.Figure:
    """A scatter plot of two numeric columns linked to ``explorer``'s selection.

    The galaxies inside a lasso (``selector="lasso"``) or rectangle (``"brush"``) are selected in
    the Explorer; clearing the lasso or brush clears that selection. The Explorer's selection is
    highlighted in the highlight colour.

    When more than ``max_points`` galaxies have finite ``x`` and ``y``, only a deterministic
    random subsample of ``max_points`` of them is drawn (the title says so), but selections cover
    every galaxy: a rectangle is applied to the full columns exactly; bqplot's lasso only reports
    which drawn points it encloses, so each hidden galaxy joins the selection when its nearest
    drawn point (in axis-normalised coordinates) is enclosed, which is exact away from the lasso
    edge and off by at most the spacing of the drawn points along it.

    Args:
        explorer: the :class:`~galwidget.Explorer` to link to.
        x, y: numeric meta column names, or arrays / Series of ``n`` numbers (a Series indexed by
            the galaxy ids is aligned by id). Galaxies with a NaN or infinite coordinate are not
            drawn and never selected; the title counts them.
        max_points: most points drawn in the browser.
        selector: ``"lasso"`` (free-hand, bqplot ``LassoSelector``) or ``"brush"`` (rectangle,
            bqplot ``BrushSelector``).
        title: figure title (default: the column names, subsampling and missing values).
    """
    x_values, x_label = _numeric_values(explorer, x, "x")
    y_values, y_label = _numeric_values(explorer, y, "y")
    if isinstance(max_points, bool) or not isinstance(max_points, int | np.integer):
        raise DataError(f"max_points must be a positive integer, got {max_points!r}")
    if max_points < 1:
        raise DataError(f"max_points must be a positive integer, got {max_points!r}")
    if selector not in ("lasso", "brush"):
        raise DataError(f"selector must be 'lasso' or 'brush', got {selector!r}")
    valid = np.isfinite(x_values) & np.isfinite(y_values)
    if not valid.any():
        raise DataError(f"no galaxy has finite {x_label!r} and {y_label!r}")
    shown = np.flatnonzero(valid)
    if len(shown) > max_points:
        rng = np.random.default_rng(SUBSAMPLE_SEED)
        shown = np.sort(rng.choice(shown, size=int(max_points), replace=False))

    x_scale, y_scale = bq.LinearScale(), bq.LinearScale()
    scatter = bq.Scatter(
        x=x_values[shown],
        y=y_values[shown],
        scales={"x": x_scale, "y": y_scale},
        colors=[BASE_COLOUR],
        default_size=_marker_size(len(shown)),
        stroke=None,
        selected_style={"fill": HIGHLIGHT_COLOUR, "stroke": HIGHLIGHT_COLOUR, "opacity": 1.0},
        unselected_style={"opacity": 0.25},
    )
    if selector == "lasso":
        interaction = bq.interacts.LassoSelector(
            x_scale=x_scale, y_scale=y_scale, marks=[scatter], color=HIGHLIGHT_COLOUR
        )
    else:
        interaction = bq.interacts.BrushSelector(
            x_scale=x_scale, y_scale=y_scale, marks=[], color=HIGHLIGHT_COLOUR
        )
    missing = int((~valid).sum())
    if title is None:
        title = _title(f"{y_label} vs {x_label}", missing)
        if len(shown) < valid.sum():
            title += f" — showing a random {len(shown):,} of {int(valid.sum()):,}"
    figure = bq.Figure(
        marks=[scatter],
        axes=[
            bq.Axis(scale=x_scale, label=x_label),
            bq.Axis(scale=y_scale, side="left", label=y_label),
        ],
        interaction=interaction,
        title=title,
    )
    _ScatterLink(explorer, x_values, y_values, valid, shown, scatter, interaction)
    return figure


# ----------------------------------------------------------------------------------------------
# Links between a view and the Explorer
# ----------------------------------------------------------------------------------------------


class _ViewSelection:
    """Selects galaxies for one view and remembers them, so that clearing the view clears only
    a selection it made itself; calls ``show(positions)`` with the sorted row positions of the
    Explorer's selection now and after every change."""

    def __init__(self, explorer: Explorer, show: Callable[[np.ndarray], None]) -> None:
        self.explorer = explorer
        self._made: bytes | None = None
        self._show = show
        explorer.observe(self._changed, names="_selection")
        show(self.positions())

    def select(self, mask: np.ndarray) -> None:
        self.explorer.select(mask)
        self._made = self.explorer._selection

    def clear(self) -> None:
        if self._made is not None and self.explorer._selection == self._made:
            self.explorer.select(None)
        self._made = None

    def positions(self) -> np.ndarray:
        """Sorted row positions of the Explorer's selection.

        The Explorer's own ``_selection`` observer, registered before any view's, has already
        decoded them when a view hears of a change.
        """
        return self.explorer.selected_positions

    def _changed(self, _: dict[str, Any]) -> None:
        self._show(self.positions())


class _HistogramLink:
    """Brush → selection; selection → per-bin counts of the selected galaxies."""

    def __init__(
        self,
        explorer: Explorer,
        values: np.ndarray,
        edges: np.ndarray,
        selected_bars: bq.Bars,
        brush: bq.interacts.BrushIntervalSelector,
    ) -> None:
        self.values = values
        self.edges = edges
        self.selected_bars = selected_bars
        self.brush = brush
        self.applied: tuple[float, float] | None = None
        self.selection = _ViewSelection(explorer, self.show)
        brush.observe(self.brush_changed, names=["selected", "brushing"])

    def brush_changed(self, _: dict[str, Any]) -> None:
        if self.brush.brushing:
            return  # still dragging: select once the brush is released
        interval = self.brush.selected
        if interval is None or len(interval) < 2:
            self.applied = None
            self.selection.clear()
            return
        low, high = sorted(float(v) for v in interval[:2])
        if self.applied == (low, high):
            return
        self.applied = (low, high)
        self.selection.select((self.values >= low) & (self.values <= high))

    def show(self, positions: np.ndarray) -> None:
        chosen = self.values[positions]
        counts, _ = np.histogram(chosen[np.isfinite(chosen)], self.edges)
        self.selected_bars.y = counts


class _ScatterLink:
    """Lasso or brush → selection (over all galaxies); selection → the scatter's ``selected``."""

    def __init__(
        self,
        explorer: Explorer,
        x: np.ndarray,
        y: np.ndarray,
        valid: np.ndarray,
        shown: np.ndarray,
        scatter: bq.Scatter,
        interaction: bq.interacts.LassoSelector | bq.interacts.BrushSelector,
    ) -> None:
        self.x, self.y, self.valid, self.shown = x, y, valid, shown
        self.scatter = scatter
        self.interaction = interaction
        self.drawn_index = np.full(len(x), -1, dtype=np.int64)
        self.drawn_index[shown] = np.arange(len(shown))
        self._nearest: np.ndarray | None = None
        self._showing = False
        self.applied: tuple[float, ...] | None = None
        self.selection = _ViewSelection(explorer, self.show)
        if isinstance(interaction, bq.interacts.LassoSelector):
            scatter.observe(self.lasso_changed, names="selected")
        else:
            interaction.observe(self.brush_changed, names=["selected_x", "selected_y", "brushing"])

    def lasso_changed(self, change: dict[str, Any]) -> None:
        if self._showing:
            return
        drawn = change["new"]
        if drawn is None or len(drawn) == 0:
            self.selection.clear()
            self.show(self.selection.positions())  # the front end dropped the highlight
            return
        enclosed = np.zeros(len(self.shown), dtype=bool)
        enclosed[np.asarray(drawn, dtype=np.int64)] = True
        self.selection.select(self.valid & enclosed[self.nearest_drawn()])

    def brush_changed(self, _: dict[str, Any]) -> None:
        brush = self.interaction
        if brush.brushing:
            return
        if not _is_interval(brush.selected_x) or not _is_interval(brush.selected_y):
            self.applied = None
            self.selection.clear()
            return
        x_low, x_high = sorted(float(v) for v in brush.selected_x[:2])
        y_low, y_high = sorted(float(v) for v in brush.selected_y[:2])
        if self.applied == (x_low, x_high, y_low, y_high):
            return
        self.applied = (x_low, x_high, y_low, y_high)
        inside_x = (self.x >= x_low) & (self.x <= x_high)
        self.selection.select(inside_x & (self.y >= y_low) & (self.y <= y_high))

    def nearest_drawn(self) -> np.ndarray:
        """Index of the nearest drawn point of every galaxy (itself if drawn; 0 if invalid)."""
        if self._nearest is None:
            nearest = self.drawn_index.copy()
            hidden = np.flatnonzero(self.valid & (nearest < 0))
            if len(hidden):
                drawn_xy = np.column_stack([self.x[self.shown], self.y[self.shown]])
                low, high = drawn_xy.min(axis=0), drawn_xy.max(axis=0)
                span = np.where(high > low, high - low, 1.0)
                tree = KDTree((drawn_xy - low) / span)
                hidden_xy = np.column_stack([self.x[hidden], self.y[hidden]])
                nearest[hidden] = tree.query((hidden_xy - low) / span, k=1)[1][:, 0]
            self._nearest = np.maximum(nearest, 0)
        return self._nearest

    def show(self, positions: np.ndarray) -> None:
        drawn = self.drawn_index[positions]
        drawn = drawn[drawn >= 0]  # sorted, as positions are
        self._showing = True
        try:
            self.scatter.selected = drawn if len(positions) else None
        finally:
            self._showing = False


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _numeric_values(explorer: Explorer, values: Values, role: str) -> tuple[np.ndarray, str]:
    """``values`` as float64 of length ``n`` (NaN where missing), and a label for it."""
    reps = explorer.representations
    meta = reps.meta
    numeric_columns = [str(c) for c in meta.columns if _is_numeric(meta[c].dtype)]
    if isinstance(values, str):
        if values not in meta.columns:
            raise DataError(
                f"no column {values!r} for {role}; numeric columns: {', '.join(numeric_columns)}"
            )
        series, label = meta[values], values
        if not _is_numeric(series.dtype):
            raise DataError(
                f"column {values!r} is not numeric (dtype {series.dtype}); "
                f"numeric columns: {', '.join(numeric_columns)}"
            )
    else:
        array = values if isinstance(values, pd.Series) else np.asarray(values)
        if array.ndim != 1 or len(array) != len(reps):
            raise DataError(
                f"{role} must hold one value per galaxy ({len(reps)}), got shape {array.shape}"
            )
        series = array if isinstance(array, pd.Series) else pd.Series(array)
        label = str(series.name) if series.name is not None else role
        if series.index.is_unique and series.index.isin(reps.ids).all():
            series = series.reindex(reps.ids)
        if not _is_numeric(series.dtype):
            raise DataError(f"{role} must be numbers, got dtype {series.dtype}")
    floats = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    floats[~np.isfinite(floats)] = np.nan
    return floats, label


def _is_numeric(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _is_interval(values: Any) -> bool:
    return values is not None and len(values) >= 2


def _title(text: str, missing: int) -> str:
    return f"{text} ({missing:,} without a value left out)" if missing else text


def _marker_size(n_drawn: int) -> int:
    """Marker area (bqplot ``default_size``, in square pixels) that keeps ``n_drawn`` readable."""
    if n_drawn <= 2_000:
        return 24
    if n_drawn <= 20_000:
        return 8
    return 3
