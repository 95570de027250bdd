"""Save a view as one self-contained HTML page (``w.save_html(path)``), from a plain snapshot of it.

The page opens from disk in a browser, offline and without a kernel: the points, colors, legend,
selection and focus as they are now; pan, zoom and hover (with each galaxy's hover text and
thumbnail) work. It is the widget's own front end (``galwidget/static/standalone.js``, built from
``js/src/standalone.ts``) on a static in-page model that answers ``hover``, ``thumbnail`` and
``labels`` requests from data embedded in the page; anything that needs a kernel (neighbors,
labelling, search) says so in the widget.

The Explorer hands over a :class:`PageSnapshot` (its synced state, hover text and a function that
answers requests as the kernel would): this module never imports the widget.

Page layout: ``<style>`` the widget's CSS; ``<div id="galwidget">``; ``<script
type="application/json" id="galwidget-page">`` the PageData (format in ``js/src/standalone.ts``:
``state`` JSON traits, ``binary`` base64 bytes traits, ``hover`` text per column and galaxy,
``thumbnails`` one URL or ``data:`` URI per galaxy, ``labels`` base64 label codes, ``replies`` the
focused galaxy's neighbors as the kernel answered them); ``<script
type="module">`` the front end. ``</`` inside the inlined JSON and script is escaped, so no
embedded text can end a script element early.

Thumbnails: kind ``"url"`` sources save every galaxy's URL (the browser loads them when online);
kind ``"bytes"`` thumbnails (rendered in the kernel) are embedded as ``data:`` URIs — the focused
galaxy's first, then its neighbors', the selected ones', the others' in row order — until
``max_thumbnail_bytes``; the others show none. Labels are saved read-only.

Maps beyond the Explorer's ``point_budget`` (no ``_points``): the page embeds the density of every
galaxy (and of the selection) and a uniform sample of at most :data:`MAX_SAMPLE_POINTS` points
(``map_density`` and ``map_view`` replies); ids, hover text and thumbnails are those of the sample
(``hover.positions``). Colors, labels, the filter and the selection still take one to a few bytes
a galaxy (base64): about 4 MB a million galaxies.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galwidget.errors import DataError
from galwidget.images import OutputFile

__all__ = [
    "DEFAULT_MAX_THUMBNAIL_BYTES",
    "MAX_SAMPLE_POINTS",
    "PageSnapshot",
    "page_html",
    "save_html",
]

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
"""How many bytes of thumbnails :func:`save_html` embeds by default (2 MiB)."""
MAX_SAMPLE_POINTS = 200_000
"""Most points a page of a map beyond its point budget embeds (its sample; 2.4 MB before base64)."""
DENSITY_SIZE = 512  # as js/src/detail.ts asks

Answer = Callable[[str, dict[str, Any]], tuple[dict[str, Any], list[bytes]]]


@dataclass(frozen=True)
class PageSnapshot:
    """What a saved page shows, taken from a view at one moment.

    Attributes:
        state: the view's synced traits with JSON values, by trait name.
        binary: the view's synced traits holding bytes, by trait name.
        ids: every galaxy's id, in row order (of ``positions`` only, when given).
        hover_columns: the catalogue columns the hover text shows.
        hover_text: per hover column, every galaxy's value formatted as the widget shows it (of
            ``positions`` only, when given).
        selection: the selected row positions.
        thumbnail_urls: every galaxy's thumbnail URL (``None`` for none) when thumbnails are
            URLs, else ``None`` (of ``positions`` only, when given).
        answer: answers one request (kind, parameters) exactly as the kernel answers the front end.
        positions: beyond the point budget, the sample's sorted positions (the ``map_view`` of
            the whole square with that many points); ``None``: every galaxy.
    """

    state: dict[str, Any]
    binary: dict[str, bytes]
    ids: Sequence[str]
    hover_columns: Sequence[str]
    hover_text: Sequence[Sequence[str]]
    selection: np.ndarray
    thumbnail_urls: Sequence[str | None] | None
    answer: Answer
    positions: np.ndarray | None = None


def save_html(
    snapshot: PageSnapshot,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    max_thumbnail_bytes: int = DEFAULT_MAX_THUMBNAIL_BYTES,
) -> Path:
    """Write the view in ``snapshot`` to ``path`` as one self-contained HTML page.

    Args:
        snapshot: the view, as taken by :meth:`galwidget.Explorer.save_html`.
        path: the ``.html`` file to write (its folder must exist).
        title: the page title (default: "galwidget: <n> galaxies").
        max_thumbnail_bytes: most bytes of kernel-rendered thumbnails embedded (see the module
            docstring); 0 embeds none.

    Returns:
        The path written.

    Raises:
        DataError: the front end is not built; ``path`` is empty, holds a NUL, is a folder, lies
            in a folder that does not exist or cannot be written (checked before the page is
            made); the write failed (nothing is left behind, an existing page is unchanged).
    """
    target = OutputFile.check(path, "the page", create_folder=False)
    text = page_html(snapshot, title=title, max_thumbnail_bytes=max_thumbnail_bytes)
    return target.write(lambda partial: partial.write_text(text, encoding="utf-8"))


def page_html(
    snapshot: PageSnapshot,
    *,
    title: str | None = None,
    max_thumbnail_bytes: int = DEFAULT_MAX_THUMBNAIL_BYTES,
) -> str:
    """The HTML text :func:`save_html` writes."""
    if isinstance(max_thumbnail_bytes, bool) or not isinstance(max_thumbnail_bytes, int):
        raise DataError(f"max_thumbnail_bytes must be an integer, got {max_thumbnail_bytes!r}")
    script_path, css_path = STATIC / "standalone.js", STATIC / "standalone.css"
    if not script_path.is_file() or not css_path.is_file():
        raise DataError(
            f"galwidget's front end is not built ({script_path}): run `make js` "
            "(npm run build in js/)"
        )
    n = int(snapshot.state["_config"]["n"])
    data = _page_data(snapshot, max_thumbnail_bytes)
    heading = title if title is not None else f"galwidget: {n:,} galaxies"
    return PAGE.format(
        title=html.escape(heading),
        css=_inline(css_path.read_text(encoding="utf-8")),
        data=_inline(json.dumps(data, separators=(",", ":"), ensure_ascii=False)),
        script=_inline(script_path.read_text(encoding="utf-8")),
    )


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="galwidget save_html">
<title>{title}</title>
<style>
body {{ margin: 16px; font-family: system-ui, sans-serif; }}
{css}
</style>
</head>
<body>
<div id="galwidget"></div>
<script type="application/json" id="galwidget-page">{data}</script>
<script type="module">{script}</script>
</body>
</html>
"""


