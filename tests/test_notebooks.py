"""The notebooks in ``notebooks/`` run top to bottom in a fresh kernel, offline.

Each runs with nbclient in a kernel started from this Python (a kernelspec written to a temporary
``JUPYTER_PATH``), in a temporary working directory, with this process's environment (so the
``GALWIDGET_*`` folders of ``tests/conftest.py`` apply and label logs stay out of the repository).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pytest
from httpserver import LocalServer
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import galwidget as gw

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 300  # seconds: generous, the machine is shared
KERNEL = "galwidget-test"


@pytest.fixture
def kernel_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs ipykernel in this very Python (the venv's)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "galwidget tests", "language": "python"})
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("GALWIDGET_REAL_DATA", raising=False)
    return KERNEL


def run(
    name: str, kernel_name: str, cwd: Path, extra_cells: Sequence[str] = ()
) -> nbformat.NotebookNode:
    """Execute ``notebooks/<name>`` (then ``extra_cells``) in a fresh kernel in ``cwd``; returns
    the executed notebook."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        f"{name} is committed with outputs"
    )
    notebook.cells.extend(new_code_cell(source) for source in extra_cells)
    cwd.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(cwd=str(cwd))  # raises CellExecutionError on the first failing cell
    return notebook


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in {"execute_result", "display_data"}:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def cell_with(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The one code cell whose source contains ``source``."""
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and source in c.source]
    return cell


def widget_views(cell: nbformat.NotebookNode) -> int:
    """How many widget views a cell displayed."""
    return sum(
        "application/vnd.jupyter.widget-view+json" in output.get("data", {})
        for output in cell.get("outputs", [])
    )


def test_quickstart(kernel_name: str, tmp_path: Path):
    notebook = run("quickstart.ipynb", kernel_name, tmp_path)
    assert "20,000 galaxies × 1280 features" in text_of(cell_with(notebook, "synthetic(n=20_000"))
    assert widget_views(cell_with(notebook, "w = gw.Explorer(reps")) == 1
    selected = re.search(r"(\d+) galaxies selected", text_of(cell_with(notebook, "w.select(")))
    assert selected and int(selected.group(1)) > 0
    assert widget_views(cell_with(notebook, "ipywidgets.VBox")) == 1
    assert text_of(cell_with(notebook, "w.undo()")).strip() == "'ring'"  # the slip was undone
    round_trip = text_of(cell_with(notebook, "df['selected'].sum()"))
    assert re.search(r"[1-9]\d* rows selected", round_trip)
    assert round_trip.count("ring") >= 5
    # Labels were logged in the labels folder of the test, not next to the notebook.
    assert not (NOTEBOOKS / "galwidget-labels").exists()


def test_decals_offline_reproduces_w22_neighbors(kernel_name: str, tmp_path: Path):
    notebook = run("decals.ipynb", kernel_name, tmp_path)
    printed = text_of(cell_with(notebook, "mean neighbor overlap"))
    overlap = float(re.search(r"mean neighbor overlap with W\+22: ([0-9.]+)", printed).group(1))
    assert 0.9 <= overlap <= 1.0
    assert "5,000 galaxies × 1280 features" in text_of(cell_with(notebook, "reps.join("))
    assert widget_views(cell_with(notebook, "w = gw.Explorer(")) == 1


def test_decals_real_data_branch_downloads_through_a_mirror(
    kernel_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``GALWIDGET_REAL_DATA=1`` takes the download branch. The Zenodo files cannot be fetched
    here, so a local HTTP server (``GALWIDGET_ZENODO_URL``) serves stand-ins under their names and
    in their schemas; the catalogue misses some galaxies, as the real one does."""
    mirror = tmp_path / "mirror"
    gw.datasets.write_zenodo_like(mirror / "cnn_features_decals.parquet", n=3000, dim=64, seed=2)
    catalogue = gw.datasets.synthetic(n=3000, dim=64, seed=2).meta
    catalogue["petro_th90"] = 2.5 * catalogue["petro_th50"]  # a column the stand-in lacks
    catalogue = catalogue.drop(index=catalogue.index[5::10])
    catalogue.to_csv(mirror / "gz_decals_volunteers_5.csv", index=False)
    first = catalogue.iloc[0]
    pixscale = gw.images.decals_pixscale(first["petro_th50"], first["petro_th90"], size=128)
    with LocalServer(mirror) as server:
        monkeypatch.setenv("GALWIDGET_ZENODO_URL", server.url)
        monkeypatch.setenv("GALWIDGET_REAL_DATA", "1")
        probe = (
            'print(w._reply({"type": "request", "kind": "thumbnail", "request": 1, "position": 0})'
            '[0]["url"])'
        )
        notebook = run("decals.ipynb", kernel_name, tmp_path / "cwd", [probe])
        fetched = {request.path for request in server.requests}
    assert fetched == {"/cnn_features_decals.parquet", "/gz_decals_volunteers_5.csv"}
    assert "3,000 galaxies × 64 features" in text_of(cell_with(notebook, "reps.join("))
    printed = text_of(cell_with(notebook, "mean neighbor overlap"))
    assert float(re.search(r"W\+22: ([0-9.]+)", printed).group(1)) >= 0.9
    assert text_of(notebook.cells[-1]).strip() == (
        "https://www.legacysurvey.org/viewer/cutout.jpg"
        f"?ra={first['ra']:.6f}&dec={first['dec']:.6f}&layer=ls-dr10&pixscale={pixscale:.4f}&size=128"
    )


def test_active_labelling(kernel_name: str, tmp_path: Path):
    notebook = run("active_labelling.ipynb", kernel_name, tmp_path)
    summary = text_of(cell_with(notebook, "gw.learn.simulate("))
    for strategy in ("top", "uncertainty", "ei", "random"):
        assert strategy in summary
    assert widget_views(cell_with(notebook, "ipywidgets.HBox")) == 1
    share = re.search(
        r"(\d+)% of the 50 top-scored galaxies are rings", text_of(notebook.cells[-1])
    )
    assert share and int(share.group(1)) >= 50


def test_gz2_gets_positions_by_id_then_crossmatches(kernel_name: str, tmp_path: Path):
    notebook = run("gz2.ipynb", kernel_name, tmp_path)
    assert "positions: False" in text_of(cell_with(notebook, "gz2_representations()"))
    joined = text_of(cell_with(notebook, 'reps.join(GZ2_CATALOGUE, on="dr7objid")'))
    assert "positions now known for 3,000 of 3,000 galaxies" in joined
    matched = text_of(cell_with(notebook, "reps.crossmatch(decals"))
    found = re.search(r"([\d,]+) of 3,000 GZ2 galaxies have a GZ DECaLS match", matched)
    assert found and 2200 <= int(found.group(1).replace(",", "")) <= 2600  # 80% were measured


def test_survey_hats_streams_crossmatches_and_writes_labels(kernel_name: str, tmp_path: Path):
    """The survey notebook: a GZ DESI-style file loads as published, then a HATS catalogue is
    written, streamed back through the PCA, crossmatched and joined with labels."""
    pytest.importorskip("lsdb")
    notebook = run("survey_hats.ipynb", kernel_name, tmp_path)
    desi = text_of(cell_with(notebook, "gz_desi_pca.parquet"))
    assert (
        "4,000 galaxies × 40 features, feat_pca_0 … feat_pca_39 in numeric order: True; "
        "ra/dec from the columns: True"
    ) in desi
    assert "4,000 galaxies in" in text_of(cell_with(notebook, "gw.to_hats(galaxies"))
    reduced = text_of(cell_with(notebook, "reduce_to=10"))
    assert "4,000 galaxies × 10 components" in reduced
    matched = re.search(
        r"([\d,]+) of 4,000 galaxies matched", text_of(cell_with(notebook, "reps.crossmatch("))
    )
    assert matched and 3000 < int(matched.group(1).replace(",", "")) < 3400  # 80% have a source
    assert widget_views(cell_with(notebook, "w = gw.Explorer(matched")) == 1
    joined = text_of(cell_with(notebook, "gw.to_hats(w.labels"))
    assert re.search(r"\b[5-8] labelled galaxies joined to the survey", joined)
