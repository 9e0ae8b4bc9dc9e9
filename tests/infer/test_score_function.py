"""Score-function gradients for guide sites without rsample.

Consistency first (the same loss and gradients as ``pyro.infer.Trace_ELBO`` under one seed),
unbiasedness under subsampling (against the reparameterized gradient), then convergence on
conjugate models with non-reparameterized guides (slow), with Pyro's tolerances.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.distributions.testing import fakes
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

from pyrovae.infer import BetaVAE, EvidenceLowerBound
from pyrovae.models.contract import data_plate

X = torch.tensor([[0.3, -1.0], [1.2, 0.4], [-0.7, 2.1]])


def model(x, num_data=None):
    w = pyro.param("w", torch.tensor([0.8, -0.4]))
    with data_plate(x, num_data):
        z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 1), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(z * w, 0.7).to_event(1), obs=x)


def make_guide(normal):
    def guide(x, num_data=None):
        a = pyro.param("a", torch.tensor(0.5))
        s = pyro.param("s", torch.tensor(0.9), constraint=dist.constraints.positive)
        with data_plate(x, num_data):
            pyro.sample("z", normal(a * x[:, :1], s).to_event(1))

    return guide


def _grads(objective, guide, x, seed, **kwargs):
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    loss = objective.differentiable_loss(model, guide, x, **kwargs)
    names = ["w", "a", "s"]
    params = [pyro.param(n).unconstrained() for n in names]
    return loss.item(), torch.autograd.grad(loss, params)


@pytest.mark.parametrize("particles,vectorize", [(1, False), (5, True)])
def test_loss_and_gradients_equal_trace_elbo(particles, vectorize):
    guide = make_guide(fakes.NonreparameterizedNormal)
    kw = dict(num_particles=particles, vectorize_particles=vectorize, max_plate_nesting=1)
    ours, g_ours = _grads(EvidenceLowerBound(**kw), guide, X, seed=4)
    pyros, g_pyro = _grads(Trace_ELBO(**kw), guide, X, seed=4)
    assert ours == pytest.approx(pyros, rel=1e-5)
    for a, b in zip(g_ours, g_pyro, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), (a, b)


def test_score_function_gradient_is_unbiased_under_subsampling():
    """E[score-function gradient] = reparameterized gradient, both for the N-point objective
    (num_data = 300 for a minibatch of 3): the N/B scale enters once."""
    k = 40000
    kw = dict(num_particles=k, vectorize_particles=True, max_plate_nesting=1)
    _, g_sf = _grads(
        BetaVAE(beta=0.5, **kw), make_guide(fakes.NonreparameterizedNormal), X, 0, num_data=300
    )
    _, g_rep = _grads(BetaVAE(beta=0.5, **kw), make_guide(dist.Normal), X, 0, num_data=300)
    for a, b in zip(g_sf, g_rep, strict=True):
        # Monte Carlo error of the score-function mean at K = 40000: a few percent of |grad|
        assert torch.allclose(a, b, rtol=0.05, atol=0.05 * b.abs().max().item()), (a, b)


def test_discrete_latent_trains():
    """A Bernoulli latent (no rsample at all) trains with EvidenceLowerBound: the guide's
    probability moves to the exact posterior p(c = 1 | x)."""
    x = torch.tensor([2.0, 1.5, 2.5, 1.8])

    def mix_model(x, num_data=None):
        with data_plate(x, num_data):
            c = pyro.sample("c", dist.Bernoulli(x.new_full((len(x),), 0.5)))
            pyro.sample("x", dist.Normal(2.0 * c, 1.0), obs=x)

    def mix_guide(x, num_data=None):
        logit = pyro.param("logit", torch.zeros(len(x)))
        with data_plate(x, num_data):
            pyro.sample("c", dist.Bernoulli(logits=logit))

    svi = SVI(
        mix_model,
        mix_guide,
        Adam({"lr": 0.05}),
        EvidenceLowerBound(num_particles=20, vectorize_particles=True, max_plate_nesting=1),
    )
    for _ in range(600):
        svi.step(x)
    lik1, lik0 = dist.Normal(2.0, 1.0).log_prob(x), dist.Normal(0.0, 1.0).log_prob(x)
    exact = torch.sigmoid(lik1 - lik0)
    assert torch.allclose(torch.sigmoid(pyro.param("logit")), exact, atol=0.03)


# ----- conjugate models with non-reparameterized guides (as Pyro's test_inference.py) -------
def _fit(model_fn, guide_fn, steps, lr, particles=8):
    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    objective = EvidenceLowerBound(
        num_particles=particles, vectorize_particles=True, max_plate_nesting=1
    )
    svi = SVI(model_fn, guide_fn, Adam({"lr": lr, "betas": (0.95, 0.999)}), objective)
    for _ in range(steps):
        svi.step()


def test_normal_normal_nonreparameterized():
    prior_loc, prior_prec, noise_prec = torch.tensor([0.0, 0.5]), 0.1, torch.tensor([6.0, 4.0])
    data = torch.tensor([[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]])
    post_prec = prior_prec + len(data) * noise_prec
    post_loc = (noise_prec * data.sum(0) + prior_prec * prior_loc) / post_prec

    def model_fn():
        mu = pyro.sample("mu", dist.Normal(prior_loc, prior_prec**-0.5).to_event(1))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Normal(mu, noise_prec**-0.5).to_event(1), obs=data)

    def guide_fn():
        loc = pyro.param("loc", post_loc + 0.134)
        log_scale = pyro.param("log_scale", -0.5 * post_prec.log() - 0.14)
        pyro.sample("mu", fakes.NonreparameterizedNormal(loc, log_scale.exp()).to_event(1))

    _fit(model_fn, guide_fn, steps=3000, lr=0.003)
    assert (pyro.param("loc") - post_loc).pow(2).sum() < 0.05
    assert (pyro.param("log_scale") + 0.5 * post_prec.log()).pow(2).sum() < 0.05


@pytest.mark.slow
def test_poisson_gamma_nonreparameterized():
    data = torch.tensor([1.0, 2.0, 3.0])
    alpha_n, beta_n = 1.0 + data.sum(), 1.0 + len(data)

    def model_fn():
        rate = pyro.sample("rate", fakes.NonreparameterizedGamma(1.0, 1.0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Poisson(rate), obs=data)

    def guide_fn():
        log_a = pyro.param("log_a", torch.tensor(math.log(alpha_n) + 0.17))
        log_b = pyro.param("log_b", torch.tensor(math.log(beta_n) - 0.143))
        pyro.sample("rate", fakes.NonreparameterizedGamma(log_a.exp(), log_b.exp()))

    _fit(model_fn, guide_fn, steps=6000, lr=0.002)
    assert abs(pyro.param("log_a").item() - math.log(alpha_n)) < 0.08
    assert abs(pyro.param("log_b").item() - math.log(beta_n)) < 0.08


@pytest.mark.slow
def test_bernoulli_beta_nonreparameterized():
    data = torch.tensor([0.0, 1.0, 1.0, 1.0])
    alpha_n, beta_n = 1.0 + data.sum(), 1.0 + len(data) - data.sum()

    def model_fn():
        p = pyro.sample("p", fakes.NonreparameterizedBeta(1.0, 1.0))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.Bernoulli(p), obs=data)

    def guide_fn():
        log_a = pyro.param("log_a", torch.tensor(math.log(alpha_n) + 0.17))
        log_b = pyro.param("log_b", torch.tensor(math.log(beta_n) - 0.143))
        pyro.sample("p", fakes.NonreparameterizedBeta(log_a.exp(), log_b.exp()))

    _fit(model_fn, guide_fn, steps=6000, lr=0.002)
    assert abs(pyro.param("log_a").item() - math.log(alpha_n)) < 0.08
    assert abs(pyro.param("log_b").item() - math.log(beta_n)) < 0.08


@pytest.mark.slow
def test_lognormal_normal_nonreparameterized():
    prior_loc, prior_prec, noise_prec = 1.0, 1.0, 2.5
    data = torch.tensor([1.5, 2.2])
    post_prec = prior_prec + len(data) * noise_prec
    post_loc = (prior_loc * prior_prec + noise_prec * data.log().sum()) / post_prec

    def model_fn():
        mu = pyro.sample("mu", dist.Normal(prior_loc, prior_prec**-0.5))
        with pyro.plate("data", len(data)):
            pyro.sample("obs", dist.LogNormal(mu, noise_prec**-0.5), obs=data)

    def guide_fn():
        log_loc = pyro.param("log_loc", torch.tensor(math.log(post_loc) + 0.17))
        log_prec = pyro.param("log_prec", torch.tensor(math.log(post_prec) - 0.143))
        pyro.sample("mu", fakes.NonreparameterizedNormal(log_loc.exp(), log_prec.exp() ** -0.5))

    _fit(model_fn, guide_fn, steps=6000, lr=0.002)
    assert abs(pyro.param("log_loc").item() - math.log(post_loc)) < 0.07
    assert abs(pyro.param("log_prec").item() - math.log(post_prec)) < 0.07
