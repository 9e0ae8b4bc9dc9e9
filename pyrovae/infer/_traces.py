"""Trace plumbing shared by the objectives: run guide and model, split sites into terms.

Kept apart from the objectives so that each objective file holds only its own math.
"""

import math

import torch
from pyro import poutine
from pyro.infer.util import is_validation_enabled
from pyro.poutine.util import prune_subsample_sites, site_is_subsample
from pyro.util import check_model_guide_match, check_site_shape

from ..models.contract import DATA_PLATE


def run_traces(model, guide, args, kwargs, max_plate_nesting):
    """One guide trace and the model replayed against it, with log-probs computed.

    A leaner ``get_importance_trace``: no score-function parts (every latent must be
    reparameterized, which :func:`latent_pairs` checks), validation only when Pyro's is on.
    """
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    if is_validation_enabled():
        check_model_guide_match(model_trace, guide_trace, max_plate_nesting)
    guide_trace = prune_subsample_sites(guide_trace)
    model_trace = prune_subsample_sites(model_trace)
    model_trace.compute_log_prob()
    guide_trace.compute_log_prob()
    if is_validation_enabled():
        for site in list(model_trace.nodes.values()) + list(guide_trace.nodes.values()):
            if site["type"] == "sample":
                check_site_shape(site, max_plate_nesting)
    return model_trace, guide_trace


def latent_pairs(model_trace, guide_trace):
    """``{name: (model_site, guide_site)}`` for every latent (unobserved) sample site."""
    pairs = {}
    for name, site in model_trace.nodes.items():
        if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
            continue
        if name not in guide_trace.nodes:
            raise ValueError(f"latent site {name!r} of the model is not sampled in the guide")
        guide_site = guide_trace.nodes[name]
        if not guide_site["fn"].has_rsample:
            raise ValueError(
                f"guide site {name!r} uses {type(guide_site['fn']).__name__}, which is not "
                "reparameterizable; pyrovae objectives need rsample (use pyro.infer.TraceGraph_ELBO "
                "for discrete or score-function latents)"
            )
        pairs[name] = (site, guide_site)
    return pairs


def observed_log_likelihood(model_trace) -> torch.Tensor:
    """Sum of the (scaled) log-probs of all observed model sites."""
    total = 0.0
    for site in model_trace.nodes.values():
        if site["type"] == "sample" and site["is_observed"]:
            total = total + site["log_prob_sum"]
    return total


def _scaled_sum(value, site):
    scale, mask = site["scale"], site["mask"]
    if mask is not None:
        value = value * mask
    return (value * scale).sum() if not (isinstance(scale, float) and scale == 1.0) else value.sum()


def kl_term(pairs, analytic: bool) -> torch.Tensor:
    """Σ over latent sites of KL(q ‖ p): Monte Carlo (log q − log p at the sample) or analytic.

    The analytic form falls back to Monte Carlo for pairs without a registered closed form.
    """
    total = 0.0
    for model_site, guide_site in pairs.values():
        if analytic:
            try:
                kl = torch.distributions.kl_divergence(guide_site["fn"], model_site["fn"])
                total = total + _scaled_sum(kl, guide_site)
                continue
            except NotImplementedError:
                pass
        total = total + guide_site["log_prob_sum"] - model_site["log_prob_sum"]
    return total


def data_frame(site, plate_name=DATA_PLATE):
    """The plate frame of the data plate at this site, or a ``ValueError`` naming the contract."""
    for frame in site["cond_indep_stack"]:
        if frame.name == plate_name:
            return frame
    raise ValueError(
        f"site {site['name']!r} is not inside the data plate {plate_name!r}; open it with "
        "pyrovae.models.data_plate(x, num_data) (see pyrovae.models.contract)"
    )


def num_data_points(site, plate_name=DATA_PLATE) -> float:
    """Full data-set size N that the site's minibatch stands for: scale × minibatch size."""
    frame = data_frame(site, plate_name)
    scale = site["scale"]
    scale = scale.item() if torch.is_tensor(scale) else float(scale)
    return scale * frame.size


def aggregate_samples(pairs, names, plate_name=DATA_PLATE):
    """Guide samples of q(z) and matching prior samples, each flattened to (n, D).

    Every batch dimension (particles x data points) becomes a sample of the aggregate posterior
    q(z) = E_x q(z|x); the prior samples come from the model's own distribution at each site, so
    a learned or non-standard prior is respected (they carry no gradient). Several sites are
    concatenated along D.
    """
    q_parts, p_parts = [], []
    for name in names:
        model_site, guide_site = _pair(pairs, name)
        data_frame(guide_site, plate_name)
        value, prior = guide_site["value"], model_site["fn"]
        event_numel = math.prod(value.shape[value.dim() - prior.event_dim:])
        q_parts.append(value.reshape(-1, event_numel))  # (particles * B, D_site)
        with torch.no_grad():
            p_parts.append(prior.sample().reshape(-1, event_numel))
    return torch.cat(q_parts, -1), torch.cat(p_parts, -1)


def prior_score(pairs, names):
    """A function mapping flat samples (n, D) to the prior score ∇_z log p(z), (n, D)."""

    def score(flat):
        flat = flat.detach().requires_grad_(True)
        with torch.enable_grad():
            total, start = 0.0, 0
            for name in names:
                model_site, guide_site = _pair(pairs, name)
                shape = guide_site["value"].shape
                width = math.prod(shape[len(shape) - model_site["fn"].event_dim:])
                part = flat[:, start:start + width].reshape(shape)
                total = total + model_site["fn"].log_prob(part).sum()
                start += width
            (grad,) = torch.autograd.grad(total, flat)
        return grad

    return score


def _pair(pairs, name):
    if name not in pairs:
        raise ValueError(f"latent site {name!r} not found; the model has latent sites {sorted(pairs)}")
    return pairs[name]


def sites_in_plate(pairs, plate_name=DATA_PLATE):
    """Names of the latent sites inside the data plate (the local latents)."""
    return [n for n, (_, g) in pairs.items() if any(f.name == plate_name for f in g["cond_indep_stack"])]


def per_point(log_prob, site, particle_dim, plate_name=DATA_PLATE):
    """Reduce an unscaled log-prob to shape (P, B): keep the particle and data-plate dims only."""
    frame = data_frame(site, plate_name)
    lp = log_prob
    while lp.dim() < max(-frame.dim, -particle_dim if particle_dim is not None else 0):
        lp = lp.unsqueeze(0)
    keep = {frame.dim} | ({particle_dim} if particle_dim is not None else set())
    other = [d for d in range(-lp.dim(), 0) if d not in keep]
    if other:
        lp = lp.sum(other, keepdim=True)
    return lp.reshape(-1, lp.shape[frame.dim])  # (P or 1, B)
