"""galwidget.html: what a saved page holds (the browser side is tests/browser/test_html.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from readonly_mount import read_only_folder

import galwidget as gw
from galwidget.static_page import page_html

N = 300


def page_data(text: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="galwidget-page">(.*?)</script>', text, re.S
    )
    assert match, "no page data"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def reps() -> gw.Representations:
    return gw.datasets.synthetic(n=N, seed=0, dim=8)


@pytest.fixture
def explorer(reps: gw.Representations) -> gw.Explorer:
    widget = gw.Explorer(reps, images=reps.images, color="morphology")
    yield widget
    widget.close()


def test_the_page_holds_the_view_as_the_widget_has_it(explorer: gw.Explorer, tmp_path: Path):
    explorer.select(explorer.representations.ids[10:20])
    path = explorer.save_html(tmp_path / "view.html", max_thumbnail_bytes=0)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and f"galwidget: {N:,} galaxies" in text
    data = page_data(text)
    for name in ("_points", "_color", "_selection"):
        assert base64.b64decode(data["binary"][name]) == bytes(getattr(explorer, name)), name
    assert data["state"]["_color_meta"] == explorer._color_meta
    assert data["state"]["_label_meta"]["read_only"] is True
    assert data["state"]["_config"]["image_kind"] == "none" and data["thumbnails"] is None
    assert not {"_esm", "_css", "layout", "_model_name"} & set(data["state"])
    hover = data["hover"]
    assert hover["ids"] == list(explorer.representations.ids)
    for position in (0, 123, N - 1):
        reply, _ = explorer._reply(
            {"type": "request", "kind": "hover", "request": 1, "position": position}
        )
        fields = [
            [column, text[position]]
            for column, text in zip(hover["columns"], hover["text"], strict=True)
        ]
        assert fields == reply["fields"]


def test_no_text_can_close_the_script_elements(reps: gw.Representations) -> None:
    meta = reps.meta.copy()
    meta["note"] = "</script><script>alert(1)</script>"
    hostile = gw.Representations.from_array(reps.features, ids=reps.ids, meta=meta)
    explorer = gw.Explorer(hostile, hover_columns=["note"])
    try:
        text = page_html(explorer._page_snapshot(), title="<b>mine</b>")
    finally:
        explorer.close()
    assert text.count("</script>") == 2  # the page's own two script elements
    assert "<title>&lt;b&gt;mine&lt;/b&gt;</title>" in text
    assert page_data(text)["hover"]["text"][0][0] == meta["note"].iloc[0]


def test_the_focused_galaxy_its_neighbors_and_the_selection_come_first(
    explorer: gw.Explorer,
) -> None:
    ids = explorer.representations.ids
    explorer.select(ids[[5, 50, 100]])
    explorer.focus(ids[200])
    data = page_data(page_html(explorer._page_snapshot(), max_thumbnail_bytes=200_000))
    [saved] = data["replies"]
    reply, buffers = explorer._reply(
        {"type": "request", "kind": "neighbors", "request": 1, "position": 200}
    )
    assert (saved["kind"], saved["position"]) == ("neighbors", 200)
    assert saved["content"]["ids"] == reply["ids"] and len(reply["ids"]) == explorer.k
    assert [base64.b64decode(b) for b in saved["buffers"]] == [bytes(b) for b in buffers]
    neighbors = np.frombuffer(bytes(buffers[0]), "<u4").tolist()

    thumbnails = data["thumbnails"]
    assert data["state"]["_config"]["image_kind"] == "url" and len(thumbnails) == N
    embedded = [p for p, uri in enumerate(thumbnails) if uri]
    assert {200, 5, 50, 100, *neighbors} <= set(embedded) and len(embedded) < N
    assert sum(len(uri) for uri in thumbnails) <= 200_000
    reply, buffers = explorer._reply(
        {"type": "request", "kind": "thumbnail", "request": 1, "position": 200}
    )
    encoded = base64.b64encode(bytes(buffers[0])).decode()
    assert thumbnails[200] == f"data:{reply['mime']};base64,{encoded}"
    rest = sorted(set(embedded) - {200, 5, 50, 100, *neighbors})
    assert rest == [p for p in range(N) if p not in {200, 5, 50, 100, *neighbors}][: len(rest)]


def test_url_thumbnails_and_labels(reps: gw.Representations, tmp_path: Path) -> None:
    explorer = gw.Explorer(
        reps,
        images="https://example.org/cutout?ra={ra}&dec={dec}",
        classes=["ring", "other"],
        labels={"path": tmp_path / "labels.jsonl"},
    )
    try:
        explorer.set_labels({reps.ids[3]: "ring", reps.ids[4]: "other"})
        data = page_data(page_html(explorer._page_snapshot()))
        urls = [
            explorer._reply({"type": "request", "kind": "thumbnail", "request": 1, "position": p})[
                0
            ]["url"]
            for p in range(N)
        ]
    finally:
        explorer.close()
    assert data["thumbnails"] == urls and urls[7].startswith("https://example.org/cutout?ra=")
    codes = np.frombuffer(base64.b64decode(data["labels"]), np.uint8)
    assert len(codes) == N and codes[3] == 1 and codes[4] == 2 and codes.sum() == 3
    assert data["state"]["_label_meta"]["classes"] == ["ring", "other"]


def test_bad_targets_and_options(explorer: gw.Explorer, tmp_path: Path) -> None:
    with pytest.raises(gw.DataError, match=r"the folder .*nowhere does not exist"):
        explorer.save_html(tmp_path / "nowhere" / "view.html")
    with pytest.raises(gw.DataError, match="max_thumbnail_bytes must be an integer"):
        page_html(explorer._page_snapshot(), max_thumbnail_bytes=1.5)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir()), "nothing half-written"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "the page must be a path, got ''"),
        ("a\0b.html", "contains a NUL character"),
        (".", "it is a folder; name a file in it"),
        (123, "the page must be a path .* got int"),
    ],
)
def test_bad_paths_are_refused_before_anything_is_written(
    explorer: gw.Explorer, tmp_path: Path, monkeypatch, target, message
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gw.DataError, match=message):
        explorer.save_html(target)
    assert not list(tmp_path.iterdir()), "nothing half-written"


def test_a_folder_in_the_way_leaves_no_temporary_file(explorer: gw.Explorer, tmp_path: Path):
    (tmp_path / "view.html").mkdir()
    with pytest.raises(gw.DataError, match=r"view\.html: it is a folder"):
        explorer.save_html(tmp_path / "view.html")
    assert [p.name for p in tmp_path.iterdir()] == ["view.html"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(gw.DataError, match=r"does not exist"):
        explorer.save_html(tmp_path / "file" / "view.html")


def test_a_read_only_file_system_is_a_clear_error(explorer: gw.Explorer, tmp_path: Path):
    with read_only_folder(tmp_path / "ro") as folder:
        for target in [folder / "view.html", folder / "existing.html", folder / "sub" / "v.html"]:
            with pytest.raises(gw.DataError, match=r"cannot write the page .* is not writable"):
                explorer.save_html(target)
        assert (folder / "existing.html").read_text() == "before"
        assert sorted(p.name for p in folder.iterdir()) == ["existing.html", "sub"]


def test_a_map_beyond_its_point_budget_saves_the_density_and_a_sample(
    reps: gw.Representations, tmp_path: Path
) -> None:
    budget = 100  # a sample of half of it: 50 of the 300 galaxies
    widget = gw.Explorer(reps, images=reps.images, color="morphology", point_budget=budget)
    try:
        widget.select(reps.ids[:30])
        data = page_data(widget.save_html(tmp_path / "view.html").read_text(encoding="utf-8"))
        positions, _, _ = widget._map_detail.view(widget.layout_name, (-1, -1, 1, 1), limit=50)
    finally:
        widget.close()
    assert data["binary"]["_points"] == "" and data["state"]["point_budget"] == budget
    hover = data["hover"]
    assert hover["positions"] == positions.tolist() and len(positions) == budget // 2
    assert hover["ids"] == [str(reps.ids[p]) for p in positions]
    assert all(len(text) == len(positions) for text in hover["text"])
    assert len(data["thumbnails"]) == len(positions)
    replies = {(r["kind"], r["position"]): r for r in data["replies"]}
    sample = replies[("map_view", "")]
    assert sample["content"]["count"] == len(positions) and sample["content"]["total"] == N
    saved = np.frombuffer(base64.b64decode(sample["buffers"][0]), "<u4")
    assert saved.tolist() == positions.tolist()
    for layer, count in (("all", N), ("selection", 30)):
        density = replies[("map_density", layer)]
        size = density["content"]["size"]
        levels = np.frombuffer(base64.b64decode(density["buffers"][0]), np.uint8)
        assert len(levels) == size * size and 0 < (levels > 0).sum() <= count
