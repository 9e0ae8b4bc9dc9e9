"""Variational families q(z|x) beyond the amortized encoder of :class:`pyrovae.models.VAE`."""

from .gaussian_params import guide_gaussian_params
from .per_point import PerPointGaussian

__all__ = ["PerPointGaussian", "guide_gaussian_params"]
