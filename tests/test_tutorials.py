"""Every tutorial notebook runs top to bottom in smoke mode (CI set -> tiny settings), and the
outputs stored in it (rendered by the docs) come from its code as committed and are clean."""

import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
from tutorial_outputs import problems  # noqa: E402


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_outputs_are_current_and_clean(path):
    """The code cells' SHA-256 equals the one stored with the outputs (re-run with
    ``python tools/tutorial_outputs.py execute NAME`` after editing a notebook); no machine path,
    error or oversized output is stored."""
    assert problems(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if (SHARED_DATA / "binarized_mnist.npz").exists():
        monkeypatch.setenv("PYROVAE_DATA", str(SHARED_DATA))
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # the stored outputs must not count as this run's
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors


def test_figures_show_in_a_notebook_without_a_backend_setting(monkeypatch, tmp_path):
    """The library never chooses a matplotlib backend: run getting_started as a user would (no
    MPLBACKEND) and count its image outputs -- the library's returned Figures (plot_posteriors,
    plot_report) and arviz's pyplot figure. With ``matplotlib.use("Agg")`` at import, as the
    plotting modules once did, the pyplot figure showed nothing."""
    monkeypatch.setenv("CI", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    if (SHARED_DATA / "binarized_mnist.npz").exists():
        monkeypatch.setenv("PYROVAE_DATA", str(SHARED_DATA))
    path = next(p for p in NOTEBOOKS if p.name == "getting_started.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3, f"{len(images)} image outputs"


def test_output_check_refuses_edited_code_machine_paths_and_errors(tmp_path):
    """The checker behind the test above can fail: a notebook written with its digest passes;
    editing a code cell, storing an absolute path of this machine or an error fails it."""
    import json

    from tutorial_outputs import code_digest

    cell = {"cell_type": "code", "source": "print(1)", "metadata": {}, "outputs": []}
    cell["execution_count"] = 1
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    nb["metadata"]["pyrovae"] = {"code_sha256": code_digest(nb)}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert problems(path) == []
    cell["source"] = "print(2)"
    path.write_text(json.dumps(nb))
    assert "its code changed" in problems(path)[0]
    cell["source"] = "print(1)"
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "/home/me/data\n"}]
    path.write_text(json.dumps(nb))
    assert "machine path" in problems(path)[0]
    cell["outputs"] = [
        {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}
    ]
    path.write_text(json.dumps(nb))
    assert "an error is stored" in problems(path)[0]
