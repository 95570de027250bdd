"""Drive a real JupyterLab server, headless Chromium and the notebook's own kernel from pytest.

Load the fixtures into a test module of this directory as a plugin::

    pytest_plugins = ["jupyterlab_harness"]

    @pytest.mark.jupyterlab
    @pytest.mark.browser
    def test_x(open_notebook):
        nb = open_notebook("x.ipynb", ["import ipywidgets as w", "s = w.IntSlider(); s"])
        nb.run_all()
        nb.page.locator(".widget-slider").wait_for()
        assert nb.kernel.eval_json("s.value") == 0

``open_notebook`` writes the notebook with nbformat into the server's root dir, opens it in a fresh
browser context and returns a :class:`LabNotebook`; ``nb.kernel`` is a :class:`KernelProbe`
connected to the very kernel the notebook runs in (same process, same globals).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

SERVER_START_TIMEOUT = 60.0
NOTEBOOK_READY_TIMEOUT_MS = 60_000
RUN_ALL_TIMEOUT_MS = 120_000
KERNEL_TIMEOUT = 30.0
ANSI_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")  # colors in kernel tracebacks

# JupyterLab user settings that keep the UI deterministic and offline: no news/update toasts,
# every cell rendered (no virtual scrolling that would detach widget views off screen).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` process serving ``root`` at ``url`` (ends with "/")."""

    url: str
    token: str
    root: Path
    runtime_dir: Path
    process: subprocess.Popen
    log_path: Path

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0) -> Any:
        """Call the server's REST API (``path`` like "api/sessions") and return the decoded JSON."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def kernel_id_for(self, notebook_path: str) -> str:
        """The id of the kernel of the server session attached to ``notebook_path``."""
        for session in self.api("GET", "api/sessions"):
            if session["path"] == notebook_path and session.get("kernel"):
                return session["kernel"]["id"]
        raise LookupError(f"no kernel session for {notebook_path!r} on {self.url}")

    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr, for failure messages."""
        return self.log_path.read_text(errors="replace")[-n_chars:]


def _write_lab_config(home: Path) -> dict[str, str]:
    """Create isolated Jupyter config/data/runtime/settings dirs; return the env vars for them."""
    dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "settings")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for name, settings in LAB_SETTINGS.items():
        target = dirs["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))
    server_config = {
        "ServerApp": {"terminals_enabled": False},
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            "extension_manager": "readonly",
            "expose_app_in_browser": True,
            "user_settings_dir": str(dirs["settings"]),
            "workspaces_dir": str(home / "workspaces"),
        },
        "JupyterNotebookApp": {"expose_app_in_browser": True},  # Notebook 7 (test_hosts.py)
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(server_config))
    return {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        # Kernels keep galwidget's caches, data, label logs and selections here, not in ~/.cache.
        "GALWIDGET_CACHE": str(home / "galwidget-cache"),
        "GALWIDGET_DATA": str(home / "galwidget-data"),
        "GALWIDGET_LABELS_DIR": str(home / "galwidget-labels"),
    }


