"""Linked bqplot views of an :class:`~galwidget.Explorer`: a histogram with a range brush and a
scatter plot of two numeric columns with a lasso (or rectangle brush).

Both directions are linked: a brush or lasso in a view selects galaxies in the Explorer
(:meth:`Explorer.select`), and every change of the Explorer's public selection, wherever it comes
from, is highlighted in each view. The scatter draws every galaxy with bqplot-gl's WebGL
``ScatterGL`` mark (float32 coordinates; no subsampling). A rectangle brush selects on the full
columns in Python (exact); the lasso acts on an invisible SVG scatter of the same points, exact up
to ``max_lasso_points`` (see :func:`scatter_plot`). Only bin counts travel for histograms.

The column ``"score"`` (when the data has no such column) is the classifier's score
(:attr:`Explorer.scores`): such a view exists before the first training, empty and titled
"no scores yet", and is redrawn with the new scores after every retrain.

Feedback rules:

- A view's own highlight updates never select anything (no ping-pong between views).
- Clearing a view's brush or lasso clears the Explorer's selection only if that selection is still
  the one this view made; a selection made since elsewhere is left alone.
- A brush rectangle or lasso path stays drawn after the selection changes elsewhere (or the scores
  change); the highlight always shows the Explorer's current selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import numpy as np
import pandas as pd
from sklearn.neighbors import KDTree

from galwidget.data import Representations
from galwidget.errors import DataError

if TYPE_CHECKING:
    from galwidget.widget import SelectionSpec

try:
    import bqplot as bq
    from bqplot_gl import ScatterGL
except ImportError as missing:  # an extra: the rest of galwidget runs without it
    raise DataError(
        f"linked views need bqplot and bqplot-gl ({missing}): pip install 'galwidget[views]'"
    ) from None

__all__ = ["SCORE", "Linkable", "histogram", "scatter_plot"]


class Linkable(Protocol):
    """What a view links to: the Explorer's selection, data and scores (any object with these)."""

    @property
    def representations(self) -> Representations:
        """The galaxies."""

    @property
    def selection(self) -> np.ndarray:
        """The selected row positions."""

    @property
    def scores(self) -> pd.Series | None:
        """The classifier's scores, or ``None`` before the first training."""

    def select(self, what: SelectionSpec) -> None:
        """Select galaxies, as :meth:`galwidget.Explorer.select`."""

    def observe(self, handler: Callable[[dict[str, Any]], None], names: str) -> None:
        """Call ``handler`` when the traits ``names`` change (traitlets)."""

    def on_train(self, callback: Callable[[], Any], *, remove: bool = False) -> None:
        """Call ``callback`` after every retrain."""


BASE_COLOR = "#4c78a8"
HIGHLIGHT_COLOR = "#f58518"
SCORE = "score"
"""The column name that means the classifier's score in :func:`histogram` and :func:`scatter_plot`."""
NO_SCORES = "no scores yet: label galaxies of two classes"
# The lasso's invisible SVG scatter: at most this many points, sampled with this seed above it.
MAX_LASSO_POINTS = 50_000
LASSO_SAMPLE_SEED = 0
Values: TypeAlias = str | Sequence[float] | np.ndarray | pd.Series


def histogram(
    explorer: Linkable, values: Values, *, bins: int = 40, title: str | None = None
) -> bq.Figure:
    """A histogram of ``values`` linked to ``explorer``'s selection.

    Brushing a range selects the galaxies whose value lies in it (inclusive); clearing the brush
    clears that selection. The counts of the selected galaxies are overlaid per bin in the
    highlight color, updated on every selection change.

    Args:
        explorer: the :class:`~galwidget.Explorer` to link to.
        values: a numeric meta column name, ``"score"`` (the classifier's score, live: empty until
            the first training, redrawn after every retrain), or an array / Series of ``n``
            numbers (a Series indexed by the galaxy ids is aligned by id). NaN and infinite values
            are left out of the bins and counted in the title.
        bins: number of equal-width bins spanning the finite values.
        title: figure title (default: the column name and the number of missing values).
    """
    column = _Column(explorer, values, "values")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise DataError(f"bins must be a positive integer, got {bins!r}")
    x_scale = bq.LinearScale()
    y_scale = bq.LinearScale(min=0.0)
    scales = {"x": x_scale, "y": y_scale}
    all_bars = bq.Bars(
        scales=scales,
        colors=[BASE_COLOR],
        opacities=[0.6],
        padding=0.05,
        tooltip=bq.Tooltip(fields=["x", "y"], formats=[".3g", "d"]),
    )
    selected_bars = bq.Bars(scales=scales, colors=[HIGHLIGHT_COLOR], padding=0.05)
    brush = bq.interacts.BrushIntervalSelector(scale=x_scale, marks=[], color=HIGHLIGHT_COLOR)
    figure = bq.Figure(
        marks=[all_bars, selected_bars],
        axes=[
            bq.Axis(scale=x_scale, label=column.label),
            bq.Axis(scale=y_scale, side="left", label="galaxies", tick_format="d"),
        ],
        interaction=brush,
    )
    _HistogramLink(explorer, column, int(bins), figure, title)
    return figure


