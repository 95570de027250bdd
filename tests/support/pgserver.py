"""A throwaway PostgreSQL server (Debian's ``postgresql`` binaries) for the label database tests.

As root the server runs as the ``postgres`` user (PostgreSQL refuses root); it listens on
127.0.0.1 on a free port with its unix socket in its own temporary folder, trusts local logins
and is removed by :meth:`PostgresServer.stop`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_binaries() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl`` (newest Debian version first), or ``None``."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """``start()`` initialises and starts a server; ``url`` reaches its ``postgres`` database."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="galwidget-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        command = [*self._as_owner, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.root / "server.log"
            raise RuntimeError(
                f"{' '.join(command)} failed: {done.stderr or done.stdout}"
                + (log.read_text()[-2000:] if log.exists() else "")
            )

    def start(self) -> PostgresServer:
        initdb, pg_ctl = str(self.binaries / "initdb"), str(self.binaries / "pg_ctl")
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        log = str(self.root / "server.log")
        self._run(pg_ctl, "-D", str(self.data), "-l", log, "-w", "-o", options, "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
