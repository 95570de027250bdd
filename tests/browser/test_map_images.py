"""Thumbnails in the map (issue 21), as a person meets them in a real JupyterLab.

One notebook with 2000 synthetic galaxies whose thumbnails the kernel renders (a callable that
also records which ids it rendered), two label classes. Zooming in with the mouse wheel replaces
points by images (the kernel rendered them, and the canvas shows image content, not dots); a click
on an image focuses that galaxy, a key labels it, hovering an image shows its tooltip, a lasso
around an image selects it; the toolbar's menu set to "never" brings the dots back.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from test_jupyterlab import drag_lasso

if TYPE_CHECKING:
    from jupyterlab_harness import LabNotebook

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

N = 2000
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "browser" / "artifacts"
CELLS = [
    """\
import galwidget as gw

reps = gw.datasets.synthetic(n={n}, seed=1)
rendered = []

def render(galaxy_id):
    rendered.append(galaxy_id)
    return reps.images(galaxy_id)""",
    """\
w = gw.Explorer(
    reps, images=render, color="morphology", classes=["ring", "not ring"],
    labels={{"path": {path!r}}}, remember_selection=False,
)
w""",
]
IMAGES = ".galwidget .gw-map-images"
# Long tasks (Long Tasks API) from the start of the zoom: recorded for the report, not asserted
# (speed is bench/bench_map_images.py's).
LONG_TASKS_JS = """() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
    }).observe({ type: "longtask" });
}"""


@pytest.fixture(scope="module")
def lab(chromium, jupyter_server, tmp_path_factory) -> Iterator[LabNotebook]:
    from jupyterlab_harness import open_widget_notebook  # the plugin, imported by pytest

    labels = tmp_path_factory.mktemp("images") / "labels.jsonl"
    cells = [CELLS[0].format(n=N), CELLS[1].format(path=str(labels))]
    notebook = open_widget_notebook(chromium, jupyter_server, "images.ipynb", cells)
    yield notebook
    notebook.close()


def drawn_images(page) -> list[tuple[int, float, float]]:
    """The images drawn in the map: (position, x, y) of each center, in canvas pixels."""
    text = page.locator(IMAGES).get_attribute("data-drawn") or ""
    return [tuple(int(v) for v in item.split(":")) for item in text.split()]  # type: ignore[misc]


def canvas_rgb(page) -> np.ndarray:
    """The map as shown: the WebGL points with the image layer over them."""
    shot = page.locator(".galwidget .gw-plot").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.int16)


def dark_fraction(rgb: np.ndarray) -> float:
    """Share of near-black pixels: the thumbnails' sky; no point color is that dark."""
    return float((rgb.max(axis=2) < 40).mean())


def zoom_until_images(page, box: dict, at: tuple[float, float], minimum: int = 15) -> int:
    """Turn the mouse wheel over `at` (page pixels) until at least `minimum` images are drawn."""
    page.mouse.move(*at)
    for _ in range(30):
        count = int(page.locator(IMAGES).get_attribute("data-images") or 0)
        if count >= minimum:
            return count
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(400)
    raise AssertionError(f"no {minimum} images after zooming in: {count}")


def central(images: list, box: dict, besides: int = -1) -> tuple[int, float, float]:
    """The image nearest the map's middle (away from the legend and the edges)."""
    return min(
        (image for image in images if image[0] != besides),
        key=lambda image: np.hypot(image[1] - box["width"] / 2, image[2] - box["height"] / 2),
    )