def scatter_plot(
    explorer: Linkable,
    x: Values,
    y: Values,
    *,
    selector: Literal["lasso", "brush"] = "lasso",
    max_lasso_points: int = MAX_LASSO_POINTS,
    title: str | None = None,
) -> bq.Figure:
    """A WebGL scatter plot of two numeric columns linked to ``explorer``'s selection.

    Every galaxy with finite ``x`` and ``y`` is drawn (bqplot-gl ``ScatterGL``; millions of points
    draw). The galaxies inside a lasso (``selector="lasso"``) or rectangle (``"brush"``) are
    selected in the Explorer; clearing the lasso or brush clears that selection. The Explorer's
    selection is highlighted in the highlight color.

    A rectangle is applied to the full columns in Python: exact at any size. bqplot's lasso does
    not work on WebGL marks (bqplot 0.13 / bqplot-gl 0.1: its point test is not vectorised, and
    ``ScatterGL`` calls it with whole arrays), so the lasso acts on an invisible SVG scatter of
    the same points on top: all of them up to ``max_lasso_points`` (exact), else a deterministic
    random sample of that many, where each other galaxy joins the selection when its nearest
    sampled point (in axis-normalized coordinates) is enclosed — exact away from the lasso's
    edge, off by at most the spacing of the sampled points along it.

    Args:
        explorer: the :class:`~galwidget.Explorer` to link to.
        x: a numeric meta column name, ``"score"`` (the classifier's score, live), or an array /
            Series of ``n`` numbers (a Series indexed by the galaxy ids is aligned by id).
            Galaxies with a NaN or infinite coordinate are not drawn and never selected; the
            title counts them.
        y: the vertical axis, as ``x``.
        selector: ``"lasso"`` (free-hand, bqplot ``LassoSelector``) or ``"brush"`` (rectangle,
            bqplot ``BrushSelector``).
        max_lasso_points: most points of the lasso's invisible SVG scatter.
        title: figure title (default: the column names and missing values).
    """
    x_column = _Column(explorer, x, "x")
    y_column = _Column(explorer, y, "y")
    if selector not in ("lasso", "brush"):
        raise DataError(f"selector must be 'lasso' or 'brush', got {selector!r}")
    if isinstance(max_lasso_points, bool) or not isinstance(max_lasso_points, int | np.integer):
        raise DataError(f"max_lasso_points must be a positive integer, got {max_lasso_points!r}")
    if max_lasso_points < 1:
        raise DataError(f"max_lasso_points must be a positive integer, got {max_lasso_points!r}")
    x_scale, y_scale = bq.LinearScale(), bq.LinearScale()
    scales = {"x": x_scale, "y": y_scale}
    empty = np.empty(0, np.float32)
    scatter = ScatterGL(
        x=empty,
        y=empty,
        scales=scales,
        colors=[BASE_COLOR],
        stroke=None,
        selected_style={"fill": HIGHLIGHT_COLOR, "stroke": HIGHLIGHT_COLOR, "opacity": 1.0},
        unselected_style={"opacity": 0.25},
    )
    marks: list[bq.Mark] = [scatter]
    if selector == "lasso":
        invisible = {"opacity": 0.0}
        proxy = bq.Scatter(
            x=empty,
            y=empty,
            scales=scales,
            default_opacities=[0.0],
            stroke=None,
            selected_style=invisible,
            unselected_style=invisible,
        )
        marks.append(proxy)
        interaction = bq.interacts.LassoSelector(
            x_scale=x_scale, y_scale=y_scale, marks=[proxy], color=HIGHLIGHT_COLOR
        )
    else:
        interaction = bq.interacts.BrushSelector(
            x_scale=x_scale, y_scale=y_scale, marks=[], color=HIGHLIGHT_COLOR
        )
    figure = bq.Figure(
        marks=marks,
        axes=[
            bq.Axis(scale=x_scale, label=x_column.label),
            bq.Axis(scale=y_scale, side="left", label=y_column.label),
        ],
        interaction=interaction,
    )
    _ScatterLink(explorer, x_column, y_column, figure, title, int(max_lasso_points))
    return figure


