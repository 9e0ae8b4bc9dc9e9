"""Reference posteriors p_θ(z|x) with the decoder held fixed: importance sampling, annealed
importance sampling (with BDMC sandwich bounds), NUTS, grids.

Closed forms for the linear-Gaussian model live on :class:`pyrovae.models.LinearGaussianVAE`.
"""

from .ais import AISResult, BDMCResult, ais, annealing_schedule, bdmc, simulate
from .comparison import posterior_comparison
from .grid import GridResult, grid
from .hmc import hmc
from .importance import ImportanceResult, importance
from .nuts import nuts, nuts_summary

__all__ = [
    "AISResult",
    "BDMCResult",
    "GridResult",
    "ImportanceResult",
    "ais",
    "annealing_schedule",
    "bdmc",
    "grid",
    "hmc",
    "importance",
    "nuts",
    "nuts_summary",
    "posterior_comparison",
    "simulate",
]
