"""Thumbnails that fail to load say why (HTTP status, unreachable server) and show their URL on
hover (issue 19, item 12): real URLs on real local servers, in headless Chromium."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from galwidget.widget import Explorer

pytestmark = pytest.mark.browser


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket closes


def frame(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    layout = rng.normal(size=(n, 2))
    table = pd.DataFrame(
        np.hstack([layout, rng.normal(size=(n, 4))]), columns=[f"feat_{i}" for i in range(6)]
    )
    table.insert(0, "id", [f"G{i:04d}" for i in range(n)])
    return table, layout


@pytest.mark.console_errors("Failed to load resource")
@pytest.mark.parametrize("case", ["missing", "unreachable"])
def test_missing_and_unreachable_thumbnails_say_why(render, page, harness_url, case):
    table, layout = frame()
    if case == "missing":  # the harness's own server (same origin): a 404 the page can read
        template, reason = harness_url.rsplit("/", 1)[0] + "/no-such-folder/{id}.png", "HTTP 404"
    else:
        template, reason = f"http://127.0.0.1:{closed_port()}/{{id}}.png", "network error"
    widget = Explorer(table, layout=layout, images=template, k=3, remember_selection=False)
    bridge = render(widget)
    widget.focus("G0007")
    bridge.wait_for_js("document.querySelectorAll('.gw-grid .gw-failed').length === 3")
    tiles = page.locator(".gw-grid .gw-failed")
    for i, galaxy in enumerate(widget.neighbors["id"]):
        assert tiles.nth(i).text_content().startswith(reason), tiles.nth(i).text_content()
        assert tiles.nth(i).get_attribute("title").endswith(template.format(id=galaxy))
