"""Numbers about a fitted model (no plotting, no training): each a small function citing its source.

Aggregate posterior vs prior, posterior collapse, mutual information, IS log-likelihood with
error bars, variational / amortization / approximation gaps, KL to the true posterior, decoder
variance health; :func:`report` gathers them.
"""

from .aggregate import aggregate_posterior_moments
from .collapse import active_units, collapsed_dimensions, kl_per_dimension
from .decoder_variance import DecoderVarianceWarning, decoder_variance_health
from .diagnostic_report import Report, report
from .information import mutual_information
from .kl import kl_to_posterior
from .likelihood import inference_gaps, log_likelihood, variational_gap
from .mmd_test import aggregate_posterior_test, mmd_permutation_test
from .two_point import two_point_summary

__all__ = [
    "DecoderVarianceWarning",
    "Report",
    "active_units",
    "aggregate_posterior_moments",
    "aggregate_posterior_test",
    "collapsed_dimensions",
    "decoder_variance_health",
    "inference_gaps",
    "kl_per_dimension",
    "kl_to_posterior",
    "log_likelihood",
    "mmd_permutation_test",
    "mutual_information",
    "report",
    "two_point_summary",
    "variational_gap",
]