def test_zoom_in_shows_images_click_key_hover_lasso_and_never(lab: LabNotebook):
    page, kernel = lab.page, lab.kernel
    widget = page.locator(".galwidget")
    widget.scroll_into_view_if_needed()
    canvas = page.locator(".galwidget .gw-canvas")
    box = canvas.bounding_box()
    page.locator(".galwidget .gw-toolbar .gw-button", has_text="Reset view").click()
    page.wait_for_timeout(400)
    assert page.locator(IMAGES).get_attribute("data-images") == "0"  # the whole map: points
    dots = canvas_rgb(page)
    assert dark_fraction(dots) < 0.005
    page.evaluate(LONG_TASKS_JS)

    # Zoom in with the wheel over the middle of the map until images replace points.
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    zoom_until_images(page, box, centre)
    page.wait_for_timeout(1500)  # the rest of the images stream in
    images = drawn_images(page)
    size = int(page.locator(IMAGES).get_attribute("data-size"))
    assert len(images) >= 15 and size >= 28
    # Every image drawn is one the kernel rendered for that galaxy.
    ids = kernel.eval_json("[str(i) for i in reps.ids]")
    rendered = set(kernel.eval_json("rendered"))
    assert {ids[p] for p, _, _ in images} <= rendered
    # No two images overlap (beyond the allowed sliver).
    centres = np.array([(x, y) for _, x, y in images], dtype=float)
    apart = np.abs(centres[:, None, :] - centres[None, :, :]).max(axis=2)
    np.fill_diagonal(apart, np.inf)
    assert apart.min() >= 0.9 * size - 2
    shown = canvas_rgb(page)
    assert dark_fraction(shown) > 0.03  # image content, not just dots
    # Inside an image: the thumbnail's pixels (varied, mostly dark sky), not one color.
    position, x, y = central(images, box)
    patch = shown[int(y - size / 3) : int(y + size / 3), int(x - size / 3) : int(x + size / 3)]
    assert (patch.max(axis=2) < 60).mean() > 0.3 and patch.std() > 8
    SCREENSHOTS.mkdir(exist_ok=True)
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)  # no tooltip in the picture
    page.wait_for_timeout(300)
    page.locator(".galwidget .gw-plot").screenshot(path=str(SCREENSHOTS / "map_images.png"))
    long_tasks = page.evaluate("window.__longTasks")
    print(f"long tasks while zooming and loading: {json.dumps(long_tasks)}")

    # Hover over the image's corner (away from its point): the tooltip shows that galaxy.
    corner = (box["x"] + x + size * 0.35, box["y"] + y + size * 0.35)
    page.mouse.move(*corner)
    expect(page.locator(".galwidget .gw-tooltip-id")).to_have_text(ids[position], timeout=10_000)

    # Click it there: the kernel's focus; a key labels it.
    page.mouse.click(*corner)
    kernel.wait_until(f"w.focused == {ids[position]!r}")
    page.keyboard.press("1")
    kernel.wait_until(f"{ids[position]!r} in w.labels.index")
    assert kernel.eval_json(f"w.labels.loc[{ids[position]!r}, 'label']") == "ring"
    page.wait_for_timeout(600)
    marked = canvas_rgb(page)
    # The focus outline (orange) and the label badge (the ring class's color) on that image.
    ring = marked[
        int(y - size / 2 - 4) : int(y + size / 2 + 4), int(x - size / 2 - 4) : int(x + size / 2 + 4)
    ]
    orange = (np.abs(ring - np.array([255, 159, 28])).sum(axis=2) < 60).sum()
    assert orange > 2 * size

    # A lasso around another image's center selects that galaxy (images select as points do).
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)
    other, ox, oy = central(drawn_images(page), box, besides=position)
    r = size * 0.45
    polygon = [
        (round(box["x"] + ox + r * np.cos(a)), round(box["y"] + oy + r * np.sin(a)))
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ]
    drag_lasso(page, polygon)
    kernel.wait_until(f"{ids[other]!r} in set(w.selected_ids)")
    page.mouse.move(box["x"] + 5, box["y"] + box["height"] - 5)
    page.wait_for_timeout(600)
    # The focused image outlined in orange with its "ring" badge, the lassoed ones outlined.
    page.locator(".galwidget .gw-plot").screenshot(path=str(SCREENSHOTS / "map_images_marked.png"))

    # The toolbar's menu: never → dots again, and the kernel's show_images follows.
    page.locator(".galwidget .gw-show-images").select_option("never")
    kernel.wait_until("w.show_images == 'never'")
    expect(page.locator(IMAGES)).to_have_attribute("data-images", "0")
    page.wait_for_timeout(300)
    assert dark_fraction(canvas_rgb(page)) < 0.005
    page.locator(".galwidget .gw-plot").screenshot(path=str(SCREENSHOTS / "map_images_never.png"))

    # Python sets it back: the images return.
    kernel.execute("w.show_images = 'auto'")
    expect(page.locator(".galwidget .gw-show-images")).to_have_value("auto")
    page.wait_for_function(
        f"Number(document.querySelector('{IMAGES}').dataset.images) >= 15", timeout=20_000
    )
