"""The Explorer widget: a WebGL scatter of the galaxies' embedding, a panel of the focused galaxy's
nearest neighbors, a label bar and a toolbar, with the selection kept in sync with pandas.

This module is wiring plus the public API. What travels to the browser and how is
:mod:`galwidget.protocol` (traits, requests, replies, events); the parts live in their modules:
:mod:`galwidget.widget._coordinates` (layout → ``_points``), :mod:`galwidget.widget._colors` (``_color``),
:mod:`galwidget.widget._selection` (selection specs, memory, the DataFrame column) and
:mod:`galwidget.session` (labels and active learning).

Selection invariant: :attr:`Explorer.selection` (public, observable, not synced) holds sorted
unique int64 positions and ``_selection`` is always its encoding; whichever side changes one, the
other follows before any observer of :attr:`Explorer.selection` runs.

Front-end updates (:meth:`Explorer.set_state`) are applied whole or not at all: only the traits
the page may set (:data:`FRONT_END_TRAITS`) are accepted, every validator raises a
:class:`traitlets.TraitError` (so ipywidgets rolls the whole update back), and a refused update
leaves every trait as it was, says why in the status line and sends the kernel's values back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, TypeAlias

import anywidget
import numpy as np
import pandas as pd
import traitlets
from tqdm.auto import tqdm

from galwidget import images as images_module
from galwidget import protocol
from galwidget.clusters import Clusters, find_clusters
from galwidget.data import (
    Representations,
    find_feature_columns,
    find_id_column,
    load_representations,
)
from galwidget.errors import DataError
from galwidget.labels import Classes, LabelStore, export_labels
from galwidget.learn import STRATEGIES, Fit, ModelReport
from galwidget.neighbors import NeighborIndex
from galwidget.protocol import ColorMeta, RequestRegistry
from galwidget.search import RADIUS_ARCSEC, Finder, Found
from galwidget.session import CONFIRM_OVER, LabellingSession, LabelsSpec
from galwidget.static_page import (
    DEFAULT_MAX_THUMBNAIL_BYTES,
    MAX_SAMPLE_POINTS,
    PageSnapshot,
    save_html,
)
from galwidget.util import format_value, warn_deprecated
from galwidget.widget._colors import encode_colors, label_colors, missing_scores, no_colors
from galwidget.widget._coordinates import Layouts, LayoutSpec
from galwidget.widget._filters import MODES, FilterMode, resolve_filter
from galwidget.widget._gallery import SelectionPages, numeric_columns
from galwidget.widget._handlers import RequestHandlers
from galwidget.widget._lod import MapDetail, MapHandlers, sample_size
from galwidget.widget._options import (
    IndexOptions,
    LabelOptions,
    LazyIndex,
    check_label_options,
    take_deprecated,
)
from galwidget.widget._selection import (
    SelectionMemory,
    SelectionSpec,
    check_polygon,
    initial_from_column,
    points_in_polygon,
    resolve_selection,
    selected_of,
    write_column,
)
from galwidget.widget._sky import SkyLink

__all__ = ["Explorer", "Positions"]

STATIC = Path(__file__).parents[1] / "static"
# ipywidgets' and anywidget's own synced traits (model names, layout, the ESM and CSS that
# anywidget adds to each subclass): not the view's state, not saved with a page.
_BASE_TRAITS = frozenset(anywidget.AnyWidget.class_trait_names(sync=True)) | {
    "_esm",
    "_css",
    "_anywidget_id",
}
MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "galwidget's front end is not built: run `make js` (npm run build in js/).";
} };
"""
# The synced traits the page may set; every other one is the kernel's (an update from the page
# that changes one is refused whole).
FRONT_END_TRAITS = frozenset(
    {"_selection", "_focus", "k", "mode", "point_size", "opacity", "height", "strategy", "target"}
    | {"layout_name", "show_images"}
)
MAX_POINT_SIZE = 100.0
"""Most points the browser holds by default: beyond, a density plus the points in view."""
DEFAULT_POINT_BUDGET = 2_500_000
HEIGHTS = (100, 20_000)
THUMBNAIL_SIZE = 128
"""Thumbnails in the panel and the gallery, in pixels."""
# The large image view's size: GZ DECaLS's own images are 424 px.
LARGE_IMAGE_SIZE = 424
"""Thumbnail width and height in pixels."""
HOVER_COLUMNS = 4
SHOW_IMAGES = ("auto", "always", "never")
# The color names of the anomaly scores and the clusters (when no meta column has that name).
ANOMALY = "anomaly"
CLUSTER = "cluster"
ColorSpec: TypeAlias = str | Sequence[Any] | np.ndarray | pd.Series | None


def _asset(name: str, missing: str) -> Path | str:
    path = STATIC / name
    return path if path.is_file() else missing


class Positions(traitlets.TraitType[np.ndarray, Any]):
    """A trait holding sorted unique int64 row positions (a read-only numpy array).

    Observers are told only when the positions change (compared with ``np.array_equal``).
    """

    info_text = "sorted unique int64 row positions"

    def __init__(self, **kwargs: Any) -> None:
        empty = np.empty(0, np.int64)
        empty.flags.writeable = False
        super().__init__(default_value=empty, **kwargs)

    def validate(self, obj: Any, value: Any) -> np.ndarray:
        array = np.asarray(value)
        if array.ndim != 1 or (len(array) and not np.issubdtype(array.dtype, np.integer)):
            self.error(obj, value)
        if array.dtype == np.int64 and not array.flags.writeable and array.base is None:
            positions = array  # read-only and its own memory: nothing can change it (no copy)
        else:
            positions = array.astype(np.int64)
        if not bool(np.all(positions[1:] > positions[:-1])):
            positions = np.unique(positions)
        positions.flags.writeable = False
        return positions

    def set(self, obj: traitlets.HasTraits, value: Any) -> None:
        name = str(self.name)  # set by traitlets when the class is made
        new = self._validate(obj, value)
        old = obj._trait_values.get(name, self.default_value)
        obj._trait_values[name] = new
        if not np.array_equal(np.asarray(old), np.asarray(new)):
            obj._notify_trait(name, old, new)


