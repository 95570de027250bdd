"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

# Shared 2-core machines are noisy: hypothesis must judge inputs, not timings.
settings.register_profile("galwidget", deadline=None)
settings.load_profile("galwidget")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data in ``../shared/data`` (skips where a checkout has none)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep caches and label logs of every test out of the user's home."""
    root = tmp_path_factory.mktemp("galwidget-home")
    monkeypatch.setenv("GALWIDGET_CACHE", str(root / "cache"))
    monkeypatch.setenv("GALWIDGET_DATA", str(root / "data"))
    monkeypatch.setenv("GALWIDGET_LABELS_DIR", str(root / "labels"))


@pytest.fixture
def read_only_folder(tmp_path):
    """(folder, make_read_only): as root a read-only bind mount of the folder (a read-only
    remount, which root cannot write either), else the folder and its files made read-only."""
    folder, view = tmp_path / "labels", tmp_path / "read-only"
    folder.mkdir()
    mounted = []

    def make_read_only() -> Path:
        if os.geteuid() != 0:
            for path in folder.iterdir():
                path.chmod(0o444)
            folder.chmod(0o555)
            return folder
        view.mkdir()
        for command in (
            ["mount", "--bind", folder, view],
            ["mount", "-o", "remount,ro,bind", view],
        ):
            if subprocess.run(command, capture_output=True).returncode:
                pytest.skip("cannot make a read-only bind mount here")
            mounted[:] = [view]
        return view

    yield folder, make_read_only
    if mounted:
        subprocess.run(["umount", view], check=True)
    folder.chmod(0o755)
