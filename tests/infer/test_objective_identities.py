"""Consistency first: our objectives equal Pyro's under the same seed, two
ways of computing agree."""

import math

import pyro
import pytest
import torch
from helpers import HandWritten, binary_data, small_vae
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from pyrovae.infer import IWAE, BetaVAE, EvidenceLowerBound, InfoVAE

REL = 1e-6  # Pyro sums the ELBO in Python doubles, we sum in float32: equal up to rounding


def _loss(objective, model, guide, x, seed=7, **kw):
    pyro.set_rng_seed(seed)
    return objective.loss(model, guide, x, **kw)


@pytest.mark.parametrize("num_data", [None, 400])
@pytest.mark.parametrize("particles,vectorize", [(1, False), (3, False), (4, True)])
def test_infovae_alpha0_lam1_equals_trace_elbo(num_data, particles, vectorize):
    vae, x = small_vae(), binary_data()
    ours = InfoVAE(alpha=0.0, lam=1.0, num_particles=particles, vectorize_particles=vectorize)
    ref = Trace_ELBO(num_particles=particles, vectorize_particles=vectorize)
    a = _loss(ours, vae.model, vae.guide, x, num_data=num_data)
    b = _loss(ref, vae.model, vae.guide, x, num_data=num_data)
    assert a == pytest.approx(b, rel=REL)


def test_analytic_kl_equals_trace_mean_field_elbo():
    vae, x = small_vae(), binary_data()
    for ours in (InfoVAE(0.0, 1.0, analytic_kl=True), BetaVAE(1.0, analytic_kl=True)):
        a = _loss(ours, vae.model, vae.guide, x, num_data=200)
        b = _loss(TraceMeanField_ELBO(), vae.model, vae.guide, x, num_data=200)
        assert a == pytest.approx(b, rel=REL)


def test_beta1_and_elbo_equal_trace_elbo():
    vae, x = small_vae(), binary_data()
    ref = _loss(Trace_ELBO(), vae.model, vae.guide, x)
    assert _loss(BetaVAE(1.0), vae.model, vae.guide, x) == pytest.approx(ref, rel=REL)
    assert _loss(EvidenceLowerBound(), vae.model, vae.guide, x) == pytest.approx(ref, rel=REL)


def test_beta_weights_only_the_kl():
    """loss(β) = −E log p(x|z) + β KL, with both terms read off independent Pyro traces."""
    vae, x = small_vae(), binary_data()
    pyro.set_rng_seed(3)
    guide_tr = poutine.trace(vae.guide).get_trace(x, 100)
    model_tr = poutine.trace(poutine.replay(vae.model, trace=guide_tr)).get_trace(x, 100)
    ll = model_tr.nodes["x"]["fn"].log_prob(x).sum() * 100 / len(x)
    kl = (
        (
            guide_tr.nodes["z"]["fn"].log_prob(guide_tr.nodes["z"]["value"]).sum()
            - model_tr.nodes["z"]["fn"].log_prob(guide_tr.nodes["z"]["value"]).sum()
        )
        * 100
        / len(x)
    )
    for beta in (0.0, 0.5, 4.0):
        got = _loss(BetaVAE(beta), vae.model, vae.guide, x, seed=3, num_data=100)
        assert got == pytest.approx((-ll + beta * kl).item(), rel=1e-5)


def test_poutine_scale_on_model_is_not_beta_vae():
    """The trap the issue warns about: scaling the model scales log p(x|z) too."""
    vae, x = small_vae(), binary_data()
    scaled = poutine.scale(vae.model, scale=4.0)
    wrong = _loss(Trace_ELBO(), scaled, vae.guide, x)
    right = _loss(BetaVAE(4.0), vae.model, vae.guide, x)
    assert abs(wrong - right) > 1.0


@pytest.mark.parametrize(
    "objective",
    [
        InfoVAE(0.0, 50.0),
        InfoVAE(1.0, 10.0, divergence="stein"),
        InfoVAE(0.5, 20.0, divergence="adversarial"),
        BetaVAE(2.0),
    ],
)
def test_loss_and_loss_and_grads_agree(objective):
    vae, x = small_vae(), binary_data()
    a = _loss(objective, vae.model, vae.guide, x, num_data=80)
    pyro.set_rng_seed(7)
    b = objective.loss_and_grads(vae.model, vae.guide, x, num_data=80)
    pyro.set_rng_seed(7)
    c = objective.differentiable_loss(vae.model, vae.guide, x, num_data=80)
    assert a == pytest.approx(b, rel=1e-6)
    assert c.item() == pytest.approx(a, rel=1e-5)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in vae.encoder.parameters())


