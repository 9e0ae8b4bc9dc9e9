r"""Mutual information :math:`I_q(x; z)` between data and code under the encoder.

:math:`I_q(x;z) = E_{x}E_{q(z|x)}[\log q(z|x) - \log q(z)]` with the full-data mixture
:math:`q(z) = \frac1N\sum_m q(z|x_m)` (Hoffman & Johnson 2016, "ELBO surgery"); it is at most
:math:`\log N`, and 0 when every data point is encoded alike (posterior collapse).
"""

import math

import torch
from torch.distributions import Normal


def mutual_information(
    loc: torch.Tensor, scale: torch.Tensor, num_samples: int = 16, chunk: int = 256, generator=None
) -> torch.Tensor:
    """Monte Carlo estimate of I_q(x; z) in nats for a diagonal Gaussian encoder.

    :param loc: (N, D) encoder means. :param scale: (N, D) encoder standard deviations.
    :param num_samples: samples of z per data point. Cost O(N² · num_samples), chunked.
    """
    n = loc.shape[0]
    eps = torch.randn(
        (num_samples, *loc.shape),
        generator=generator,
        dtype=loc.dtype,
        device="cpu" if generator is not None else loc.device,
    ).to(loc.device)
    z = loc + scale * eps  # (S, N, D)
    log_q_own = Normal(loc, scale).log_prob(z).sum(-1)  # (S, N)
    log_mix = []
    for start in range(0, n, chunk):
        zc = z[:, start : start + chunk].unsqueeze(2)  # (S, c, 1, D)
        lp = Normal(loc, scale).log_prob(zc).sum(-1)  # (S, c, N)
        log_mix.append(torch.logsumexp(lp, -1) - math.log(n))  # (S, c)
    return (log_q_own - torch.cat(log_mix, 1)).mean()
