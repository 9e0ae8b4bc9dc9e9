"""benchmarks/gpu_paper_run.sh, dry-run at toy size on the CPU: every stage of
infovae-likelihood and infovae-comparison runs as its own process into its experiment's folder,
a last call per experiment assembles them, and the verdicts are printed; run again, it reruns
nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from helpers import TOY_FIGURE6, TOY_TABLE1

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_paper_run.sh"
TOY = {
    **TOY_TABLE1,
    "decoder": "pixelcnn",
    "validation_points": 20,
    "validate_every": 2,
    "information_points": 8,
}


def _sets(settings):
    """``--set`` arguments in one string, split on spaces by the script (values without any)."""
    return " ".join(f"--set {k}={str(v).replace(' ', '')}" for k, v in settings.items())


def _run(out):
    env = {**os.environ, "OUT": str(out), "DEVICE": "cpu", "PROFILE": "quick"}
    env.update(DATA=str(SHARED_DATA), PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env["ARGS_infovae_likelihood"] = _sets(TOY)
    env["ARGS_infovae_comparison"] = _sets({**TOY_FIGURE6, "decoder": "pixelcnn"})
    return subprocess.run(
        ["bash", str(SCRIPT), "--seed", "1"], env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow  # a few minutes: ten processes, each importing torch and pyro twice
@pytest.mark.skipif(
    not (SHARED_DATA / "binarized_mnist.npz").exists(), reason="needs ../shared/data"
)
def test_the_paper_script_runs_every_stage_apart_and_prints_the_verdicts(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    stages = "stages: ELBO InfoVAE-MMD InfoVAE-Stein InfoVAE-adversarial anchor"
    assert f"infovae-likelihood {stages}" in done.stdout
    results = json.loads((tmp_path / "infovae-likelihood" / "results.json").read_text())
    assert "partial" not in results and results["config"]["decoder"] == "pixelcnn"
    assert results["seed"] == 1  # the script's own arguments go to every call
    assert set(results["models"]) == {
        "ELBO",
        "InfoVAE-MMD",
        "InfoVAE-Stein",
        "InfoVAE-adversarial",
    }
    for scores in results["models"].values():
        assert scores["information"]["points"] == 8 and scores["information"]["kl"] >= 0
        assert scores["training"]["best_step"] is not None  # selected on validation
    figure6 = json.loads((tmp_path / "infovae-comparison" / "results.json").read_text())
    assert "partial" not in figure6 and figure6["config"]["decoder"] == "pixelcnn"
    assert [row["objective"] for row in figure6["rows"]] == [
        "ELBO",
        "InfoVAE-MMD",
        "InfoVAE-Stein",
        "InfoVAE-adversarial",
        "Autoencoder",
    ]
    for claim, holds in [*results["checks"].items(), *figure6["checks"].items()]:
        assert f"{'holds' if holds else 'fails'}: {claim}" in done.stdout
    verdicts = (tmp_path / "verdicts.md").read_text()
    assert verdicts.startswith("<!-- reproduction-table")
    assert "infovae-likelihood" in verdicts and "infovae-comparison" in verdicts
    assert (tmp_path / "infovae-likelihood" / "table1.png").exists()
    assert (tmp_path / "infovae-comparison" / "figure6.png").exists()
    for log in (
        "infovae-likelihood/ELBO",
        "infovae-likelihood/anchor",
        "infovae-comparison/z2-ELBO",
    ):
        assert (tmp_path / "logs" / f"{log}.log").exists()
    again = _run(tmp_path)  # every stage finished: read back, nothing rerun
    assert again.returncode == 0, again.stderr
    assert "resuming" in (tmp_path / "logs" / "infovae-likelihood" / "ELBO.log").read_text()
    assert "resuming" in (tmp_path / "logs" / "infovae-comparison" / "z2-ELBO.log").read_text()
