"""Read the diagonal Gaussian parameters of any guide at its latent sites."""

import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from pyro.poutine.util import site_is_subsample

from ..models.inputs import as_inputs
from ..traces import adapt
from ..traces.sites import in_data_plate

__all__ = ["gaussian_latent_sites", "guide_gaussian_params"]


def _normal_base(fn):
    base = fn
    while isinstance(base, (dist.Independent, dist.MaskedDistribution)):
        base = base.base_dist
    return base if isinstance(base, dist.Normal) else None


def _guide_trace(guide, x):
    inputs = as_inputs(x)
    with torch.no_grad(), poutine.block():
        return poutine.trace(adapt(guide)).get_trace(*inputs.args, **inputs.kwargs), inputs


def gaussian_latent_sites(guide, x):
    """``(names, skipped)``: the guide's local latent sites that are (diagonal) Normal, in trace
    order, and ``{name: reason}`` for the latent sites left out (discrete, another family, or
    outside the data plate)."""
    trace, _ = _guide_trace(guide, x)
    names, skipped = [], {}
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
            continue
        if not in_data_plate(site):
            skipped[name] = "outside the data plate (a global latent)"
        elif site["fn"].support.is_discrete:
            skipped[name] = f"discrete ({type(site['fn']).__name__}); summarized by samples only"
        elif _normal_base(site["fn"]) is None:
            skipped[name] = f"not Normal ({type(site['fn']).__name__}); summarized by samples only"
        else:
            names.append(name)
    return names, skipped


def guide_gaussian_params(guide, x, site="z"):
    """(loc, scale) of a guide's diagonal Gaussian, each (B, D).

    :param site: a site name, a list of names (concatenated along D), or ``None``: every
        Normal local latent site (:func:`gaussian_latent_sites`).
    """
    if site is None:
        site, _ = gaussian_latent_sites(guide, x)
        if not site:
            raise ValueError("the guide has no Normal latent site inside the data plate")
    names = [site] if isinstance(site, str) else list(site)
    trace, inputs = _guide_trace(guide, x)
    batch = inputs.num_points
    locs, scales = [], []
    for name in names:
        if name not in trace.nodes:
            latents = [
                n
                for n, s in trace.nodes.items()
                if s["type"] == "sample" and not s["is_observed"] and not site_is_subsample(s)
            ]
            raise ValueError(
                f"the guide has no site {name!r}; its latent sites are {latents}: pass site= one "
                "of them (or site=None for every Normal one)"
            )
        fn = trace.nodes[name]["fn"]
        base = _normal_base(fn)
        if base is None:
            raise ValueError(f"guide site {name!r} is {type(fn).__name__}, not a (diagonal) Normal")
        shape = fn.batch_shape + fn.event_shape
        locs.append(base.loc.expand(shape).reshape(batch, -1).detach())
        scales.append(base.scale.expand(shape).reshape(batch, -1).detach())
    return torch.cat(locs, -1), torch.cat(scales, -1)
