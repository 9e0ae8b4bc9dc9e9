"""Sites of a model / guide trace: latent pairs, the data plate, masks, scales, per-point terms.

Shared by the objectives (:mod:`pyrovae.infer`) and the reference posteriors
(:mod:`pyrovae.posterior`), so both read a trace the same way.
"""

import math

import torch
from pyro.distributions.util import detach
from pyro.poutine.util import site_is_subsample

from ..models.contract import DATA_PLATE, data_plate_tag


def latent_pairs(model_trace, guide_trace, require_rsample=True, alternative=None):
    """``{name: (model_site, guide_site)}`` for every latent (unobserved) sample site.

    :param require_rsample: refuse guide sites without ``rsample`` (``ValueError`` naming
        ``alternative``, an objective that handles them).
    """
    pairs = {}
    for name, site in model_trace.nodes.items():
        if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
            continue
        if name not in guide_trace.nodes:
            raise ValueError(f"latent site {name!r} of the model is not sampled in the guide")
        guide_site = guide_trace.nodes[name]
        if require_rsample and not guide_site["fn"].has_rsample:
            raise ValueError(
                f"guide site {name!r} uses {type(guide_site['fn']).__name__}, which is not "
                f"reparameterizable, and this objective needs rsample; use "
                f"{alternative or 'pyrovae.infer.EvidenceLowerBound or BetaVAE'} (score-function "
                "gradients, as pyro.infer.Trace_ELBO) for discrete or non-reparameterized latents"
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


def stopped_log_prob(guide_site) -> torch.Tensor:
    """log q(z) at the site's sample with q's parameters detached, unscaled and unmasked: the
    value of ``log_prob`` with a gradient only through z (the path derivative; Roeder, Wu,
    Duvenaud 2017, "Sticking the landing")."""
    return detach(guide_site["fn"]).log_prob(guide_site["value"])


def kl_term(pairs, analytic: bool, stop_guide_params: bool = False) -> torch.Tensor:
    """Σ over latent sites of KL(q ‖ p): Monte Carlo (log q − log p at the sample) or analytic.

    The analytic form falls back to Monte Carlo for pairs without a registered closed form.

    :param stop_guide_params: in the Monte Carlo form, evaluate log q with the guide's parameters
        detached (:func:`stopped_log_prob`) at reparameterized sites: same value, no score term
        in the gradient (non-reparameterized sites keep theirs for the score-function surrogate).
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
        log_q = guide_site["log_prob_sum"]
        if stop_guide_params and guide_site["fn"].has_rsample:
            log_q = _scaled_sum(stopped_log_prob(guide_site), guide_site)
        total = total + log_q - model_site["log_prob_sum"]
    return total


def data_plate_name(site, plate_name=None) -> str:
    """The name of the data plate at this site: ``plate_name`` when given, else the one
    :func:`pyrovae.traces.adapt` found (the site's tag), else ``"data"``."""
    if plate_name is not None:
        return plate_name
    tag = data_plate_tag(site)
    return tag.name if tag is not None else DATA_PLATE


def in_data_plate(site, plate_name=None) -> bool:
    """Whether a trace site sits inside the data plate (found by ``plate_name`` or by the
    contract)."""
    name = data_plate_name(site, plate_name)
    return any(f.name == name for f in site["cond_indep_stack"])


def data_frame(site, plate_name=None):
    """The plate frame of the data plate at this site, or a ``ValueError`` naming the contract."""
    name = data_plate_name(site, plate_name)
    for frame in site["cond_indep_stack"]:
        if frame.name == name:
            return frame
    raise ValueError(
        f"site {site['name']!r} is not inside the data plate {name!r}; open a plate over dim 0 "
        "of the data around it (pyro.plate('data', x.shape[0]), or a sizeless pyro.plate('data')),"
        " or name your data plate with plate_name= (see pyrovae.models.contract)"
    )


def num_data_points(site, plate_name=None) -> float:
    """Full data-set size N that the site's minibatch stands for: the N the adapter recorded, else
    the data plate's full size (its size when it is not subsampled); NaN for a sizeless plate
    that was not adapted. A ``poutine.scale`` on the site does not change N."""
    tag = data_plate_tag(site)
    if tag is not None and (plate_name is None or plate_name == tag.name):
        return float(tag.num_data)
    frame = data_frame(site, plate_name)
    size = frame.full_size if frame.full_size is not None else frame.size
    return float(size) if size > 0 else float("nan")


def aggregate_samples(pairs, names, plate_name=None, num_groups=1):
    """Guide samples of q(z) and matching prior samples, each (num_groups, n, D).

    Within a group, every data point's draw is a sample of the aggregate posterior
    q(z) = E_x q(z|x). Vectorized particles form the groups (``num_groups`` = P, the leading
    particle dimension): draws that share an x are dependent, so pooling all P·B draws as i.i.d.
    samples of q(z) would bias a U-statistic; the divergence is computed per particle instead.
    The prior samples come from the model's own distribution at each site, so a learned or
    non-standard prior is respected (they carry no gradient). Several sites
    are concatenated along D.
    """
    q_parts, p_parts = [], []
    for name in names:
        model_site, guide_site = _pair(pairs, name)
        data_frame(guide_site, plate_name)
        value, prior = guide_site["value"], model_site["fn"]
        event_numel = math.prod(value.shape[value.dim() - prior.event_dim :])
        q_parts.append(value.reshape(num_groups, -1, event_numel))  # (P, B, D_site)
        with torch.no_grad():
            p_parts.append(prior.sample().reshape(num_groups, -1, event_numel))
    return torch.cat(q_parts, -1), torch.cat(p_parts, -1)


def prior_score(pairs, names, group=0, num_groups=1):
    """A function mapping flat samples (n, D) of particle group ``group`` to the prior score
    ∇_z log p(z), (n, D); ``num_groups`` as in :func:`aggregate_samples`."""

    def score(flat):
        flat = flat.detach().requires_grad_(True)
        with torch.enable_grad():
            total, start = 0.0, 0
            for name in names:
                model_site, guide_site = _pair(pairs, name)
                value = guide_site["value"].detach()
                shape = value.shape
                width = math.prod(shape[len(shape) - model_site["fn"].event_dim :])
                grouped = value.reshape(num_groups, -1, width)  # (P, B, D_site)
                part = flat[:, start : start + width]
                full = torch.cat([grouped[:group], part[None], grouped[group + 1 :]], 0)
                total = total + model_site["fn"].log_prob(full.reshape(shape)).sum()
                start += width
            (grad,) = torch.autograd.grad(total, flat)
        return grad

    return score


def _pair(pairs, name):
    if name not in pairs:
        raise ValueError(
            f"latent site {name!r} not found; the model has latent sites {sorted(pairs)}"
        )
    return pairs[name]


def sites_in_plate(pairs, plate_name=None):
    """Names of the latent sites inside the data plate (the local latents)."""
    return [n for n, (_, g) in pairs.items() if in_data_plate(g, plate_name)]


def plate_scale(site) -> float:
    """The scale a site's plates imply: Π N/B over its subsampled plates (1 without subsampling),
    times the N/B that :func:`pyrovae.traces.adapt` applied for a model without ``num_data``."""
    scale = 1.0
    for frame in site["cond_indep_stack"]:
        if frame.full_size is not None and frame.full_size not in (-1, frame.size):
            scale *= frame.full_size / frame.size
    tag = data_plate_tag(site)
    return scale * (tag.factor if tag is not None else 1.0)


def extra_scale(site) -> float:
    """The part of a site's scale that does not come from plate subsampling (1 when none): a
    ``poutine.scale`` around the site, e.g. a β weight on the likelihood."""
    scale = site["scale"]
    if torch.is_tensor(scale):
        if scale.numel() != 1:
            return float("nan")  # a per-element scale: never a plain plate scale
        scale = scale.item()
    return float(scale) / plate_scale(site)


def check_plate_scale_only(site, what: str):
    """``ValueError`` when ``site`` carries a scale besides its plates' N/B.

    Per-point estimators (IWAE, LiBI, importance sampling, grids, NUTS) evaluate the *unweighted*
    model p(x, z) per data point; a ``poutine.scale`` inside the data plate would be dropped
    silently, so it is refused instead.
    """
    extra = extra_scale(site)
    if not math.isclose(extra, 1.0, rel_tol=1e-6):
        raise ValueError(
            f"site {site['name']!r} carries a scale of {extra:g} besides the data plate's N/B "
            f"(a poutine.scale or pyro.plate scale inside the model or guide); {what} evaluates "
            f"the "
            "unweighted p(x, z) per data point and cannot honour it. Remove the scale (for a KL "
            "weight use pyrovae.infer.BetaVAE; for tempering scale the whole loss yourself)."
        )


def masked_log_prob(site, stop_params=False) -> torch.Tensor:
    """The site's log-prob with its ``poutine.mask`` applied and no scale: masked elements are 0.

    Pyro fills ``unscaled_log_prob`` *before* the mask, so per-point estimators must apply it.
    :param stop_params: with the distribution's parameters detached (:func:`stopped_log_prob`).
    """
    log_prob, mask = site["unscaled_log_prob"], site["mask"]
    if stop_params:
        log_prob = stopped_log_prob(site)
    if mask is None:
        return log_prob
    if isinstance(mask, bool):
        return log_prob if mask else torch.zeros_like(log_prob)
    return torch.where(mask, log_prob, log_prob.new_zeros(()))


def per_point(site, particle_dim, plate_name=None, what="this estimator", stop_params=False):
    """The site's masked, unscaled log-prob reduced to (P, B): particle and data-plate dims only.

    Refuses a scale other than the plates' N/B (see :func:`check_plate_scale_only`).
    ``stop_params`` as in :func:`masked_log_prob`.
    """
    check_plate_scale_only(site, what)
    frame = data_frame(site, plate_name)
    lp = masked_log_prob(site, stop_params)
    while lp.dim() < max(-frame.dim, -particle_dim if particle_dim is not None else 0):
        lp = lp.unsqueeze(0)
    keep = {frame.dim} | ({particle_dim} if particle_dim is not None else set())
    other = [d for d in range(-lp.dim(), 0) if d not in keep]
    if other:
        lp = lp.sum(other, keepdim=True)
    return lp.reshape(-1, lp.shape[frame.dim])  # (P or 1, B)
