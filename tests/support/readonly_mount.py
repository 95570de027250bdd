"""A real read-only file system for tests of writers: a read-only tmpfs mounted for the test
(root only; skipped elsewhere), holding one folder and one file made before it turned read-only."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only_folder(where: Path) -> Iterator[Path]:
    """``where`` mounted as a read-only tmpfs holding ``existing.html`` and ``sub/``."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (where / "existing.html").write_text("before")
        (where / "sub").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)