# ----------------------------------------------------------------------------------------------
# Columns and links between a view and the Explorer
# ----------------------------------------------------------------------------------------------


class _Column:
    """The numbers a view shows for each galaxy: fixed, or the classifier's live score."""

    def __init__(self, explorer: Linkable, values: Values, role: str) -> None:
        self.explorer = explorer
        meta = explorer.representations.meta
        self.live = isinstance(values, str) and values == SCORE and SCORE not in meta.columns
        if self.live:
            self._fixed, self.label = None, SCORE
        else:
            self._fixed, self.label = _numeric_values(explorer, values, role)

    def values(self) -> np.ndarray:
        """float64 per galaxy, NaN where missing (all NaN for a score before the first fit)."""
        if self._fixed is not None:
            return self._fixed
        scores = self.explorer.scores
        n = len(self.explorer.representations)
        if scores is None:
            return np.full(n, np.nan)
        floats = scores.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        floats[~np.isfinite(floats)] = np.nan
        return floats


def _on_new_scores(
    explorer: Linkable, columns: Sequence[_Column], redraw: Callable[[], Any]
) -> None:
    """Call ``redraw()`` after every retrain when one of ``columns`` is the live score."""
    if any(column.live for column in columns):
        explorer.on_train(redraw)


class _ViewSelection:
    """Selects galaxies for one view and remembers them, so that clearing the view clears only
    a selection it made itself; calls ``show(positions)`` with the sorted row positions of the
    Explorer's selection now and after every change."""

    def __init__(self, explorer: Linkable, show: Callable[[np.ndarray], None]) -> None:
        self.explorer = explorer
        self._made: np.ndarray | None = None
        self._show = show
        explorer.observe(self._changed, names="selection")  # the public, decoded selection

    def select(self, mask: np.ndarray) -> None:
        self.explorer.select(mask)
        self._made = self.positions()

    def clear(self) -> None:
        if self._made is not None and np.array_equal(self.positions(), self._made):
            self.explorer.select(None)
        self._made = None

    def positions(self) -> np.ndarray:
        """Sorted unique int64 row positions of the Explorer's selection."""
        return self.explorer.selection

    def show(self) -> None:
        self._show(self.positions())

    def _changed(self, _: dict[str, Any]) -> None:
        self.show()


