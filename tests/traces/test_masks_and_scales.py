"""Masks are honoured and stray scales refused by every per-point estimator.

Pyro fills ``unscaled_log_prob`` before ``poutine.mask``; estimators that read it used to ignore
masks silently (IWAE(K=1) 2279.9 vs Trace_ELBO 646.0 on a model masking 2 of 4 observations).
"""

import functools
import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from pyro.infer import Trace_ELBO

from pyrovae.diagnostics import kl_to_posterior
from pyrovae.infer import IWAE, LiBI
from pyrovae.models.contract import data_plate
from pyrovae.posterior import grid, importance, nuts

W = torch.tensor([1.5, -0.7])  # x_j = W_j z + noise, z ~ N(0, 1), one latent per point
NOISE = 0.5


def masked_model(mask=None, beta=None):
    """Two observed coordinates per point; ``mask`` (B, 2) hides some; ``beta`` scales the
    likelihood (a tempered model the per-point estimators must refuse)."""

    def model(x, num_data=None):
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 1), 1.0).to_event(1))
            for j in range(2):  # one observed site per coordinate, each maskable per point
                keep = mask[:, j] if mask is not None else True
                with poutine.mask(mask=keep), poutine.scale(scale=beta or 1.0):
                    loc = z * W[j]  # (B, 1)
                    pyro.sample(f"x{j}", dist.Normal(loc, NOISE).to_event(1), obs=x[:, j : j + 1])

    return model


def guide(x, num_data=None):
    with data_plate(x, num_data):
        pyro.sample("z", dist.Normal(0.3 * x[:, :1], 0.8).to_event(1))


def exact_log_marginal(x, mask):
    """log p of the unmasked coordinates of each point: N(0, W_o W_oᵀ + σ² I) over them."""
    out = []
    for xb, mb in zip(x, mask, strict=True):
        if not mb.any():
            out.append(0.0)
            continue
        w = W[mb]
        cov = torch.outer(w, w) + NOISE**2 * torch.eye(len(w))
        out.append(dist.MultivariateNormal(torch.zeros(len(w)), cov).log_prob(xb[mb]).item())
    return torch.tensor(out)


X = torch.tensor([[0.4, -1.2], [2.0, 0.3], [-0.5, 0.8], [1.1, 1.9]])
MASK = torch.tensor([[True, True], [True, False], [False, True], [False, False]])


def test_iwae_k1_equals_trace_elbo_with_a_mask():
    model = masked_model(MASK)
    pyro.set_rng_seed(3)
    expected = Trace_ELBO().loss(model, guide, X)
    pyro.set_rng_seed(3)
    got = IWAE(num_particles=1, max_plate_nesting=1).loss(model, guide, X)  # no guessing run
    assert got == pytest.approx(expected, rel=1e-5)


def test_importance_and_grid_honour_masks():
    model = masked_model(MASK)
    exact = exact_log_marginal(X, MASK)
    res = importance(model, None, X, num_samples=40000, seed=0)
    assert torch.allclose(res.log_marginal, exact, atol=0.02), (res.log_marginal, exact)
    assert res.log_marginal[3].item() == pytest.approx(
        0.0, abs=1e-6
    )  # fully masked, prior proposal
    g = grid(model, X, bounds=(-8.0, 8.0), resolution=2001)
    assert torch.allclose(g.log_marginal, exact, atol=1e-4), (g.log_marginal, exact)


def test_kl_to_posterior_honours_masks():
    """Grid and importance KL(q ‖ p(z|x)) agree on the masked model; both are 0 for a fully
    masked point whose guide equals the prior."""

    def prior_guide(x, num_data=None):
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(x.new_zeros(len(x), 1), 1.0).to_event(1))

    model = masked_model(MASK)
    by_grid = kl_to_posterior(model, prior_guide, X, method="grid", bounds=(-8, 8), resolution=2001)
    by_is = kl_to_posterior(model, prior_guide, X, num_samples=40000)
    assert torch.allclose(by_grid, by_is, atol=0.02), (by_grid, by_is)
    assert by_grid[3].item() == pytest.approx(0.0, abs=1e-4)


def test_libi_honours_masks():
    model = masked_model(MASK)
    pyro.set_rng_seed(0)
    loss = LiBI(num_samples=40000).loss(model, guide, X)
    assert -loss == pytest.approx(exact_log_marginal(X, MASK).sum().item(), abs=0.05)


@pytest.mark.parametrize(
    "run",
    [
        lambda m: IWAE(num_particles=2).loss(m, guide, X),
        lambda m: LiBI(num_samples=10).loss(m, guide, X),
        lambda m: importance(m, guide, X, num_samples=10),
        lambda m: grid(m, X, resolution=11),
        lambda m: nuts(m, X, num_samples=2, warmup_steps=2, num_chains=1),
    ],
    ids=["iwae", "libi", "importance", "grid", "nuts"],
)
def test_a_scale_inside_the_data_plate_is_refused(run):
    with pytest.raises(ValueError, match="scale of 0.5 besides the data plate"):
        run(masked_model(beta=0.5))


def test_data_plate_subsampling_scale_is_not_a_stray_scale():
    """num_data baked in: IWAE scales by N/B after the log-mean-exp; importance ignores N."""
    model = functools.partial(masked_model(), num_data=400)
    exact = exact_log_marginal(X, torch.ones_like(MASK))
    res = importance(model, None, X, num_samples=40000, seed=1)
    assert torch.allclose(res.log_marginal, exact, atol=0.02)


def test_nuts_strips_the_data_plate_scale():
    """A model called with num_data baked in is not tempered by B/N: posterior moments match the
    closed form p(z|x) = N(m, v), v = 1 / (1 + |W|²/σ²), m = v Wᵀx / σ²."""
    x = X[:2]
    model = functools.partial(masked_model(), num_data=1000)
    idata = nuts(model, x, num_samples=400, warmup_steps=300, num_chains=2, seed=0)
    draws = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 2)  # (draws, B)
    v = 1.0 / (1.0 + (W**2).sum() / NOISE**2)
    m = v * (x @ W) / NOISE**2
    assert torch.allclose(draws.mean(0), m, atol=0.1), (draws.mean(0), m)
    assert torch.allclose(draws.var(0), v.expand(2), rtol=0.3), (draws.var(0), v)
    assert math.isfinite(float(idata.posterior.attrs["rhat_max"]))
