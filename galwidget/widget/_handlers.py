"""The Explorer's answers to the front end's requests, one handler per request kind of
:data:`galwidget.protocol.REQUESTS`, each marked with :func:`~galwidget.protocol.handles`."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from galwidget import protocol
from galwidget.errors import DataError, GalwidgetError, ImageError
from galwidget.protocol import Reply, Request, RequestRegistry, handles
from galwidget.util import format_value

# Thumbnails a `thumbnails` request may ask for (the map asks a few at a time).
MAX_THUMBNAILS = 16

if TYPE_CHECKING:
    from galwidget.data import Representations
    from galwidget.images import ImageSource
    from galwidget.neighbors import NeighborIndex
    from galwidget.search import Found
    from galwidget.session import LabellingSession
    from galwidget.widget._gallery import SelectionPages

__all__ = ["RequestHandlers"]


class RequestHandlers:
    """The Explorer's request handlers (a mixin of :class:`~galwidget.widget.Explorer`)."""

    if TYPE_CHECKING:  # what the handlers use of the Explorer
        _requests: RequestRegistry
        _reps: Representations
        _meta: pd.DataFrame
        _images: ImageSource
        _large_images: ImageSource
        _hover_columns: list[str]
        _labelling: LabellingSession
        _pages: SelectionPages
        _config: dict[str, Any]
        _filter: bytes
        _lasso: tuple[str, np.ndarray] | None
        selection: np.ndarray
        k: int
        layout_name: str

        @property
        def selected(self) -> pd.DataFrame: ...

        @property
        def labels(self) -> pd.DataFrame: ...

        def filter(self, *, mode: Any = "dim", **conditions: Any) -> None: ...

        @property
        def index(self) -> NeighborIndex: ...

        @property
        def selected_ids(self) -> pd.Index: ...

        def find(self, text: str) -> Found: ...

        def color_by(self, color: Any) -> None: ...

        def select_cluster(self, cluster: int) -> None: ...

        def _neighbors_of(self, position: int) -> tuple[np.ndarray, np.ndarray]: ...

    def _register_requests(self) -> None:
        """Register every handler of this class with the request registry."""
        self._requests.register_handlers(self)

    def _position(self, request: Request) -> int:
        return self._position_of(request.params["position"])

    def _position_of(self, position: int) -> int:
        if not 0 <= position < len(self._reps):
            raise DataError(f"no galaxy at position {position} (there are {len(self._reps)})")
        return int(position)

    @handles("neighbors")
    def _on_neighbors(self, request: Request) -> Reply:
        position = self._position(request)
        positions, distances = self._neighbors_of(position)
        fields = {"position": position, "id": str(self._reps.ids[position])}
        return self._neighbor_reply(fields, positions, distances)

    @handles("centroid")
    def _on_centroid(self, request: Request) -> Reply:
        selection = self.selection
        if len(selection) == 0:
            raise DataError("select some galaxies first")
        k = min(self.k, len(self._reps) - len(selection))
        if k < 1:
            raise DataError("every galaxy is selected: there is nothing else to find")
        found = self.index.more_like(self._reps.ids[selection], k=k)
        positions = self._reps.positions(found["id"])
        distances = found["distance"].to_numpy(dtype=np.float32)
        return self._neighbor_reply({"count": len(selection)}, positions, distances)

    def _neighbor_reply(
        self, fields: dict[str, Any], positions: np.ndarray, distances: np.ndarray
    ) -> Reply:
        fields["ids"] = [str(i) for i in self._reps.ids[positions]]
        buffers = [protocol.encode_positions(positions), distances.astype("<f4").tobytes()]
        return Reply(fields, buffers)

    @handles("thumbnail")
    def _on_thumbnail(self, request: Request) -> Reply:
        return _image_reply(self._images, self._position(request))

    @handles("thumbnails")
    def _on_thumbnails(self, request: Request) -> Reply:
        positions = request.params["positions"]
        if len(positions) > MAX_THUMBNAILS:
            raise DataError(f"at most {MAX_THUMBNAILS} thumbnails a request, got {len(positions)}")
        if self._images.kind == "none":
            raise ImageError("no images")
        urls: list[str | None] = []
        mimes: list[str | None] = []
        sizes: list[int] = []
        reasons: list[str | None] = []
        images: list[bytes] = []
        for position in positions:
            url = mime = reason = None
            data = b""
            try:
                checked = self._position_of(position)
                if self._images.kind == "url":
                    url = self._images.url(checked)
                else:
                    data, mime = self._images.fetch(checked)
            except GalwidgetError as error:
                reason = str(error)
            urls.append(url)
            mimes.append(mime)
            sizes.append(len(data))
            reasons.append(reason)
            images.append(data)
        fields = {"urls": urls, "mimes": mimes, "sizes": sizes, "reasons": reasons}
        return Reply(fields, [b"".join(images)])

    @handles("image")
    def _on_image(self, request: Request) -> Reply:
        return _image_reply(self._large_images, self._position(request))

    @handles("hover")
    def _on_hover(self, request: Request) -> Reply:
        position = self._position(request)
        row = self._meta.iloc[position]
        fields = [[column, format_value(row[column])] for column in self._hover_columns]
        radec = self._reps.radec
        sky = None if radec is None or not np.isfinite(radec[position]).all() else radec[position]
        reply = {"id": str(self._reps.ids[position]), "fields": fields}
        return Reply({**reply, "radec": None if sky is None else [float(v) for v in sky]})

    @handles("label")
    def _on_label(self, request: Request) -> Reply:
        positions = protocol.decode_positions(request.buffers[0], len(self._reps))
        return Reply(self._labelling.label_positions(positions, request.params["label"]))

    @handles("label_selection")
    def _on_label_selection(self, request: Request) -> Reply:
        label = request.params["label"]
        return Reply(self._labelling.label_selection(self.selected_ids, label))

    @handles("undo", "redo")
    def _on_history(self, request: Request) -> Reply:
        return Reply(self._labelling.history(request.kind))

    @handles("labels")
    def _on_labels(self, request: Request) -> Reply:
        labelling = self._labelling
        labelling.open()
        with labelling.lock:
            return Reply({"version": labelling.version}, [labelling.codes.tobytes()])

    @handles("suggestions")
    def _on_suggestions(self, request: Request) -> Reply:
        labelling = self._labelling
        with labelling.lock:
            positions, scores = labelling.suggested()
            version = labelling.suggestions_version
        fields = {
            "ids": [str(i) for i in self._reps.ids[positions]],
            "suggestions_version": version,
        }
        buffers = [protocol.encode_positions(positions), scores.astype("<f4").tobytes()]
        return Reply(fields, buffers)

    @handles("selection_page")
    def _on_selection_page(self, request: Request) -> Reply:
        params = request.params
        page = self._pages.page(
            self.selection,
            order=params["order"],
            column=params["column"],
            descending=params["descending"],
            offset=params["offset"],
            limit=params["limit"],
        )
        fields = {
            "total": page.total,
            "offset": page.offset,
            "ids": [str(i) for i in self._reps.ids[page.positions]],
        }
        buffers = [protocol.encode_positions(page.positions), page.values.astype("<f4").tobytes()]
        return Reply(fields, buffers)

    @handles("color_by")
    def _on_color_by(self, request: Request) -> Reply:
        column = request.params["column"]
        if column is not None and column not in self._config["color_columns"]:
            raise DataError(
                f"cannot color by {column!r}: not a meta column, 'label', 'score', 'anomaly' or 'cluster'"
            )
        self.color_by(column)
        return Reply({"column": column})

    @handles("select_cluster")
    def _on_select_cluster(self, request: Request) -> Reply:
        cluster = int(request.params["cluster"])
        self.select_cluster(cluster)
        return Reply({"cluster": cluster, "count": len(self.selection)})

    @handles("find")
    def _on_find(self, request: Request) -> Reply:
        found = self.find(request.params["text"])
        fields = {
            "query": found.query,
            "match": found.kind,
            "position": -1 if found.position is None else found.position,
            "id": found.id,
            "completions": list(found.completions),
            "n_completions": found.n_completions,
            "separation_arcsec": found.separation_arcsec,
            "radius_arcsec": found.radius_arcsec,
        }
        return Reply(fields)

    @handles("lasso")
    def _on_lasso(self, request: Request) -> Reply:
        flat = np.asarray(request.params["polygon"], dtype=np.float64)
        if len(flat) < 6 or len(flat) % 2 or not np.isfinite(flat).all():
            raise DataError(
                f"a lasso needs at least three finite (x, y) vertices, got {len(flat)} numbers"
            )
        self._lasso = (self.layout_name, flat.reshape(-1, 2))
        return Reply({"vertices": len(flat) // 2})

    @handles("filter_category")
    def _on_filter_category(self, request: Request) -> Reply:
        params = request.params
        category = params["category"]
        if category is None:
            self.filter()
            return Reply({"shown": len(self._reps)})
        column = params["column"]
        if column not in self._meta.columns:
            raise DataError(f"no column {column!r} to filter on")
        values = self._meta[column]
        # The legend names categories as text: the column's values whose text it is.
        shown_rows = (
            protocol.decode_selection(self._filter, len(self._reps))
            if self._filter
            else np.arange(len(self._reps))
        )
        every = pd.unique(values.dropna())
        if params["only"]:
            keep = [v for v in every if str(v) == category]
        else:
            # Hiding adds up; hiding the one category shown shows all the others instead.
            keep = [v for v in pd.unique(values.iloc[shown_rows].dropna()) if str(v) != category]
            keep = keep or [v for v in every if str(v) != category]
        if not keep:
            raise DataError(f"{column} = {category!r}: no galaxy would be shown")
        self.filter(mode="hide", **{column: keep})
        return Reply({"shown": int(values.isin(keep).sum())})

    @handles("export")
    def _on_export(self, request: Request) -> Reply:
        what, kind = request.params["what"], request.params["format"]
        table = self.selected if what == "selection" else self.labels
        buffer = io.BytesIO()
        if kind == "csv":
            id_name = str(table.index.name or "id")
            index = id_name not in table.columns  # else the ids are a column already
            buffer.write(table.to_csv(index=index, index_label=id_name).encode())
            mime = "text/csv"
        else:
            table.to_parquet(buffer)
            mime = "application/vnd.apache.parquet"
        data = buffer.getvalue()
        if len(data) > protocol.MAX_MESSAGE_BYTES:
            raise DataError(
                f"the {what} ({len(table):,} rows, {len(data) / 2**20:.1f} MiB) is too large to "
                f"download from the page; in Python: w.{'selected' if what == 'selection' else 'labels'}"
                f".to_{kind}(path)"
            )
        fields = {"filename": f"galwidget-{what}.{kind}", "mime": mime, "rows": len(table)}
        return Reply(fields, [data])


def _image_reply(source: ImageSource, position: int) -> Reply:
    """A galaxy's image from ``source``: its URL, or its bytes and MIME type."""
    if source.kind == "url":
        return Reply({"url": source.url(position)})
    if source.kind == "bytes":
        data, mime = source.fetch(position)
        return Reply({"mime": mime}, [data])
    raise ImageError("no images")
