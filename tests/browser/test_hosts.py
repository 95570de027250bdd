"""The Explorer in the hosts besides JupyterLab that it must run in: Jupyter Notebook 7, Voilà (a
labelling notebook served as an app) and marimo (``mo.ui.anywidget``). Each is a real server in
headless Chromium: the widget displays, a lasso reaches Python (a text output that Python writes
from the selection shows exactly the lassoed ids) and a click shows the neighbors' thumbnails.

Servers run on free ports with every Jupyter/galwidget directory isolated, and are killed with
their kernels by process group (as in ``jupyterlab_harness.py``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jupyterlab_harness import (
    LabNotebook,
    _free_port,
    _kill_tree,
    _write_lab_config,
    start_jupyter_server,
    stop_jupyter_server,
    write_notebook,
)
from playwright.sync_api import expect
from polygons import distance_to_boundary, inside_polygon
from test_jupyterlab import drag_lasso, lasso_polygon, most_isolated, page_positions

import galwidget as gw

pytestmark = [pytest.mark.browser, pytest.mark.jupyterlab, pytest.mark.slow]

N, K, SEED = 600, 6, 0
DIM = 16  # few features: the neighbor index builds in no time even on a busy machine
READY_MS = 90_000  # a kernel start and galwidget's imports on a busy 2-core machine
SERVER_START_TIMEOUT = 60.0
LOADED_JS = "(images) => images.every((image) => image.complete && image.naturalWidth > 0)"

EXPLORER_SOURCE = f"""\
import galwidget as gw

reps = gw.datasets.synthetic(n={N}, seed={SEED}, dim={DIM})
w = gw.Explorer(reps, images=reps.images, k={K})


def python_sees(ids):
    return f"python sees {{len(ids)}} selected: {{' '.join(sorted(ids))}}"
"""
NOTEBOOK_CELLS = [
    EXPLORER_SOURCE,
    """\
import ipywidgets

seen = ipywidgets.Label(python_sees([]))
w.on_select(lambda ids: setattr(seen, "value", python_sees(ids)))
ipywidgets.VBox([w, seen])""",
]
# A linked bqplot view (Notebook 7): ScatterGL draws the points, the lasso acts on its
# invisible SVG twin; fixed scales and size so that the test knows where each galaxy is.
VIEW_CELL = """\
fig = w.scatter_plot("ra", "dec")
x_scale, y_scale = fig.marks[0].scales["x"], fig.marks[0].scales["y"]
x_scale.min, x_scale.max, y_scale.min, y_scale.max = 0.0, 360.0, -40.0, 40.0
fig.layout.width, fig.layout.height = "600px", "400px"
fig.padding_x = fig.padding_y = 0.0  # the scales span the plot area exactly
fig"""
MARIMO_APP = f"""\
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

{"".join("    " + line + chr(10) if line else chr(10) for line in EXPLORER_SOURCE.splitlines())}
    widget = mo.ui.anywidget(w)
    widget
    return mo, python_sees, w, widget


@app.cell
def _(mo, python_sees, w, widget):
    widget.value  # re-run on every change of the widget's state
    mo.plain_text(python_sees(list(w.selected_ids)))
    return
"""


def python_sees(ids: list[str]) -> str:
    return f"python sees {len(ids)} selected: {' '.join(sorted(ids))}"


@pytest.fixture(scope="module")
def layout() -> tuple[np.ndarray, np.ndarray]:
    """The ``[-1, 1]`` layout points and ids the hosts' Explorers show (same data, same code)."""
    reps = gw.datasets.synthetic(n=N, seed=SEED, dim=DIM)
    explorer = gw.Explorer(reps, images=reps.images, k=K)
    try:
        points = np.frombuffer(explorer._points, np.float32).reshape(-1, 2).astype(np.float64)
        return points, reps.ids.to_numpy().astype(str)
    finally:
        explorer.close()


