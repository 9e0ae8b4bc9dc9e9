"""The linear-Gaussian VAE's closed forms, checked by independent computations."""

import pyro
import pytest
import torch
from helpers import linear_data, linear_oracle
from pyro.infer import Trace_ELBO

from pyrovae.models import LinearGaussianVAE, ppca_mle


def test_log_marginal_matches_monte_carlo_integral():
    """log p(x) = log E_{p(z)} p(x|z), by 200k prior samples (float64)."""
    vae = linear_oracle().double()
    x = linear_data(vae, n=3).double()
    torch.manual_seed(0)
    z = torch.randn(200_000, vae.k, dtype=torch.float64)
    with torch.no_grad():
        loc = z @ vae.W.T + vae.mu  # (S, d)
        lp = torch.distributions.Normal(loc.unsqueeze(1), vae.sigma2.sqrt()).log_prob(x).sum(-1)
        mc = torch.logsumexp(lp, 0) - torch.log(torch.tensor(200_000.0, dtype=torch.float64))
        assert torch.allclose(mc, vae.log_marginal(x), atol=0.05)


def test_posterior_matches_gaussian_conditioning():
    """p(z|x) from the joint Gaussian of (z, x): mean Σ_zx Σ_xx⁻¹ (x − μ), cov
    I − Σ_zx Σ_xx⁻¹ Σ_xz."""
    vae = linear_oracle().double()
    x = linear_data(vae, n=5).double()
    with torch.no_grad():
        W = vae.W
        sxx = W @ W.T + vae.sigma2 * torch.eye(vae.d, dtype=torch.float64)
        szx = W.T
        mean = (x - vae.mu) @ torch.linalg.solve(sxx, szx.T)
        cov = torch.eye(vae.k, dtype=torch.float64) - szx @ torch.linalg.solve(sxx, szx.T)
        got_mean, got_cov = vae.posterior(x)
        assert torch.allclose(got_mean, mean, atol=1e-10)
        assert torch.allclose(got_cov, cov, atol=1e-10)


def test_analytic_elbo_matches_trace_elbo_monte_carlo():
    vae = linear_oracle()
    x = linear_data(vae, n=32)
    pyro.set_rng_seed(0)
    mc = -Trace_ELBO(num_particles=4000, vectorize_particles=True, max_plate_nesting=1).loss(
        vae.model, vae.guide, x
    ) / len(x)
    assert mc == pytest.approx(vae.elbo(x).mean().item(), abs=0.02)


def test_gap_identity_and_ordering():
    """log p(x) − ELBO(x) = KL(q(z|x) ‖ p(z|x)) ≥ 0 per point."""
    vae = linear_oracle().double()
    x = linear_data(vae, n=20).double()
    gap = vae.log_marginal(x) - vae.elbo(x)
    assert torch.allclose(gap, vae.kl_to_posterior(x), atol=1e-8)
    assert (gap > 0).all()


def test_ppca_mle_is_a_stationary_point_and_the_elbo_is_tight_there():
    """Tipping & Bishop's closed form: zero gradient of the mean log-likelihood; with the optimal
    guide the (diagonal) posterior is exact there, so ELBO = log p(x)."""
    torch.manual_seed(0)
    d, k, n = 8, 3, 2000
    scales = torch.tensor([3.0, 2.0, 1.5, 0.5, 0.4, 0.3, 0.3, 0.2], dtype=torch.float64)
    x = (
        torch.randn(n, d, dtype=torch.float64)
        * scales
        @ torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))[0]
    )
    fit = ppca_mle(x, k)
    assert fit.sigma2.item() == pytest.approx(fit.eigenvalues[k:].mean().item())
    vae = LinearGaussianVAE(d, k).double().load_ppca(fit)
    params = [vae.W, vae.mu, vae.log_sigma2]
    ll = vae.log_marginal(x).mean()
    assert ll.item() == pytest.approx(fit.log_likelihood.item(), abs=1e-8)
    grads = torch.autograd.grad(ll, params)
    assert max(g.abs().max().item() for g in grads) < 1e-6
    assert torch.allclose(vae.elbo(x), vae.log_marginal(x), atol=1e-6)
    # any other W of the same shape is worse
    vae.set_params(W=fit.W * 1.1)
    assert vae.log_marginal(x).mean() < ll


def test_ppca_collapses_directions_below_the_noise():
    torch.manual_seed(1)
    x = torch.randn(5000, 6) * torch.tensor([2.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    fit = ppca_mle(x, 3)
    col_norms = fit.W.norm(dim=0)
    # leading column ≈ sqrt(4 − 1); the others only fit sampling noise of the unit eigenvalues
    assert col_norms[0] > 1.5 and (col_norms[1:] < 0.4).all()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="0 < k < d"):
        ppca_mle(torch.randn(10, 3), 3)
    with pytest.raises(ValueError, match="sigma2"):
        LinearGaussianVAE(4, 2, sigma2=0.0)


def test_fixed_sigma2_is_not_a_parameter():
    vae = LinearGaussianVAE(4, 2, sigma2=0.5)
    assert "log_sigma2" not in dict(vae.named_parameters())
    assert vae.sigma2.item() == pytest.approx(0.5)


def test_optimal_guide_is_a_stationary_point_of_the_elbo_for_non_orthogonal_w():
    """The mean-field optimum matches the posterior precision's diagonal, D_ii = σ²/M_ii: the
    closed-form ELBO's gradient in log D (and in V) is 0 there; at σ²(M⁻¹)_ii (the marginal
    variances, the old setting) it is not."""
    vae = linear_oracle(d=8, k=3, seed=4)  # random W: columns far from orthogonal
    W = vae.W.detach()
    gram = W.T @ W
    assert (gram - torch.diag(gram.diagonal())).abs().max() > 0.5  # really non-orthogonal
    x = linear_data(vae, n=50)
    vae.set_optimal_guide()
    (grad_log_d, grad_v) = torch.autograd.grad(vae.elbo(x).sum(), [vae.log_D, vae.V])
    assert grad_log_d.abs().max() < 1e-4, grad_log_d
    assert grad_v.abs().max() < 5e-3, grad_v  # float32 rounding over 50 points
    M = gram + vae.sigma2.detach() * torch.eye(3)
    vae.set_params(D=vae.sigma2.detach() * torch.linalg.inv(M).diagonal())
    (grad_old,) = torch.autograd.grad(vae.elbo(x).sum(), [vae.log_D])
    assert grad_old.abs().max() > 0.1
