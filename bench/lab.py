"""What the JupyterLab benchmarks share: a JupyterLab server and the test suite's headless
Chromium, a notebook opened with probes installed before JupyterLab loads, and the probes.

Not a benchmark itself (``python -m bench`` runs the ``bench_*.py`` modules).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Every main-thread task over 50 ms (Long Tasks API) as [start, duration].
LONG_TASKS_JS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push([entry.startTime, entry.duration]);
}).observe({ type: "longtask", buffered: true });
"""
# Websocket sends over 10 kB as [time, bytes] and the last pointerup time, into window.__bench
# (which the script before it creates): when a lasso left the page and how big it was.
SENDS_JS = """
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  const size = data.byteLength ?? data.size ?? data.length ?? 0;
  if (size > 10000) window.__bench.sends.push([Date.now(), size]);
  return send.call(this, data);
};
window.addEventListener("pointerup", () => { window.__bench.pointerup = Date.now(); }, true);
"""


def use_test_support() -> None:
    """Put the browser tests' helpers (``conftest``, ``jupyterlab_harness``) on the path."""
    for folder in (REPO / "tests" / "support", REPO / "tests" / "browser"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


@contextmanager
def lab() -> Iterator[tuple[Any, Any]]:
    """A JupyterLab server in a scratch home and a headless Chromium: ``(browser, server)``."""
    use_test_support()
    from conftest import CHROMIUM_ARGS, chromium_path
    from jupyterlab_harness import start_jupyter_server, stop_jupyter_server
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="galwidget-bench-") as home:
        server = start_jupyter_server(Path(home))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(chromium_path()), args=CHROMIUM_ARGS
                )
                try:
                    yield browser, server
                finally:
                    browser.close()
        finally:
            stop_jupyter_server(server)


def open_notebook(
    browser: Any, server: Any, name: str, cells: list[str], init_script: str, *, timeout_ms: int
) -> Any:
    """Notebook ``name`` of ``cells`` open in JupyterLab (1280 × 900), ``init_script`` run in
    the page before JupyterLab loads; a ``LabNotebook`` the caller closes."""
    use_test_support()
    from jupyterlab_harness import open_lab_notebook

    return open_lab_notebook(
        browser,
        server,
        name,
        cells,
        on_page=lambda page: page.add_init_script(init_script),
        timeout_ms=timeout_ms,
    )
