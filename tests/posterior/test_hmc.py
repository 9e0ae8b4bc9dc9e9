"""The vectorized per-point-adaptive HMC sampler (``posterior.hmc``) against exact posteriors:
the linear-Gaussian closed form with a deliberately wrong guide, and curved 2-D "banana"
posteriors whose scales differ 10× between points, with exact moments from a fine grid."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from helpers import linear_data, linear_oracle, wrong_linear_guide

from pyrovae.models.contract import data_plate
from pyrovae.posterior import grid, hmc, nuts_summary, posterior_comparison


def _draws(idata, batch, dim):
    return torch.as_tensor(idata.posterior["z"].values).reshape(-1, batch, dim).double()


def _check_moments(draws, mean, cov, mean_tol=0.15, cov_tol=0.25):
    sd = cov.diagonal(dim1=-2, dim2=-1).sqrt()
    assert ((draws.mean(0) - mean).abs() < mean_tol * sd).all(), (draws.mean(0) - mean) / sd
    centred = draws - draws.mean(0)
    emp = torch.einsum("sbi,sbj->bij", centred, centred) / draws.shape[0]
    assert ((emp - cov).abs() < cov_tol * sd.unsqueeze(-1) * sd.unsqueeze(-2)).all()


def test_hmc_matches_the_linear_gaussian_posterior_with_awrong_linear_guide():
    """Mean within 0.15 posterior sd and covariance within 0.25 sd_i·sd_j of the closed form
    (correlated, so a diagonal map cannot whiten it fully), R-hat ≤ 1.01 and no divergences,
    with a guide shifted by 1 sd and 3× too wide."""
    vae = linear_oracle()
    x = linear_data(vae, n=6)
    idata = hmc(
        vae.model, x, num_samples=300, warmup_steps=300, num_chains=4, guide=wrong_linear_guide(vae)
    )
    assert idata.posterior["z"].dims == ("chain", "draw", "data", "z_dim")
    summary = nuts_summary(idata)
    assert summary["rhat_max"] <= 1.01 and summary["divergences"] == 0, summary
    mean, cov = vae.posterior(x)
    _check_moments(_draws(idata, 6, 3), mean.detach().double(), cov.detach().double())
    table = posterior_comparison(idata)
    assert len(table) == 6 and table["reliable"].all()


def banana(x, num_data=None):
    """z ~ N(0, I₂); y₁ ~ N(z₁, s²), y₂ ~ N(z₂ + b·z₁², s²) with per-point (b, s) = x[:, 2:4]:
    curved posteriors whose widths follow s."""
    y, b, s = x[:, :2], x[:, 2], x[:, 3]
    with data_plate(x, num_data):
        z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))
        loc = torch.stack([z[..., 0], z[..., 1] + b * z[..., 0] ** 2], -1)
        pyro.sample("y", dist.Normal(loc, s.unsqueeze(-1)).to_event(1), obs=y)


def banana_guide(x, num_data=None):
    """A rough Gaussian guess: centred on the inverted map at z₁ = y₁/(1 + s²), width s."""
    y, b, s = x[:, :2], x[:, 2], x[:, 3]
    z1 = y[:, 0] / (1 + s**2)
    loc = torch.stack([z1, y[:, 1] - b * z1**2], -1)
    with data_plate(x, num_data):
        pyro.sample("z", dist.Normal(loc, s.unsqueeze(-1).expand(-1, 2)).to_event(1))


def _banana_data():
    gen = torch.Generator().manual_seed(0)
    n = 6
    b = torch.tensor([0.0, 0.5, 1.0, 0.0, 0.5, 1.0])
    s = torch.tensor([0.1, 0.1, 0.1, 1.0, 1.0, 1.0])  # posterior widths differ 10x
    z = torch.randn(n, 2, generator=gen)
    y = torch.stack([z[:, 0], z[:, 1] + b * z[:, 0] ** 2], -1) + s.unsqueeze(-1) * torch.randn(
        n, 2, generator=gen
    )
    return torch.cat([y, b.unsqueeze(-1), s.unsqueeze(-1)], -1).double()


@pytest.mark.parametrize("use_guide", [True, False], ids=["rough-guide", "no-guide"])
def test_hmc_matches_grid_moments_of_curved_posteriors_of_different_scales(use_guide):
    """Posterior mean within 0.15 sd and covariance within 0.25 sd_i·sd_j of a 401² grid's
    moments (edge mass < 1e-6), R-hat ≤ 1.01, on six banana posteriors with widths 0.1 and 1."""
    x = _banana_data()
    exact = grid(banana, x, bounds=(-6.0, 6.0), resolution=401)
    assert (exact.edge_mass < 1e-6).all()
    idata = hmc(
        banana,
        x,
        num_samples=500,
        warmup_steps=400,
        num_chains=4,
        guide=banana_guide if use_guide else None,
        seed=1,
        target_accept=0.9,  # curved targets: a smaller step avoids divergent transitions
    )
    summary = nuts_summary(idata)
    assert summary["rhat_max"] <= 1.01 and summary["divergences"] == 0, summary
    _check_moments(_draws(idata, 6, 2), exact.mean.double(), exact.covariance.double())
    steps = torch.tensor(idata.posterior.attrs["step_size"])
    assert steps.shape == (6,)


def test_hmc_bad_input():
    vae = linear_oracle()
    x = linear_data(vae, n=2)
    with pytest.raises(ValueError, match="num_chains"):
        hmc(vae.model, x, num_chains=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        hmc(vae.model, x, warmup_steps=-1)
    with pytest.raises(ValueError, match="target_accept"):
        hmc(vae.model, x, target_accept=1.0)
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        hmc(vae.model, bad)
