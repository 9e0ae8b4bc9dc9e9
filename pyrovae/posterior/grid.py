r"""Exact posteriors on a grid for latent spaces of dimension ≤ 2.

For each data point, :math:`\log p(x, z_g)` is evaluated at every grid point :math:`z_g` (one
vectorized pass per chunk of grid points, all data points at once). With cell volume ΔV,

.. math::
    \log p(x) \approx \log \sum_g p(x, z_g)\,\Delta V, \qquad
    p(z_g | x) \approx p(x, z_g)\,\Delta V / p(x),

the midpoint rule, which converges exponentially fast for smooth integrands whose mass lies
inside the bounds (the toy problems of the source papers). Check ``edge_mass`` -- the posterior
mass on the grid's border cells -- to see that the bounds are wide enough.
"""

import math
from dataclasses import dataclass

import torch

from ..arguments import check_count, check_data
from ..traces import adapt, max_plate_nesting, prior_proposal
from ._checks import warn_if_large
from ._vectorized import latent_names, refuse_discrete, site_log_joint


@dataclass
class GridResult:
    """``log_marginal`` (B,), ``points`` (G, D), ``weights`` (G, B) normalized over G,
    ``log_joint`` (G, B), ``mean`` (B, D), ``covariance`` (B, D, D), ``edge_mass`` (B,),
    ``cell_volume``, ``shape`` (points per dimension)."""

    log_marginal: torch.Tensor
    points: torch.Tensor
    weights: torch.Tensor
    log_joint: torch.Tensor
    mean: torch.Tensor
    covariance: torch.Tensor
    edge_mass: torch.Tensor
    cell_volume: float
    shape: tuple


def _box(bounds, dim):
    if isinstance(bounds[0], (int, float)):
        bounds = [bounds] * dim
    if len(bounds) != dim:
        raise ValueError(f"bounds must give one (low, high) pair per latent dimension ({dim})")
    for lo, hi in bounds:
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(
                f"grid bounds must be finite, got ({lo}, {hi}); pick a box that holds "
                "the posterior mass (check edge_mass)"
            )
        if not hi > lo:
            raise ValueError(f"grid bounds need high > low, got ({lo}, {hi})")
    return [(float(lo), float(hi)) for lo, hi in bounds]


def _axes(box, resolution, dtype, device):
    axes = []
    for lo, hi in box:
        step = (hi - lo) / resolution
        axes.append(
            torch.linspace(lo + step / 2, hi - step / 2, resolution, dtype=dtype, device=device)
        )
    return axes


@torch.no_grad()
def grid(
    model,
    x,
    bounds=(-5.0, 5.0),
    resolution=201,
    latent_site="z",
    chunk_size=None,
    plate_name=None,
) -> GridResult:
    """Normalized posterior of ``latent_site`` on a regular grid, and log p(x) by quadrature.

    :param bounds: (low, high) for every dimension, or one pair per dimension.
    :param resolution: cells per dimension (cell midpoints are evaluated).

    The result keeps ``log_joint`` and ``weights`` of shape (G, B), G = resolution^dim: a
    ``ResourceWarning`` says so when they would take more than 1 GiB.
    """
    check_data(x, "grid")
    resolution = check_count("resolution", resolution)
    model = adapt(model, plate_name)
    proposal = prior_proposal(model)
    nesting = max_plate_nesting(model, proposal, args=(x,))
    from pyro import poutine

    model_trace = poutine.trace(model).get_trace(x)
    guide_trace = poutine.trace(proposal).get_trace(x)
    names, pairs = latent_names(model_trace, guide_trace, None, plate_name)
    refuse_discrete(pairs, names, "grid")
    if names != [latent_site]:
        raise ValueError(
            f"grid needs exactly one local latent site {latent_site!r}; the model has {names}"
        )
    site = pairs[latent_site][0]
    event_shape = site["value"].shape[site["value"].dim() - site["fn"].event_dim :]
    dim = math.prod(event_shape)
    if dim > 2:
        raise ValueError(f"grid posteriors are for dim z ≤ 2 (got {dim}); use importance or nuts")
    box = _box(bounds, dim)
    axes = _axes(box, resolution, x.dtype, x.device)
    points = torch.cartesian_prod(*axes).reshape(-1, dim)  # (G, D)
    warn_if_large(2 * points.shape[0] * x.shape[0] * x.element_size(), "grid", "resolution or x")
    cell = math.prod((hi - lo) / resolution for lo, hi in box)
    b = x.shape[0]
    chunk = chunk_size or max(1, (1 << 23) // (b * max(math.prod(x.shape[1:]), 1)))
    log_joint = []
    for start in range(0, points.shape[0], chunk):
        zg = points[start : start + chunk]  # (g, D)
        g = zg.shape[0]
        value = zg.reshape(g, 1, *event_shape).expand(g, b, *event_shape)
        if g == 1:
            value = value[0]
        log_joint.append(site_log_joint(model, x, {latent_site: value}, g, nesting, plate_name))
    log_joint = torch.cat(log_joint)  # (G, B)
    lse = torch.logsumexp(log_joint, 0)
    weights = torch.exp(log_joint - lse)  # (G, B)
    mean = weights.T @ points  # (B, D)
    centred = points.unsqueeze(1) - mean  # (G, B, D)
    cov = torch.einsum("gb,gbi,gbj->bij", weights, centred, centred)
    on_edge = torch.zeros(points.shape[0], dtype=torch.bool, device=x.device)
    for d, axis in enumerate(axes):
        on_edge |= (points[:, d] == axis[0]) | (points[:, d] == axis[-1])
    return GridResult(
        log_marginal=lse + math.log(cell),
        points=points,
        weights=weights,
        log_joint=log_joint,
        mean=mean,
        covariance=cov,
        edge_mass=weights[on_edge].sum(0),
        cell_volume=cell,
        shape=tuple(len(a) for a in axes),
    )
