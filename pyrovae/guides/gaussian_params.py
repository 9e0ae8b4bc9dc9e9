"""Read the diagonal Gaussian parameters of any guide at a latent site."""

import pyro.distributions as dist
import pyro.poutine as poutine
import torch


def guide_gaussian_params(guide, x, site="z"):
    """(loc, scale) of a guide's diagonal Gaussian at ``site``, each (B, D)."""
    with torch.no_grad():
        fn = poutine.trace(guide).get_trace(x).nodes[site]["fn"]
    base = fn.base_dist if isinstance(fn, dist.Independent) else fn
    if not isinstance(base, dist.Normal):
        raise ValueError(f"guide site {site!r} is {type(base).__name__}, not a (diagonal) Normal")
    loc, scale = (
        base.loc.expand(fn.batch_shape + fn.event_shape),
        base.scale.expand(fn.batch_shape + fn.event_shape),
    )
    return loc.reshape(x.shape[0], -1).detach(), scale.reshape(x.shape[0], -1).detach()
