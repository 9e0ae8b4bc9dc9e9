"""Every tutorial notebook runs top to bottom in smoke mode (CI set -> tiny settings)."""

from pathlib import Path

import pytest
from conftest import SHARED_DATA

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if (SHARED_DATA / "binarized_mnist.npz").exists():
        monkeypatch.setenv("PYROVAE_DATA", str(SHARED_DATA))
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name} has outputs committed; strip them"
    )
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
