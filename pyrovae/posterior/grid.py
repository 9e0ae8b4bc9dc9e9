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

from ..checks import check_count
from ..traces import adapt, explain_broadcast_failure, max_plate_nesting, prior_proposal
from ._checks import check_data_support, prepare_inputs, warn_if_large
from ._vectorized import latent_names, refuse_discrete, site_log_joint


@dataclass
class GridResult:
    """``log_marginal`` (B,), ``points`` (G, D), ``weights`` (G, B) normalized over G,
    ``log_joint`` (G, B), ``mean`` (B, D), ``covariance`` (B, D, D), ``edge_mass`` (B,),
    ``cell_volume``, ``shape`` (points per dimension), ``latent_site`` (the site's name)."""

    log_marginal: torch.Tensor
    points: torch.Tensor
    weights: torch.Tensor
    log_joint: torch.Tensor
    mean: torch.Tensor
    covariance: torch.Tensor
    edge_mass: torch.Tensor
    cell_volume: float
    shape: tuple
    latent_site: str = "z"


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
    latent_site=None,
    chunk_size=None,
    plate_name=None,
    vectorize=True,
) -> GridResult:
    """Normalized posterior of the model's one local latent site on a regular grid, and log p(x)
    by quadrature.

    :param x: the data: a tensor (B, ...), or several inputs (a tuple or dict of tensors,
        :mod:`pyrovae.models.inputs`).
    :param bounds: (low, high) for every dimension, or one pair per dimension.
    :param resolution: cells per dimension (cell midpoints are evaluated).
    :param latent_site: the site's name, checked against the model; by default the one
        continuous latent site inside the data plate, whatever its name.
    :param chunk_size: grid points per vectorized pass (default: about 8M values per pass).
    :param vectorize: ``False`` evaluates one grid point per pass, without a particle dimension
        (for models whose code cannot broadcast over one); same numbers, more passes.

    The result keeps ``log_joint`` and ``weights`` of shape (G, B), G = resolution^dim: a
    ``ResourceWarning`` says so when they would take more than 1 GiB.
    """
    model = adapt(model, plate_name)
    x = prepare_inputs(model, x, "grid")
    check_data_support(model, x, "grid")
    resolution = check_count("resolution", resolution)
    proposal = prior_proposal(model)
    nesting = max_plate_nesting(model, proposal, args=x.args, kwargs=x.kwargs)
    from pyro import poutine

    model_trace = x.call(poutine.trace(model).get_trace)
    guide_trace = x.call(poutine.trace(proposal).get_trace)
    names, pairs = latent_names(model_trace, guide_trace, None, plate_name)
    refuse_discrete(pairs, names, "grid")
    if len(names) != 1 or (latent_site is not None and names != [latent_site]):
        wanted = "one local latent site" + (f" {latent_site!r}" if latent_site else "")
        raise ValueError(
            f"grid needs exactly {wanted}; the model's latent sites inside the data plate are "
            f"{names} (use importance, ais or hmc for several sites)"
        )
    latent_site = names[0]
    site = pairs[latent_site][0]
    event_shape = site["value"].shape[site["value"].dim() - site["fn"].event_dim :]
    dim = math.prod(event_shape)
    if dim > 2:
        raise ValueError(f"grid posteriors are for dim z ≤ 2 (got {dim}); use importance or nuts")
    box = _box(bounds, dim)
    data = x.primary
    axes = _axes(box, resolution, data.dtype, data.device)
    points = torch.cartesian_prod(*axes).reshape(-1, dim)  # (G, D)
    b = x.num_points
    warn_if_large(2 * points.shape[0] * b * data.element_size(), "grid", "resolution or x")
    cell = math.prod((hi - lo) / resolution for lo, hi in box)
    per_point = sum(t[0].numel() for t in x.tensors().values())
    chunk = chunk_size or max(1, (1 << 23) // (b * max(per_point, 1)))
    if not vectorize:
        chunk = 1

    def evaluate(zg):  # (g, D) grid points -> log p(x, z_g), (g, B)
        g = zg.shape[0]
        value = zg.reshape(g, 1, *event_shape).expand(g, b, *event_shape)
        if g == 1:
            value = value[0]
        return site_log_joint(model, x, {latent_site: value}, g, nesting, plate_name)

    first = points[:chunk]
    log_joint = [
        explain_broadcast_failure(
            lambda: evaluate(first),
            lambda: evaluate(first[:1]),
            "grid",
            "grid(..., vectorize=False)",
        )
    ]
    for start in range(chunk, points.shape[0], chunk):
        log_joint.append(evaluate(points[start : start + chunk]))
    log_joint = torch.cat(log_joint)  # (G, B)
    lse = torch.logsumexp(log_joint, 0)
    weights = torch.exp(log_joint - lse)  # (G, B)
    mean = weights.T @ points  # (B, D)
    centred = points.unsqueeze(1) - mean  # (G, B, D)
    cov = torch.einsum("gb,gbi,gbj->bij", weights, centred, centred)
    on_edge = torch.zeros(points.shape[0], dtype=torch.bool, device=data.device)
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
        latent_site=latent_site,
    )
