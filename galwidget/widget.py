"""The Explorer widget: a WebGL scatter of the galaxies' embedding, a panel of the focused galaxy's
nearest neighbours and a toolbar, with the selection kept in sync with pandas.

Wire format (anywidget traits, binary where large):

- ``_points``: float32 interleaved ``x, y`` per galaxy, scaled into [-1, 1] (sent once).
- ``_color``: float32 values in [0, 1] (NaN = missing) or uint8 category codes (the code
  ``len(categories)`` = missing), described by the small JSON trait ``_color_meta``.
- ``_selection``: sorted uint32 row positions, written by both sides.
- ``_focus``: row position of the clicked galaxy, ``-1`` for none.
- ``_labels``: uint8 label code per galaxy (0 unlabelled, ``i + 1`` for class ``i``, 255 for a
  label outside the classes), described by ``_label_meta`` (classes, keys, counts, undo state).
- ``_suggestions``: uint32 row positions of the suggestion queue, best first; ``_learn`` holds the
  training status shown in the toolbar.

The labels and active learning behind ``_labels``, ``_label_meta``, ``_suggestions`` and
``_learn`` live in :class:`~galwidget.labelling.LabellingSession`; the Explorer shows them.

The front end asks for everything else with custom messages ``{"type", "request", ...}`` and gets
a reply with the same ``type`` and ``request`` and ``ok`` (see :meth:`Explorer.reply`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

from galwidget import images as images_module
from galwidget.cache import cache_dir
from galwidget.data import DataError, Representations, load_representations
from galwidget.labelling import CONFIRM_OVER, OTHER_LABEL, UNLABELLED, LabellingSession, LabelsSpec
from galwidget.labels import Classes, LabelStore
from galwidget.learn import STRATEGIES, Fit

__all__ = ["Explorer", "encode_colors", "normalise_layout"]

STATIC = Path(__file__).parent / "static"
MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "galwidget's front end is not built: run `make js` (npm run build in js/).";
} };
"""
THUMBNAIL_SIZE = 128
# Points fill this fraction of [-1, 1] so that the outermost ones are not cut by the canvas edge.
LAYOUT_MARGIN = 0.95
# Integer columns with at most this many distinct values are coloured as categories.
FEW_INTEGERS = 12
# Categorical colouring shows the most frequent categories; rarer ones share "other".
MAX_CATEGORIES = 20
HOVER_COLUMNS = 4
IMAGE_WORKERS = 4
SelectionSpec = str | Iterable[Any] | np.ndarray | pd.Series | pd.Index | None


def _asset(name: str, missing: str) -> Path | str:
    path = STATIC / name
    return path if path.is_file() else missing


