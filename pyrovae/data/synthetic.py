r"""Synthetic data sets with a known generative model and exact log p(x) by quadrature.

In the spirit of the synthetic suite of Yacoby, Pan, Doshi-Velez (2019): low-dimensional z and x,
:math:`z \sim N(0, I)`, :math:`x = f(z) + \sigma\epsilon`, :math:`\epsilon \sim N(0, I)`. Because z
is 1-D or 2-D, :math:`p(x) = \int N(x; f(z), \sigma^2 I)\,N(z; 0, I)\,dz` is computed on a grid of z
(midpoint rule), so learned decoders can be scored exactly too.

* ``figure-8``: :math:`t = 2\pi\Phi(z)`, f on the lemniscate of Gerono,
  :math:`f(z) = (\cos t, \sin t\cos t)`, σ = 0.05, n = 2000. The curve crosses itself at the origin
  (t = π/2 and 3π/2), so p(z|x) is bimodal near the crossing — a mean-field Gaussian cannot fit it.
* ``absolute-value``: f(z) = ``|z|`` (x 1-D), σ = 0.1, n = 2000. Unidentifiable: the monotone
  decoder :math:`g(z) = \Phi^{-1}((1 + \Phi(z))/2)` pushes N(0, 1) to the same half-normal, so it
  has exactly the same p(x) with unimodal posteriors (:func:`monotone_absolute_value`).
* ``clusters``: a steep staircase
  :math:`f(z) = \sum_{c \in \{-1.5, -0.5, 0.5, 1.5\}}\sigma(8(z - c))` (x 1-D), σ = 0.05,
  n = 2000: well-separated clusters at 0, 1, 2, 3, 4.
* ``banana``: 2-D latent, :math:`f(z) = (z_1, z_2 + 0.5 z_1^2 - 0.5)`, σ = 0.1, n = 2000.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch

from ..models.contract import data_plate

LOG_2PI = math.log(2 * math.pi)


def _phi(z):
    return 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def _figure8(z):
    t = 2 * math.pi * _phi(z[..., 0])
    return torch.stack([torch.cos(t), torch.sin(t) * torch.cos(t)], -1)


def _absolute(z):
    return z.abs()


def monotone_absolute_value(z):
    """g(z) = Φ⁻¹((1 + Φ(z)) / 2): monotone, and g(Z) ~ ``|Z|`` for Z ~ N(0, 1)."""
    u = ((1 + _phi(z)) / 2).clamp(max=1 - 1e-12)
    return math.sqrt(2) * torch.erfinv(2 * u - 1)


def _clusters(z):
    centres = torch.tensor([-1.5, -0.5, 0.5, 1.5], dtype=z.dtype, device=z.device)
    return torch.sigmoid(8 * (z - centres)).sum(-1, keepdim=True)


def _banana(z):
    return torch.stack([z[..., 0], z[..., 1] + 0.5 * z[..., 0] ** 2 - 0.5], -1)


@dataclass
class SyntheticDataset:
    """A generative model x = f(z) + σε with z ~ N(0, I_latent_dim)."""

    name: str
    latent_dim: int
    data_dim: int
    f: Callable
    noise: float
    default_n: int = 2000

    def sample(self, n=None, seed=0, return_latents=False):
        gen = torch.Generator().manual_seed(seed)
        n = n or self.default_n
        z = torch.randn(n, self.latent_dim, generator=gen, dtype=torch.float64)
        x = self.f(z) + self.noise * torch.randn(
            n, self.data_dim, generator=gen, dtype=torch.float64
        )
        return (x.float(), z.float()) if return_latents else x.float()

    def model(self, x, num_data=None):
        """The ground-truth generative model as a Pyro model (no parameters)."""
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), self.latent_dim), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(self.f(z).to(x.dtype), self.noise).to_event(1), obs=x)

    def log_prob(self, x, resolution=None, bound=7.0, f=None):
        """Exact log p(x) per point by the midpoint rule over z (float64), (N,)."""
        return quadrature_log_prob(x, f or self.f, self.noise, self.latent_dim, resolution, bound)


def quadrature_log_prob(x, f, noise, latent_dim, resolution=None, bound=7.0):
    """log ∫ N(x; f(z), noise² I) N(z; 0, I) dz on a regular grid over [−bound,
    bound]^latent_dim."""
    resolution = resolution or (4001 if latent_dim == 1 else 301)
    step = 2 * bound / resolution
    axis = torch.linspace(-bound + step / 2, bound - step / 2, resolution, dtype=torch.float64)
    z = torch.cartesian_prod(*[axis] * latent_dim).reshape(-1, latent_dim)  # (G, L)
    log_pz = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)  # (G,)
    with torch.no_grad():
        fz = f(z).double()  # (G, D)
    x = x.double()
    d = x.shape[1]
    out, rows = [], max(1, (1 << 24) // z.shape[0])  # data points per pass: ~16M grid terms
    for start in range(0, x.shape[0], rows):
        xb = x[start : start + rows]
        sq = ((xb[:, None, :] - fz[None]) ** 2).sum(-1)  # (b, G)
        log_lik = -0.5 * sq / noise**2 - d * math.log(noise) - 0.5 * d * LOG_2PI
        out.append(torch.logsumexp(log_lik + log_pz, -1) + latent_dim * math.log(step))
    return torch.cat(out).float()


SYNTHETIC_DATASETS = {
    "figure-8": SyntheticDataset("figure-8", 1, 2, _figure8, 0.05),
    "absolute-value": SyntheticDataset("absolute-value", 1, 1, _absolute, 0.1),
    "clusters": SyntheticDataset("clusters", 1, 1, _clusters, 0.05),
    "banana": SyntheticDataset("banana", 2, 2, _banana, 0.1),
}


def synthetic(name) -> SyntheticDataset:
    """A synthetic data set by name (see the module doc)."""
    if name not in SYNTHETIC_DATASETS:
        choices = sorted(SYNTHETIC_DATASETS)
        raise ValueError(f"unknown synthetic data set {name!r}; choose from {choices}")
    return SYNTHETIC_DATASETS[name]


def __getattr__(name):
    # the old name (it clashed with pyrovae.data.DATASETS, the loader registry) keeps working
    if name == "DATASETS":
        import warnings

        warnings.warn(
            "pyrovae.data.synthetic.DATASETS is renamed SYNTHETIC_DATASETS",
            DeprecationWarning,
            stacklevel=2,
        )
        return SYNTHETIC_DATASETS
    raise AttributeError(f"module 'pyrovae.data.synthetic' has no attribute {name!r}")
