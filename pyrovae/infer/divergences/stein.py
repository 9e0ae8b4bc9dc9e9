r"""Stein variational gradient of KL(q(z) ‖ p(z)) (InfoVAE Appendix B; Liu & Wang, NeurIPS 2016).

For samples :math:`z_1..z_n` of the aggregate posterior, the SVGD direction

.. math::
    \phi^*(z) = \frac1n \sum_j \big[k(z_j, z)\,\nabla_{z_j}\log p(z_j) + \nabla_{z_j} k(z_j, z)\big]

is the functional steepest-descent direction of KL(q ‖ p): moving every sample by
:math:`\epsilon\phi^*` lowers the KL. With the encoder output :math:`z_i = g_\phi(x_i, \epsilon_i)`,
:math:`\nabla_\phi \mathrm{KL} \approx -\frac1n\sum_i (\partial z_i /
\partial\phi)^\top\phi^*(z_i)`,
so the surrogate :math:`-\frac1n\sum_i z_i \cdot \mathrm{sg}(\phi^*(z_i))` has that gradient.
Its value carries no meaning, so the reported value is the kernelized Stein discrepancy
:math:`\mathrm{KSD}^2(q, p)` (U-statistic; Liu, Lee, Jordan 2016), which is 0 iff q = p.
"""

import torch

from ...ops.kernels import rbf_denominator, squared_distances
from .base import DivergenceEstimate


class SteinDivergence:
    """SVGD gradient surrogate with an RBF kernel.

    :param bandwidth: "median" (default, the SVGD heuristic), "dim", "infovae" or a float.
    """

    def __init__(self, bandwidth="median"):
        rbf_denominator(bandwidth, 1, torch.ones(2, 2))  # validate early
        self.bandwidth = bandwidth
        self.name = "stein"

    def __call__(self, q_samples, p_samples=None, score=None) -> DivergenceEstimate:
        if score is None:
            raise ValueError("the Stein divergence needs the prior score ∇ log p(z)")
        z = q_samples.detach()  # (n, D)
        n, dim = z.shape
        sq = squared_distances(z, z)  # (n, n)
        c = rbf_denominator(self.bandwidth, dim, sq)
        k = torch.exp(-sq / c)  # (n, n), symmetric
        s = score(z)  # (n, D)
        # phi(z_i) = 1/n sum_j [k_ji s_j + (2/c) k_ji (z_i - z_j)]
        phi = (k @ s + (2.0 / c) * (z * k.sum(1, keepdim=True) - k @ z)) / n  # (n, D)
        surrogate = -(q_samples * phi).sum(-1).mean()
        # KSD^2 U-statistic: u_ij = k_ij [s_i.s_j + (2/c)(A_ij - B_ij) + 2D/c - 4 r_ij^2 / c^2]
        sz = (s * z).sum(-1)  # (n,)
        a = sz.unsqueeze(1) - s @ z.T  # A_ij = s_i . (z_i - z_j)
        b = z @ s.T - sz.unsqueeze(0)  # B_ij = s_j . (z_i - z_j)
        u = k * (s @ s.T + (2.0 / c) * (a - b) + 2.0 * dim / c - 4.0 * sq / c**2)
        ksd = (u.sum() - u.diagonal().sum()) / (n * (n - 1))
        return DivergenceEstimate(value=ksd.detach(), surrogate=surrogate)