def _inline(text: str) -> str:
    """``text`` safe inside a <style> or <script> element (``</`` cannot close it)."""
    return text.replace("</", "<\\/")


def _page_data(snapshot: PageSnapshot, max_thumbnail_bytes: int) -> dict[str, Any]:
    state = dict(snapshot.state)
    binary = {
        name: base64.b64encode(value).decode("ascii") for name, value in snapshot.binary.items()
    }
    label_meta = dict(state.get("_label_meta", {}))
    has_classes = bool(label_meta.get("classes"))
    state["_label_meta"] = {**label_meta, "read_only": True, "can_undo": False, "can_redo": False}
    replies = _focused_neighbors(snapshot, int(state["_focus"]))
    first = [int(state["_focus"])] + [p for reply in replies for p in reply["positions"]]
    replies += _detail_replies(snapshot)
    kind = state["_config"]["image_kind"]
    thumbnails = _thumbnails(snapshot, kind, [p for p in first if p >= 0], max_thumbnail_bytes)
    if thumbnails is None:
        state["_config"] = {**state["_config"], "image_kind": "none"}
    else:
        state["_config"] = {**state["_config"], "image_kind": "url"}  # URLs or data: URIs
    labels = snapshot.answer("labels", {})[1][0] if has_classes else None
    return {
        "state": state,
        "binary": binary,
        "hover": {
            "ids": list(snapshot.ids),
            "columns": list(snapshot.hover_columns),
            "text": [list(text) for text in snapshot.hover_text],
            "positions": None if snapshot.positions is None else snapshot.positions.tolist(),
        },
        "thumbnails": thumbnails,
        "labels": None if labels is None else base64.b64encode(labels).decode("ascii"),
        "replies": [{k: v for k, v in reply.items() if k != "positions"} for reply in replies],
    }


