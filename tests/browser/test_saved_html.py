"""``w.save_html(path)``: the saved page opened from a file:// URL in headless Chromium, with every
network request refused (no server, no kernel), draws the points and the focused galaxy's saved
neighbors, answers hovers and zooms."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from test_jupyterlab import most_isolated, page_positions

import galwidget as gw

pytestmark = pytest.mark.browser

N = 1500
STANDALONE = Path(gw.__file__).parent / "static" / "standalone.js"


def canvas_rgb(canvas: Any) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), dtype=np.int16)


def test_saved_page_draws_hovers_and_zooms_offline(
    chromium: Any, tmp_path: Path, artifacts: Path
) -> None:
    if not STANDALONE.is_file():
        pytest.skip(f"front-end bundle not built ({STANDALONE}); run `make js`")
    reps = gw.datasets.synthetic(n=N, seed=3, dim=16)
    explorer = gw.Explorer(reps, images=reps.images, color="morphology")
    try:
        explorer.select(reps.ids[:40])
        points = np.frombuffer(explorer._points, np.float32).reshape(-1, 2).astype(np.float64)
        # An isolated galaxy away from the edges and the legend (top right), focused so that
        # its thumbnail is among the few embedded.
        central = (np.abs(points) < 0.6).all(axis=1) & ~((points[:, 0] > 0) & (points[:, 1] > 0.3))
        hovered = most_isolated(points, central)
        explorer.focus(reps.ids[hovered])
        path = explorer.save_html(tmp_path / "view.html", max_thumbnail_bytes=150_000)
        neighbors = explorer.neighbors["id"].tolist()
    finally:
        explorer.close()

    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    requested: list[str] = []

    def offline(route: Any) -> None:
        requested.append(route.request.url)
        route.abort()

    context.route("http*://**/*", offline)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.as_uri())
        widget = page.locator(".galwidget")
        expect(widget).to_have_attribute("data-state", "ready", timeout=30_000)
        expect(widget.locator(".gw-count")).to_have_text(f"40 of {N:,} selected")
        expect(widget.locator(".gw-legend")).to_contain_text("spiral")
        # The focused galaxy's neighbors, saved with the page, with their thumbnails.
        title = widget.locator(".gw-panel-title")
        expect(title).to_have_text(f"Neighbors of {reps.ids[hovered]}")
        expect(widget.locator(".gw-grid .gw-caption-id")).to_have_text(neighbors)
        tiles = widget.locator(".gw-grid .gw-tile img.gw-img")
        expect(tiles).to_have_count(len(neighbors))
        page.wait_for_function(
            "() => [...document.querySelectorAll('.gw-grid img.gw-img')]"
            ".every((img) => img.complete && img.naturalWidth > 0)"
        )

        canvas = widget.locator(".gw-canvas")
        page.wait_for_timeout(300)  # the first frames
        before = canvas_rgb(canvas)
        drawn = (np.abs(before - before[0, 0]).sum(axis=2) > 60).sum()
        assert drawn > 2000, f"only {drawn} non-background pixels: are the points drawn?"

        box = canvas.bounding_box()
        x, y = page_positions(points[[hovered]], box)[0]
        legend = widget.locator(".gw-legend").bounding_box()
        assert box["x"] < x < box["x"] + box["width"] and box["y"] < y < box["y"] + box["height"]
        assert not (x > legend["x"] - 10 and y < legend["y"] + legend["height"] + 10)
        page.mouse.move(x, y)
        tooltip = widget.locator(".gw-tooltip")
        expect(tooltip.locator(".gw-tooltip-id")).to_have_text(reps.ids[hovered])
        rows = tooltip.locator(".gw-tooltip-row").all_text_contents()
        assert rows[0] == f"morphology{reps.meta['morphology'].iloc[hovered]}"
        image = tooltip.locator("img.gw-img")
        expect(image).to_have_count(1)  # the embedded thumbnail
        assert image.evaluate("(img) => img.naturalWidth") > 0
        page.screenshot(path=str(artifacts / "saved_html.png"))

        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, -600)  # zoom in
        page.mouse.move(box["x"] + 2, box["y"] + 2)
        page.wait_for_timeout(500)
        after = canvas_rgb(canvas)
        assert (np.abs(after - before).sum(axis=2) > 60).mean() > 0.01, "zooming changed nothing"
        assert errors == []
        assert requested == [], "the saved page must not need the network"
    finally:
        context.close()


def test_a_saved_map_beyond_its_point_budget_shows_density_and_sample_offline(
    chromium: Any, tmp_path: Path, artifacts: Path
) -> None:
    if not STANDALONE.is_file():
        pytest.skip(f"front-end bundle not built ({STANDALONE}); run `make js`")
    n, budget = 20_000, 2_000
    reps = gw.datasets.synthetic(n=n, seed=3, dim=16)
    explorer = gw.Explorer(reps, color="morphology", point_budget=budget)
    try:
        explorer.select(reps.ids[:500])
        path = explorer.save_html(tmp_path / "density.html")
        sample, _, _ = explorer._map_detail.view(explorer.layout_name, (-1, -1, 1, 1), limit=1000)
        points = explorer._map_detail.index(explorer.layout_name).points[sample]
    finally:
        explorer.close()
    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    context.route("http*://**/*", lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.as_uri())
        widget = page.locator(".galwidget")
        expect(widget).to_have_attribute("data-state", "ready", timeout=30_000)
        expect(widget).to_have_attribute("data-detail", "sample")
        expect(widget).to_have_attribute("data-loaded", str(budget // 2))
        expect(widget.locator(".gw-count")).to_have_text(f"500 of {n:,} selected")
        density = widget.locator(".gw-density")
        painted = density.evaluate(
            "(c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
            ".filter((v, i) => i % 4 === 3 && v > 0).length"
        )
        assert painted > 1000, "no density painted"
        page.screenshot(path=str(artifacts / "saved_html_density.png"))
        # A sampled galaxy hovers with its saved id.
        box = widget.locator(".gw-canvas").bounding_box()
        on_page = page_positions(points.astype(np.float64), box)
        inside = ((on_page - [box["x"], box["y"]]) / [box["width"], box["height"]] > 0.1).all(
            axis=1
        ) & ((on_page - [box["x"], box["y"]]) / [box["width"], box["height"]] < 0.7).all(axis=1)
        hovered = most_isolated(on_page, inside)
        page.mouse.move(*on_page[hovered])
        expect(widget.locator(".gw-tooltip-id")).to_have_text(reps.ids[sample[hovered]])
        assert errors == []
    finally:
        context.close()
