"""Generative models p(x, z) in Pyro syntax, their likelihoods, and the linear-Gaussian oracle.

The model / guide contract is documented in :mod:`pyrovae.models.contract`.
"""

from .autoregressive import AutoregressiveBernoulli, PixelCNNBernoulli
from .contract import DATA_PLATE, data_plate
from .conv import conv_vae
from .factory import build_vae, load_vae
from .grey_levels import BetaLikelihood, ContinuousBernoulli
from .likelihoods import Bernoulli, DecoderGaussian, Gaussian, LearnedGaussian
from .linear_gaussian import LinearGaussianVAE, PPCAFit, ppca_mle
from .saved import load, save
from .two_point import two_point_vae
from .vae import VAE

__all__ = [
    "DATA_PLATE",
    "VAE",
    "AutoregressiveBernoulli",
    "Bernoulli",
    "BetaLikelihood",
    "ContinuousBernoulli",
    "DecoderGaussian",
    "Gaussian",
    "LearnedGaussian",
    "LinearGaussianVAE",
    "PPCAFit",
    "PixelCNNBernoulli",
    "build_vae",
    "conv_vae",
    "data_plate",
    "load",
    "load_vae",
    "ppca_mle",
    "save",
    "two_point_vae",
]
