r"""A separate diagonal Gaussian q_b(z) = N(μ_b, diag σ_b²) for every data point (no encoder).

Fitting it to a fixed decoder gives :math:`q^*`, the best member of the Gaussian family for each
point, which splits the variational gap (Cremer, Li, Duvenaud, "Inference suboptimality in
variational autoencoders", ICML 2018): approximation gap :math:`\log p(x) - \mathcal L[q^*]`
(the family's fault) and amortization gap :math:`\mathcal L[q^*] - \mathcal L[q]` (the encoder's).
"""

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule, pyro_method
from torch import nn
from torch.nn import functional as F

from ..models.contract import data_plate


class PerPointGaussian(PyroModule):
    """Guide with free parameters per data point, for a fixed set of ``num_points`` points.

    Call it on the same ``x`` (same order) it was built for. Latent site ``site`` of shape
    (num_points, z_dim).
    """

    def __init__(self, num_points, z_dim, init_loc=None, init_scale=None, site="z"):
        super().__init__()
        loc = torch.zeros(num_points, z_dim) if init_loc is None else init_loc.detach().clone()
        scale = torch.ones(num_points, z_dim) if init_scale is None else init_scale.detach().clone()
        self.loc = nn.Parameter(loc)
        self.raw_scale = nn.Parameter(torch.log(torch.expm1(scale.clamp_min(1e-6))))
        self.site, self.num_points = site, int(num_points)

    @property
    def scale(self):
        return F.softplus(self.raw_scale) + 1e-6

    @pyro_method
    def guide(self, x, num_data=None):
        if x.shape[0] != self.num_points:
            raise ValueError(
                f"this per-point guide was built for {self.num_points} points, got {x.shape[0]}"
            )
        loc, scale = self.loc, self.scale
        with data_plate(x, num_data):
            pyro.sample(self.site, dist.Normal(loc, scale).to_event(1))