@pytest.fixture
def new_page(chromium: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh context; its screenshot is kept in ``artifacts`` (``<test>.png``)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.uncaught = []  # uncaught errors in galwidget's code (anywidget loads it from a blob: URL)
    page.on(
        "pageerror",
        lambda error: (
            page.uncaught.append(error.stack or str(error))
            if re.search("blob:|galwidget|anywidget", error.stack or "")
            else None
        ),
    )
    yield page
    page.screenshot(path=str(artifacts / f"{request.node.name}.png"))
    context.close()


def lasso_and_click(page: Any, layout: tuple[np.ndarray, np.ndarray]) -> None:
    """Lasso galaxies and check that Python saw exactly them; click one and wait for its
    neighbors' thumbnails."""
    widget = page.locator(".galwidget")
    expect(widget).to_have_attribute("data-state", "ready", timeout=READY_MS)
    count = widget.locator(".gw-count")
    expect(count).to_have_text(f"0 of {N:,} selected")
    seen = page.get_by_text(re.compile("^python sees "))
    expect(seen).to_have_text(python_sees([]))
    canvas = widget.locator(".gw-canvas")
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(200)  # let scrolling settle before measuring
    box = canvas.bounding_box()
    points, ids = layout
    positions = page_positions(points, box)
    relative = (positions - [box["x"], box["y"]]) / [box["width"], box["height"]]
    visible = ((relative > 0.1) & (relative < 0.9)).all(axis=1)

    centre = tuple(np.median(positions[visible], axis=0))
    polygon = lasso_polygon(positions, centre, 0.2 * min(box["width"], box["height"]))
    inside = inside_polygon(positions, polygon)
    assert 10 < inside.sum() < N / 2
    drag_lasso(page, polygon)
    expect(count).to_have_text(f"{inside.sum():,} of {N:,} selected")
    expect(seen).to_have_text(python_sees(list(ids[inside])), timeout=30_000)

    # Shift adds and alt removes in every host (Notebook 7, like JupyterLab, would take a
    # shift-drag for a cell range selection).
    radius = 0.2 * min(box["width"], box["height"])
    # The second lasso: around the visible galaxy, well clear of the first, with most others near.
    far = visible & (np.hypot(*(positions - centre).T) > 2.2 * radius)
    gaps = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    crowd = np.where(far, ((gaps < 0.5 * radius) & visible[None, :]).sum(axis=1), -1)
    other = tuple(positions[int(crowd.argmax())])
    second = lasso_polygon(positions, other, 0.6 * radius)
    in_second = inside_polygon(positions, second) & ~inside
    assert in_second.any() and not (inside_polygon(positions, second) & inside).any()
    for key, expected in [("Shift", inside | in_second), ("Alt", inside)]:
        page.keyboard.down(key)
        drag_lasso(page, second)
        page.keyboard.up(key)
        expect(count).to_have_text(f"{expected.sum():,} of {N:,} selected")
        expect(seen).to_have_text(python_sees(list(ids[expected])), timeout=30_000)

    legend = widget.locator(".gw-legend").bounding_box()
    if legend:
        visible &= ~(
            (positions[:, 0] > legend["x"] - 20)
            & (positions[:, 1] < legend["y"] + legend["height"] + 20)
        )
    clicked = most_isolated(positions, visible)
    page.mouse.move(*positions[clicked])
    expect(widget.locator(".gw-tooltip-id")).to_have_text(ids[clicked])
    page.mouse.down()
    page.mouse.up()
    title = widget.locator(".gw-panel-title")
    expect(title).to_have_text(f"Neighbors of {ids[clicked]}", timeout=30_000)  # index built
    # Locators, not document.querySelector: marimo renders the widget in a shadow root.
    thumbnails = widget.locator(".gw-grid .gw-tile img.gw-img")
    expect(thumbnails).to_have_count(K, timeout=30_000)
    deadline = time.monotonic() + 30.0
    while not thumbnails.evaluate_all(LOADED_JS):
        assert time.monotonic() < deadline, "the neighbors' thumbnails did not load"
        page.wait_for_timeout(100)
    expect(count).to_have_text(f"{inside.sum():,} of {N:,} selected")  # a click only focuses
    assert page.uncaught == []


def lasso_on_the_linked_view(page: Any, kernel: Any) -> None:
    """A lasso on ``w.scatter_plot("ra", "dec")`` selects the galaxies inside it (those within
    3 px of its edge either way)."""
    kernel.execute("w.select(None)")
    area = page.locator(".bqplot rect.plotarea_background")
    area.scroll_into_view_if_needed()
    # A click on the title makes the cell current first: the notebook may scroll to it, which
    # must not happen in the middle of the lasso.
    page.locator(".bqplot text.mainheading").click()
    page.wait_for_timeout(300)
    box = area.bounding_box()
    meta = gw.datasets.synthetic(n=N, seed=SEED, dim=DIM).meta
    ra, dec = meta["ra"].to_numpy(), meta["dec"].to_numpy()
    positions = np.column_stack(
        [box["x"] + ra / 360 * box["width"], box["y"] + (40 - dec) / 80 * box["height"]]
    )
    centre = (box["x"] + 0.55 * box["width"], box["y"] + 0.5 * box["height"])
    polygon = lasso_polygon(positions, centre, 0.3 * box["height"])
    # Near the lasso's edge the browser's recorded path and pixel rounding may decide either
    # way (seen: up to 2 px); everything farther must be decided as Python's polygon does.
    edge = distance_to_boundary(positions, polygon) < 3.0
    inside = inside_polygon(positions, polygon)
    assert 10 < inside.sum() < N / 2 and edge.sum() < inside.sum() / 3
    drag_lasso(page, polygon)  # a pause at each vertex: Chromium coalesces quick moves
    kernel.wait_until("len(w.selected_ids) > 0")
    selected = set(kernel.eval_json("list(w.selected_ids)"))
    ids = meta["iauname"].to_numpy()
    assert set(ids[inside & ~edge]) <= selected <= set(ids[inside | edge])


@contextmanager
def serving(home: Path, command: list[str]) -> Iterator[str]:
    """Run ``command`` (with ``{port}`` filled in) in ``home / "root"`` with isolated Jupyter and
    galwidget directories; yield its URL once the port accepts connections; kill its process
    group afterwards."""
    root = home / "root"
    env = {**os.environ, **_write_lab_config(home), "MARIMO_SKIP_UPDATE_CHECK": "1"}
    port = _free_port()
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [part.format(port=port) for part in command],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited:\n{log_path.read_text()[-4000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{command[0]} is not listening after {deadline}s") from None
                time.sleep(0.2)  # polling a port: there is nothing to wait on instead
        yield f"http://127.0.0.1:{port}/"
    finally:
        _kill_tree(process)


def executable(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_notebook7(new_page: Any, layout: Any, tmp_path: Path) -> None:
    server = start_jupyter_server(tmp_path, app="notebook")
    try:
        write_notebook(server.root / "explorer.ipynb", [*NOTEBOOK_CELLS, VIEW_CELL])
        new_page.goto(f"{server.url}notebooks/explorer.ipynb?token={server.token}")
        notebook = LabNotebook(server=server, page=new_page, path="explorer.ipynb")
        notebook.run_all()
        lasso_and_click(new_page, layout)
        assert notebook.kernel.eval_json("w.focused") in set(layout[1])
        lasso_on_the_linked_view(new_page, notebook.kernel)
        notebook.kernel.close()  # the probe; stopping the server below ends the kernel
    finally:
        stop_jupyter_server(server)


def test_voila(new_page: Any, layout: Any, tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    write_notebook(tmp_path / "root" / "labelling.ipynb", NOTEBOOK_CELLS)
    command = [
        executable("voila"),
        "labelling.ipynb",
        "--no-browser",
        "--port={port}",
        "--Voila.ip=127.0.0.1",
    ]
    with serving(tmp_path, command) as url:
        new_page.goto(url, timeout=READY_MS)
        lasso_and_click(new_page, layout)


def test_marimo(new_page: Any, layout: Any, tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "app.py").write_text(MARIMO_APP)
    command = [
        executable("marimo"),
        "run",
        "app.py",
        "--headless",
        "--host=127.0.0.1",
        "--port={port}",
        "--no-token",
        "--no-sandbox",
        "--no-check",
    ]
    with serving(tmp_path, command) as url:
        new_page.goto(url, timeout=READY_MS)
        lasso_and_click(new_page, layout)
