"""Discovery in a real JupyterLab: colour by anomaly, interest keys feeding the learner, a click on
a cluster's name selecting the cluster, and the sky layout keeping the selection."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect
from test_jupyterlab import BUNDLE, most_isolated, page_positions

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

CELLS = [
    """\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n=1500, seed=1)
features = pd.DataFrame(reps.features, columns=[f"feat_{i}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)""",
    """\
w = gw.Explorer(
    df, images=reps.images, k=6, classes="interest", strategy="ei", labels={{"path": {path!r}}}
)
w""",
]


def test_anomaly_interest_scores_clusters_and_the_sky(open_notebook, tmp_path):
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    cells = [CELLS[0], CELLS[1].format(path=str(tmp_path / "labels.jsonl"))]
    nb = open_notebook("discovery.ipynb", cells, viewport=(1400, 1000))
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all()
    widget = page.locator(".galwidget")
    expect(widget).to_have_attribute("data-state", "ready", timeout=60_000)
    buttons = page.locator(".galwidget .gw-labelbar .gw-class")
    expect(buttons).to_have_count(6)
    # Before any score, 'ei' suggests from the anomaly ranking.
    kernel.wait_until("w.training.done() and w.training.result().kind == 'prior'", timeout=120)
    first_suggestions = kernel.eval_json("w.suggestions[:10].tolist()")
    assert first_suggestions == kernel.eval_json(
        "w.anomaly.sort_values(ascending=False, kind='stable').index[:10].tolist()"
    )

    # Colour by anomaly from the color menu: the legend says so, the kernel colors by it.
    page.locator(".galwidget .gw-color-select").select_option("anomaly")
    expect(page.locator(".galwidget .gw-legend-title")).to_have_text("anomaly", timeout=60_000)
    kernel.wait_until("w._color_meta['column'] == 'anomaly' and w._color_meta['missing'] == 0")

    # Interest keys: focus two galaxies by clicking them, score them 5 and 0 with the keyboard.
    canvas = page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    layout = np.array(kernel.eval_json("np.frombuffer(w._points, 'float32').tolist()", timeout=60))
    positions = page_positions(layout.reshape(-1, 2), box)
    ids = kernel.eval_json("w.representations.ids.tolist()")
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    inside = ((relative > 0.1) & (relative < 0.9)).all(axis=1)
    scored = {}
    saved = page.locator(".galwidget .gw-saved")
    for key in ("5", "0"):
        clicked = most_isolated(positions, inside)
        inside[clicked] = False
        page.mouse.move(*positions[clicked])
        expect(page.locator(".galwidget .gw-tooltip-id")).to_have_text(ids[clicked])
        page.mouse.down()
        page.mouse.up()
        kernel.wait_until(f"w.focused == {ids[clicked]!r}")
        page.keyboard.press(key)
        expect(saved).to_have_text("saved ✓")
        scored[ids[clicked]] = key
    kernel.wait_until(f"w.labels['label'].to_dict() == {scored!r}")
    # The learner now trains a GP on the graded scores: the suggestions change.
    kernel.wait_until("w.training.done() and w.training.result().kind == 'gp'", timeout=120)
    assert kernel.eval_json("w.suggestions[:10].tolist()") != first_suggestions
    # A digit that is no score: a clear message, nothing written.
    page.keyboard.press("7")
    expect(saved).to_have_text("interest scores are 0–5: key 7 gives none")
    assert kernel.eval_json("len(w.labels)") == 2

    # Clusters: their names over the map; a click on one selects the cluster.
    kernel.execute("w.name_clusters(by='morphology'); table = w.clusters", timeout=180)
    marks = page.locator(".galwidget .gw-cluster-mark")
    expect(marks).to_have_count(kernel.eval_json("len(table)"))
    expect(marks.locator("img")).to_have_count(kernel.eval_json("len(table)"), timeout=30_000)
    mark = marks.first
    cluster = int(mark.get_attribute("data-cluster"))
    name = kernel.eval_json(f"table.set_index('cluster').loc[{cluster}, 'name']")
    expect(mark).to_have_text(name)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".galwidget .gw-plot").screenshot(path=str(ARTIFACTS / "clusters.png"))
    mark.click()
    kernel.wait_until(
        f"np.array_equal(w.selection, np.flatnonzero(w._clusters.labels == {cluster}))"
    )
    selected = kernel.eval_json("w.selected_ids.tolist()")
    assert len(selected) == kernel.eval_json(
        f"int(table.set_index('cluster').loc[{cluster}, 'size'])"
    )

    # The sky beside the map: switching layout keeps the selection, the graticule is drawn.
    page.locator(".galwidget .gw-layout-select").select_option("sky")
    kernel.wait_until("w.layout_name == 'sky'")
    lines = page.locator(".galwidget .gw-graticule polyline")
    expect(lines).to_have_count(18)
    expect(marks).to_have_count(0)  # a cluster of representation space is spread over the sky
    expect(lines.first).to_have_attribute("points", re.compile(r"^-?\d+\.\d,-?\d+\.\d( \S+)+$"))
    assert kernel.eval_json("w.selected_ids.tolist()") == selected
    expect(page.locator(".galwidget .gw-count")).to_have_text(
        f"{len(selected):,} of 1,500 selected"
    )
    page.locator(".galwidget .gw-plot").screenshot(path=str(ARTIFACTS / "sky.png"))
    assert nb.errors == []
