r"""The amortized guide as a per-point affine map: sample whitened latents u, report z.

For a guide that is Gaussian per data point, :math:`q(z_b|x_b) = \mathcal N(\mu_b, \sigma_b^2)`,
the change of variables :math:`z_b = \mu_b + \sigma_b \odot u_b` turns the posterior
:math:`p_\theta(z_b|x_b)` into a target in u whose scale is about 1 for every point when the guide
is good (NeuTra, Hoffman et al. 2019, "NeuTra-lizing bad geometry in HMC", with the encoder as the
transport map). One sampler over the (B, D) block can then use one step size for all points: the
hardest posterior no longer sets the pace. The map is fixed (computed once from the guide, no
gradient), so its Jacobian :math:`\sum \log \sigma_b` is a constant and the draws of z are exact
draws of p_θ(z|x) whatever the quality of the guide; a poor guide only slows mixing.
"""

import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch

from ..traces import hide_params
from ._vectorized import replayed_latents


def _gaussian_parameters(fn, name, fix):
    """(loc, scale) of a Normal (possibly wrapped in Independent / masked) guide distribution."""
    base = fn
    while isinstance(
        base, (dist.Independent, torch.distributions.Independent, dist.MaskedDistribution)
    ):
        base = base.base_dist
    if not isinstance(base, torch.distributions.Normal):
        raise ValueError(
            f"whitening uses the guide's Normal at site {name!r} as a per-point affine map, but "
            f"that site's distribution is {type(fn).__name__}; {fix}"
        )
    return base.loc, base.scale


def guide_affine(
    model, guide, x, plate_name=None, fix="pass precondition=False to sample z directly"
):
    """``{site: (loc, scale)}``, each shaped like the site's value ``(B, *event)``, from one pass of
    the guide on ``x`` (no gradient); raises ``ValueError`` for a site that is not Normal, whose
    message ends with ``fix``."""
    names, pairs = replayed_latents(model, hide_params(guide), x, plate_name)
    affine = {}
    for name in names:
        site = pairs[name][1]
        loc, scale = _gaussian_parameters(site["fn"], name, fix)
        if not (torch.isfinite(loc).all() and torch.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError(
                f"the guide's site {name!r} has a location or scale that is not finite, or a "
                "scale ≤ 0, for some points; fix the guide (e.g. softplus(raw) + 1e-3 for a "
                f"scale), or {fix}"
            )
        shape = site["value"].shape
        affine[name] = (loc.detach().expand(shape).clone(), scale.detach().expand(shape).clone())
    return affine


def whitened_name(name):
    """The name of the whitened site of latent site ``name``: ``<name>_whitened``."""
    return f"{name}_whitened"


def whitened_model(model, affine):
    """A model over the whitened latents ``{site}_whitened`` (flat density) whose density
    is the model's joint at z = loc + scale · u (the constant Jacobian is left out)."""

    def whitened(*args, **kwargs):
        values = {}
        for name, (loc, scale) in affine.items():
            # a flat density on u: N(0, 1) to sample from (Pyro traces the model before the
            # initial values apply), its log density cancelled by the factor below
            standard = dist.Normal(torch.zeros_like(loc), 1.0).to_event(loc.dim())
            u = pyro.sample(whitened_name(name), standard)
            pyro.factor(whitened_name(name) + "_flat", -standard.log_prob(u))
            values[name] = loc + scale * u
        return poutine.condition(model, data=values)(*args, **kwargs)

    return whitened


def unwhiten(affine, name, u):
    """Draws of u ``(..., B, *event)`` as numpy -> draws of z = loc + scale · u, same shape."""
    loc, scale = affine[name]
    return loc.cpu().numpy() + scale.cpu().numpy() * u