class Explorer(anywidget.AnyWidget):
    """Explore galaxies by their representations: scatter, neighbours, selection.

    Args:
        data: a :class:`~galwidget.Representations`, or anything
            :func:`~galwidget.load_representations` reads (DataFrame, parquet/CSV path, array).
        layout: ``"pca"`` or ``"umap"`` (computed by :func:`galwidget.layout`), an ``(n, 2)``
            array, or a pair of numeric column names such as ``("pca_0", "pca_1")`` (of ``meta``, or
            of the DataFrame given as ``data``, feature columns included).
        color: a meta column name, an array of ``n`` values, or ``None`` (see :meth:`color_by`).
        images: thumbnail source, as for :func:`galwidget.images.resolve`.
        k: number of neighbours shown for the focused galaxy.
        selected_column: when ``data`` is a DataFrame, the name of the boolean column of that same
            DataFrame kept equal to the selection (``None`` to leave the DataFrame alone). An
            existing boolean column of that name is taken as the initial selection.
        index: a prebuilt :class:`galwidget.NeighbourIndex` to reuse; built on first need if not.
        n_components, metric: passed to :class:`galwidget.NeighbourIndex` when it is built here
            (data with at most ``n_components`` features is searched as it is).
        hover_columns: meta columns shown when hovering a galaxy (default: the colour column and
            the first few others).
        remember_selection: keep the selection in the cache folder (by the data's fingerprint) so
            that a new Explorer on the same data, e.g. after a kernel restart, starts with it. A
            boolean ``selected_column`` already in the DataFrame takes precedence.
        classes: the label classes: a list (keys 1–9 in order) or a dict class → key; shows the
            label bar. ``None``: no labelling UI (labels set from Python are still kept).
        labels_path: the label log (default ``<labels dir>/<fingerprint>.jsonl``, see
            :class:`~galwidget.LabelStore`); a new Explorer on the same data restores its labels.
        label_column: when ``data`` is a DataFrame, the column of that same DataFrame kept equal
            to the labels (object dtype, ``None`` where unlabelled; ``None`` to leave it alone).
        strategy: active-learning strategy, one of :data:`galwidget.learn.STRATEGIES`.
        target: the class whose probability is the score (default: the first class).
        features, id_column: how to read ``data``, as for :func:`galwidget.load_representations`
            (e.g. ``features=["pca_0", "pca_1"]`` for a table whose only representation is a
            precomputed 2-D projection).
    """

    _esm = _asset("widget.js", MISSING_BUNDLE)
    _css = _asset("widget.css", "")

    _config = traitlets.Dict().tag(sync=True)
    _points = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    _color = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    _color_meta = traitlets.Dict({"kind": "none"}).tag(sync=True)
    _selection = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    _focus = traitlets.Int(-1).tag(sync=True)
    _labels = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    _label_meta = traitlets.Dict({"classes": []}).tag(sync=True)
    _suggestions = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    _learn = traitlets.Dict({"status": "off", "message": ""}).tag(sync=True)

    k = traitlets.Int(12).tag(sync=True)
    mode = traitlets.Enum(["lasso", "box", "pan"], "lasso").tag(sync=True)
    point_size = traitlets.Float(3.0).tag(sync=True)
    opacity = traitlets.Float(0.8).tag(sync=True)
    height = traitlets.Int(560).tag(sync=True)
    strategy = traitlets.Enum(list(STRATEGIES), "uncertainty").tag(sync=True)
    target = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    def __init__(
        self,
        data: Any,
        layout: str | np.ndarray | tuple[str, str] = "pca",
        color: str | Sequence[Any] | np.ndarray | pd.Series | None = None,
        images: Any = None,
        k: int = 12,
        selected_column: str | None = "selected",
        index: Any = None,
        n_components: int | None = 40,
        metric: str = "euclidean",
        hover_columns: Sequence[str] | None = None,
        classes: Classes = None,
        labels_path: str | Path | None = None,
        label_column: str | None = "label",
        strategy: str = "uncertainty",
        target: str | None = None,
        features: str | Sequence[str] | None = None,
        id_column: str | None = None,
        remember_selection: bool = True,
        **kwargs: Any,
    ) -> None:
        self._image_pool = ThreadPoolExecutor(IMAGE_WORKERS, thread_name_prefix="galwidget-images")
        self._search_pool = ThreadPoolExecutor(1, thread_name_prefix="galwidget-search")
        reps = load_representations(data, features=features, id_column=id_column)
        frame = data if isinstance(data, pd.DataFrame) else None
        self._reps = reps
        self._frame = frame
        self._selected_column = selected_column if frame is not None else None
        self._labelling = LabellingSession(
            reps,
            classes,
            labels_path,
            frame,
            label_column,
            strategy,
            target,
            on_labels=self._show_labels,
            on_learning=self._show_learning,
        )
        labelling = self._labelling
        dropped = [self._selected_column] + ([labelling.label_column] if labelling.in_use else [])
        self._meta = reps.meta.drop(columns=[c for c in dropped if c in reps.meta])
        self._selection_file = saved_selection_path(reps) if remember_selection else None
        initial = self._initial_selection()
        layout_table = self._meta
        if isinstance(layout, tuple) and frame is not None and not set(layout) <= set(layout_table):
            layout_table = frame  # layout columns that are also the features live in the frame
        coordinates = normalise_layout(_layout_coordinates(reps, layout_table, layout, index))
        self._images = images_module.resolve(images, reps, THUMBNAIL_SIZE)
        self._index = index
        if n_components is not None and n_components >= reps.n_features:
            n_components = None  # no reduction to do: search the features themselves
        self._index_options = {"n_components": n_components, "metric": metric}
        self._index_lock = threading.Lock()
        self._positions = np.unique(initial)
        self._callbacks: list[Callable[[pd.Index], Any]] = []
        self._color_source: str | None = None
        derived = isinstance(color, str) and color in {"label", "score"} and color not in self._meta
        values, meta = self._encode_color(None if derived else color)
        self._hover_columns = self._check_hover_columns(hover_columns, meta)
        size, opacity = default_style(len(reps))
        super().__init__(
            _config={
                "n": len(reps),
                "id_column": reps.id_column,
                "image_kind": self._images.kind,
                "confirm_over": CONFIRM_OVER,
            },
            _points=coordinates.tobytes(),
            _color=values,
            _color_meta=meta,
            _selection=_encode_positions(initial),
            k=_check_k(k),
            point_size=size,
            opacity=opacity,
            strategy=labelling.strategy,
            target=labelling.target,
            **kwargs,
        )
        self.observe(self._selection_changed, names="_selection")
        self.observe(self._learning_changed, names=["strategy", "target"])
        self.on_msg(self._receive)
        self._write_selection_column()
        if labelling.in_use:
            labelling.open()
        if derived:
            self.color_by(color)

    # -- public API ------------------------------------------------------------------------------

    @property
    def representations(self) -> Representations:
        """The galaxies shown."""
        return self._reps

    @property
    def selected_positions(self) -> np.ndarray:
        """Row positions (int64, sorted, unique) of the selected galaxies."""
        return self._positions

    @property
    def selected_ids(self) -> pd.Index:
        """Ids of the selected galaxies, in row order."""
        return self._reps.ids[self._positions]

    @property
    def selected(self) -> pd.DataFrame:
        """Meta rows (indexed by id) of the selected galaxies; always current."""
        return self._meta.iloc[self._positions]

    def select(self, what: SelectionSpec) -> None:
        """Select galaxies and show the selection in the browser.

        ``what`` is a list/Index of ids, a boolean mask of length ``n``, a pandas query string
        evaluated on the meta columns (``"rings_yes_fraction > 0.5"``; a string that is an id
        selects that galaxy), or ``None`` / ``[]`` to clear the selection.
        """
        self._selection = _encode_positions(self._resolve_selection(what))

    def focus(self, galaxy_id: str | None) -> None:
        """Focus one galaxy (as a click does): its neighbours appear in the panel."""
        self._focus = -1 if galaxy_id is None else int(self._reps.positions([galaxy_id])[0])

    @property
    def focused(self) -> str | None:
        """Id of the focused galaxy, or ``None``."""
        return None if self._focus < 0 else str(self._reps.ids[self._focus])

    @property
    def neighbours(self) -> pd.DataFrame:
        """The focused galaxy's ``k`` nearest neighbours: ``id``, ``distance`` and meta columns."""
        if self._focus < 0:
            return self._neighbour_frame(np.empty(0, np.int64), np.empty(0, np.float32))
        return self._neighbour_frame(*self._neighbours_of(self._focus))

    def on_select(self, callback: Callable[[pd.Index], Any], remove: bool = False) -> None:
        """Call ``callback(selected_ids)`` after every selection change (browser or Python)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def color_by(self, color: str | Sequence[Any] | np.ndarray | pd.Series | None) -> None:
        """Colour the points by a meta column or an array of ``n`` values (``None``: one colour).

        Numbers become a viridis colour scale with a colour bar; strings, booleans, categoricals
        and integers with few distinct values become categories with a legend. Missing values are
        grey. Two names besides the meta columns follow the labelling as it goes on:
        ``"label"`` (one colour per class, unlabelled grey) and ``"score"`` (the classifier's
        :attr:`scores`, grey before the first fit).
        """
        with self._labelling.lock:
            values, meta = self._encode_color(color)
            self._color_source = color if isinstance(color, str) else None
            with self.hold_sync():
                self._color = values
                self._color_meta = meta

    @property
    def index(self) -> Any:
        """The :class:`galwidget.NeighbourIndex` behind the neighbour panel (built on first use)."""
        with self._index_lock:
            if self._index is None:
                from galwidget.index import NeighbourIndex

                self._index = NeighbourIndex(self._reps, **self._index_options)
            return self._index

    # -- labels ------------------------------------------------------------------------------------

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
        id_column: str | None = None,
        label_column: str = "label",
    ) -> None:
        """Import labels from a DataFrame, Series id → label, CSV/parquet file or label log.

        Unknown ids or classes raise :class:`~galwidget.DataError` listing them and nothing is
        applied; the import is one undo step.
        """
        self.label_store.import_labels(source, id_column=id_column, label_column=label_column)

    def undo(self) -> None:
        """Undo the latest labelling operation (a whole batch at once)."""
        self.label_store.undo()

    def redo(self) -> None:
        """Redo the latest undone labelling operation."""
        self.label_store.redo()

    # -- active learning ---------------------------------------------------------------------------

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

    def histogram(
        self, values: str | Sequence[float] | np.ndarray | pd.Series, bins: int = 40, **kwargs: Any
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

    def close(self) -> None:
        """Close the widget and stop its worker threads."""
        self._image_pool.shutdown(wait=False, cancel_futures=True)
        self._search_pool.shutdown(wait=False, cancel_futures=True)
        if hasattr(self, "_labelling"):  # absent when __init__ failed before creating it
            self._labelling.close()
        super().close()

    # -- messages from the front end ---------------------------------------------------------------

    def reply(self, message: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
        """The reply ``(content, buffers)`` to one front-end request.

        Requests and replies (every reply echoes ``type`` and ``request`` and has ``ok``; failures
        carry a human ``reason``):

        - ``{"type": "neighbours", "index": i}`` → ``index``, ``id``, ``indices``, ``ids``,
          ``distances`` of the ``k`` nearest neighbours of row ``i``.
        - ``{"type": "more_like"}`` → the same keys for the ``k`` galaxies nearest the centroid of
          the selection (``index`` is -1; ``count`` is the selection size).
        - ``{"type": "thumbnail", "index": i}`` → ``url`` (the browser loads it), or ``mime`` and
          one binary buffer holding the encoded image.
        - ``{"type": "hover", "index": i}`` → ``id`` and ``fields``: ``[[column, text], …]``.
        - ``{"type": "label", "index": i, "label": class or null}`` labels row ``i`` (``null``
          removes its label) → ``saved`` (true once the log is fsync'd), ``changed`` and
          ``counts`` (class → count).
        - ``{"type": "label_selection", "label": class or null}`` → the same for the selection
          (one undo step), with ``count`` = selection size.
        - ``{"type": "undo"}`` / ``{"type": "redo"}`` → ``saved``, ``changed``, ``counts`` and
          ``indices`` of the galaxies whose label changed.
        - ``{"type": "suggestions"}`` → ``indices``, ``ids`` and ``scores`` of the queue.
        """
        kind = message.get("type")
        content: dict[str, Any] = {"type": kind, "request": message.get("request")}
        try:
            if kind == "neighbours":
                position = self._message_index(message)
                indices, distances = self._neighbours_of(position)
                content.update(index=position, id=str(self._reps.ids[position]))
                content.update(self._neighbour_lists(indices, distances))
            elif kind == "more_like":
                if len(self._positions) == 0:
                    raise DataError("select some galaxies first")
                indices, distances = self._more_like_selection()
                content.update(index=-1, count=len(self._positions))
                content.update(self._neighbour_lists(indices, distances))
            elif kind == "thumbnail":
                return self._thumbnail_reply(content, self._message_index(message))
            elif kind == "hover":
                position = self._message_index(message)
                content.update(
                    id=str(self._reps.ids[position]), fields=self._hover_fields(position)
                )
            elif kind == "label":
                position = self._message_index(message)
                content.update(self._labelling.label_reply(position, message.get("label")))
            elif kind == "label_selection":
                label = message.get("label")
                content.update(self._labelling.label_selection_reply(self.selected_ids, label))
            elif kind in {"undo", "redo"}:
                content.update(self._labelling.history_reply(kind))
            elif kind == "suggestions":
                content.update(self._labelling.suggestion_reply())
            else:
                raise DataError(f"unknown request type {kind!r}")
        except (DataError, images_module.ImageError) as error:
            return {**content, "ok": False, "reason": _reason(error)}, []
        return {**content, "ok": True}, []

    def _receive(self, _: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind in {"neighbours", "more_like"}:
            self._search_pool.submit(self._answer, content)
        elif kind == "thumbnail" and self._images.kind == "bytes":
            self._image_pool.submit(self._answer, content)
        else:
            self._answer(content)

    def _answer(self, message: dict[str, Any]) -> None:
        try:
            content, buffers = self.reply(message)
        except Exception as error:  # report it to the front end instead of losing the request
            self.log.exception("galwidget: request %r failed", message)
            content = {
                "type": message.get("type"),
                "request": message.get("request"),
                "ok": False,
                "reason": f"{type(error).__name__}: {error}",
            }
            buffers = []
        self.send(content, buffers)

    def _message_index(self, message: dict[str, Any]) -> int:
        index = message.get("index")
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(self._reps)
        ):
            raise DataError(f"no galaxy at index {index!r} (there are {len(self._reps)})")
        return index

    def _thumbnail_reply(
        self, content: dict[str, Any], position: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        source = self._images
        if source.kind == "url":
            return {**content, "ok": True, "url": source.url(position)}, []
        if source.kind == "bytes":
            data, mime = source.fetch(position)
            return {**content, "ok": True, "mime": mime}, [data]
        raise images_module.ImageError("no images")

    def _hover_fields(self, position: int) -> list[list[str]]:
        row = self._meta.iloc[position]
        return [[column, _format_value(row[column])] for column in self._hover_columns]

    # -- neighbours --------------------------------------------------------------------------------

    def _neighbours_of(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and distances of the ``k`` nearest neighbours of ``position``."""
        k = min(self.k, len(self._reps) - 1)
        if k < 1:
            raise DataError("there is only one galaxy: it has no neighbours")
        indices, distances = self.index.query_positions(np.array([position], np.int64), k)
        return indices[0], distances[0]

    def _more_like_selection(self) -> tuple[np.ndarray, np.ndarray]:
        k = min(self.k, len(self._reps) - len(self._positions))
        if k < 1:
            raise DataError("every galaxy is selected: there is nothing else to find")
        found = self.index.more_like(self.selected_ids, k=k)
        return self._reps.positions(found["id"]), found["distance"].to_numpy(dtype=np.float32)

    def _neighbour_lists(self, indices: np.ndarray, distances: np.ndarray) -> dict[str, list[Any]]:
        return {
            "indices": [int(i) for i in indices],
            "ids": [str(i) for i in self._reps.ids[indices]],
            "distances": [float(d) for d in distances],
        }

    def _neighbour_frame(self, indices: np.ndarray, distances: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame({"id": self._reps.ids[indices].to_numpy(), "distance": distances})
        meta = self._meta.iloc[indices].drop(columns=["id", "distance"], errors="ignore")
        return pd.concat([frame, meta.reset_index(drop=True)], axis=1)

    # -- selection ---------------------------------------------------------------------------------

    def _initial_selection(self) -> np.ndarray:
        column = self._selected_column
        if column is None or self._frame is None or column not in self._frame.columns:
            return self._saved_selection()
        values = self._frame[column]
        if not pd.api.types.is_bool_dtype(values.dtype) or values.isna().any():
            raise DataError(
                f"the DataFrame already has a column {column!r} that is not boolean "
                f"(dtype {values.dtype}); pass selected_column='another_name' or None"
            )
        return np.flatnonzero(values.to_numpy(dtype=bool))

    def _resolve_selection(self, what: SelectionSpec) -> np.ndarray:
        n = len(self._reps)
        if what is None:
            return np.empty(0, np.int64)
        if isinstance(what, str):
            if what in self._reps.ids:
                return self._reps.positions([what])
            return self._query(what)
        values = what.to_numpy() if isinstance(what, pd.Series | pd.Index) else what
        if not isinstance(values, np.ndarray):
            values = np.asarray(list(values), dtype=object)
        if values.dtype == bool:
            if values.shape != (n,):
                raise DataError(f"a selection mask needs {n} booleans, got shape {values.shape}")
            return np.flatnonzero(values)
        if len(values) == 0:
            return np.empty(0, np.int64)
        return self._reps.positions(values)

    def _query(self, query: str) -> np.ndarray:
        try:
            rows = self._meta.query(query)
        except Exception as error:  # pandas raises many kinds for a bad expression
            raise DataError(f"cannot select with query {query!r}: {error}") from None
        return self._reps.ids.get_indexer(rows.index)

    @traitlets.validate("_selection")
    def _check_selection(self, proposal: dict[str, Any]) -> bytes:
        value = bytes(proposal["value"])
        if len(value) % 4:
            raise traitlets.TraitError(
                f"_selection must hold uint32 values, got {len(value)} bytes"
            )
        positions = np.frombuffer(value, dtype="<u4")
        if len(positions) and int(positions.max()) >= len(self._reps):
            raise traitlets.TraitError(f"_selection holds position {positions.max()} ≥ n")
        return value if _is_sorted_unique(positions) else _encode_positions(positions)

    @traitlets.validate("_focus")
    def _check_focus(self, proposal: dict[str, Any]) -> int:
        focus = int(proposal["value"])
        if not -1 <= focus < len(self._reps):
            raise traitlets.TraitError(f"_focus {focus} is outside -1 … {len(self._reps) - 1}")
        return focus

    @traitlets.validate("target")
    def _validate_target(self, proposal: dict[str, Any]) -> str | None:
        return self._labelling.check_target(proposal["value"])

    @traitlets.validate("k")
    def _validate_k(self, proposal: dict[str, Any]) -> int:
        return _check_k(proposal["value"])

    def _saved_selection(self) -> np.ndarray:
        """The selection a previous Explorer on this data left behind (empty if none or stale)."""
        if self._selection_file is None or not self._selection_file.is_file():
            return np.empty(0, np.int64)
        try:
            positions = np.load(self._selection_file).astype(np.int64)
        except (OSError, ValueError):
            return np.empty(0, np.int64)
        if positions.ndim != 1 or (len(positions) and positions.max() >= len(self._reps)):
            return np.empty(0, np.int64)
        return positions

    def _remember_selection(self) -> None:
        if self._selection_file is None:
            return
        self._selection_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self._selection_file.with_name(
            f"{self._selection_file.stem}.{os.getpid()}.tmp.npy"
        )
        np.save(partial, self._positions.astype("<u4"))
        os.replace(partial, self._selection_file)

    def _selection_changed(self, change: dict[str, Any]) -> None:
        self._positions = np.frombuffer(change["new"], dtype="<u4").astype(np.int64)
        self._remember_selection()
        self._write_selection_column()
        ids = self.selected_ids
        for callback in list(self._callbacks):
            callback(ids)

    def _write_selection_column(self) -> None:
        if self._frame is None or self._selected_column is None:
            return
        mask = np.zeros(len(self._frame), dtype=bool)
        mask[self._positions] = True
        self._frame[self._selected_column] = mask

    # -- labelling: showing the session's state ---------------------------------------------------

    def _show_labels(self) -> None:
        """Show the labels (codes, counts, label colours); the session holds its lock."""
        labelling = self._labelling
        with self.hold_sync():
            self._labels = labelling.codes_buffer()
            self._label_meta = labelling.summary()
            if self._color_source == "label":
                self._color, self._color_meta = self._label_colors()

    def _show_learning(self, trained: bool) -> None:
        """Show the training status and, once a retrain has finished, suggestions and scores."""
        labelling = self._labelling
        with self.hold_sync():
            if trained:
                self._suggestions = labelling.suggestions_buffer()
                if self._color_source == "score":
                    self._color, self._color_meta = self._score_colors()
            self._learn = labelling.status

    def _learning_changed(self, _: dict[str, Any]) -> None:
        self._labelling.set_learning(self.strategy, self.target)

    # -- colour ------------------------------------------------------------------------------------

    def _encode_color(self, color: Any) -> tuple[bytes, dict[str, Any]]:
        if color is None:
            return b"", {"kind": "none"}
        if isinstance(color, str) and color not in self._meta.columns:
            if color == "label":
                return self._label_colors()
            if color == "score":
                return self._score_colors()
        if isinstance(color, str):
            if color not in self._meta.columns:
                raise DataError(
                    f"no column {color!r} to colour by; columns: {', '.join(self._meta.columns)}"
                )
            return encode_colors(self._meta[color], color)
        values = color if isinstance(color, pd.Series) else pd.Series(np.asarray(color))
        if len(values) != len(self._reps):
            raise DataError(
                f"colour values for {len(values)} galaxies, but there are {len(self._reps)}"
            )
        return encode_colors(values.reset_index(drop=True), str(values.name or "values"))

    def _label_colors(self) -> tuple[bytes, dict[str, Any]]:
        labelling = self._labelling
        labelling.open()
        classes = labelling.classes
        if not classes:
            return encode_colors(pd.Series(labelling.values, dtype=object), "label")
        codes = labelling.codes
        unlabelled = (codes == UNLABELLED) | (codes == OTHER_LABEL)
        categorical = np.where(unlabelled, len(classes), codes.astype(np.int64) - 1)
        meta = {
            "kind": "categorical",
            "column": "label",
            "categories": list(classes),
            "missing": int(unlabelled.sum()),
            "missing_name": "unlabelled",
        }
        return categorical.astype(np.uint8).tobytes(), meta

    def _score_colors(self) -> tuple[bytes, dict[str, Any]]:
        scores = self._labelling.scores
        if scores is None:
            missing = np.full(len(self._reps), np.nan, dtype=np.float32)
            meta = {"kind": "continuous", "column": "score", "min": 0.0, "max": 1.0}
            return missing.tobytes(), {**meta, "missing": len(self._reps)}
        return encode_colors(scores.astype(np.float64), "score")

    def _check_hover_columns(
        self, columns: Sequence[str] | None, color_meta: dict[str, Any]
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


# ----------------------------------------------------------------------------------------------
# Pure helpers
# ----------------------------------------------------------------------------------------------


def saved_selection_path(reps: Representations) -> Path:
    """Where the Explorer keeps the selection of ``reps`` between sessions."""
    return cache_dir() / "selections" / f"{reps.fingerprint}.npy"


def normalise_layout(coordinates: np.ndarray) -> np.ndarray:
    """Interleaved float32 ``x, y`` scaled (same factor on both axes) and centred into [-1, 1]."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)
    half_range = float((high - low).max()) / 2
    scale = LAYOUT_MARGIN / half_range if half_range > 0 else 1.0
    return np.ascontiguousarray((coordinates - (low + high) / 2) * scale, dtype=np.float32).ravel()


def encode_colors(values: pd.Series, name: str) -> tuple[bytes, dict[str, Any]]:
    """Colour buffer and its description for ``_color`` / ``_color_meta``.

    Continuous numbers → float32 in [0, 1] (NaN for missing) with ``min``/``max``; strings,
    booleans, categoricals and integers with at most :data:`FEW_INTEGERS` distinct values →
    uint8 codes into ``categories`` (the most frequent :data:`MAX_CATEGORIES`; the code
    ``len(categories)`` marks missing values).
    """
    dtype = values.dtype
    missing = int(values.isna().sum())
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    few_integers = pd.api.types.is_integer_dtype(dtype) and values.nunique() <= FEW_INTEGERS
    if numeric and not few_integers:
        floats = values.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        floats[~np.isfinite(floats)] = np.nan
        finite = floats[np.isfinite(floats)]
        if len(finite) == 0:
            raise DataError(f"column {name!r} has no finite values to colour by")
        low, high = float(finite.min()), float(finite.max())
        scaled = (
            (floats - low) / (high - low) if high > low else np.where(np.isnan(floats), np.nan, 0.5)
        )
        meta = {"kind": "continuous", "column": name, "min": low, "max": high, "missing": missing}
        return scaled.astype(np.float32).tobytes(), meta
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(
            f"cannot colour by {name!r}: dtype {dtype} is neither numbers nor categories"
        )
    counts = values.value_counts()
    if isinstance(dtype, pd.CategoricalDtype):
        order = [c for c in dtype.categories if counts.get(c, 0) > 0]
    else:
        order = sorted(counts.index.tolist(), key=lambda v: (str(type(v)), v))
    if len(order) > MAX_CATEGORIES:
        keep = set(counts.index[: MAX_CATEGORIES - 1])
        order = [c for c in order if c in keep]
    codes = pd.Index(order, dtype=object).get_indexer(values.astype(object))
    present = values.notna().to_numpy()
    categories = [str(c) for c in order]
    if (present & (codes < 0)).any():
        codes[present & (codes < 0)] = len(categories)
        categories.append("other")
    codes[~present] = len(categories)
    meta = {"kind": "categorical", "column": name, "categories": categories, "missing": missing}
    return codes.astype(np.uint8).tobytes(), meta


def default_style(n: int) -> tuple[float, float]:
    """Point size (pixels) and opacity that keep ``n`` points readable."""
    if n <= 10_000:
        return 4.0, 0.9
    if n <= 100_000:
        return 2.5, 0.7
    return 1.5, 0.5


def _layout_coordinates(
    reps: Representations,
    meta: pd.DataFrame,
    layout: str | np.ndarray | tuple[str, str],
    index: Any = None,
) -> np.ndarray:
    if isinstance(layout, str):
        if layout not in {"pca", "umap"}:
            raise DataError(
                f"layout must be 'pca', 'umap', an (n, 2) array or two columns, got {layout!r}"
            )
        from galwidget.layout import layout as compute_layout

        coordinates = np.asarray(compute_layout(reps, method=layout, index=index))
    elif isinstance(layout, tuple) and len(layout) == 2 and all(isinstance(c, str) for c in layout):
        missing = [c for c in layout if c not in meta.columns]
        if missing:
            raise DataError(f"layout columns not found: {', '.join(missing)}")
        try:
            coordinates = meta[list(layout)].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"layout columns {layout} must be numeric") from None
    else:
        coordinates = np.asarray(layout)
        if not np.issubdtype(coordinates.dtype, np.number):
            raise DataError(f"layout array must be numeric, got dtype {coordinates.dtype}")
    if coordinates.shape != (len(reps), 2):
        raise DataError(f"layout must have shape ({len(reps)}, 2), got {coordinates.shape}")
    bad = np.flatnonzero(~np.isfinite(coordinates).all(axis=1))
    if len(bad):
        shown = ", ".join(str(reps.ids[i]) for i in bad[:5])
        raise DataError(f"layout has NaN or infinite coordinates for {len(bad)} galaxies: {shown}")
    return coordinates


def _encode_positions(positions: np.ndarray) -> bytes:
    """The ``_selection`` wire format: sorted, de-duplicated uint32 positions."""
    positions = np.asarray(positions, dtype=np.int64)
    if not _is_sorted_unique(positions):
        positions = np.unique(positions)
    return positions.astype("<u4").tobytes()


def _is_sorted_unique(positions: np.ndarray) -> bool:
    """Whether ``positions`` increase strictly (a linear check; sorting 100k values is not)."""
    return bool(np.all(positions[1:] > positions[:-1]))


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= 200:
        raise DataError(f"k must be an integer from 1 to 200, got {k!r}")
    return int(k)


def _format_value(value: Any) -> str:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return "–"
    if isinstance(value, float | np.floating):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _reason(error: Exception) -> str:
    return error.reason if isinstance(error, images_module.ImageError) else str(error)
