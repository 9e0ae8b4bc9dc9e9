"""Many particles and data points in one pass, on the shared trace layer (:mod:`pyrovae.traces`)."""

import math

import pyro.poutine as poutine
import torch

from ..models.inputs import as_inputs, call_arguments
from ..traces import (
    data_frame,
    latent_pairs,
    particle_log_weights,
    per_point,
    sites_in_plate,
    vectorize,
)


def num_points(x) -> int:
    """B: the data points in ``x`` (a tensor, or several inputs)."""
    return int(x.shape[0]) if torch.is_tensor(x) else as_inputs(x).num_points


def refuse_discrete(pairs, names, what):
    """``ValueError`` for a discrete latent site among ``names``: Hamiltonian dynamics moves
    continuous coordinates only, and a one-hot label walked as if continuous gives numbers that
    mean nothing."""
    for name in names:
        model_site = pairs[name][0]
        if model_site["fn"].support.is_discrete:
            raise ValueError(
                f"latent site {name!r} is discrete ({type(model_site['fn']).__name__}); {what} "
                "runs Hamiltonian dynamics, which cannot move on it. Use "
                "pyrovae.posterior.importance (it samples discrete sites from the guide), or "
                f"condition the model on {name!r} (pyro.condition) and run {what} per value."
            )


def latent_names(model_trace, guide_trace, names=None, plate_name=None):
    pairs = latent_pairs(model_trace, guide_trace, require_rsample=False)
    if names is None:
        names = sites_in_plate(pairs, plate_name)
    if not names:
        raise ValueError("no latent site inside the data plate; see pyrovae.models.contract")
    return list(names), pairs


def flat_latents(pairs, names, num_particles, batch, plate_name=None):
    """Latent values of the named sites as (P, B, D), sites concatenated along D."""
    parts = []
    for name in names:
        model_site, guide_site = pairs[name]
        data_frame(guide_site, plate_name)
        value = guide_site["value"]
        event = math.prod(value.shape[value.dim() - model_site["fn"].event_dim :])
        parts.append(value.reshape(num_particles, batch, event))  # (P, B, D_site)
    return torch.cat(parts, -1)


def replayed_latents(model, proposal, x, plate_name=None):
    """One pass of ``proposal`` on ``x`` and the model replayed against it (no gradient):
    the names of the latent sites inside the data plate and their (model, proposal) site pairs."""
    with torch.no_grad():
        args, kwargs = call_arguments(x)
        proposal_trace = poutine.trace(proposal).get_trace(*args, **kwargs)
        model_trace = poutine.trace(poutine.replay(model, trace=proposal_trace)).get_trace(
            *args, **kwargs
        )
    return latent_names(model_trace, proposal_trace, None, plate_name)


def site_shapes(pairs, names, num_particles, batch, what):
    """``{site: value shape}`` of the named proposal sites, each checked to hold one draw per
    particle and data point (shape (P, ..., B, ...); (..., B, ...) for one particle, which runs
    without a particle plate)."""
    shapes = {}
    for name in names:
        value = pairs[name][1]["value"]
        # one particle runs without a particle plate (no leading particle dim in the value)
        drawn = value.shape if num_particles > 1 else (1, *value.shape)
        if len(drawn) < 2 or drawn[0] != num_particles or batch not in drawn[1:]:
            raise ValueError(
                f"latent site {name!r} has value shape {tuple(value.shape)}, not one draw per "
                f"chain and data point; {what} needs every latent site inside the data plate"
            )
        shapes[name] = tuple(value.shape)
    return shapes


def site_width(shape, num_particles, batch):
    """Values per particle and data point of a site of value shape ``shape``."""
    return math.prod(shape) // (num_particles * batch)


def split_flat(flat, shapes, num_particles):
    """Flat latents (P, B, D) -> ``{site: value}`` shaped as in the site's trace; the inverse of
    :func:`flat_latents` for ``shapes`` from :func:`site_shapes`."""
    out, start = {}, 0
    for name, shape in shapes.items():
        width = site_width(shape, num_particles, flat.shape[1])
        out[name] = flat[..., start : start + width].reshape(shape)
        start += width
    return out


def nan_to_minus_inf(t):
    """A NaN log density (outside the model's support) read as density 0."""
    return torch.where(torch.isnan(t), torch.full_like(t, -math.inf), t)


def weighted_particles(
    model, proposal, x, num_particles, nesting, names=None, plate_name=None, vectorize=True
):
    """Log importance weights (P, B) and latents (P, B, D) for one vectorized pass (with
    ``vectorize=False``: P passes of one particle each, for models that cannot broadcast)."""
    if not vectorize and num_particles > 1:
        parts = [
            weighted_particles(model, proposal, x, 1, nesting, names, plate_name)
            for _ in range(num_particles)
        ]
        log_w = torch.cat([p[0] for p in parts])  # (P, B)
        return log_w, torch.cat([p[1] for p in parts]), parts[0][2]
    log_w, model_trace, guide_trace = particle_log_weights(
        model, proposal, x, num_particles, nesting, plate_name, "importance sampling"
    )
    names, pairs = latent_names(model_trace, guide_trace, names, plate_name)
    batch = num_points(x)
    log_w = log_w.expand(num_particles, batch)
    return log_w, flat_latents(pairs, names, num_particles, batch, plate_name), names


def site_log_joint(
    model, x, values: dict, num_particles, nesting, plate_name=None, what="the grid posterior"
):
    """log p(x, z) per particle and data point, (P, B), with latent sites fixed to ``values``
    (each shaped like the site's value under a particle plate: (P, B, *event))."""
    conditioned = poutine.condition(vectorize(model, num_particles, nesting), data=values)
    args, kwargs = call_arguments(x)
    trace = poutine.trace(conditioned).get_trace(*args, **kwargs)
    trace = poutine.util.prune_subsample_sites(trace)
    trace.compute_log_prob()
    particle_dim = -(nesting + 1) if num_particles > 1 else None
    total = 0.0
    for site in trace.nodes.values():
        if site["type"] == "sample":
            total = total + per_point(site, particle_dim, plate_name, what)
    return total.expand(num_particles, num_points(x))
