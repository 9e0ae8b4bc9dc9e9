r"""Exact sums over discrete guide sites marked for parallel enumeration.

A guide decorated with ``pyro.infer.config_enumerate`` (or a site with
``infer={"enumerate": "parallel"}``), run under ``poutine.enum``, draws every value of its
discrete sites at once along dimensions left of the plates. With the weights
:math:`w(y) = \prod_i q(y_i \mid \text{pa}_i, x)` of those values, every ELBO term is an exact
expectation over them and a Monte Carlo one over the continuous sites:

.. math::
    E_q[c] = \sum_y w(y)\, c(y, z_y), \qquad z_y \sim q(z \mid x, y),

which is what ``pyro.infer.TraceEnum_ELBO`` computes for sites enumerated in the guide (the
semi-supervised VAE of Kingma et al. 2014, "M2"). Its gradient flows into the guide both through
:math:`w` and through the reparameterized :math:`z_y`, so no score-function term is needed.
Model-side enumeration (a discrete site summed out in the model alone) is left to
``TraceEnum_ELBO``.
"""

import torch

from .sites import masked_log_prob

__all__ = ["enumerated_names", "enumeration_weights", "expected_sum", "is_enumerated"]


def is_enumerated(site) -> bool:
    """Whether a guide sample site is marked for parallel enumeration."""
    return (
        site["type"] == "sample"
        and not site["is_observed"]
        and (site.get("infer") or {}).get("enumerate") == "parallel"
    )


def enumerated_names(trace) -> list:
    """The names of the trace's sample sites marked for parallel enumeration."""
    return [name for name, site in trace.nodes.items() if is_enumerated(site)]


def enumeration_weights(guide_trace, names) -> torch.Tensor:
    """:math:`w(y)`: the guide's joint probability of each enumerated configuration, shaped to
    broadcast against the sites' log-probs (enumeration dims left of the plate dims)."""
    log_w = 0.0
    for name in names:
        log_w = log_w + masked_log_prob(guide_trace.nodes[name])
    return torch.exp(log_w)


def expected_sum(cost: torch.Tensor, weights: torch.Tensor, plate_nesting: int) -> torch.Tensor:
    r""":math:`\sum_y w(y) c(y)` summed over the cost's plates, for a (scaled) log-prob ``cost``.

    Where the cost does not depend on an enumerated value (its dim is 1) the weights are summed
    over that value (to 1); where it lies outside a plate the weights have (a global site), they
    are averaged over that plate (they are 1 there by then), so a cost that depends on no
    enumerated value is counted once.
    """
    if not torch.is_tensor(cost):
        return cost
    dims = max(cost.dim(), weights.dim())
    c = cost.reshape((1,) * (dims - cost.dim()) + tuple(cost.shape))
    w = weights.reshape((1,) * (dims - weights.dim()) + tuple(weights.shape))
    first_plate = dims - plate_nesting
    enum_sum = [d for d in range(first_plate) if c.shape[d] == 1 and w.shape[d] > 1]
    if enum_sum:
        w = w.sum(enum_sum, keepdim=True)
    plate_mean = [d for d in range(first_plate, dims) if c.shape[d] == 1 and w.shape[d] > 1]
    if plate_mean:
        w = w.mean(plate_mean, keepdim=True)
    return (w * c).sum()
