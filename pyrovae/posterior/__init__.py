"""Reference posteriors p_θ(z|x) with the decoder held fixed: importance sampling, NUTS, grids.

Closed forms for the linear-Gaussian model live on :class:`pyrovae.models.LinearGaussianVAE`.
"""

from .grid import GridResult, grid
from .importance import ImportanceResult, importance
from .nuts import nuts, nuts_summary

__all__ = ["GridResult", "ImportanceResult", "grid", "importance", "nuts", "nuts_summary"]
