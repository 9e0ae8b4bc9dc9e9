r"""Maximum mean discrepancy estimators and the Gaussian closed form used as their oracle.

:math:`\mathrm{MMD}^2(P, Q) = E\,k(x, x') + E\,k(y, y') - 2 E\,k(x, y)` with
:math:`x, x' \sim P` and :math:`y, y' \sim Q` independent (Gretton et al. 2012, Eq. 3).
"""

import torch

from .kernels import KernelFn, rbf_kernel


def _mean_offdiag(gram: torch.Tensor) -> torch.Tensor:
    n = gram.shape[0]
    return (gram.sum() - gram.diagonal().sum()) / (n * (n - 1))


def mmd2(x: torch.Tensor, y: torch.Tensor, kernel: KernelFn = rbf_kernel, unbiased: bool = True):
    r"""Estimate :math:`\mathrm{MMD}^2` from samples ``x`` (n, d) and ``y`` (m, d).

    ``unbiased=True`` is the U-statistic of Gretton et al. (2012, Eq. 4): the diagonals of the
    within-sample Gram matrices are left out, so the estimate is unbiased and can be slightly
    negative. ``unbiased=False`` is the V-statistic (all entries, biased upwards, never negative),
    which is what the InfoVAE authors' code computes.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"mmd2 needs (n, d) and (m, d) samples, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    if min(x.shape[0], y.shape[0]) < 2:
        raise ValueError("mmd2 needs at least two samples from each distribution")
    n = x.shape[0]
    gram = kernel(*(2 * (torch.cat([x, y]),)))  # one (n + m, n + m) Gram matrix, then its blocks
    kxx, kyy, kxy = gram[:n, :n], gram[n:, n:], gram[:n, n:]
    if unbiased:
        return _mean_offdiag(kxx) + _mean_offdiag(kyy) - 2.0 * kxy.mean()
    return kxx.mean() + kyy.mean() - 2.0 * kxy.mean()


def weighted_mmd2(
    x: torch.Tensor,
    weights: torch.Tensor,
    y: torch.Tensor,
    kernel: KernelFn = rbf_kernel,
    unbiased: bool = True,
):
    r""":math:`\mathrm{MMD}^2` between a mixture sample and ``y`` (m, d), in expectation over
    the mixture's component choices.

    ``x`` (n, C, d) holds C candidate draws per point and ``weights`` (n, C), each row summing
    to 1, their probabilities: point i's draw is :math:`x_{i,c}` with probability
    :math:`w_{i,c}`, independently across points (an enumerated discrete latent: C values of y
    and the continuous z drawn given each, :mod:`pyrovae.traces.enumeration`). The value is
    exactly the expectation of :func:`mmd2` (U- or V-statistic) over those choices: pairs of
    different points factorize, :math:`\sum_{c,c'} w_{i,c} w_{j,c'} k(x_{i,c}, x_{j,c'})`; for
    the V-statistic a point paired with itself contributes :math:`\sum_c w_{i,c}
    k(x_{i,c}, x_{i,c})`. With C = 1 it is :func:`mmd2`. It is differentiable in the draws and in
    the weights, so the gradient reaches the discrete site's distribution without a
    score-function term.
    """
    if x.dim() != 3 or weights.shape != x.shape[:2] or y.dim() != 2 or x.shape[2] != y.shape[1]:
        raise ValueError(
            "weighted_mmd2 needs x (n, C, d), weights (n, C) and y (m, d), got "
            f"{tuple(x.shape)}, {tuple(weights.shape)}, {tuple(y.shape)}"
        )
    n, c, _ = x.shape
    if min(n, y.shape[0]) < 2:
        raise ValueError("weighted_mmd2 needs at least two points from each distribution")
    flat = x.reshape(n * c, -1)
    gram = kernel(*(2 * (torch.cat([flat, y]),)))
    kxx, kyy, kxy = gram[: n * c, : n * c], gram[n * c :, n * c :], gram[: n * c, n * c :]
    w = weights.reshape(n * c)
    pairs = w @ kxx @ w  # Σ over every ordered pair of candidates
    blocks = kxx.reshape(n, c, n, c).diagonal(dim1=0, dim2=2)  # (c, c, n): one point's pairs
    within = torch.einsum("nc,cdn,nd->", weights, blocks, weights)
    cross = (w @ kxy).sum() / (n * y.shape[0])
    if unbiased:
        return (pairs - within) / (n * (n - 1)) + _mean_offdiag(kyy) - 2.0 * cross
    self_pairs = (w * kxx.diagonal()).sum()
    return (pairs - within + self_pairs) / n**2 + kyy.mean() - 2.0 * cross


def _expected_rbf(mean_a, cov_a, mean_b, cov_b, h2):
    """E exp(-|a - b|^2 / (2 h2)) for independent a ~ N(mean_a, cov_a), b ~ N(mean_b, cov_b)."""
    d = mean_a.shape[-1]
    s = h2 * torch.eye(d, dtype=mean_a.dtype, device=mean_a.device) + cov_a + cov_b  # (d, d)
    diff = (mean_a - mean_b).unsqueeze(-1)  # (d, 1)
    quad = (diff.transpose(-1, -2) @ torch.linalg.solve(s, diff)).squeeze()
    logdet = torch.linalg.slogdet(s)[1]
    return torch.exp(
        0.5 * d * torch.log(torch.as_tensor(h2, dtype=mean_a.dtype)) - 0.5 * logdet - 0.5 * quad
    )


def gaussian_rbf_mmd2(mean_p, cov_p, mean_q, cov_q, denominator: float) -> torch.Tensor:
    r"""Closed-form :math:`\mathrm{MMD}^2` between :math:`N(\mu_p, \Sigma_p)` and
    :math:`N(\mu_q, \Sigma_q)` under :math:`k(x, y) = \exp(-\|x - y\|^2 / c)`, ``c = denominator``.

    With :math:`h^2 = c / 2`,
    :math:`E\,k(a, b) = h^d \det(h^2 I + \Sigma_a + \Sigma_b)^{-1/2}
    \exp(-\tfrac12 \Delta^\top (h^2 I + \Sigma_a + \Sigma_b)^{-1} \Delta)`, :math:`\Delta = \mu_a -
    \mu_b` (a Gaussian convolution identity); the three expectations give MMD².
    """
    h2 = denominator / 2.0
    return (
        _expected_rbf(mean_p, cov_p, mean_p, cov_p, h2)
        + _expected_rbf(mean_q, cov_q, mean_q, cov_q, h2)
        - 2.0 * _expected_rbf(mean_p, cov_p, mean_q, cov_q, h2)
    )
