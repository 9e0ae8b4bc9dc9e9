"""benchmarks/gpu_paper_run.sh, dry-run at toy size on the CPU: every stage of
infovae-likelihood runs as its own process into one folder, the last call assembles them, and
the verdicts are printed; run again, it reruns nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from helpers import TOY_TABLE1

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_paper_run.sh"
TOY = {
    **TOY_TABLE1,
    "decoder": "pixelcnn",
    "validation_points": 20,
    "validate_every": 2,
    "information_points": 8,
}


def _run(out):
    env = {**os.environ, "OUT": str(out), "DEVICE": "cpu", "PROFILE": "quick"}
    env.update(DATA=str(SHARED_DATA), PYTHON=sys.executable, OMP_NUM_THREADS="1")
    args = [a for k, v in TOY.items() for a in ("--set", f"{k}={v}")]
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow  # about a minute: five processes, each importing torch and pyro twice
@pytest.mark.skipif(
    not (SHARED_DATA / "binarized_mnist.npz").exists(), reason="needs ../shared/data"
)
def test_the_paper_script_runs_every_stage_apart_and_prints_the_verdicts(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stages: ELBO InfoVAE-MMD InfoVAE-Stein InfoVAE-adversarial anchor" in done.stdout
    results = json.loads((tmp_path / "infovae-likelihood" / "results.json").read_text())
    assert "partial" not in results and results["config"]["decoder"] == "pixelcnn"
    assert set(results["models"]) == {
        "ELBO",
        "InfoVAE-MMD",
        "InfoVAE-Stein",
        "InfoVAE-adversarial",
    }
    for scores in results["models"].values():
        assert scores["information"]["points"] == 8 and scores["information"]["kl"] >= 0
        assert scores["training"]["best_step"] is not None  # selected on validation
    for claim, holds in results["checks"].items():
        assert f"{'holds' if holds else 'fails'}: {claim}" in done.stdout
    assert (tmp_path / "verdicts.md").read_text().startswith("<!-- reproduction-table")
    assert (tmp_path / "infovae-likelihood" / "table1.png").exists()
    for stage in ("ELBO", "anchor"):
        assert (tmp_path / "logs" / f"{stage}.log").exists()
    again = _run(tmp_path)  # every stage finished: read back, nothing rerun
    assert again.returncode == 0, again.stderr
    assert "resuming" in (tmp_path / "logs" / "ELBO.log").read_text()
