"""Shared plumbing: run model and proposal for many particles and data points in one pass."""

import math

import pyro.poutine as poutine
import torch
from pyro.infer import Trace_ELBO

from ..infer._traces import data_frame, latent_pairs, per_point, sites_in_plate
from ..infer.iwae import IWAE
from ..infer.proposal import prior_proposal  # noqa: F401  (re-exported for the estimators)
from ..models.contract import DATA_PLATE


def guess_max_plate_nesting(model, guide, x) -> int:
    """How many plate dimensions model and guide use (Pyro's guess, from one run)."""
    elbo = Trace_ELBO()
    with torch.no_grad():
        elbo._guess_max_plate_nesting(model, guide, (x,), {})
    return int(elbo.max_plate_nesting)


def latent_names(model_trace, guide_trace, names=None, plate_name=DATA_PLATE):
    pairs = latent_pairs(model_trace, guide_trace)
    if names is None:
        names = sites_in_plate(pairs, plate_name)
    if not names:
        raise ValueError("no latent site inside the data plate; see pyrovae.models.contract")
    return list(names), pairs


def flat_latents(pairs, names, num_particles, batch, plate_name=DATA_PLATE):
    """Latent values of the named sites as (P, B, D), sites concatenated along D."""
    parts = []
    for name in names:
        model_site, guide_site = pairs[name]
        data_frame(guide_site, plate_name)
        value = guide_site["value"]
        event = math.prod(value.shape[value.dim() - model_site["fn"].event_dim:])
        parts.append(value.reshape(num_particles, batch, event))  # (P, B, D_site)
    return torch.cat(parts, -1)


def weighted_particles(model, proposal, x, num_particles, max_plate_nesting, names=None,
                       plate_name=DATA_PLATE):
    """Log importance weights (P, B) and latents (P, B, D) for one vectorized pass."""
    iwae = IWAE(num_particles=num_particles, vectorize_particles=num_particles > 1,
                max_plate_nesting=max_plate_nesting, plate_name=plate_name)
    (model_trace, guide_trace), = iwae._get_traces(model, proposal, (x,), {})
    log_w, _ = iwae.log_weights(model_trace, guide_trace)
    names, pairs = latent_names(model_trace, guide_trace, names, plate_name)
    log_w = log_w.expand(num_particles, x.shape[0])
    return log_w, flat_latents(pairs, names, num_particles, x.shape[0], plate_name), names


def site_log_joint(model, x, values: dict, num_particles, max_plate_nesting, plate_name=DATA_PLATE):
    """log p(x, z) per particle and data point, (P, B), with latent sites fixed to ``values``
    (each shaped like the site's value under a particle plate: (P, B, *event))."""
    iwae = IWAE(num_particles=num_particles, vectorize_particles=num_particles > 1,
                max_plate_nesting=max_plate_nesting, plate_name=plate_name)
    conditioned = poutine.condition(iwae._vectorized_num_particles(model), data=values)
    trace = poutine.trace(conditioned).get_trace(x)
    trace = poutine.util.prune_subsample_sites(trace)
    trace.compute_log_prob()
    particle_dim = -iwae.max_plate_nesting if num_particles > 1 else None
    total = 0.0
    for site in trace.nodes.values():
        if site["type"] == "sample":
            total = total + per_point(site["unscaled_log_prob"], site, particle_dim, plate_name)
    return total.expand(num_particles, x.shape[0])
