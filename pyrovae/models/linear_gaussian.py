r"""The linear-Gaussian VAE (Lucas et al. 2019): a VAE whose every quantity has a closed form.

Generative model (probabilistic PCA, Tipping & Bishop 1999):
:math:`p(z) = N(0, I_k)`, :math:`p(x|z) = N(Wz + \mu, \sigma^2 I_d)`, hence
:math:`p(x) = N(\mu, C)` with :math:`C = WW^\top + \sigma^2 I`. With :math:`M = W^\top W + \sigma^2
I`, the exact posterior is :math:`p(z|x) = N(M^{-1}W^\top(x - \mu), \sigma^2 M^{-1})`.

Guide (Lucas, Tucker, Grosse, Norouzi, "Don't Blame the ELBO!", 2019, Sec. 4):
:math:`q(z|x) = N(V(x - \mu), D)` with a diagonal :math:`D`. Its ELBO is analytic:

.. math::
    \mathcal{L}(x) = -\tfrac d2\log(2\pi\sigma^2)
      - \tfrac{1}{2\sigma^2}\left(\|x - \mu - Wm\|^2 + \mathrm{tr}(W D W^\top)\right)
      - \tfrac12\left(\mathrm{tr} D + m^\top m - k - \log\det D\right),\quad m = V(x - \mu).

This class is the oracle every estimator of the library is tested against.
"""

import math
from dataclasses import dataclass

import pyro
import torch
from pyro import distributions as dist
from pyro.nn import PyroModule, pyro_method
from torch import nn

from .contract import data_plate

LOG_2PI = math.log(2 * math.pi)


@dataclass
class PPCAFit:
    """The maximum-likelihood pPCA solution for a data set (Tipping & Bishop 1999, Eqs. 7-8)."""

    W: torch.Tensor  # (d, k)
    mu: torch.Tensor  # (d,)
    sigma2: torch.Tensor  # ()
    eigenvalues: torch.Tensor  # (d,) of the sample covariance, descending
    log_likelihood: torch.Tensor  # () mean log p(x) per data point at the optimum


def ppca_mle(x: torch.Tensor, k: int, sigma2=None) -> PPCAFit:
    r"""Closed-form pPCA maximum likelihood for data ``x`` (n, d) and ``k`` latent dimensions.

    With the sample covariance :math:`S = \frac1n\sum_i (x_i - \bar x)(x_i - \bar x)^\top`, its
    eigenvalues :math:`\lambda_1 \ge \dots \ge \lambda_d` and eigenvectors :math:`U`:
    :math:`\mu = \bar x`, :math:`\sigma^2 = \frac{1}{d-k}\sum_{j>k}\lambda_j` and
    :math:`W = U_k(\Lambda_k - \sigma^2 I)^{1/2}` (taking the rotation R = I). Eigenvalues below
    :math:`\sigma^2` get a zero column (a collapsed latent dimension). With ``sigma2`` given,
    σ² is held at that value and W is the maximum-likelihood W for it (Lucas et al. 2019, Sec. 4).
    """
    n, d = x.shape
    if not 0 < k < d:
        raise ValueError(f"need 0 < k < d, got k={k}, d={d}")
    mu = x.mean(0)
    xc = x - mu
    cov = xc.T @ xc / n  # (d, d)
    evals, evecs = torch.linalg.eigh(cov)
    evals, evecs = evals.flip(0), evecs.flip(1)  # descending
    sigma2 = (
        evals[k:].mean()
        if sigma2 is None
        else torch.as_tensor(sigma2, dtype=x.dtype, device=x.device)
    )
    W = evecs[:, :k] * (evals[:k] - sigma2).clamp_min(0).sqrt()  # (d, k)
    C = W @ W.T + sigma2 * torch.eye(d, dtype=x.dtype, device=x.device)
    ll = dist.MultivariateNormal(mu, covariance_matrix=C).log_prob(x).mean()
    return PPCAFit(W=W, mu=mu, sigma2=sigma2, eigenvalues=evals, log_likelihood=ll)


