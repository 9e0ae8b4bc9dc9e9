r"""KL(q(z|x) ‖ p_θ(z|x)) per data point: how far the guide is from the true posterior.

* by importance sampling: :math:`\mathrm{KL} = \log p(x) - \mathrm{ELBO}(x)`, both from the same
  guide-proposal weights (biased low by the IS bias of log p̂, which shrinks with K);
* on a grid (dim z ≤ 2): :math:`\sum_g q(z_g|x)\,\Delta V\,[\log q(z_g|x) - \log p(z_g|x)]`
  with the exact grid posterior, accurate to the quadrature error.
"""

import pyro.poutine as poutine
import torch

from ..posterior import grid, importance
from ..traces import adapt


def kl_to_posterior(
    model,
    guide,
    x,
    method="importance",
    num_samples=1000,
    bounds=(-5.0, 5.0),
    resolution=201,
    site=None,
    seed=0,
) -> torch.Tensor:
    """KL(q(z|x) ‖ p(z|x)) in nats per data point, (B,). ``method``: "importance" or "grid"
    (``site``: the grid's latent site, by default the model's one local latent site)."""
    if method == "importance":
        res = importance(model, guide, x, num_samples=num_samples, seed=seed)
        return res.log_marginal - res.elbo
    if method != "grid":
        raise ValueError(f"method must be 'importance' or 'grid', got {method!r}")
    g = grid(model, x, bounds=bounds, resolution=resolution, latent_site=site)
    with torch.no_grad():
        q = poutine.trace(adapt(guide)).get_trace(x).nodes[g.latent_site]["fn"]
        pts = g.points.reshape(g.points.shape[0], 1, *q.event_shape)  # (G, 1, *event)
        log_q = q.log_prob(pts)  # (G, B)
    log_post = g.log_joint - g.log_marginal  # log p(z_g | x), a density
    q_mass = torch.exp(log_q) * g.cell_volume  # (G, B)
    return (q_mass * (log_q - log_post)).sum(0)
