"""The 40 real GZ DECaLS PNGs of ``../shared/data`` in the browser: read from disk by the kernel,
sent as thumbnail bytes, decoded and shown by the built front end in headless Chromium."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import galwidget as gw

pytestmark = pytest.mark.browser

PNG_DIR = Path("gz_decals_dr5_example_pngs")
VOTE_COLUMNS = [
    "smooth-or-featured_featured-or-disk_fraction",
    "disk-edge-on_no_fraction",
    "has-spiral-arms_no_fraction",
]
K = 8
# The RGBA pixels of each loaded <img> matching the selector, as the browser decoded it, drawn at
# its natural size.
DECODED_PIXELS = """
(selector) => [...document.querySelectorAll(selector)].map((img) => {
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  return {width: img.naturalWidth, height: img.naturalHeight, rgba: Array.from(data)};
})
"""


def test_real_pngs_show_in_the_neighbor_panel(render, page, shared_data: Path):
    folder = shared_data / PNG_DIR
    subset = pd.read_csv(folder / "selected_subset.csv", dtype={"id_str": str})
    # Stand-in features (the catalogue's CNN vote fractions): the Zenodo representations are not here.
    reps = gw.load_representations(subset, features=VOTE_COLUMNS, id_column="id_str")
    widget = gw.Explorer(
        reps, images=gw.images.local_files(folder, pattern="{id}.png"), color="ring", k=K
    )
    bridge = render(widget)
    target = reps.ids[0]
    widget.focus(target)
    bridge.wait_for_js(
        "[...document.querySelectorAll('.gw-panel .gw-tile img')]"
        f".filter(i => i.complete && i.naturalWidth > 0).length === {K}"
    )
    assert page.locator(".gw-panel-title").text_content() == f"Neighbors of {target}"
    shown = page.locator(".gw-panel .gw-tile .gw-caption-id").all_text_contents()
    assert shown == widget.neighbors["id"].tolist()

    # Each tile shows its own galaxy's PNG: the pixels the browser decoded match the thumbnail the
    # kernel made of that galaxy (up to JPEG decoders), and no other galaxy's.
    thumbnails = {galaxy: kernel_thumbnail(widget, galaxy) for galaxy in reps.ids}
    decoded = page.evaluate(DECODED_PIXELS, ".gw-panel .gw-tile img")
    assert len(decoded) == K
    # The focused galaxy's own image, larger, heads the panel.
    bridge.wait_for_js(
        "(i => i && i.complete && i.naturalWidth > 0)(document.querySelector('.gw-focus-card img'))"
    )
    focus_card = page.evaluate(DECODED_PIXELS, ".gw-focus-card img")
    for galaxy, image in zip([*shown, target], [*decoded, *focus_card], strict=True):
        pixels = np.asarray(image["rgba"], dtype=np.float64)
        pixels = pixels.reshape(image["height"], image["width"], 4)[:, :, :3]
        differences = {
            other: np.abs(pixels - expected).mean()
            for other, expected in thumbnails.items()
            if expected.shape == pixels.shape
        }
        assert min(differences, key=differences.get) == galaxy
        assert differences[galaxy] < 2, f"{galaxy}: off by {differences[galaxy]:.2f} per channel"


def kernel_thumbnail(widget: gw.Explorer, galaxy: str) -> np.ndarray:
    position = int(widget.representations.positions([galaxy])[0])
    content, buffers = widget._reply(
        {"type": "request", "kind": "thumbnail", "request": 1, "position": position}
    )
    assert content["ok"], content
    with Image.open(io.BytesIO(buffers[0])) as thumbnail:
        return np.asarray(thumbnail.convert("RGB"), dtype=np.float64)
