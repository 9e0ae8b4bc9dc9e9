"""Guide-preconditioned NUTS (z = μ_q + σ_q ⊙ u) and the per-point comparison table, against the
linear-Gaussian closed-form posterior."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from helpers import linear_data, linear_oracle, wrong_linear_guide

from pyrovae.models.contract import data_plate
from pyrovae.posterior import hmc, nuts, nuts_summary, posterior_comparison
from pyrovae.posterior.whitening import guide_affine


def test_preconditioned_nuts_matches_the_exact_posterior_with_awrong_linear_guide():
    """Mean within 0.15 posterior sd, covariance within 0.25 sd_i·sd_j of the exact ones,
    R-hat ≤ 1.01, no divergences; the draws are of z (not of the whitened u)."""
    vae = linear_oracle()
    x = linear_data(vae, n=6)
    idata = nuts(
        vae.model,
        x,
        num_samples=600,
        warmup_steps=300,
        num_chains=2,
        guide=wrong_linear_guide(vae),
        seed=0,
        precondition=True,
    )
    assert list(idata.posterior.data_vars) == ["z"]
    assert idata.posterior["z"].dims == ("chain", "draw", "data", "z_dim")
    summary = nuts_summary(idata)
    assert summary["rhat_max"] <= 1.01 and summary["divergences"] == 0, summary
    draws = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 6, 3).float()
    mean, cov = vae.posterior(x)
    sd = cov.diagonal(dim1=-2, dim2=-1).sqrt().detach()
    assert ((draws.mean(0) - mean.detach()).abs() < 0.15 * sd).all()
    centred = draws - draws.mean(0)
    emp = torch.einsum("sbi,sbj->bij", centred, centred) / draws.shape[0]
    assert ((emp - cov.detach()).abs() < 0.25 * sd.unsqueeze(-1) * sd.unsqueeze(-2)).all()


def test_guide_affine_reads_the_guides_normal():
    vae = linear_oracle()
    x = linear_data(vae, n=4)
    affine = guide_affine(vae.model, wrong_linear_guide(vae, shift=0.5, widen=2.0), x)
    mean, cov = vae.posterior(x)
    sd = cov.diagonal(dim1=-2, dim2=-1).sqrt().detach()
    loc, scale = affine["z"]
    assert torch.allclose(loc, mean.detach() + 0.5 * sd) and torch.allclose(scale, 2.0 * sd)


def _laplace_guide(x, num_data=None):
    with data_plate(x, num_data):
        pyro.sample("z", dist.Laplace(torch.zeros(len(x), 3), 1.0).to_event(1))


def test_precondition_bad_input():
    vae = linear_oracle()
    x = linear_data(vae, n=2)
    short = dict(num_samples=4, warmup_steps=2, num_chains=1)
    with pytest.raises(ValueError, match="needs a guide"):
        nuts(vae.model, x, precondition=True, **short)
    with pytest.raises(ValueError, match="precondition=False"):
        nuts(vae.model, x, guide=_laplace_guide, precondition=True, **short)
    with pytest.warns(UserWarning, match="without preconditioning"):
        idata = nuts(vae.model, x, guide=_laplace_guide, **short)
    assert idata.posterior["z"].shape == (1, 4, 2, 3)


def test_posterior_comparison_lists_every_point_and_compares_the_guide():
    """One row per point; with the wrong guide (shift 1 sd, 3× too wide) the table reports a mean
    error near 1 sd and an sd ratio near 3 (the exact posterior is correlated, so the marginal
    sds are compared)."""
    vae = linear_oracle()
    x = linear_data(vae, n=5)
    guide = wrong_linear_guide(vae)
    # the vectorized sampler is the fast way to get a table; the table reads any nuts-like result
    idata = hmc(vae.model, x, num_samples=400, warmup_steps=300, num_chains=2, guide=guide)
    table = posterior_comparison(idata, guide=guide, x=x)
    assert list(table["data"]) == [0, 1, 2, 3, 4]
    assert {"rhat", "ess_bulk", "ess_tail", "reliable"} <= set(table.columns)
    assert ((table["rhat"] > 0.99) & (table["rhat"] < 1.05)).all()
    assert table["reliable"].dtype == bool
    assert table["reliable"].equals((table["rhat"] <= 1.01) & (table["ess_bulk"] >= 200))
    assert ((table["guide_mean_error_sd"] > 0.8) & (table["guide_mean_error_sd"] < 1.3)).all()
    assert ((table["guide_sd_ratio_min"] > 2.5) & (table["guide_sd_ratio_max"] < 3.5)).all()
    with pytest.raises(ValueError, match="site="):
        posterior_comparison(idata, site="w")
    with pytest.raises(ValueError, match="both guide= and x="):
        posterior_comparison(idata, guide=guide)
