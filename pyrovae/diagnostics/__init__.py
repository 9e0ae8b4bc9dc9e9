"""Numbers about a fitted model (no plotting, no training)."""

from .aggregate import aggregate_posterior_moments
from .information import mutual_information

__all__ = ["aggregate_posterior_moments", "mutual_information"]
