"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

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


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory) -> Path:
    """The documentation site built once by ``mkdocs build --strict`` (asserted to build without
    a warning): tests/test_docs.py checks it, tests/browser/test_docs_site.py reads it."""
    pytest.importorskip(
        "mkdocs", reason="MkDocs is not installed: pip install -e '.[docs]' to build the site"
    )
    for plugin in ("material", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
        pytest.importorskip(plugin, reason=f"{plugin} is not installed: pip install -e '.[docs]'")
    site = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    warnings = [line for line in build.stderr.splitlines() if line.startswith("WARNING")]
    assert build.returncode == 0, "\n".join(warnings) or build.stderr[-3000:]
    assert warnings == []
    return site
