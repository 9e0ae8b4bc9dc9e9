"""Reference posteriors against the linear-Gaussian closed forms (d=10, k=3 and d=6, k=2; the
guide is deliberately not the exact posterior: mean map off by 5%, variances 1.5x too wide)."""

import math

import pytest
import torch

from helpers import linear_data, linear_oracle
from pyrovae.posterior import grid, importance, nuts, nuts_summary


def test_importance_log_marginal_within_three_standard_errors():
    vae = linear_oracle()
    x = linear_data(vae, n=40)
    exact = vae.log_marginal(x).detach()
    res = importance(vae.model, vae.guide, x, num_samples=2000, seed=0)
    z = (res.log_marginal - exact) / res.stderr
    # IS log p̂ is biased low by ~se²/2, negligible here; 3 SE per point, allowing 1 of 40 outside
    assert (z.abs() > 3).sum() <= 1
    assert res.samples.shape == (1000, 40, 3)
    assert (res.ess > 100).all() and (res.khat < 0.7).all()


def test_importance_stderr_shrinks_like_one_over_sqrt_k():
    vae = linear_oracle()
    x = linear_data(vae, n=20)
    se = [importance(vae.model, vae.guide, x, num_samples=k, seed=1).stderr.mean().item()
          for k in (250, 1000, 4000)]
    assert se[0] > se[1] > se[2]
    assert se[0] / se[2] == pytest.approx(4.0, rel=0.25)  # sqrt(16)


def test_importance_with_the_prior_as_proposal_and_chunking():
    vae = linear_oracle(d=6, k=2)
    x = linear_data(vae, n=12)
    res = importance(vae.model, None, x, num_samples=30000, batch_size=5, chunk_size=7000, seed=0)
    exact = vae.log_marginal(x).detach()
    ok = res.khat < 0.7  # where k̂ says the estimate is reliable it must be within 4 SE
    assert ok.sum() >= 3
    assert ((res.log_marginal - exact).abs()[ok] <= 4 * res.stderr[ok] + 1e-3).all()


def test_importance_resampled_draws_match_the_exact_posterior():
    vae = linear_oracle()
    x = linear_data(vae, n=10)
    res = importance(vae.model, vae.guide, x, num_samples=20000, num_resample=4000, seed=2)
    mean, cov = vae.posterior(x)
    sd = cov.diagonal().sqrt().detach()
    # resampling 4000 of ~15000 effective draws: mean error sd/sqrt(~3000) → tolerance 0.1 sd
    assert ((res.samples.mean(0) - mean.detach()).abs() < 0.1 * sd).all()


def test_grid_is_exact_for_k2():
    vae = linear_oracle(d=6, k=2).double()
    x = linear_data(vae, n=7).double()
    res = grid(vae.model, x, bounds=(-6.0, 6.0), resolution=301)
    mean, cov = vae.posterior(x)
    assert torch.allclose(res.log_marginal, vae.log_marginal(x).detach(), atol=1e-3)
    assert torch.allclose(res.mean, mean.detach(), atol=1e-3)
    assert torch.allclose(res.covariance, cov.detach().expand(7, 2, 2), atol=1e-3)
    assert res.edge_mass.max() < 1e-6
    assert torch.allclose(res.weights.sum(0), torch.ones(7, dtype=torch.float64))


def test_grid_rejects_large_latent_spaces_and_bad_bounds():
    vae = linear_oracle()
    x = linear_data(vae, n=2)
    with pytest.raises(ValueError, match="dim z ≤ 2"):
        grid(vae.model, x)
    small = linear_oracle(d=4, k=1)
    with pytest.raises(ValueError, match="high > low"):
        grid(small.model, linear_data(small, n=2), bounds=(1.0, -1.0))


def test_nuts_matches_the_exact_posterior():
    """Posterior mean within 0.15 posterior sd (ESS ≥ ~400 per coordinate gives sd/20) and
    covariance within 0.25 of the exact variance, R-hat ≤ 1.01, no divergences."""
    vae = linear_oracle()
    x = linear_data(vae, n=8)
    idata = nuts(vae.model, x, num_samples=1000, warmup_steps=400, num_chains=2, guide=vae.guide, seed=0)
    assert idata.posterior["z"].dims == ("chain", "draw", "data", "z_dim")
    summary = nuts_summary(idata)
    assert summary == {k: idata.posterior.attrs[k] for k in summary}
    assert summary["rhat_max"] <= 1.01 and summary["divergences"] == 0
    draws = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 8, 3).float()
    mean, cov = vae.posterior(x)
    sd = cov.diagonal().sqrt().detach()
    assert ((draws.mean(0) - mean.detach()).abs() < 0.15 * sd).all()
    centred = draws - draws.mean(0)
    emp = torch.einsum("sbi,sbj->bij", centred, centred) / draws.shape[0]
    assert ((emp - cov.detach()).abs() < 0.25 * sd.outer(sd)).all()


def test_importance_runs_on_a_neural_vae_with_conv_shapes():
    from pyrovae.models import build_vae

    vae = build_vae({"data_shape": [1, 28, 28], "z_dim": 2, "net": "conv"})
    x = (torch.rand(3, 1, 28, 28) > 0.5).float()
    res = importance(vae.model, vae.guide, x, num_samples=64, seed=0)
    assert res.log_marginal.shape == (3,) and torch.isfinite(res.log_marginal).all()
    assert math.isfinite(res.summary()["log_marginal"])