def test_infovae_terms_and_weights():
    """loss = −ll + (1 − α) KL + N (α + λ − 1) D, checked against independent computations: the
    first two terms are BetaVAE(β = 1 − α) under the same seed (itself equal to Trace_ELBO at
    β = 1), and D is a deterministic divergence whose value the test computes from the samples
    the objective passed to it."""
    from pyrovae.infer.divergences import DivergenceEstimate

    seen = {}

    def second_moment_gap(q, p, score=None):  # D = |mean ‖q‖² − 2|, computed again below
        seen["q"] = q.detach().clone()
        value = (q.pow(2).sum(-1).mean() - 2.0).abs()
        return DivergenceEstimate(value=value, surrogate=value)

    vae, x = small_vae(), binary_data()
    loss = _loss(
        InfoVAE(alpha=0.25, lam=3.0, divergence=second_moment_gap),
        vae.model,
        vae.guide,
        x,
        num_data=120,
    )
    elbo_part = _loss(BetaVAE(beta=0.75), vae.model, vae.guide, x, num_data=120)
    d = (seen["q"].pow(2).sum(-1).mean() - 2.0).abs().item()
    assert seen["q"].shape == (len(x), 3)  # one sample of q(z) per data point
    assert loss == pytest.approx(elbo_part + 120 * 2.25 * d, rel=1e-5)


@pytest.mark.parametrize(
    "alpha,lam,match",
    [(0.0, 0.0, "lam"), (0.0, -1.0, "lam"), (1.5, 1.0, "alpha"), (0.0, 0.5, "maximize")],
)
def test_infovae_rejects_invalid_weights(alpha, lam, match):
    with pytest.raises(ValueError, match=match):
        InfoVAE(alpha=alpha, lam=lam)


def test_other_invalid_parameters():
    with pytest.raises(ValueError, match="beta"):
        BetaVAE(-1.0)
    with pytest.raises(ValueError, match="unknown divergence"):
        InfoVAE(0.0, 2.0, divergence="wasserstein")


def test_objectives_on_hand_written_model_and_guide():
    """Plain Pyro functions following the contract (other site names) work with every objective."""
    from pyrovae.infer import IWAE

    user, x = HandWritten(), binary_data()
    for obj in (
        EvidenceLowerBound(),
        BetaVAE(0.5),
        IWAE(4),
        InfoVAE(0.0, 100.0),
        InfoVAE(1.0, 5.0, divergence="stein"),
        InfoVAE(0.0, 10.0, divergence="adversarial"),
    ):
        pyro.clear_param_store()
        loss = obj.loss_and_grads(user.model, user.guide, x, num_data=100)
        assert torch.isfinite(torch.tensor(loss))
        assert all(p.grad is not None for p in user.encoder.parameters())
    ref = _loss(Trace_ELBO(), user.model, user.guide, x)
    assert _loss(InfoVAE(0.0, 1.0), user.model, user.guide, x) == pytest.approx(ref, rel=REL)


def test_non_reparameterized_guide_is_a_clear_error_where_unsupported():
    import pyro.distributions as dist

    def model(x, num_data=None):
        with pyro.plate("data", len(x)):
            c = pyro.sample("c", dist.Bernoulli(0.5 * torch.ones(len(x))))
            pyro.sample("x", dist.Normal(c, 1.0), obs=x)

    def guide(x, num_data=None):
        with pyro.plate("data", len(x)):
            pyro.sample("c", dist.Bernoulli(0.3 * torch.ones(len(x))))

    x = torch.randn(5)
    with pytest.raises(ValueError, match="not reparameterizable.*EvidenceLowerBound"):
        IWAE(num_particles=3).loss(model, guide, x)
    # InfoVAE's divergence compares continuous latents only; this model has none
    with pytest.raises(ValueError, match="no continuous latent site"):
        InfoVAE(alpha=0.0, lam=10.0).loss(model, guide, x)
    assert math.isfinite(EvidenceLowerBound().loss(model, guide, x))  # score-function sites: fine
