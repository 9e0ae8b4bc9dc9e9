"""Running a model and a guide (or proposal): traces, particle vectorization, plate nesting and
per-point log importance weights, with Pyro's public handlers only."""

import pyro
import torch
from pyro import poutine
from pyro.infer.util import is_validation_enabled
from pyro.poutine.messenger import Messenger
from pyro.poutine.util import prune_subsample_sites
from pyro.util import check_model_guide_match, check_site_shape

from ..models.inputs import call_arguments
from .adapt import PARTICLE_PLATE
from .broadcast import explain_broadcast_failure
from .sites import check_plate_scale_only, latent_pairs, per_point, plate_scale

__all__ = [
    "PARTICLE_PLATE",
    "data_plate_scale",
    "max_plate_nesting",
    "particle_log_weights",
    "run_traces",
    "trace_log_weights",
    "vectorize",
    "without_plate_scale",
]


def run_traces(model, guide, args, kwargs, max_plate_nesting):
    """One guide trace and the model replayed against it, with log-probs computed.

    A leaner ``get_importance_trace``: score-function parts are computed only for guide sites
    without ``rsample``; validation only when Pyro's is on.
    """
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    replayed = poutine.replay(model, trace=guide_trace)
    model_trace = poutine.trace(replayed).get_trace(*args, **kwargs)
    if is_validation_enabled():
        check_model_guide_match(model_trace, guide_trace, max_plate_nesting)
    guide_trace = prune_subsample_sites(guide_trace)
    model_trace = prune_subsample_sites(model_trace)
    model_trace.compute_log_prob()
    if any(
        site["type"] == "sample" and not site["fn"].has_rsample
        for site in guide_trace.nodes.values()
    ):
        guide_trace.compute_score_parts()
    else:
        guide_trace.compute_log_prob()
    if is_validation_enabled():
        for site in list(model_trace.nodes.values()) + list(guide_trace.nodes.values()):
            if site["type"] == "sample":
                check_site_shape(site, max_plate_nesting)
    return model_trace, guide_trace


def max_plate_nesting(*fns, args=(), kwargs=None) -> int:
    """How many batch dimensions the plates of ``fns`` (model, guide, ...) use, from one run each
    (without gradient): the largest ``-dim`` over every vectorized plate of every sample site.
    Sites marked for enumeration are not enumerated here (their plates count as usual)."""
    nesting = 0
    with torch.no_grad(), poutine.block():
        for fn in fns:
            trace = poutine.trace(fn).get_trace(*args, **(kwargs or {}))
            for site in trace.nodes.values():
                if site["type"] == "sample":
                    dims = [-f.dim for f in site["cond_indep_stack"] if f.vectorized]
                    nesting = max([nesting, *dims])
    return nesting


def vectorize(fn, num_particles: int, nesting: int):
    """``fn`` run under a particle plate of size ``num_particles`` at dim ``-(nesting + 1)``, as
    Pyro's ``vectorize_particles=True`` does; ``num_particles = 1`` returns ``fn`` unchanged."""
    if num_particles == 1:
        return fn

    def vectorized(*args, **kwargs):
        with pyro.plate(PARTICLE_PLATE, num_particles, dim=-(nesting + 1)):
            return fn(*args, **kwargs)

    return vectorized


def particle_log_weights(
    model,
    proposal,
    x,
    num_particles,
    nesting,
    plate_name=None,
    what="this estimator",
    vectorize_fix="importance(..., vectorize=False)",
):
    """log p(x, z) − log r(z|x) per particle and data point, (P, B), for one vectorized pass,
    with the traces (for the latent values). Masks are honoured; scales other than the data
    plate's N/B are refused (:func:`pyrovae.traces.sites.check_plate_scale_only`).

    :param x: the data: a tensor, or :class:`pyrovae.models.inputs.Inputs` (several inputs).
    :param vectorize_fix: the non-vectorized alternative named when the model cannot broadcast
        over the particle dimension (:func:`pyrovae.traces.broadcast.explain_broadcast_failure`).
    """
    args, kwargs = call_arguments(x)

    def run(particles):
        return run_traces(
            vectorize(model, particles, nesting),
            vectorize(proposal, particles, nesting),
            args,
            kwargs,
            nesting + 1,
        )

    model_trace, guide_trace = explain_broadcast_failure(
        lambda: run(num_particles), lambda: run(1), what, vectorize_fix
    )
    particle_dim = -(nesting + 1) if num_particles > 1 else None
    log_w = trace_log_weights(model_trace, guide_trace, particle_dim, plate_name, what)
    return log_w, model_trace, guide_trace


def trace_log_weights(
    model_trace,
    guide_trace,
    particle_dim,
    plate_name=None,
    what="this estimator",
    require_rsample=False,
    alternative=None,
    stop_proposal_params=False,
):
    """(P, B) log-weights of a model trace replayed against a proposal trace.

    :param require_rsample: refuse proposal sites without ``rsample`` (when gradients must flow
        through the draws), naming ``alternative``; see :func:`latent_pairs`.
    :param stop_proposal_params: evaluate log r(z|x) with the proposal's parameters detached
        (same value; the gradient flows only through z, as STL and DReG need).
    """
    pairs = latent_pairs(model_trace, guide_trace, require_rsample, alternative)
    log_w = 0.0
    for site in model_trace.nodes.values():
        if site["type"] == "sample":
            log_w = log_w + per_point(site, particle_dim, plate_name, what)
    for _, guide_site in pairs.values():
        log_w = log_w - per_point(
            guide_site, particle_dim, plate_name, what, stop_params=stop_proposal_params
        )
    return log_w


def data_plate_scale(trace) -> float:
    """N/B of the first sample site of ``trace`` (1 when the data plate is not subsampled)."""
    for site in trace.nodes.values():
        if site["type"] == "sample":
            return plate_scale(site)
    return 1.0


class _StripPlateScale(Messenger):
    """Sets every sample site's scale to 1 after checking that it came from plate subsampling
    alone (N/B); any other scale raises ``ValueError``."""

    def __init__(self, what):
        super().__init__()
        self.what = what

    def _process_message(self, msg):
        if msg["type"] == "sample":
            check_plate_scale_only(msg, self.what)
            msg["scale"] = 1.0


def without_plate_scale(model, what="this sampler"):
    """``model`` with the data plate's N/B scale removed from every site: the density of the data
    at hand (a model called with ``num_data`` baked in would otherwise be tempered by N/B). Any
    other scale (a ``poutine.scale`` inside the model) raises ``ValueError`` naming the site."""
    return _StripPlateScale(what)(model)
