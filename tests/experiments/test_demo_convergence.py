"""Slow tests (run with --runslow; CI runs them): convergence at the demo's full settings."""

import pytest

from pyrovae.experiments.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_at_default_settings(tmp_path):
    """6000 steps, seed 0. ELBO: the two posteriors separate (I_q(x;z) close to log 2 = 0.693)
    and the aggregate posterior over-spreads the prior (Var q(z) > 1, InfoVAE Prop. 1).
    InfoVAE-MMD (λ = 500): the aggregate posterior matches N(0, 1) (|Var − 1| < 0.1)."""
    results = run_demo(str(tmp_path), seed=0, progress=False)
    elbo, info = results["objectives"].values()
    assert elbo["mutual_information"] > 0.6
    assert elbo["aggregate_variance"] > 1.1
    assert abs(info["aggregate_variance"] - 1.0) < 0.1
    assert abs(info["aggregate_log_det"]) < 0.1