class LinearGaussianVAE(PyroModule):
    """Linear VAE with closed-form marginal likelihood, posterior and ELBO.

    Parameters ``W`` (d, k), ``mu`` (d,), ``V`` (k, d), ``log_D`` (k,) and, when learned,
    ``log_sigma2`` are ``nn.Parameter``; the Pyro model / guide follow
    :mod:`~pyrovae.models.contract`.

    :param d: data dimension.
    :param k: latent dimension.
    :param sigma2: a fixed observation variance σ²; ``None`` learns it (initialised at 1).
    """

    def __init__(
        self, d: int, k: int, sigma2: float = None, init_scale: float = 0.1, seed: int = None
    ):
        super().__init__()
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.d, self.k = int(d), int(k)
        self.W = nn.Parameter(init_scale * torch.randn(d, k, generator=gen))
        self.mu = nn.Parameter(torch.zeros(d))
        self.V = nn.Parameter(init_scale * torch.randn(k, d, generator=gen))
        self.log_D = nn.Parameter(torch.zeros(k))
        self.learn_sigma2 = sigma2 is None
        if self.learn_sigma2:
            self.log_sigma2 = nn.Parameter(torch.zeros(()))
        else:
            if not sigma2 > 0:
                raise ValueError(f"sigma2 must be positive, got {sigma2}")
            self.register_buffer("fixed_log_sigma2", torch.tensor(math.log(sigma2)))

    # ----- parameters -----------------------------------------------------------------------
    @property
    def sigma2(self) -> torch.Tensor:
        return (self.log_sigma2 if self.learn_sigma2 else self.fixed_log_sigma2).exp()

    @torch.no_grad()
    def set_params(self, W=None, mu=None, sigma2=None, V=None, D=None):
        """Overwrite any of the parameters (``D`` is the diagonal of the guide covariance)."""
        for name, value in (("W", W), ("mu", mu), ("V", V)):
            if value is not None:
                getattr(self, name).copy_(torch.as_tensor(value))
        if D is not None:
            self.log_D.copy_(torch.as_tensor(D).log())
        if sigma2 is not None:
            target = self.log_sigma2 if self.learn_sigma2 else self.fixed_log_sigma2
            target.copy_(torch.as_tensor(sigma2).log())
        return self

    @torch.no_grad()
    def set_optimal_guide(self):
        """Set V, D to the best the guide family can do for the current W, σ².

        The exact posterior is N(M⁻¹Wᵀ(x − μ), σ²M⁻¹) with M = WᵀW + σ²I. ``V = M⁻¹Wᵀ`` gives its
        mean; the best *diagonal* covariance (the mean-field optimum of KL(q ‖ p), which matches
        the posterior precision's diagonal) is ``D_ii = σ² / M_ii`` -- not σ²(M⁻¹)_ii, the
        posterior's marginal variances, which a factorized q over-estimates. Exact when M is
        diagonal (W with orthogonal columns, as at the pPCA MLE).
        """
        M = self._M()
        Minv = torch.linalg.inv(M)
        return self.set_params(V=Minv @ self.W.T, D=self.sigma2 / M.diagonal())

    def load_ppca(self, fit: PPCAFit, optimal_guide: bool = True):
        """Set the generative parameters to a :func:`ppca_mle` fit (and the
        guide to its optimum)."""
        if fit.W.shape != (self.d, self.k):
            raise ValueError(
                f"fit has W of shape {tuple(fit.W.shape)}, model needs {(self.d, self.k)}"
            )
        kwargs = dict(W=fit.W, mu=fit.mu)
        if self.learn_sigma2:
            kwargs["sigma2"] = fit.sigma2
        self.set_params(**kwargs)
        return self.set_optimal_guide() if optimal_guide else self

    def _M(self):
        eye = torch.eye(self.k, dtype=self.W.dtype, device=self.W.device)
        return self.W.T @ self.W + self.sigma2 * eye  # (k, k)

    # ----- Pyro model and guide -------------------------------------------------------------
    @pyro_method
    def model(self, x: torch.Tensor, num_data=None):
        W, mu, scale = self.W, self.mu, self.sigma2.sqrt()
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], self.k), 1.0).to_event(1))
            loc = z @ W.T + mu  # (..., B, d)
            pyro.sample("x", dist.Normal(loc, scale).to_event(1), obs=x)

    @pyro_method
    def guide(self, x: torch.Tensor, num_data=None):
        V, mu, std = self.V, self.mu, (0.5 * self.log_D).exp()
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal((x - mu) @ V.T, std).to_event(1))

    # ----- closed forms ---------------------------------------------------------------------
    def marginal(self) -> dist.MultivariateNormal:
        """p(x) = N(μ, WWᵀ + σ²I)."""
        eye = torch.eye(self.d, dtype=self.W.dtype, device=self.W.device)
        return dist.MultivariateNormal(
            self.mu, covariance_matrix=self.W @ self.W.T + self.sigma2 * eye
        )

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) per data point, (B,)."""
        return self.marginal().log_prob(x)

    def posterior(self, x: torch.Tensor):
        """Exact p(z|x): mean (B, k) and covariance (k, k) (the same for every x)."""
        Minv = torch.linalg.inv(self._M())
        mean = (x - self.mu) @ (Minv @ self.W.T).T  # (B, k)
        return mean, self.sigma2 * Minv

    def guide_params(self, x: torch.Tensor):
        """q(z|x): mean (B, k) and the diagonal of its covariance (k,)."""
        return (x - self.mu) @ self.V.T, self.log_D.exp()

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic ELBO per data point, (B,) (formula in the module doc)."""
        m, Ddiag = self.guide_params(x)
        s2 = self.sigma2
        resid = x - self.mu - m @ self.W.T  # (B, d)
        expected_ll = -0.5 * self.d * (LOG_2PI + s2.log()) - 0.5 / s2 * (
            (resid**2).sum(-1) + (self.W**2 * Ddiag).sum()
        )
        return expected_ll - self.kl_to_prior(x)

    def kl_to_prior(self, x: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) ‖ p(z)) per data point, (B,)."""
        m, Ddiag = self.guide_params(x)
        return 0.5 * (Ddiag.sum() + (m**2).sum(-1) - self.k - Ddiag.log().sum())

    def kl_to_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) ‖ p(z|x)) per data point, (B,); equals log p(x) − ELBO(x)."""
        m, Ddiag = self.guide_params(x)
        mean, cov = self.posterior(x)
        q = dist.MultivariateNormal(m, covariance_matrix=torch.diag(Ddiag))
        p = dist.MultivariateNormal(mean, covariance_matrix=cov)
        return torch.distributions.kl_divergence(q, p)
