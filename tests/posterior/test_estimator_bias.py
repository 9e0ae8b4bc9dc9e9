"""Estimators that used to be biased without a warning, tested against
independent references with stated seeds and tolerances."""

import pyro
import pyro.distributions as dist
import torch
from helpers import linear_data, linear_oracle

from pyrovae.diagnostics import inference_gaps
from pyrovae.infer import InfoVAE
from pyrovae.models.contract import data_plate
from pyrovae.posterior import importance

S = 0.1  # q(z|x) = N(x, S²) with x ~ N(0, 1 − S²): the aggregate posterior is exactly N(0, 1)


def model(x, num_data=None):
    with data_plate(x, num_data):
        z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z, 1.0).to_event(1), obs=x)


def guide(x, num_data=None):
    with data_plate(x, num_data):
        pyro.sample("z", dist.Normal(x, S).to_event(1))


def _mean_divergence(particles, repeats=300, batch=32):
    gen = torch.Generator().manual_seed(0)
    objective = InfoVAE(
        alpha=0.0, lam=2.0, num_particles=particles, vectorize_particles=True, max_plate_nesting=1
    )
    values = []
    for r in range(repeats):
        x = (1 - S**2) ** 0.5 * torch.randn(batch, 1, generator=gen)
        pyro.set_rng_seed(r)
        objective.loss(model, guide, x)
        values.append(objective.last_terms["divergence"].item())
    values = torch.tensor(values)
    return values.mean().item(), (values.std() / repeats**0.5).item()


def test_infovae_mmd_with_vectorized_particles_is_unbiased():
    """True MMD² = 0. Pooling the P = 4 draws of each x as i.i.d. samples of q(z) gave +0.023
    (measured before the fix); per-particle estimates average to 0 within 4 standard errors."""
    for particles in (1, 4):
        mean, se = _mean_divergence(particles)
        assert abs(mean) < 4 * se + 1e-4, (particles, mean, se)


def test_inference_gaps_log_marginal_is_not_biased_upward():
    """With steps=0 the per-point guide equals the amortized one, so the pooled estimate is an
    IS estimate with 2K draws. The old pointwise maximum of two K-draw estimates sat ≈ 0.56
    standard errors above; here its mean error matches an independent 2K-draw run's."""
    vae = linear_oracle(d=6, k=2, seed=3)
    with torch.no_grad():
        vae.V.mul_(0.6)  # a poor guide: large per-point Monte Carlo error at K = 10
    x = linear_data(vae, n=400, seed=5)
    exact = vae.log_marginal(x)
    k = 10
    gaps = inference_gaps(vae.model, vae.guide, x, num_samples=k, steps=0, seed=11)
    pooled_err = gaps["log_marginal"] - exact
    reference = importance(vae.model, vae.guide, x, num_samples=2 * k, seed=99).log_marginal - exact
    diff = pooled_err.mean() - reference.mean()
    se = (pooled_err.var() / len(x) + reference.var() / len(x)).sqrt()
    assert abs(diff) < 4 * se, (diff, se)
    assert pooled_err.mean() < 0  # a stochastic lower bound on average (Jensen)
