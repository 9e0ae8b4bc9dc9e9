"""Trace plumbing shared by :mod:`pyrovae.infer` (objectives) and :mod:`pyrovae.posterior`
(reference posteriors): adapt any Pyro model / guide to the contract (find its data plate, pass or
apply ``num_data``), run model and guide, vectorize particles, read sites into per-point terms
honouring masks and refusing stray scales, and the proposals (prior, frozen guide).

Nothing here knows an objective; only Pyro's public handlers are used.
"""

from .adapt import ContractCallable, adapt, takes_num_data, unwrap
from .broadcast import explain_broadcast_failure
from .proposals import frozen_proposal, hide_params, prior_proposal
from .run import (
    max_plate_nesting,
    particle_log_weights,
    run_traces,
    trace_log_weights,
    vectorize,
    without_plate_scale,
)
from .sites import (
    check_plate_scale_only,
    data_frame,
    data_plate_name,
    in_data_plate,
    latent_pairs,
    masked_log_prob,
    per_point,
    plate_scale,
    sites_in_plate,
)

__all__ = [
    "ContractCallable",
    "adapt",
    "check_plate_scale_only",
    "data_frame",
    "data_plate_name",
    "explain_broadcast_failure",
    "frozen_proposal",
    "hide_params",
    "in_data_plate",
    "latent_pairs",
    "masked_log_prob",
    "max_plate_nesting",
    "particle_log_weights",
    "per_point",
    "plate_scale",
    "prior_proposal",
    "run_traces",
    "sites_in_plate",
    "takes_num_data",
    "trace_log_weights",
    "unwrap",
    "vectorize",
    "without_plate_scale",
]
