"""Reference posteriors against the linear-Gaussian closed forms (d=10, k=3 and d=6, k=2; the
guide is deliberately not the exact posterior: mean map off by 5%, variances 1.5x too wide)."""

import math

import numpy as np
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
    se = [
        importance(vae.model, vae.guide, x, num_samples=k, seed=1).stderr.mean().item()
        for k in (250, 1000, 4000)
    ]
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


def _split_rhat(draws):
    """Split-R-hat per element of (chain, draw, ...) draws: each chain cut in two halves."""
    half = draws.shape[1] // 2
    chains = np.concatenate([draws[:, :half], draws[:, half : 2 * half]], 0)  # (2C, n, ...)
    n = chains.shape[1]
    within = chains.var(1, ddof=1).mean(0)
    between = n * chains.mean(1).var(0, ddof=1)
    return np.sqrt(((n - 1) / n * within + between / n) / within)


@pytest.mark.slow  # ~40 s on 2 cores: with the slow tests (.ci/run runs them)
def test_nuts_matches_the_exact_posterior():
    """Posterior mean within 0.15 posterior sd (ESS ≥ ~400 per coordinate gives sd/20) and
    covariance within 0.25 of the exact variance, R-hat ≤ 1.01, no divergences."""
    vae = linear_oracle()
    x = linear_data(vae, n=8)
    idata = nuts(
        vae.model, x, num_samples=1000, warmup_steps=400, num_chains=2, guide=vae.guide, seed=0
    )
    assert idata.posterior["z"].dims == ("chain", "draw", "data", "z_dim")
    summary = nuts_summary(idata)
    # independent references: the classic split-R-hat (Gelman et al., BDA3 Eq. 11.4) by hand,
    # which agrees with arviz's rank-normalized one on a well-mixed Gaussian posterior, and the
    # divergent transitions counted from the sampler's own statistics
    draws_np = idata.posterior["z"].values  # (chain, draw, data, z_dim)
    assert abs(summary["rhat_max"] - _split_rhat(draws_np).max()) < 0.01
    assert summary["divergences"] == int(idata.sample_stats["diverging"].values.sum())
    assert 0 < summary["ess_bulk_min"] <= draws_np.shape[0] * draws_np.shape[1] * 1.5
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


def test_grid_with_one_cell_uses_the_box_volume():
    """resolution = 1: the midpoint rule with one cell, log p(x, z_mid) + log(hi − lo)^k, computed
    here from the closed-form joint N(z; 0, I) N(x; Wz + μ, σ²I)."""
    vae = linear_oracle(d=5, k=2)
    x = linear_data(vae, n=3)
    lo, hi = -1.0, 3.0
    g = grid(vae.model, x, bounds=(lo, hi), resolution=1)
    assert g.cell_volume == pytest.approx((hi - lo) ** 2)
    z = torch.full((2,), (lo + hi) / 2, dtype=x.dtype)
    log_joint = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum() + torch.distributions.Normal(
        vae.W @ z + vae.mu, vae.sigma2.sqrt()
    ).log_prob(x).sum(-1)
    expected = log_joint + 2 * math.log(hi - lo)
    assert torch.allclose(g.log_marginal, expected.detach(), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"resolution": 0}, "resolution must be ≥ 1"),
        ({"resolution": -3}, "resolution must be ≥ 1"),
        ({"bounds": (-math.inf, 2.0)}, "finite"),
    ],
)
def test_grid_bad_resolution_or_bounds(kwargs, match):
    vae = linear_oracle(d=5, k=2)
    with pytest.raises(ValueError, match=match):
        grid(vae.model, linear_data(vae, n=2), **kwargs)


def test_importance_and_grid_refuse_empty_data():
    vae = linear_oracle(d=5, k=2)
    empty = torch.zeros(0, 5)
    with pytest.raises(ValueError, match="no data points"):
        importance(vae.model, vae.guide, empty, num_samples=10)
    with pytest.raises(ValueError, match="no data points"):
        grid(vae.model, empty)


def test_importance_streams_draws_and_warns_when_large():
    """Resampled draws no longer need the (K, b, D) particles: a K spread over many chunks gives
    the same posterior moments as one chunk (exact posterior of the linear model as oracle)."""
    vae = linear_oracle(d=5, k=2)
    x = linear_data(vae, n=4)
    res = importance(
        vae.model, vae.guide, x, num_samples=20000, chunk_size=500, seed=0, num_resample=4000
    )
    mean, cov = vae.posterior(x)
    assert torch.allclose(res.samples.mean(0), mean.detach(), atol=0.06)
    assert torch.allclose(res.samples.var(0), cov.diagonal().detach().expand(4, 2), rtol=0.12)


def test_importance_and_grid_warn_before_holding_a_lot_of_memory(monkeypatch):
    import pyrovae.posterior._checks as checks

    monkeypatch.setattr(checks, "LARGE_BYTES", 1000)  # pretend 1 kB is a lot
    vae = linear_oracle(d=5, k=2)
    x = linear_data(vae, n=4)
    with pytest.warns(ResourceWarning, match="reduce the num_samples"):
        importance(vae.model, vae.guide, x, num_samples=100, seed=0)
    with pytest.warns(ResourceWarning, match="reduce the resolution"):
        grid(vae.model, x, resolution=41)