class _HistogramLink:
    """Brush → selection; selection → per-bin counts of the selected galaxies; new scores →
    new bins."""

    def __init__(
        self, explorer: Linkable, column: _Column, bins: int, figure: bq.Figure, title: str | None
    ) -> None:
        self.column = column
        self.bins = bins
        self.figure = figure
        self.all_bars, self.selected_bars = figure.marks
        self.brush = figure.interaction
        self.title = title
        self.values = np.empty(0)
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        self.applied: tuple[float, float] | None = None
        self.selection = _ViewSelection(explorer, self.show)
        self.redraw()
        self.brush.observe(self.brush_changed, names=["selected", "brushing"])
        _on_new_scores(explorer, [column], self.redraw)

    def redraw(self) -> None:
        """Bin the column's current values and show the selection in them."""
        values = self.column.values()
        finite = np.isfinite(values)
        missing = int((~finite).sum())
        if finite.any():
            edges = np.histogram_bin_edges(values[finite], bins=self.bins)
            title = _title(self.column.label, missing)
        elif self.column.live:
            edges, title = np.linspace(0.0, 1.0, self.bins + 1), f"{SCORE} ({NO_SCORES})"
        else:
            raise DataError(f"{self.column.label!r} has no finite values to histogram")
        counts, _ = np.histogram(values[finite], edges)
        self.values, self.edges, self.applied = values, edges, None
        x_scale = self.all_bars.scales["x"]
        with self.all_bars.hold_sync(), x_scale.hold_sync():
            x_scale.min, x_scale.max = float(edges[0]), float(edges[-1])
            self.all_bars.x = (edges[:-1] + edges[1:]) / 2
            self.all_bars.y = counts
            self.selected_bars.x = self.all_bars.x
            galaxies = "galaxies" + (f" ({missing:,} missing)" if missing else "")
            self.all_bars.tooltip.labels = [self.column.label, galaxies]
        self.figure.title = self.title if self.title is not None else title
        self.selection.show()

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
    """Lasso or brush → selection; selection → the scatter's ``selected``; new scores → new
    points."""

    def __init__(
        self,
        explorer: Linkable,
        x: _Column,
        y: _Column,
        figure: bq.Figure,
        title: str | None,
        max_lasso_points: int,
    ) -> None:
        self.x_column, self.y_column = x, y
        self.figure = figure
        self.scatter = figure.marks[0]
        self.proxy = figure.marks[1] if len(figure.marks) > 1 else None
        self.interaction = figure.interaction
        self.title = title
        self.max_lasso_points = max_lasso_points
        n = len(explorer.representations)
        self.x = self.y = np.full(n, np.nan)
        self.valid = np.zeros(n, dtype=bool)
        self.drawn = np.empty(0, np.int64)  # position of each drawn point
        self.drawn_index = np.full(n, -1, dtype=np.int64)  # drawn point of each position, or -1
        self.sampled = np.empty(0, np.int64)  # position of each point of the lasso's proxy
        self._nearest: np.ndarray | None = None
        self._drawing = False
        self.applied: tuple[float, ...] | None = None
        self.selection = _ViewSelection(explorer, self.show)
        self.redraw()
        if self.proxy is not None:
            self.proxy.observe(self.lasso_changed, names="selected")
        else:
            self.interaction.observe(
                self.brush_changed, names=["selected_x", "selected_y", "brushing"]
            )
        _on_new_scores(explorer, [x, y], self.redraw)

    def redraw(self) -> None:
        """Draw every galaxy with finite coordinates and show the selection among them."""
        x, y = self.x_column.values(), self.y_column.values()
        valid = np.isfinite(x) & np.isfinite(y)
        if not valid.any() and not (self.x_column.live or self.y_column.live):
            raise DataError(
                f"no galaxy has finite {self.x_column.label!r} and {self.y_column.label!r}"
            )
        self.x, self.y, self.valid, self.applied = x, y, valid, None
        self.drawn = np.flatnonzero(valid)
        self.drawn_index[:] = -1
        self.drawn_index[self.drawn] = np.arange(len(self.drawn))
        self.sampled, self._nearest = self.drawn, None
        if len(self.drawn) > self.max_lasso_points:
            rng = np.random.default_rng(LASSO_SAMPLE_SEED)
            self.sampled = np.sort(rng.choice(self.drawn, self.max_lasso_points, replace=False))
        self._drawing = True
        try:
            with self.scatter.hold_sync():
                self.scatter.selected = None
                self.scatter.x = x[self.drawn].astype(np.float32)
                self.scatter.y = y[self.drawn].astype(np.float32)
                self.scatter.default_size = _marker_size(len(self.drawn))
            if self.proxy is not None:
                with self.proxy.hold_sync():
                    self.proxy.selected = None
                    self.proxy.x = x[self.sampled].astype(np.float32)
                    self.proxy.y = y[self.sampled].astype(np.float32)
        finally:
            self._drawing = False
        label = f"{self.y_column.label} vs {self.x_column.label}"
        if valid.any():
            title = _title(label, int((~valid).sum()))
        else:
            title = f"{label} ({NO_SCORES})"
        self.figure.title = self.title if self.title is not None else title
        self.selection.show()

    def lasso_changed(self, change: dict[str, Any]) -> None:
        if self._drawing:
            return
        enclosed = change["new"]
        if enclosed is None or len(enclosed) == 0:
            self.selection.clear()
            return
        inside = np.zeros(len(self.sampled), dtype=bool)
        inside[np.asarray(enclosed, dtype=np.int64)] = True
        self.selection.select(self.valid & inside[self.nearest_sampled()])

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

    def nearest_sampled(self) -> np.ndarray:
        """Index into the lasso's proxy of the nearest sampled point of every galaxy (itself
        when sampled; 0 for galaxies without coordinates, which ``valid`` leaves out)."""
        if self._nearest is None:
            nearest = np.zeros(len(self.x), dtype=np.int64)
            nearest[self.sampled] = np.arange(len(self.sampled))
            others = np.setdiff1d(self.drawn, self.sampled, assume_unique=True)
            if len(others):
                sampled = np.column_stack([self.x[self.sampled], self.y[self.sampled]])
                low, high = sampled.min(axis=0), sampled.max(axis=0)
                span = np.where(high > low, high - low, 1.0)
                tree = KDTree((sampled - low) / span)
                points = np.column_stack([self.x[others], self.y[others]])
                nearest[others] = tree.query((points - low) / span, k=1)[1][:, 0]
            self._nearest = nearest
        return self._nearest

    def show(self, positions: np.ndarray) -> None:
        drawn = self.drawn_index[positions]
        drawn = drawn[drawn >= 0]  # sorted, as positions are
        self.scatter.selected = drawn if len(positions) else None


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def _numeric_values(explorer: Linkable, values: Values, role: str) -> tuple[np.ndarray, str]:
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