def _wait_until_ready(server: JupyterServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            server.api("GET", "api/status", timeout=2.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)  # polling an HTTP endpoint: there is nothing to wait on instead
    raise TimeoutError(f"jupyter lab not ready after {SERVER_START_TIMEOUT}s:\n{server.log_tail()}")


def _kill_tree(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop the server gracefully, then kill it and every process it spawned (kernels included).

    Kernels run in their own sessions (process groups), so they are collected as descendants
    before the server goes away.
    """
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    _, alive = psutil.wait_procs(descendants, timeout=timeout)
    for proc in alive:
        proc.kill()
    _, survivors = psutil.wait_procs(alive, timeout=timeout)
    if survivors:
        raise RuntimeError(f"processes of the jupyter server survived SIGKILL: {survivors}")


def start_jupyter_server(
    home: Path, app: str = "lab", *, python: Path | None = None
) -> JupyterServer:
    """Start ``jupyter lab`` (or ``app``, e.g. ``"notebook"`` for Notebook 7) serving
    ``home / "root"`` on a free port; return once it answers.

    ``python``: the interpreter of another environment whose ``jupyter`` (and kernel) to run
    (bench/bench_map.py runs a peer tool in its own venv); this interpreter's by default.

    All Jupyter state (config, runtime dir with the kernels' connection files, settings,
    workspaces, IPython profile) lives under ``home``. Stop it with :func:`stop_jupyter_server`.
    """
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_write_lab_config(home)}
    token = secrets.token_hex(16)
    port = _free_port()
    log_path = home / "jupyter.log"
    command = [
        str(Path(python or sys.executable).with_name("jupyter")),
        app,
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:  # containers and CI runners
        command.append("--allow-root")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = JupyterServer(
        url=f"http://127.0.0.1:{port}/",
        token=token,
        root=root,
        runtime_dir=Path(env["JUPYTER_RUNTIME_DIR"]),
        process=process,
        log_path=log_path,
    )
    try:
        _wait_until_ready(server, time.monotonic() + SERVER_START_TIMEOUT)
    except BaseException:
        _kill_tree(process)
        raise
    return server


def stop_jupyter_server(server: JupyterServer) -> None:
    """Stop the server and every kernel it started."""
    _kill_tree(server.process)


class KernelError(RuntimeError):
    """Code sent through :class:`KernelProbe` raised in the kernel."""


class KernelProbe:
    """A second client on a notebook's kernel: runs code in the notebook's namespace.

    The kernel broadcasts widget state changes caused by this code to every client, so the
    browser's widget views update exactly as if the notebook had run it.
    """

    def __init__(self, connection_file: Path) -> None:
        from jupyter_client import BlockingKernelClient

        self.connection_file = connection_file
        self._client = BlockingKernelClient(connection_file=str(connection_file))
        self._client.load_connection_file()
        self._client.start_channels()
        self._client.wait_for_ready(timeout=KERNEL_TIMEOUT)

    def execute(self, code: str, timeout: float = KERNEL_TIMEOUT) -> str:
        """Run ``code`` in the notebook's namespace (not stored in its history); return stdout."""
        stdout: list[str] = []

        def collect(msg: dict) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                stdout.append(msg["content"]["text"])

        reply = self._client.execute_interactive(
            code, store_history=False, allow_stdin=False, timeout=timeout, output_hook=collect
        )
        content = reply["content"]
        if content["status"] != "ok":
            traceback = ANSI_ESCAPES.sub("", "\n".join(content.get("traceback", [])))
            raise KernelError(
                f"{content.get('ename')}: {content.get('evalue')} while running:\n{code}\n"
                + traceback
            )
        return "".join(stdout)

    def eval_json(self, expression: str, timeout: float = KERNEL_TIMEOUT) -> Any:
        """Evaluate ``expression`` in the notebook's namespace and return it decoded from JSON."""
        marker = f"__galwidget_probe_{secrets.token_hex(4)}__"
        code = f"print({marker!r} + __import__('json').dumps({expression}))"
        for line in reversed(self.execute(code, timeout=timeout).splitlines()):
            if line.startswith(marker):
                return json.loads(line[len(marker) :])
        raise KernelError(f"no result printed for {expression!r}")

    def wait_until(self, expression: str, timeout: float = KERNEL_TIMEOUT) -> None:
        """Poll until ``expression`` is truthy in the notebook's namespace.

        Messages from the browser reach the kernel on another connection than this probe's, so
        a state change the page has already shown may not have been applied yet.
        """
        deadline = time.monotonic() + timeout
        while not self.eval_json(f"bool({expression})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still false after {timeout}s")
            time.sleep(0.05)

    def close(self) -> None:
        """Disconnect (the kernel keeps running)."""
        self._client.stop_channels()


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a Python-3-kernel notebook with one code cell per source string."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(notebook, path)
    return path


_RUN_ALL_JS = """async (path) => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.context || panel.context.path !== path) {
        throw new Error(`notebook ${path} is not the current widget`);
    }
    const ok = await window.jupyterapp.commands.execute('notebook:run-all-cells');
    const cells = [];
    for (const cell of panel.model.cells) {
        if (cell.type !== 'code') continue;
        const errors = cell.outputs.toJSON().filter((o) => o.output_type === 'error');
        cells.push({ count: cell.executionCount, errors: errors.map((e) =>
            `${e.ename}: ${e.evalue}\\n${e.traceback.join('\\n')}`) });
    }
    return { ok, cells };
}"""

_NOTEBOOK_READY_JS = """(path) => {
    const app = window.jupyterapp;
    const panel = app && app.shell.currentWidget;
    if (!panel || !panel.context || panel.context.path !== path || !panel.context.isReady) {
        return false;
    }
    const session = panel.sessionContext;
    return Boolean(session.isReady && session.session && session.session.kernel
        && session.kernelDisplayStatus === 'idle');
}"""

_RESTART_JS = """async (path) => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || panel.context.path !== path) throw new Error(`${path} is not current`);
    await panel.sessionContext.restartKernel();
}"""


def _evaluate_async(page: Any, source: str, arg: Any, timeout_ms: float) -> Any:
    """``await (source)(arg)`` in the page, failing after ``timeout_ms``; returns its JSON value.

    ``page.evaluate`` would wait for the promise without a time limit, so the outcome is put in
    a window slot that a bounded ``wait_for_function`` waits for.
    """
    slot = f"__lab_harness_{secrets.token_hex(4)}"
    start = f"""([slot, arg]) => {{
        window[slot] = undefined;
        Promise.resolve().then(() => ({source})(arg)).then(
            (value) => {{ window[slot] = {{ value: value === undefined ? null : value }}; }},
            (error) => {{ window[slot] = {{ error: String((error && error.stack) || error) }}; }},
        );
    }}"""
    page.evaluate(start, [slot, arg])
    outcome = page.wait_for_function(f"() => window.{slot}", timeout=timeout_ms).json_value()
    page.evaluate(f"() => delete window.{slot}")
    if "error" in outcome:
        raise RuntimeError(f"page function failed: {outcome['error']}")
    return outcome["value"]


@dataclass
class LabNotebook:
    """A notebook open in JupyterLab in its own browser page."""

    server: JupyterServer
    page: Any  # playwright.sync_api.Page
    path: str
    errors: list[str] = field(default_factory=list)  # uncaught page errors, console errors
    _probe: KernelProbe | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )

    def wait_until_ready(self) -> None:
        """Wait until JupyterLab shows the notebook with an idle kernel."""
        self.page.wait_for_function(
            _NOTEBOOK_READY_JS, arg=self.path, timeout=NOTEBOOK_READY_TIMEOUT_MS
        )

    def run_all(self) -> None:
        """Run every cell as JupyterLab's "Run All Cells" does; raise with tracebacks on errors."""
        self.wait_until_ready()
        result = _evaluate_async(self.page, _RUN_ALL_JS, self.path, RUN_ALL_TIMEOUT_MS)
        errors = [error for cell in result["cells"] for error in cell["errors"]]
        unexecuted = [i for i, cell in enumerate(result["cells"]) if cell["count"] is None]
        if errors or unexecuted or not result["ok"]:
            raise AssertionError(
                f"running {self.path} failed; cells not executed: {unexecuted}\n"
                + ANSI_ESCAPES.sub("", "\n\n".join(errors))
            )

    def restart_kernel_and_run_all(self) -> None:
        """Restart the notebook's kernel from the browser, then run every cell again."""
        self._disconnect_probe()
        _evaluate_async(self.page, _RESTART_JS, self.path, NOTEBOOK_READY_TIMEOUT_MS)
        self.run_all()

    @property
    def kernel(self) -> KernelProbe:
        """A probe on the kernel this notebook currently runs in."""
        kernel_id = self.server.kernel_id_for(self.path)
        connection_file = self.server.runtime_dir / f"kernel-{kernel_id}.json"
        if self._probe is None or self._probe.connection_file != connection_file:
            self._disconnect_probe()
            self._probe = KernelProbe(connection_file)
        return self._probe

    def _disconnect_probe(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def close(self) -> None:
        """Close the page and shut the notebook's kernel down."""
        self._disconnect_probe()
        self.page.context.close()
        for session in self.server.api("GET", "api/sessions"):
            if session["path"] == self.path:
                self.server.api("DELETE", f"api/sessions/{session['id']}")


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """One JupyterLab server per test module, stopped (with its kernels) afterwards."""
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        pytest.skip(f"jupyter is not installed next to {sys.executable}")
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        stop_jupyter_server(server)


BUNDLE = Path(__file__).resolve().parents[2] / "galwidget" / "static" / "widget.js"
"""The built front end: widget notebooks skip without it."""


def open_lab_notebook(
    chromium: Any,
    jupyter_server: JupyterServer,
    name: str,
    cells: list[str],
    *,
    viewport: tuple[int, int] = (1280, 900),
    on_page: Callable[[Any], None] | None = None,
    timeout_ms: int = NOTEBOOK_READY_TIMEOUT_MS,
) -> LabNotebook:
    """Write ``cells`` as notebook ``name`` and open it in JupyterLab in a new browser context of
    ``viewport`` size (``on_page(page)`` runs before the page loads JupyterLab; ``timeout_ms``
    bounds the page's load); the caller closes it."""
    write_notebook(jupyter_server.root / name, cells)
    context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    if on_page is not None:
        on_page(page)  # e.g. page.on("websocket", ...) before JupyterLab opens its sockets
    notebook = LabNotebook(server=jupyter_server, page=page, path=name)
    try:
        page.goto(
            f"{jupyter_server.url}lab/tree/{name}?token={jupyter_server.token}&reset",
            timeout=timeout_ms,
        )
        notebook.wait_until_ready()
    except BaseException:
        notebook.close()
        raise
    return notebook


def open_widget_notebook(
    chromium: Any,
    jupyter_server: JupyterServer,
    name: str,
    cells: list[str],
    *,
    viewport: tuple[int, int] = (1400, 1000),
) -> LabNotebook:
    """:func:`open_lab_notebook`, then the left side panel collapsed, every cell run and the
    Explorer ready (``data-state="ready"``); skips the test when the bundle is not built."""
    from playwright.sync_api import expect

    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    notebook = open_lab_notebook(chromium, jupyter_server, name, cells, viewport=viewport)
    try:
        notebook.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
        notebook.run_all()
        expect(notebook.page.locator(".galwidget")).to_have_attribute(
            "data-state", "ready", timeout=NOTEBOOK_READY_TIMEOUT_MS
        )
    except BaseException:
        notebook.close()
        raise
    return notebook


@pytest.fixture
def open_notebook(
    chromium: Any, jupyter_server: JupyterServer
) -> Iterator[Callable[..., LabNotebook]]:
    """Factory ``open_notebook(name, cells, viewport=(w, h), on_page=None)`` -> an open
    :class:`LabNotebook` (``on_page(page)`` runs before the page loads JupyterLab).

    ``chromium`` is the session's playwright ``Browser`` from ``tests/browser/conftest.py`` (one
    sync Playwright per process; it skips when Chromium is missing). Every notebook opened
    through the factory is closed and its kernel shut down after the test.
    """
    opened: list[LabNotebook] = []

    def open_(
        name: str,
        cells: list[str],
        viewport: tuple[int, int] = (1280, 900),
        on_page: Callable[[Any], None] | None = None,
    ) -> LabNotebook:
        notebook = open_lab_notebook(
            chromium, jupyter_server, name, cells, viewport=viewport, on_page=on_page
        )
        opened.append(notebook)
        return notebook

    yield open_
    for notebook in opened:
        notebook.close()