class Explorer(RequestHandlers, MapHandlers, anywidget.AnyWidget):
    """Explore galaxies by their representations: scatter, neighbors, selection, labels.

    Args:
        data: a :class:`~galwidget.Representations`, or anything
            :func:`~galwidget.load_representations` reads (DataFrame, parquet/CSV path, array).
        layout: the 2-D map: ``"pca"`` or ``"umap"`` (computed by :func:`galwidget.layout`), an
            ``(n, 2)`` array, or a pair of numeric column names such as ``("pca_0", "pca_1")`` (of
            ``meta``, or of the DataFrame given as ``data``, feature columns included); or a name
            of ``layouts``. A DataFrame with no feature columns and such a pair (a precomputed
            map and a catalogue) is searched for neighbors in that map, and the panel says so.
        layouts: more maps to switch between (toolbar menu, or :attr:`layout_name`): name →
            spec as for ``layout``, e.g. ``{"pca": "pca", "umap": "umap", "given": ("pca_0",
            "pca_1")}``; each is computed when first shown.
        color: a meta column name, an array of ``n`` values, or ``None`` (see :meth:`color_by`).
        images: thumbnail source, as for :func:`galwidget.images.resolve`.
        k: number of neighbors shown for the focused galaxy.
        hover_columns: meta columns shown when hovering a galaxy (default: the color column and
            the first few others).
        index: the :class:`galwidget.NeighborIndex` behind the neighbor panel, or a dict of its
            options (``{"n_components": 40, "metric": "cosine"}``, see :class:`IndexOptions`),
            built on first need. Data with at most ``n_components`` features is searched as it
            is. ``False``: no neighbors (the panel says so).
        classes: the label classes: a list (keys 1–9 in order) or a dict class → key; shows the
            label bar. ``"interest"``: interest scoring, keys 0–5 give Astronomaly's scores (see
            :mod:`galwidget.session`; suggestions by ``"active_search"`` unless another strategy is given). ``None``: no labelling UI (labels set from Python are still kept).
        labels: the :class:`~galwidget.LabelStore` of this data, or a dict ``{"path": …,
            "user": …}`` (see :class:`LabelOptions`): the label log or database URL (default
            ``<labels dir>/<fingerprint>.jsonl``) and who labels (default ``$JUPYTERHUB_USER``
            or the login name). A new Explorer on the same data restores its labels; labels
            that other people add to the same log appear within about a second.
        strategy: active-learning strategy, one of :data:`galwidget.learn.STRATEGIES`.
        target: the class whose probability is the score (default: the first class).
        selected_column: when ``data`` is a DataFrame, the name of the boolean column of that same
            DataFrame kept equal to the selection (``None`` to leave the DataFrame alone). An
            existing boolean column of that name is taken as the initial selection.
        label_column: when ``data`` is a DataFrame, the column of that same DataFrame kept equal
            to the labels (object dtype, ``None`` where unlabelled; ``None`` to leave it alone).
        remember_selection: keep the selection in the cache folder (by the data's fingerprint) so
            that a new Explorer on the same data, e.g. after a kernel restart, starts with it. A
            boolean ``selected_column`` already in the DataFrame takes precedence. An unwritable
            cache folder gives one warning.
        features: which columns of ``data`` are the features, as for
            :func:`galwidget.load_representations` (e.g. ``features=["pca_0", "pca_1"]`` for a
            table whose only representation is a precomputed 2-D projection).
        id_column: the id column of ``data``, as for :func:`galwidget.load_representations`.
        point_budget: most points the browser holds (default 2,500,000). A map of more galaxies
            is drawn as a density image of the whole map under a uniform sample of its points,
            and the points in view are loaded as you zoom in (a lasso is then resolved in the
            kernel over every galaxy); below it nothing changes. Settable later
            (:attr:`point_budget`).
        show_images: thumbnails in the map, ``"auto"``, ``"always"`` or ``"never"`` (the
            ``show_images`` attribute below).

    ``n_components=``, ``metric=``, ``labels_path=`` and ``user=`` of galwidget 0.1 still work
    this release, with a DeprecationWarning that says what to write instead.

    Attributes:
        selection: the selected row positions (sorted unique int64, read-only array), an
            observable traitlet: ``w.observe(f, names="selection")`` or ``traitlets.link`` to it
            from other widgets; assigning positions selects them. Browser lassos arrive here.
        layout_name: the name of the map shown (synced; the toolbar's layout menu sets it);
            assigning another name of ``layouts`` redraws the points there and keeps the
            selection, focus, colors and filter. An unknown name raises
            :class:`~galwidget.DataError`.
        k: how many neighbors the panel shows (1–200; synced).
        mode: what a drag does on the map: ``"lasso"``, ``"box"`` or ``"pan"`` (synced; the
            toolbar's buttons set it).
        point_size, opacity: how points are drawn (pixels; 0–1), chosen from ``n`` at the start.
        height: the widget's height in pixels.
        strategy: the active-learning strategy (synced with the toolbar's menu).
        target: the class whose probability is the score (synced).
        point_budget: most points sent to the browser (synced; a positive int): assigning it
            redraws the map, in full or as a density plus the points in view.
        show_images: thumbnails in the map: ``"auto"`` (when zoomed in on few galaxies),
            ``"always"`` (whenever they fit, the rest as points) or ``"never"`` (synced; the
            toolbar's menu sets it; the data needs images).

    ``w.layout`` is ipywidgets' own CSS layout of the widget, not the 2-D map.

    Raises:
        DataError: ``data`` cannot be read (see :func:`~galwidget.load_representations`), an
            unknown color, layout or hover column, bad ``classes`` or ``k``.
        LabelStorageError: the label log or database cannot be opened.

    Examples:
        >>> import galwidget as gw
        >>> reps = gw.datasets.synthetic(n=500, seed=0)
        >>> w = gw.Explorer(reps, color="morphology", classes=["ring", "not ring"])
        >>> w.select("rings_yes_fraction > 0.5")
        >>> len(w.selected_ids) == int((reps.meta["rings_yes_fraction"] > 0.5).sum())
        True
        >>> w.focus(reps.ids[0]); len(w.neighbors)
        12
        >>> w.set_labels({reps.ids[0]: "ring"}); w.labels["label"].tolist()
        ['ring']
        >>> w.undo(); len(w.labels)
        0
        >>> w.close()

        In a notebook, end a cell with ``w`` to show it.
    """

    _esm = _asset("widget.js", MISSING_BUNDLE)
    _css = _asset("widget.css", "")

    _config = traitlets.Dict().tag(sync=True)
    _points = traitlets.Bytes(b"").tag(sync=True, **protocol.BYTES_SERIALIZATION)
    _color = traitlets.Bytes(b"").tag(sync=True, **protocol.BYTES_SERIALIZATION)
    _color_meta = traitlets.Dict(dict[str, Any](kind="none")).tag(sync=True)
    _selection = traitlets.Bytes(b"").tag(sync=True, **protocol.BYTES_SERIALIZATION)
    _focus = traitlets.Int(-1).tag(sync=True)
    _label_meta = traitlets.Dict(dict(protocol.NO_LABELS)).tag(sync=True)
    _learn = traitlets.Dict({"status": "off", "message": ""}).tag(sync=True)
    _filter = traitlets.Bytes(b"").tag(sync=True, **protocol.BYTES_SERIALIZATION)
    _filter_meta = traitlets.Dict({"mode": "none", "shown": 0, "description": ""}).tag(sync=True)
    # Drawn over the map: the sky layout's RA/Dec grid lines (interleaved x, y in _points
    # coordinates) and the clusters' names at their representative galaxies (positions).
    _overlay = traitlets.Dict(dict[str, Any](graticule=[], clusters=[])).tag(sync=True)

    k = traitlets.Int(12).tag(sync=True)
    mode = traitlets.Enum(["lasso", "box", "pan"], "lasso").tag(sync=True)
    point_size = traitlets.Float(3.0).tag(sync=True)
    opacity = traitlets.Float(0.8).tag(sync=True)
    height = traitlets.Int(560).tag(sync=True)
    strategy = traitlets.Enum(list(STRATEGIES), "uncertainty").tag(sync=True)
    target = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    layout_name = traitlets.Unicode("").tag(sync=True)
    point_budget = traitlets.Int(DEFAULT_POINT_BUDGET).tag(sync=True)
    show_images = traitlets.Unicode("auto").tag(sync=True)

    selection = Positions(help="sorted unique int64 row positions of the selected galaxies")

    def __init__(
        self,
        data: Any,
        *,
        layout: LayoutSpec = "pca",
        layouts: Mapping[str, LayoutSpec] | None = None,
        color: ColorSpec = None,
        images: Any = None,
        k: int = 12,
        hover_columns: Sequence[str] | None = None,
        index: NeighborIndex | IndexOptions | Literal[False] | None = None,
        classes: Classes | str = None,
        labels: LabelStore | LabelOptions | None = None,
        strategy: str = "uncertainty",
        target: str | None = None,
        selected_column: str | None = "selected",
        label_column: str | None = "label",
        remember_selection: bool = True,
        features: str | Sequence[str] | None = None,
        id_column: str | None = None,
        point_budget: int = DEFAULT_POINT_BUDGET,
        show_images: str = "auto",
        **kwargs: Any,
    ) -> None:
        index, labels = take_deprecated(kwargs, index, labels)
        # Everything the widget holds is made from the arguments first (nothing reads an
        # attribute assigned later); the traits are set once, by super().__init__ below.
        in_layout = features is None and _only_a_layout(data, layout, id_column)
        if in_layout:
            features = list(layout)  # the 2-D map is the only representation: search there
        reps = load_representations(data, features=features, id_column=id_column)
        frame = data if isinstance(data, pd.DataFrame) else None
        selected = selected_column if frame is not None else None
        # A map over its own coordinates (Explorer.from_layout) has no features to search.
        layout_only = isinstance(layout, np.ndarray) and layout is reps.features
        index_holder = LazyIndex(reps, index, layout_only=layout_only)
        labelling = LabellingSession(
            reps,
            classes=classes,
            labels=check_label_options(labels),
            frame=frame,
            label_column=label_column,
            strategy=strategy,
            target=target,
            on_labels=self._show_labels,
            on_learning=self._show_learning,
        )
        dropped = [selected] + ([labelling.label_column] if labelling.in_use else [])
        meta = reps.meta.drop(columns=[c for c in dropped if c in reps.meta])
        memory = SelectionMemory(reps) if remember_selection else None
        initial = initial_from_column(frame, selected)
        if initial is None:
            initial = memory.load() if memory is not None else np.empty(0, np.int64)
        # Layout columns that are also the features live in the frame.
        tables = (meta,) if frame is None else (meta, frame)
        maps = Layouts(reps, layout, layouts, tables=tables, index=index_holder.reusable)
        map_detail = MapDetail(maps)
        image_source = images_module.resolve(images, reps, THUMBNAIL_SIZE)
        large_images = images_module.resolve(images, reps, LARGE_IMAGE_SIZE)
        derived = (
            isinstance(color, str) and color in {"label", "score", ANOMALY} and color not in meta
        )

        self._reps, self._frame, self._selected_column = reps, frame, selected
        self._index, self._labelling, self._meta, self._memory = (
            index_holder,
            labelling,
            meta,
            memory,
        )
        self._layouts, self._images, self._images_spec = maps, image_source, images
        self._large_images = large_images  # the large view's (space): 424 px
        self._map_detail = map_detail
        self._finder = Finder(reps)
        self._pages = SelectionPages(
            meta,
            centroid_distances=lambda positions: index_holder.get().centroid_distances(positions),
            scores=labelling.score_values,
        )
        self._callbacks: list[Callable[[pd.Index], Any]] = []
        self._train_callbacks: list[Callable[[], Any]] = []
        self._color_source: str | None = None
        self._clusters: Clusters | None = None
        self._clusters_lock = threading.Lock()
        self._incoming: bytes | None = None  # a _selection from the browser being applied
        self._decoded: tuple[bytes, np.ndarray] | None = None  # the last _selection checked
        self._encoded: tuple[np.ndarray, bytes] | None = None  # positions and their encoding
        self._lasso: tuple[str, np.ndarray] | None = None  # layout name, last lasso as drawn
        self._requests = RequestRegistry(self.send)
        values, color_meta = self._encode_color(None if derived else color)
        self._hover_columns = self._check_hover_columns(hover_columns, color_meta)
        self.selection = initial  # no observer yet: self._wire is its encoding
        size, opacity = default_style(len(reps))
        budget = _check_point_budget(point_budget)
        super().__init__(
            _config={
                "protocol": protocol.PROTOCOL_VERSION,
                "n": len(reps),
                "id_column": reps.id_column,
                "image_kind": image_source.kind,
                "confirm_over": CONFIRM_OVER,
                "max_message_bytes": protocol.MAX_MESSAGE_BYTES,
                "numeric_columns": numeric_columns(meta),
                "color_columns": [str(c) for c in meta.columns if c != reps.id_column]
                + (["label", "score"] if labelling.in_use else [])
                + [name for name in (ANOMALY, CLUSTER) if name not in meta],
                "layouts": maps.names,
                "neighbor_space": "layout" if in_layout else "features",
            },
            point_budget=budget,
            _points=maps.points(maps.first) if len(reps) <= budget else b"",
            _overlay={"graticule": maps.graticule(maps.first), "clusters": []},
            layout_name=maps.first,
            _color=values,
            _color_meta=color_meta,
            _selection=self._wire,
            _learn=labelling.status,
            _filter_meta={"mode": "none", "shown": len(reps), "description": ""},
            k=_check_k(k),
            point_size=size,
            opacity=opacity,
            strategy=labelling.strategy,
            target=labelling.target,
            show_images=_check_show_images(show_images),
            **kwargs,
        )
        self.observe(self._on_selection, names="selection")
        self.observe(self._on_wire_selection, names="_selection")
        self.observe(self._learning_changed, names=["strategy", "target"])
        self.observe(self._show_layout, names="layout_name")
        self.observe(self._show_layout, names="point_budget")
        self._register_requests()
        self.on_msg(lambda _, content, buffers: self._requests.receive(content, buffers))
        write_column(frame, selected, self.selection)
        if labelling.in_use:
            labelling.open()
        if derived:
            self.color_by(color)
        self._warm_map()  # and the id lookup

    @classmethod
    def from_layout(
        cls,
        ids: Any,
        xy: Any,
        *,
        meta: pd.DataFrame | None = None,
        index: NeighborIndex | None = None,
        **options: Any,
    ) -> Explorer:
        """An Explorer over a precomputed 2-D layout alone, without a feature matrix: ``n × 8``
        bytes of coordinates (plus ids and meta), so that maps of tens of millions fit in memory.

        Args:
            ids: ``n`` unique galaxy ids.
            xy: ``(n, 2)`` layout coordinates (kept as float32; they are also the
                :attr:`representations`' features, so labels and the classifier use them).
            meta: catalogue columns, one row per galaxy in the order of ``ids``.
            index: a :class:`~galwidget.NeighborIndex` built on these galaxies' representations
                (the same ids in the same order) for the neighbor panel; ``None``: no neighbors
                (asking for them says how to get them).
            options: every other keyword of :class:`Explorer` (``layout``, ``layouts`` and
                ``features`` excepted).
        """
        taken = sorted({"layout", "layouts", "features", "id_column"} & set(options))
        if taken:
            raise DataError(f"Explorer.from_layout takes the layout as xy, not {', '.join(taken)}")
        coordinates = np.asarray(xy)
        if coordinates.ndim != 2 or coordinates.shape[1] != 2:
            raise DataError(f"xy must be an (n, 2) array of coordinates, got {coordinates.shape}")
        reps = Representations.from_array(coordinates, ids=ids, meta=meta)
        neighbors: NeighborIndex | Literal[False] = False if index is None else index
        return cls(reps, layout=reps.features, index=neighbors, **options)

    # -- public API: data and selection ------------------------------------------------------------

    @property
    def representations(self) -> Representations:
        """The galaxies shown."""
        return self._reps

    @property
    def selected_ids(self) -> pd.Index:
        """Ids of the selected galaxies, in row order."""
        return selected_of(self._reps.ids, self.selection)

    @property
    def selected(self) -> pd.DataFrame:
        """Meta rows (indexed by id) of the selected galaxies; always current."""
        return self._meta.iloc[self.selection]

    def select(
        self, what: SelectionSpec = None, *, polygon: Sequence[tuple[float, float]] | None = None
    ) -> None:
        """Select galaxies and show the selection in the browser.

        ``what`` is a list/Index of ids, a boolean Series (selecting by its index labels: the ids
        or the DataFrame's index, e.g. ``df["mag"] < 17`` or ``w.scores > 0.9``), a boolean
        numpy mask of length ``n``, a pandas query string evaluated on the meta columns
        (``"rings_yes_fraction > 0.5"``; a string that is an id selects that galaxy), or
        ``None`` / ``[]`` to clear the selection.

        ``polygon=[(x, y), …]`` (instead of ``what``) selects as a lasso drawn along it would:
        the galaxies inside it in the map shown (:attr:`layout_name`, in that layout's own
        coordinates, e.g. those of its two columns), among those a :meth:`filter` shows.
        :attr:`lasso_polygon` gives the last lasso drawn in the browser in the same form.

        Raises :class:`~galwidget.DataError` for unknown ids, a bad query, a mask of the wrong
        length or a bad polygon (the selection is unchanged).
        """
        if polygon is None:
            self.selection = resolve_selection(
                what, reps=self._reps, meta=self._meta, frame=self._frame
            )
            return
        if what is not None:
            raise DataError("select(what) or select(polygon=…), not both")
        vertices = self._layouts.to_drawn(self.layout_name, check_polygon(polygon))
        inside = points_in_polygon(self._layouts.drawn(self.layout_name), vertices)
        if self._filter:
            shown = protocol.decode_selection(self._filter, len(self._reps))
            inside = np.intersect1d(inside, shown, assume_unique=True)
        self.selection = inside

    @property
    def lasso_polygon(self) -> np.ndarray | None:
        """The last lasso drawn in the browser as ``(m, 2)`` vertices in the coordinates of the
        layout it was drawn on (``select(polygon=w.lasso_polygon)`` replays it there), or
        ``None`` before the first lasso."""
        if self._lasso is None:
            return None
        name, drawn = self._lasso
        return self._layouts.from_drawn(name, drawn)

    def on_select(self, callback: Callable[[pd.Index], Any], *, remove: bool = False) -> None:
        """Call ``callback(selected_ids)`` after every selection change (browser or Python)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def on_train(self, callback: Callable[[], Any], *, remove: bool = False) -> None:
        """Call ``callback()`` after every retrain, once its :attr:`scores`, :meth:`suggestions`
        and :meth:`model_report` are current (on the thread that trained)."""
        if remove:
            self._train_callbacks.remove(callback)
        else:
            self._train_callbacks.append(callback)

    def focus(self, galaxy_id: str | None) -> None:
        """Focus one galaxy (as a click does): its neighbors appear in the panel."""
        self._focus = -1 if galaxy_id is None else int(self._reps.positions([galaxy_id])[0])

    def find(self, text: str, *, radius_arcsec: float = RADIUS_ARCSEC) -> Found:
        """Find a galaxy by id, id prefix or sky position (``"150.1 2.2"``,
        ``"10:00:24 +02:12:00"``, an IAU name; see :mod:`galwidget.search`) and focus it, as the
        search box does. A prefix that several ids start with focuses nothing: the
        :class:`~galwidget.search.Found` lists the completions. A sky position focuses the
        nearest galaxy within ``radius_arcsec`` (``math.inf``: at any distance); beyond it nothing
        is focused and the :class:`~galwidget.search.Found` names the nearest and its separation.
        Raises :class:`~galwidget.DataError` for text that names no galaxy."""
        found = self._finder.find(text, radius_arcsec=radius_arcsec)
        if found.position is not None:
            self._focus = found.position
        return found

    def filter(self, *, mode: FilterMode = "dim", **conditions: Any) -> None:
        """Show only the galaxies that meet every condition; the others are dimmed
        (``mode="dim"``) or hidden (``"hide"``), and the browser's lasso and box select only
        among those shown. ``w.filter()`` with no condition shows everything again.

        Conditions, one per meta column: ``mag=(14, 17)`` a range (``None`` for an open end),
        ``kind=["ring", "spiral"]`` a set of values, ``merger=True`` one value. Raises
        :class:`~galwidget.DataError` for unknown columns or values (the filter is unchanged).
        """
        if mode not in MODES:
            raise DataError(f"filter mode must be one of {', '.join(MODES)}, got {mode!r}")
        n = len(self._reps)
        if not conditions:
            wire, meta = b"", {"mode": "none", "shown": n, "description": ""}
        else:
            shown, description = resolve_filter(self._meta, conditions)
            wire = protocol.encode_selection(np.flatnonzero(shown), n)
            meta = {"mode": mode, "shown": int(shown.sum()), "description": description}
        with self.hold_sync():
            self._filter = wire
            self._filter_meta = meta

    @property
    def shown(self) -> pd.Index:
        """Ids of the galaxies the current :meth:`filter` shows (all without a filter)."""
        if not self._filter:
            return self._reps.ids
        return self._reps.ids[protocol.decode_selection(self._filter, len(self._reps))]

    @property
    def focused(self) -> str | None:
        """Id of the focused galaxy, or ``None``."""
        return None if self._focus < 0 else str(self._reps.ids[self._focus])

    @property
    def neighbors(self) -> pd.DataFrame:
        """The focused galaxy's ``k`` nearest neighbors: ``id``, ``distance`` and meta columns."""
        if self._focus < 0:
            return self._neighbor_frame(np.empty(0, np.int64), np.empty(0, np.float32))
        return self._neighbor_frame(*self._neighbors_of(self._focus))

    @property
    def neighbours(self) -> pd.DataFrame:
        """Deprecated spelling of :attr:`neighbors`."""
        warn_deprecated("Explorer.neighbours", "Explorer.neighbors")
        return self.neighbors

    def zoom_to_selection(self) -> None:
        """Pan and zoom every view of the widget to the selected galaxies (as its button does)."""
        self.send(protocol.zoom_to_selection_event())

    def color_by(self, color: ColorSpec) -> None:
        """Color the points by a meta column or an array of ``n`` values (``None``: one color).

        Numbers become a viridis color scale with a color bar; strings, booleans, categoricals
        and integers with few distinct values become categories with a legend. Missing values are
        grey. Two names besides the meta columns follow the labelling as it goes on:
        ``"label"`` (one color per class, unlabelled grey) and ``"score"`` (the classifier's
        :attr:`scores`, grey before the first fit); ``"anomaly"`` colors by :attr:`anomaly`,
        computed in the background the first time (grey meanwhile, with a progress bar), and
        ``"cluster"`` by the names of :attr:`clusters` (noise grey).
        """
        with self._labelling.lock:
            values, meta = self._encode_color(color)
            self._color_source = color if isinstance(color, str) else None
            with self.hold_sync():
                self._color = values
                self._color_meta = dict[str, Any](meta)

    @property
    def anomaly(self) -> pd.Series:
        """Anomaly score per galaxy (higher = more unusual; isolation forest, see
        :mod:`galwidget.anomaly`), indexed by id; waits for the background computation, which
        ``color_by("anomaly")`` or the ``"anomalous"`` strategy may have started already."""
        return self._labelling.anomaly.result()

    @property
    def clusters(self) -> pd.DataFrame:
        """The density clusters of the galaxies (see :mod:`galwidget.clusters`; computed on first
        use), largest first: ``cluster`` id, ``name``, ``size``, ``representative`` (the id of the
        medoid) and ``central`` (ids of the most central members). ``color_by("cluster")``
        colors by them, :meth:`select_cluster` selects one."""
        return self._cluster_result().table

    def name_clusters(self, by: str) -> None:
        """Name every cluster after the majority value of meta column ``by``, or of the user's
        labels (``by="label"``), among its members: ``"spiral (72%)"``."""
        clusters = self._cluster_result()
        if by == "label" and by not in self._meta:
            clusters.name_by(self._labelling.values)
        elif by in self._meta:
            clusters.name_by(self._meta[by].to_numpy(dtype=object))
        else:
            raise DataError(
                f"no column {by!r} to name clusters by; columns: {', '.join(self._meta.columns)} "
                "or 'label'"
            )
        self._clusters_renamed()

    def rename_cluster(self, cluster: int, name: str) -> None:
        """Call ``cluster`` (an id of :attr:`clusters`) ``name``."""
        self._cluster_result().rename(cluster, name)
        self._clusters_renamed()

    def select_cluster(self, cluster: int) -> None:
        """Select the galaxies of ``cluster`` (an id of :attr:`clusters`)."""
        self.selection = self._cluster_result().members(cluster)

    def _cluster_result(self) -> Clusters:
        with self._clusters_lock:
            found = self._clusters is None
            if self._clusters is None:
                self._clusters = find_clusters(self._reps)
            clusters = self._clusters
        if found:
            self._clusters_renamed()
        return clusters

    def _clusters_renamed(self) -> None:
        """Show the clusters' names on the map (and in the colors, if colored by cluster)."""
        if self._clusters is None:
            return
        with self.hold_sync():
            self._overlay = {**self._overlay, "clusters": self._cluster_marks()}
            if self._color_source == CLUSTER:
                self.color_by(CLUSTER)

    def sky(self, *, fov: float = 2.0, survey: str | None = None) -> Any:
        """An ipyaladin view of the sky (``pip install galwidget[sky]``) linked both ways: the
        selection drawn on it, a click on a drawn galaxy focuses it here, focusing a galaxy here
        recentres the sky. ``fov``: the field of view in degrees; ``survey``: the HiPS survey.
        Needs ra/dec (columns, or IAU names as ids)."""
        return SkyLink(self, fov=fov, survey=survey).aladin

    def _cluster_marks(self) -> list[dict[str, Any]]:
        """The clusters' names at their medoids, for the map overlay; none before the clusters
        are computed, and none on the sky (a cluster in representation space is spread over it)."""
        clusters = self._clusters
        if clusters is None or self._layouts.is_sky(self.layout_name):
            return []
        return [
            {"cluster": cluster, "name": clusters.names[cluster], "position": int(central[0])}
            for cluster, central in clusters.representatives.items()
        ]

    @property
    def index(self) -> NeighborIndex:
        """The :class:`galwidget.NeighborIndex` behind the neighbor panel (built on first use)."""
        return self._index.get()

    # -- public API: labels ------------------------------------------------------------------------

    @property
    def label_store(self) -> LabelStore:
        """The :class:`~galwidget.LabelStore` that persists this data's labels."""
        return self._labelling.open()

    @property
    def labels(self) -> pd.DataFrame:
        """Current labels: index id; columns ``label``, ``time`` (UTC) and ``source``."""
        return self.label_store.labels

    def set_labels(self, labels: LabelsSpec) -> None:
        """Label galaxies from Python: a mapping or Series id → label, or ``(ids, label)``.

        A missing label (``None``/NaN) removes that galaxy's label. Everything is checked first
        (unknown ids or classes raise :class:`~galwidget.DataError` and nothing is written), then
        appended to the log, fsync'd, before this returns: one undo step per distinct label.
        """
        self._labelling.set_labels(labels)

    def import_labels(
        self,
        source: pd.DataFrame | pd.Series | str | Path,
        *,
        id_column: str | None = None,
        label_column: str = "label",
    ) -> None:
        """Import labels from a DataFrame, Series id → label, CSV/parquet file or label log.

        Unknown ids or classes raise :class:`~galwidget.DataError` listing them and nothing is
        applied; the import is one undo step.
        """
        self.label_store.import_labels(source, id_column=id_column, label_column=label_column)

    def export_labels(
        self,
        path: str | Path,
        *,
        format: str = "zoobot",
        classes: Sequence[Any] | None = None,
        label_column: str = "label",
        image_dir: str | Path | None = None,
    ) -> pd.DataFrame:
        """Write the labels as a training catalogue (``format="zoobot"``: ids, absolute image
        paths, integer labels in class order; see :func:`galwidget.labels._export.export_labels`) and
        return it. Images made in the kernel are written to ``image_dir``."""
        return export_labels(
            self._reps,
            self.label_store,
            path,
            format=format,
            images=self._images_spec,
            classes=classes,
            label_column=label_column,
            image_dir=image_dir,
        )

    def undo(self) -> None:
        """Undo the latest labelling operation (a whole batch at once)."""
        self.label_store.undo()

    def redo(self) -> None:
        """Redo the latest undone labelling operation."""
        self.label_store.redo()

    # -- public API: active learning ---------------------------------------------------------------

    @property
    def scores(self) -> pd.Series | None:
        """Classifier score per galaxy (probability of ``target``; the predicted interest for
        ``"ei"``), or ``None`` before the first fit."""
        return self._labelling.scores

    @property
    def suggestions(self) -> pd.Index:
        """Ids of the galaxies suggested for labelling next, best first (labelled ones left out)."""
        return self._labelling.suggestions

    @property
    def training(self) -> Future[Fit | None]:
        """The latest requested retraining: done once its scores and suggestions are shown.

        Its result is the :class:`~galwidget.learn.Fit`, or ``None`` when no model could be
        trained (too few classes labelled; ``_learn["message"]`` says why).
        """
        return self._labelling.training

    def retrain(self) -> Future[Fit | None]:
        """Retrain now (on a background thread) on the current labels; see :attr:`training`."""
        return self._labelling.retrain(delay=0.0)

    def model_report(self) -> ModelReport | None:
        """How good the latest classifier is (cross-validated accuracy and ROC AUC, labels per
        class; see :class:`~galwidget.learn.ModelReport`), or ``None`` before the first fit. The
        toolbar shows the same numbers (``_learn["report"]``)."""
        return self._labelling.report

    def histogram(
        self,
        values: str | Sequence[float] | np.ndarray | pd.Series,
        *,
        bins: int = 40,
        **kwargs: Any,
    ) -> Any:
        """A bqplot histogram linked to the selection (see :func:`galwidget.views.histogram`);
        ``"score"`` histograms the classifier's :attr:`scores`, live (empty before the first fit)."""
        from galwidget import views

        return views.histogram(self, values, bins=bins, **kwargs)

    def scatter_plot(
        self,
        x: str | Sequence[float] | np.ndarray | pd.Series,
        y: str | Sequence[float] | np.ndarray | pd.Series,
        **kwargs: Any,
    ) -> Any:
        """A bqplot scatter plot linked to the selection (see :func:`galwidget.views.scatter_plot`);
        ``"score"`` stands for the classifier's :attr:`scores`, live (empty before the first fit)."""
        from galwidget import views

        return views.scatter_plot(self, x, y, **kwargs)

    def save_html(
        self,
        path: str | os.PathLike[str],
        *,
        title: str | None = None,
        max_thumbnail_bytes: int = DEFAULT_MAX_THUMBNAIL_BYTES,
    ) -> Path:
        """Save the current view as one self-contained HTML page that opens offline, without a
        kernel: points, colors, legend, selection, hover text and thumbnails; pan and zoom.

        A map beyond :attr:`point_budget` is saved as the density of every galaxy (and of the
        selection) under a uniform sample of at most 200,000 points
        (:data:`galwidget.static_page.MAX_SAMPLE_POINTS`, and at most half the budget); hover
        text and thumbnails are the sample's. Colors, labels and the selection still take a few
        bytes a galaxy: about 4 MB a million galaxies.

        Args:
            path: the ``.html`` file to write (its folder must exist).
            title: the page title (default: "galwidget: <n> galaxies").
            max_thumbnail_bytes: most bytes of kernel-rendered thumbnails embedded (the focused
                galaxy's first, then its neighbors', the selected ones'); 0 embeds none.
        """
        return save_html(
            self._page_snapshot(), path, title=title, max_thumbnail_bytes=max_thumbnail_bytes
        )

    def _page_snapshot(self) -> PageSnapshot:
        """The view as it is now, for :mod:`galwidget.static_page`."""
        state: dict[str, Any] = {}
        binary: dict[str, bytes] = {}
        names = sorted(set(type(self).class_trait_names(sync=True)) - _BASE_TRAITS)
        for name, value in self.get_state(key=names).items():
            if isinstance(value, bytes | bytearray | memoryview):
                binary[name] = bytes(value)
            else:
                state[name] = value
        n = len(self._reps)
        rows: np.ndarray | None = None  # beyond the point budget: the sample's positions
        if n > self.point_budget:
            limit = min(MAX_SAMPLE_POINTS, sample_size(self.point_budget))  # the page's sample
            square = (-1.0, -1.0, 1.0, 1.0)
            rows, _, _ = self._map_detail.view(self.layout_name, square, limit=limit)
        shown = slice(None) if rows is None else rows

        def answer(kind: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
            message = {"type": "request", "kind": kind, "request": 0, **params}
            content, buffers = self._reply(message)
            return content, [bytes(b) for b in buffers]

        return PageSnapshot(
            state=state,
            binary=binary,
            ids=[str(i) for i in self._reps.ids[shown]],
            hover_columns=list(self._hover_columns),
            hover_text=[
                [format_value(v) for v in self._meta[c].to_numpy()[shown]]
                for c in self._hover_columns
            ],
            selection=self.selection,
            thumbnail_urls=self._images.urls(np.arange(n)[shown])
            if self._images.kind == "url"
            else None,
            answer=answer,
            positions=rows,
        )

    def close(self) -> None:
        """Close the widget and stop its worker threads."""
        if hasattr(self, "_requests"):
            self._requests.close()
        if hasattr(self, "_labelling"):  # absent when __init__ failed before creating it
            self._labelling.close()
        super().close()

    # -- requests from the front end ---------------------------------------------------------------

    def _reply(
        self, message: dict[str, Any], buffers: Sequence[bytes] = ()
    ) -> tuple[dict[str, Any], list[bytes]]:
        """The reply ``(content, buffers)`` to one front-end request, answered here and now.

        Requests and replies are those of :data:`galwidget.protocol.REQUESTS`; a request that
        cannot be answered gets ``ok: false`` and a human ``reason``.
        """
        return self._requests.reply(message, list(buffers))

    # -- neighbors --------------------------------------------------------------------------------

    def _neighbors_of(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and distances of the ``k`` nearest neighbors of ``position``."""
        k = min(self.k, len(self._reps) - 1)
        if k < 1:
            raise DataError("there is only one galaxy: it has no neighbors")
        positions, distances = self.index.query_positions(np.array([position], np.int64), k)
        return positions[0], distances[0]

    def _neighbor_frame(self, positions: np.ndarray, distances: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame({"id": self._reps.ids[positions].to_numpy(), "distance": distances})
        meta = self._meta.iloc[positions].drop(columns=["id", "distance"], errors="ignore")
        return pd.concat([frame, meta.reset_index(drop=True)], axis=1)

    # -- selection: the public trait and its wire form ---------------------------------------------
    # -- and every update from the front end: checked whole before any of it is applied -----------

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the front end, whole or not at all.

        An update that changes a kernel-owned trait, or that a trait's validator refuses, changes
        nothing: the status line says why and the page gets the kernel's values back. Raises
        :class:`traitlets.TraitError` for a refused update.
        """
        keys = [name for name in sync_data if name in self.keys]
        try:
            update = self._front_end_update(sync_data)
            super().set_state(update)
        except traitlets.TraitError as error:
            self.send(protocol.error_event(f"not applied: {error}"))
            self.send_state(key=keys)  # the page shows what the kernel holds again
            raise
        except Exception as error:  # a bug: still say so rather than keep the page's values
            self.send(protocol.error_event(f"not applied: {type(error).__name__}: {error}"))
            self.send_state(key=keys)
            raise

    def _front_end_update(self, sync_data: dict[str, Any]) -> dict[str, Any]:
        """``sync_data`` without the kernel-owned traits it repeats unchanged; a
        :class:`traitlets.TraitError` if it would change one."""
        update = {}
        for name, value in sync_data.items():
            if name in FRONT_END_TRAITS or name not in self.keys:
                update[name] = value
                continue
            from_json = self.trait_metadata(name, "from_json", self._trait_from_json)
            try:
                same = bool(from_json(value, self) == getattr(self, name))
            except Exception:
                same = False
            if not same:
                raise traitlets.TraitError(f"{name} is the kernel's: the page cannot set it")
        return update

    @property
    def _wire(self) -> bytes:
        """The encoding of the current :attr:`selection` (what ``_selection`` holds)."""
        positions = self.selection
        if self._encoded is None or self._encoded[0] is not positions:
            self._encoded = (positions, protocol.encode_selection(positions, len(self._reps)))
        return self._encoded[1]

    @traitlets.validate("selection")
    def _check_positions(self, proposal: dict[str, Any]) -> np.ndarray:
        positions = proposal["value"]
        n = len(self._reps)
        if len(positions) and not 0 <= positions[0] <= positions[-1] < n:
            bad = positions[0] if positions[0] < 0 else positions[-1]
            raise _Refused(f"selection position {bad} is outside 0 … {n - 1}")
        incoming, self._incoming = self._incoming, None  # used once: by this very assignment
        if incoming is None:
            try:
                incoming = protocol.encode_selection(positions, n)
            except DataError as error:
                raise _Refused(str(error)) from None
        # Kept by identity: a value rolled back later is simply not the current selection.
        self._encoded = (positions, incoming)
        return positions

    @traitlets.validate("_selection")
    def _check_wire_selection(self, proposal: dict[str, Any]) -> bytes:
        value = bytes(proposal["value"])
        if value != self._wire:
            try:
                self._decoded = (value, protocol.decode_selection(value, len(self._reps)))
            except DataError as error:
                raise traitlets.TraitError(f"the selection: {error}") from None
        return value

    def _on_wire_selection(self, change: dict[str, Any]) -> None:
        new = change["new"]
        if new == self._wire:
            return  # the encoding of the current selection
        decoded = self._decoded
        if decoded is None or decoded[0] != new:  # set while validation was held
            decoded = (new, protocol.decode_selection(new, len(self._reps)))
        positions = decoded[1]
        if np.array_equal(positions, self.selection):
            self._encoded = (self.selection, new)  # another encoding of the same selection
            return
        self._incoming = new
        try:
            self.selection = positions
        finally:
            self._incoming = None

    def _on_selection(self, change: dict[str, Any]) -> None:
        wire = self._wire
        if self._selection != wire:
            self._selection = wire
        if self._memory is not None:
            self._memory.save(wire)
        write_column(self._frame, self._selected_column, self.selection)
        callbacks = list(self._callbacks)
        if callbacks:
            ids = self.selected_ids
            for callback in callbacks:
                callback(ids)

    @traitlets.validate("_focus")
    def _check_focus(self, proposal: dict[str, Any]) -> int:
        focus = proposal["value"]
        if isinstance(focus, bool) or not -1 <= focus < len(self._reps):
            raise traitlets.TraitError(f"_focus {focus!r} is outside -1 … {len(self._reps) - 1}")
        return int(focus)

    @traitlets.validate("layout_name")
    def _check_layout_name(self, proposal: dict[str, Any]) -> str:
        name = proposal["value"]
        try:
            self._layouts.drawn(name)  # computed (and kept) now: a failure leaves the layout
        except DataError as error:
            raise _Refused(f"layout not shown: {error}") from None
        return name

    def _show_layout(self, change: dict[str, Any]) -> None:
        name = self.layout_name
        with self.hold_sync():
            # Beyond the point budget the browser loads points by view (map_view), not all.
            whole = len(self._reps) <= self.point_budget
            self._points = self._layouts.points(name) if whole else b""
            self._warm_map()
            graticule = self._layouts.graticule(name)
            self._overlay = {"graticule": graticule, "clusters": self._cluster_marks()}

    def _warm_ids(self) -> threading.Thread | None:
        """Build the id lookup in a thread (returned; ``None``: built): the first click by id
        then finds it built. Repeated ids it finds (millions of ids are checked there, off the
        path to the first frame) are said in the status line, and every id-based call raises
        them."""
        detail = self._map_detail  # its requests go first: the hashing waits for them
        thread = self._reps.warm_id_lookup(on_error=self._show_id_error, pause=detail.wait_idle)
        if self._memory is not None:  # then the fingerprint the remembered selection is under
            self._memory.warm(after=thread)
        return thread

    def _show_id_error(self, error: DataError) -> None:
        """Say in the status line why the ids are refused (from the id lookup's thread)."""
        self.send(
            protocol.error_event(f"{error}; id-based calls (labels, select by id, focus) fail")
        )

    def _warm_map(self) -> None:
        """Beyond the point budget: build the map's sample, density and index in a thread now,
        while the page loads, rather than when it first asks; the id lookup after the sample
        and the density (its hashing holds the GIL for long stretches), else at once."""
        if len(self._reps) > self.point_budget:
            threading.Thread(
                target=self._map_detail.warm,
                args=(self.layout_name, self.point_budget),
                kwargs={"then": self._warm_ids},
                name="galwidget-map",
                daemon=True,
            ).start()
        else:
            self._warm_ids()

    @traitlets.validate("target")
    def _validate_target(self, proposal: dict[str, Any]) -> str | None:
        try:
            return self._labelling.check_target(proposal["value"])
        except DataError as error:
            raise _Refused(str(error)) from None

    @traitlets.validate("point_budget")
    def _validate_point_budget(self, proposal: dict[str, Any]) -> int:
        try:
            return _check_point_budget(proposal["value"])
        except DataError as error:
            raise _Refused(str(error)) from None

    @traitlets.validate("k")
    def _validate_k(self, proposal: dict[str, Any]) -> int:
        return _check_k(proposal["value"])

    @traitlets.validate("point_size")
    def _validate_point_size(self, proposal: dict[str, Any]) -> float:
        size = proposal["value"]
        if not 0 < size <= MAX_POINT_SIZE:  # NaN too
            raise _Refused(
                f"point_size must be above 0 and at most {MAX_POINT_SIZE:g}, got {size!r}"
            )
        return size

    @traitlets.validate("opacity")
    def _validate_opacity(self, proposal: dict[str, Any]) -> float:
        opacity = proposal["value"]
        if not 0 <= opacity <= 1:  # NaN too
            raise _Refused(f"opacity must be from 0 to 1, got {opacity!r}")
        return opacity

    @traitlets.validate("show_images")
    def _validate_show_images(self, proposal: dict[str, Any]) -> str:
        return _check_show_images(proposal["value"])

    @traitlets.validate("height")
    def _validate_height(self, proposal: dict[str, Any]) -> int:
        height = proposal["value"]
        if not HEIGHTS[0] <= height <= HEIGHTS[1]:
            raise _Refused(f"height must be {HEIGHTS[0]} to {HEIGHTS[1]} pixels, got {height!r}")
        return height

    # -- labelling: showing the session's state ----------------------------------------------------

    def _show_labels(self, positions: np.ndarray, base_version: int, version: int) -> None:
        """Send the codes that changed (O(changed) bytes) and the small label bar state; the
        session holds its lock, so events leave in version order."""
        labelling = self._labelling
        if version != base_version:
            content, buffers = protocol.labels_event(
                positions, labelling.codes[positions], version=version, base_version=base_version
            )
            self.send(content, buffers)
        with self.hold_sync():
            self._label_meta = labelling.summary()
            if self._color_source == "label":
                values, meta = self._label_colors()
                if values != self._color:
                    self._color = values
                self._color_meta = dict[str, Any](meta)

    def _show_learning(self, trained: bool) -> None:
        """Show the training status and, once a retrain has finished, the score colors."""
        with self.hold_sync():
            if trained and self._color_source == "score":
                self._color, meta = self._score_colors()
                self._color_meta = dict[str, Any](meta)
            self._learn = dict(self._labelling.status)
        if trained:
            for callback in list(self._train_callbacks):
                callback()

    def _learning_changed(self, _: dict[str, Any]) -> None:
        self._labelling.set_learning(self.strategy, self.target)

    # -- color ------------------------------------------------------------------------------------

    def _encode_color(self, color: Any) -> tuple[bytes, ColorMeta]:
        if color is None:
            return no_colors()
        if isinstance(color, str) and color not in self._meta.columns:
            if color == "label":
                return self._label_colors()
            if color == "score":
                return self._score_colors()
            if color == ANOMALY:
                return self._anomaly_colors()
            if color == CLUSTER:
                return encode_colors(
                    self._cluster_result().named_labels().reset_index(drop=True), CLUSTER
                )
            raise DataError(
                f"no column {color!r} to color by; columns: {', '.join(self._meta.columns)}"
            )
        if isinstance(color, str):
            return encode_colors(self._meta[color], color)
        values = color if isinstance(color, pd.Series) else pd.Series(np.asarray(color))
        if len(values) != len(self._reps):
            raise DataError(
                f"color values for {len(values)} galaxies, but there are {len(self._reps)}"
            )
        name = str(values.name or "values")
        return encode_colors(values.reset_index(drop=True), name)

    def _label_colors(self) -> tuple[bytes, ColorMeta]:
        labelling = self._labelling
        labelling.open()
        if labelling.classes:
            return label_colors(labelling.classes, labelling.codes)
        # Labels without classes: their values as categories (re-sent when they change).
        values = pd.Series(labelling.values, dtype=object)
        return encode_colors(values, "label")

    def _score_colors(self) -> tuple[bytes, ColorMeta]:
        scores = self._labelling.scores
        if scores is None:
            return missing_scores(len(self._reps))
        return encode_colors(scores.astype(np.float64), "score")

    def _anomaly_colors(self) -> tuple[bytes, ColorMeta]:
        """The anomaly colors, or grey while they are computed in the background, the legend
        saying how far ("anomaly (computing… 40%)", after each block of galaxies; a progress
        bar in the notebook too); when they arrive they are shown if the points are still
        colored by anomaly."""
        job = self._labelling.anomaly
        if job.done:
            return encode_colors(job.result().reset_index(drop=True).astype(np.float64), ANOMALY)
        bar = tqdm(total=len(self._reps), desc="anomaly scores", unit="galaxy")

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)
            if done >= total:
                bar.close()
            with self._labelling.lock:  # color_by holds it until _color_source is set
                if self._color_source == ANOMALY and done < total:
                    self._color_meta = {**self._color_meta, "column": _computing(done / total)}

        future = job.start(progress=progress)
        future.add_done_callback(lambda _: self._anomaly_computed())
        values, meta = missing_scores(len(self._reps))
        return values, {**meta, "column": _computing(0.0)}

    def _anomaly_computed(self) -> None:
        if self._color_source == ANOMALY and self._labelling.anomaly.done:
            self.color_by(ANOMALY)

    def _check_hover_columns(
        self, columns: Sequence[str] | None, color_meta: ColorMeta
    ) -> list[str]:
        available = [str(c) for c in self._meta.columns]
        if columns is not None:
            missing = [c for c in columns if c not in available]
            if missing:
                raise DataError(f"hover_columns not in the data: {', '.join(map(str, missing))}")
            return list(columns)
        first = [color_meta["column"]] if color_meta.get("column") in available else []
        others = [c for c in available if c != self._reps.id_column and c not in first]
        return (first + others)[:HOVER_COLUMNS]


def _only_a_layout(data: Any, layout: LayoutSpec, id_column: str | None) -> bool:
    """Whether ``data`` is a DataFrame whose only features are the two columns of ``layout``
    (or that has none but them): a table of a precomputed 2-D map and a catalogue, whose
    neighbors are searched in that map."""
    if not (isinstance(data, pd.DataFrame) and isinstance(layout, tuple) and len(layout) == 2):
        return False
    if not set(layout) <= set(data.columns):
        return False
    columns = [str(c) for c in data.columns]
    types = {str(c): t for c, t in data.dtypes.items()}
    try:
        found, list_column = find_feature_columns(
            columns, types, None, find_id_column(columns, id_column)
        )
    except DataError:
        return True
    return list_column is None and found == [str(c) for c in layout]


def _computing(share: float) -> str:
    """The legend title while the anomaly scores are computed."""
    return f"{ANOMALY} (computing… {share:.0%})"


def default_style(n: int) -> tuple[float, float]:
    """Point size (pixels) and opacity that keep ``n`` points readable."""
    if n <= 10_000:
        return 4.0, 0.9
    if n <= 100_000:
        return 2.5, 0.7
    return 1.5, 0.5


def _check_point_budget(budget: Any) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
        raise DataError(f"point_budget must be a positive whole number of points, got {budget!r}")
    return int(budget)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= 200:
        raise _Refused(f"k must be an integer from 1 to 200, got {k!r}")
    return int(k)


def _check_show_images(value: Any) -> str:
    if value not in SHOW_IMAGES:  # "in" on a tuple of str: False for other types too
        choices = ", ".join(repr(v) for v in SHOW_IMAGES)
        raise _Refused(f"show_images must be one of {choices}, got {value!r}")
    return str(value)


class _Refused(DataError, traitlets.TraitError):
    """A value a trait's validator refuses: a :class:`~galwidget.DataError` for Python callers,
    and a :class:`traitlets.TraitError`, on which ipywidgets rolls a front-end update back."""
