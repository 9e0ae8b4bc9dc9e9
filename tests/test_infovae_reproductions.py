"""InfoVAE reproductions at the quick profile (slow: run by CI with --runslow)."""

import math

import pytest

from pyrovae.experiments import get

pytestmark = pytest.mark.slow


def test_infovae_two_point(tmp_path):
    """Measured at seed 0: the ELBO separates q(z|x=±1) (I(x;z) = log 2) and over-spreads q(z);
    InfoVAE (α=0, λ=500) keeps Var q(z) near 1 — by posterior collapse (I(x;z) ≈ 0)."""
    r = get("infovae-two-point")(str(tmp_path), "quick")
    assert all(r["checks"].values()), r["checks"]
    elbo = r["objectives"]["ELBO"]["final"]
    assert elbo["mutual_information"] == pytest.approx(math.log(2), abs=0.01)
    assert (tmp_path / "figure1.png").exists() and (tmp_path / "trajectories.png").exists()


def test_infovae_mnist_variance_runs(tmp_path, shared_data):
    r = get("infovae-mnist-variance")(str(tmp_path), "quick", data=str(shared_data))
    rows = {(row["objective"], row["train_size"]): row["log_det_cov"] for row in r["rows"]}
    assert set(rows) == {(o, n) for o in ("ELBO", "InfoVAE-MMD") for n in (500, 2000)}
    assert all(math.isfinite(v) for v in rows.values())
    assert (tmp_path / "figure2.png").exists()
