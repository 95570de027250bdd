"""Fixtures for the fast front-end tests: the built bundle in headless Chromium, driven by a real
:class:`galwidget.Explorer` in this process.

``harness.html`` (served from the repository over HTTP on 127.0.0.1) renders the bundle with a
model object that has anywidget's API. :class:`PageBridge` connects it to the Python widget through
a :class:`PageComm`, a comm whose far end is that page instead of a Jupyter kernel's socket: the
widget's state and custom messages travel exactly as ipywidgets serialises them (JSON plus binary
buffers), and what the page saves or sends is handed to ``comm.handle_msg`` as the kernel would.
"""

from __future__ import annotations

import base64
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm
from ipywidgets.widgets.widget import _remove_buffers

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "galwidget" / "static" / "widget.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WAIT_TIMEOUT = 60.0  # generous: the machine may be shared and busy


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "console_errors(*starts): page console errors a test expects (see `page`)"
    )


def chromium_path() -> Path:
    return Path(os.environ.get("GALWIDGET_CHROMIUM", "/usr/bin/chromium"))


class PageComm(BaseComm):
    """A comm whose messages are queued for the page (published from any thread)."""

    def __init__(self, **kwargs: Any) -> None:
        self.outbox: queue.SimpleQueue[tuple[str, dict[str, Any], list[bytes]]] = (
            queue.SimpleQueue()
        )
        self.kernel = "page"  # ipywidgets only sends through comms that have a kernel
        super().__init__(primary=False, **kwargs)
        comm.get_comm_manager().register_comm(self)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
        **keys: Any,
    ) -> None:
        self.outbox.put((msg_type, data or {}, [bytes(b) for b in buffers or []]))


class PageBridge:
    """One Explorer rendered in the harness page, with messages pumped both ways."""

    def __init__(self, page: Any, widget: Any) -> None:
        self.page = page
        self.widget = widget
        self.received: list[dict[str, Any]] = []  # every message the page sent to the kernel
        self.received_with_buffers: list[tuple[dict[str, Any], list[bytes]]] = []
        self.published: list[tuple[str, dict[str, Any], list[bytes]]] = []
        self._lock = threading.Lock()
        widget.comm = PageComm(target_name="jupyter.widget")
        page.expose_function("galwidgetKernel", self._from_page)
        state, buffer_paths, buffers = _remove_buffers(widget.get_state())
        self.initial = (state, buffer_paths, buffers)
        page.wait_for_function("window.harnessReady === true")
        page.evaluate(
            "([state, paths, buffers]) => harness.start(state, paths, buffers)",
            [state, buffer_paths, [_b64(b) for b in buffers]],
        )

    def _from_page(self, data: dict[str, Any], buffers: list[str]) -> None:
        raw = [base64.b64decode(b) for b in buffers]
        with self._lock:
            self.received.append(data)
            self.received_with_buffers.append((data, raw))
        message = {
            "content": {"comm_id": self.widget.comm.comm_id, "data": data},
            "buffers": [memoryview(b) for b in raw],
        }
        self.widget.comm.handle_msg(message)

    def pump(self) -> int:
        """Deliver what the widget published to the page; returns how many messages."""
        outbox = self.widget.comm.outbox
        count = 0
        while True:
            try:
                msg_type, data, buffers = outbox.get_nowait()
            except queue.Empty:
                return count
            self.published.append((msg_type, data, buffers))
            if msg_type == "comm_msg" and data.get("method") in {"update", "custom"}:
                self.page.evaluate(
                    "([data, buffers]) => harness.deliver(data, buffers)",
                    [data, [_b64(b) for b in buffers]],
                )
                count += 1

    def wait_until(self, predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT) -> Any:
        """Pump messages until ``predicate()`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
            self.page.wait_for_timeout(25)

    def wait_for_js(self, expression: str, timeout: float = WAIT_TIMEOUT) -> Any:
        return self.wait_until(lambda: self.page.evaluate(expression), timeout)

    def ready(self) -> None:
        self.wait_for_js("document.querySelector('.galwidget')?.dataset.state === 'ready'")
        self.page.wait_for_timeout(100)  # let the first frames paint


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def harness_url() -> Iterator[str]:
    """URL of harness.html, served with the repository (and its built bundle) on 127.0.0.1."""
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(REPO))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/tests/browser/harness.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (skips if either is missing)."""
    path = chromium_path()
    if not path.is_file():
        pytest.skip(f"Chromium not found at {path}; install it or set GALWIDGET_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, harness_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page with the harness loaded; console errors fail the test, except those starting
    with a text of the test's ``@pytest.mark.console_errors("…", …)`` (e.g. the browser's own
    report of an image that a test makes fail on purpose)."""
    marker = request.node.get_closest_marker("console_errors")
    expected = tuple(marker.args) if marker else ()
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and not m.text.startswith(expected) else None
        ),
    )
    page.goto(harness_url)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def render(page: Any) -> Iterator[Callable[[Any], PageBridge]]:
    """``render(widget)`` shows an Explorer in the page and returns its :class:`PageBridge`."""
    bridges: list[PageBridge] = []

    def show(widget: Any) -> PageBridge:
        bridge = PageBridge(page, widget)
        bridges.append(bridge)
        bridge.ready()
        return bridge

    yield show
    for bridge in bridges:
        bridge.widget.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
