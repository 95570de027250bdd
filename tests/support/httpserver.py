"""A real HTTP file server on 127.0.0.1 for tests of code that downloads or links to files.

``LocalServer(directory)`` serves the files under ``directory`` from a ``ThreadingHTTPServer`` in a
background thread (port chosen by the OS). Tests can make it misbehave the way real servers do:

- ``range_support=False``: ignore ``Range`` headers and always send the whole file (200);
- ``server.fail[path] = status``: answer ``path`` with that HTTP error;
- ``server.truncate[path] = n``: announce the full length but send only ``n`` bytes, then drop the
  connection (an interrupted download), once per entry;
- ``server.delay = seconds``: wait before answering.
- ``server.unannounced[path] = n``: send ``n`` bytes with NO ``Content-Length`` and close the
  connection (a body that ends early where the client cannot tell), once per entry;
- ``server.canned[path] = (status, content_type, body)``: answer with that instead of the file,
  e.g. a captive portal's ``200 text/html`` login page;
- ``server.gzip.add(path)``: send the file gzip-compressed with ``Content-Encoding: gzip``;
- ``validators=False``: send no ``ETag``/``Last-Modified``. With them (the default) an
  ``If-Range`` that no longer matches the file gets the whole file (200), as RFC 9110 says,
  unless ``server.honour_if_range = False`` (a broken server: it resumes regardless).

Every request is recorded in ``server.requests`` (method, path, headers) so tests can assert what
was asked, e.g. that a download resumed with ``Range: bytes=N-`` or that no request was made.

Use it as a context manager::

    with LocalServer(tmp_path) as server:
        urllib.request.urlopen(server.url + "/file.bin")
"""

from __future__ import annotations

import email.utils
import gzip
import shutil
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


class LocalServer:
    """Serve ``directory`` over HTTP on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self, directory: str | Path, range_support: bool = True, validators: bool = True
    ) -> None:
        self.directory = Path(directory).resolve()
        self.range_support = range_support
        self.validators = validators
        self.fail: dict[str, int] = {}
        self.truncate: dict[str, int] = {}
        self.unannounced: dict[str, int] = {}
        self.canned: dict[str, tuple[int, str, bytes]] = {}
        self.gzip: set[str] = set()
        self.honour_if_range = True
        self.delay = 0.0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def requests_for(self, path: str) -> list[Request]:
        """The recorded requests for one path (query string ignored)."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Silence the per-request log lines."""

        def do_HEAD(self) -> None:
            self._respond(send_body=False)

        def do_GET(self) -> None:
            self._respond(send_body=True)

        def _respond(self, send_body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            server._record(Request(self.command, path, dict(self.headers.items())))
            if server.delay:
                time.sleep(server.delay)
            if path in server.fail:
                self._error(server.fail[path])
                return
            if path in server.canned:
                status, content_type, body = server.canned[path]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)
                return
            file = (server.directory / path.lstrip("/")).resolve()
            if not file.is_relative_to(server.directory) or not file.is_file():
                self._error(404)
                return
            info = file.stat()
            size = info.st_size
            etag = f'"{size:x}-{info.st_mtime_ns:x}"'
            modified = email.utils.formatdate(info.st_mtime, usegmt=True)
            start, status = 0, 200
            wanted = self.headers.get("Range")
            condition = self.headers.get("If-Range")
            if server.honour_if_range and condition not in {None, etag, modified}:
                wanted = None  # the file changed since the client's copy: send all of it
            if path in server.gzip:
                self._send_gzip(file, send_body)
                return
            if path in server.unannounced:
                self._send_unannounced(file, server.unannounced.pop(path), send_body)
                return
            if wanted and server.range_support:
                start = _range_start(wanted)
                if start is None or start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size - start))
            self.send_header("Accept-Ranges", "bytes" if server.range_support else "none")
            if server.validators:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if not send_body:
                return
            limit = server.truncate.pop(path, None)
            with file.open("rb") as handle:
                handle.seek(start)
                if limit is None:
                    shutil.copyfileobj(handle, self.wfile, CHUNK)
                    return
                self.wfile.write(handle.read(limit))
                self.wfile.flush()
                self.close_connection = True

        def _send_gzip(self, file: Path, send_body: bool) -> None:
            body = gzip.compress(file.read_bytes())
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _send_unannounced(self, file: Path, limit: int, send_body: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if send_body:
                with file.open("rb") as handle:
                    self.wfile.write(handle.read(limit))
                self.wfile.flush()

        def _error(self, status: int) -> None:
            body = f"error {status}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _range_start(header: str) -> int | None:
    """The first byte of a ``bytes=N-`` or ``bytes=N-M`` range (the end is ignored)."""
    unit, _, spec = header.partition("=")
    first = spec.split(",")[0].split("-")[0].strip()
    if unit.strip() != "bytes" or not first.isdigit():
        return None
    return int(first)
