r"""Does the aggregate posterior q(z) match the prior? A kernel two-sample test.

The statistic is the unbiased MMD² (Gretton et al. 2012) between draws of
:math:`q(z) = E_x q(z|x)` (one draw per data point) and as many prior draws; the p-value is the
fraction of random relabellings of the pooled sample whose MMD² is at least the observed one
(a permutation test, exact in level under the null), with the +1 correction of Phipson & Smyth
(2010) so it is never 0.
"""

import torch

from ..ops import rbf_kernel
from ..ops.mmd import _mean_offdiag


def mmd_permutation_test(
    x: torch.Tensor, y: torch.Tensor, kernel=rbf_kernel, num_permutations: int = 200, seed: int = 0
) -> dict:
    """MMD² of samples ``x`` (n, D) vs ``y`` (m, D) and its permutation p-value."""
    n = x.shape[0]
    pooled = torch.cat([x, y])
    gram = kernel(pooled, pooled)  # computed once; permutations only re-index it
    gen = torch.Generator().manual_seed(seed)

    def stat(idx):
        g = gram[idx][:, idx]
        return _mean_offdiag(g[:n, :n]) + _mean_offdiag(g[n:, n:]) - 2 * g[:n, n:].mean()

    observed = stat(torch.arange(pooled.shape[0], device=x.device))
    count = 0
    for _ in range(num_permutations):
        perm = torch.randperm(pooled.shape[0], generator=gen).to(x.device)
        count += int(stat(perm) >= observed)
    return {
        "mmd2": observed.item(),
        "p_value": (count + 1) / (num_permutations + 1),
        "num_permutations": num_permutations,
    }


def aggregate_posterior_test(
    loc, scale, num_permutations=200, seed=None, kernel=rbf_kernel
) -> dict:
    """One draw of q(z|x_b) per data point against N(0, I) draws, by :func:`mmd_permutation_test`.

    ``seed=None`` draws from torch's global generator (seed it yourself); an integer seeds a
    private generator (do not reuse the seed that generated ``loc``: the draws would repeat it).
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    eps = torch.randn(loc.shape, generator=gen, dtype=loc.dtype).to(loc.device)
    prior = torch.randn(loc.shape, generator=gen, dtype=loc.dtype).to(loc.device)
    perm_seed = 0 if seed is None else seed + 1
    return mmd_permutation_test(loc + scale * eps, prior, kernel, num_permutations, perm_seed)
