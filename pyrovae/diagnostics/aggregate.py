r"""Moments of the aggregate posterior :math:`q(z) = \frac1N\sum_n q(z|x_n)` of a Gaussian encoder.

For :math:`q(z|x_n) = N(\mu_n, \mathrm{diag}\,\sigma_n^2)` the mixture has mean :math:`\bar\mu` and
covariance :math:`\mathrm{Cov}[q(z)] = \frac1N\sum_n \mathrm{diag}\,\sigma_n^2 + \frac1N\sum_n
(\mu_n - \bar\mu)(\mu_n - \bar\mu)^\top` (law of total covariance), computed exactly instead of
from samples. :math:`\log\det\mathrm{Cov}[q(z)]` is the metric of InfoVAE Figure 2 (0 for the
prior N(0, I)); positive values mean the aggregate posterior over-spreads the prior.
"""

import torch


def aggregate_posterior_moments(loc: torch.Tensor, scale: torch.Tensor) -> dict:
    """Mean (D,), covariance (D, D), per-dimension variance (D,) and log det of q(z).

    :param loc: encoder means, (N, D). :param scale: encoder standard deviations, (N, D).
    """
    if loc.shape != scale.shape or loc.dim() != 2:
        raise ValueError(
            f"loc and scale must both be (N, D), got {tuple(loc.shape)}, {tuple(scale.shape)}"
        )
    mean = loc.mean(0)  # (D,)
    centred = loc - mean  # (N, D)
    cov = centred.T @ centred / loc.shape[0] + torch.diag((scale**2).mean(0))  # (D, D)
    return {
        "mean": mean,
        "covariance": cov,
        "variance": cov.diagonal(),
        "log_det": torch.linalg.slogdet(cov)[1],
    }