def _focused_neighbors(snapshot: PageSnapshot, focus: int) -> list[dict[str, Any]]:
    """The kernel's ``neighbors`` reply for the focused galaxy, to save with the page (none when
    nothing is focused or it cannot be answered); ``positions`` lists the neighbors."""
    if focus < 0:
        return []
    content, buffers = snapshot.answer("neighbors", {"position": focus})
    if not content.get("ok"):
        return []
    fields = {k: v for k, v in content.items() if k not in {"type", "kind", "request", "ok"}}
    return [
        {
            "kind": "neighbors",
            "position": focus,
            "content": fields,
            "buffers": [base64.b64encode(b).decode("ascii") for b in buffers],
            "positions": np.frombuffer(buffers[0], "<u4").tolist(),
        }
    ]


def _detail_replies(snapshot: PageSnapshot) -> list[dict[str, Any]]:
    """Beyond the point budget: the density replies and the sample's ``map_view`` reply."""
    if snapshot.positions is None:
        return []
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("map_density", "all", {"size": DENSITY_SIZE, "layer": "all"}),
        ("map_view", "", {"x0": -1, "y0": -1, "x1": 1, "y1": 1, "from_rank": 0}),
    ]
    requests[1][2]["limit"] = max(1, len(snapshot.positions))
    if len(snapshot.selection):
        requests.append(("map_density", "selection", {"size": DENSITY_SIZE, "layer": "selection"}))
    replies = []
    for kind, key, params in requests:
        content, buffers = snapshot.answer(kind, params)
        if not content.get("ok"):
            raise DataError(f"cannot save the map's {kind}: {content.get('reason')}")
        fields = {k: v for k, v in content.items() if k not in {"type", "kind", "request", "ok"}}
        encoded = [base64.b64encode(b).decode("ascii") for b in buffers]
        replies.append(
            {"kind": kind, "position": key, "content": fields, "buffers": encoded, "positions": []}
        )
    return replies


def _thumbnails(
    snapshot: PageSnapshot, kind: str, first: list[int], max_bytes: int
) -> list[str] | None:
    """One URL or data: URI per galaxy ("" for none), or ``None`` without images; kernel-made
    ones for ``first``, then the selected galaxies, then the others, until ``max_bytes``."""
    if kind == "url" and snapshot.thumbnail_urls is not None:
        return [url or "" for url in snapshot.thumbnail_urls]
    if kind != "bytes" or max_bytes <= 0:
        return None
    # Thumbnails are listed as ids are: every galaxy's, or the sample's (index → position).
    rows = range(len(snapshot.ids)) if snapshot.positions is None else snapshot.positions.tolist()
    index = {int(p): i for i, p in enumerate(rows)}
    order = list(dict.fromkeys([*first, *(int(p) for p in snapshot.selection)]))
    order = [p for p in order if p in index]
    chosen = set(order)
    order += [int(p) for p in rows if int(p) not in chosen]
    thumbnails = [""] * len(index)
    used = 0
    for position in order:
        content, buffers = snapshot.answer("thumbnail", {"position": position})
        if not content.get("ok"):
            continue  # this galaxy's image is missing: the saved page shows none, as the widget
        uri = f"data:{content['mime']};base64,{base64.b64encode(buffers[0]).decode('ascii')}"
        if used + len(uri) > max_bytes:
            break
        thumbnails[index[position]] = uri
        used += len(uri)
    return thumbnails
