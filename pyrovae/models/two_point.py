"""The 1-D VAE of InfoVAE's two-point example (Zhao et al. 2019, Proposition 1 / Figure 1)."""

from ..nets import MLP
from .likelihoods import DecoderGaussian
from .vae import VAE


def two_point_vae(hidden=(200, 200, 200), min_variance=1e-3, init_log_variance=-6.0):
    """MLP encoder / decoder (``hidden`` widths) with z and x one-dimensional, and a Gaussian
    decoder with learned σ²(z) ≥ ``min_variance`` (ξ, Mattei & Frellsen 2018)."""
    likelihood = DecoderGaussian(min_variance=min_variance, init_log_variance=init_log_variance)
    return VAE(MLP(1, hidden, 2), MLP(1, hidden, 2), likelihood, z_dim=1, data_shape=(1,))
