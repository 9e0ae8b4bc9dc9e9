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

import math

import torch

from .sites import _pair, data_frame, masked_log_prob

__all__ = [
    "enumerated_aggregate",
    "enumerated_names",
    "enumeration_weights",
    "expected_sum",
    "is_enumerated",
]


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


def _left_pad(shape, length):
    return (1,) * (length - len(shape)) + tuple(shape)


def enumerated_aggregate(pairs, names, weights, plate_nesting, plate_name=None):
    r"""Weighted samples of the aggregate posterior q(z) of the continuous sites ``names`` when
    discrete guide sites are enumerated: ``(q, w, p)`` with q (B, C, D) the draws of z for each
    of the C enumerated configurations of every data point, w (B, C) their probabilities
    (``weights`` from :func:`enumeration_weights`; each row sums to 1) and p (B, D) draws of the
    model's prior at the same sites (no gradient). Point b's draw of q(z) is q[b, c] with
    probability w[b, c]: the mixture :math:`\sum_y q(y|x_b)\, q(z|x_b, y)`.

    ``ValueError`` naming the reason for a site in another plate than the data plate, or whose
    prior depends on an enumerated value (the prior draws would not be of the marginal p(z)).
    """
    frames, batches, events = [], [], []
    for name in names:
        model_site, guide_site = _pair(pairs, name)
        event_dim = model_site["fn"].event_dim
        value = guide_site["value"]
        frames.append(data_frame(guide_site, plate_name))
        batches.append(value.shape[: value.dim() - event_dim])
        events.append(value.shape[value.dim() - event_dim :])
    length = max([weights.dim(), *(len(b) for b in batches)])
    full = torch.broadcast_shapes(
        _left_pad(weights.shape, length), *(_left_pad(b, length) for b in batches)
    )
    first_plate = length - plate_nesting
    q_parts, p_parts = [], []
    for name, frame, batch, event in zip(names, frames, batches, events, strict=True):
        data_dim = length + frame.dim
        padded = _left_pad(batch, length)
        other_plates = [d for d in range(first_plate, length) if d != data_dim and padded[d] > 1]
        if other_plates:
            raise ValueError(
                f"InfoVAE: the latent site {name!r} lies in plates besides the data plate; with "
                "enumerated discrete sites its aggregate posterior is taken over the data plate "
                "alone: name sites of the data plate only in latent_sites="
            )
        width = math.prod(event)
        value = pairs[name][1]["value"].reshape(padded + tuple(event)).expand(full + tuple(event))
        q_parts.append(value.movedim(data_dim, 0).reshape(full[data_dim], -1, width))
        prior = pairs[name][0]["fn"]
        prior_batch = _left_pad(prior.batch_shape, length)
        if any(size > 1 for size in prior_batch[:first_plate]):
            raise ValueError(
                f"InfoVAE: the prior of {name!r} depends on an enumerated discrete site, so its "
                "draws are not of the marginal p(z) the divergence compares with; match a site "
                "whose prior does not depend on it (latent_sites=...), or use divergence weight "
                "0 (alpha + lam = 1)"
            )
        with torch.no_grad():
            p_parts.append(prior.sample().reshape(full[data_dim], width))
    data_dim = length + frames[0].dim
    w = weights.reshape(_left_pad(weights.shape, length)).expand(full).movedim(data_dim, 0)
    w = w.reshape(full[data_dim], -1)
    return torch.cat(q_parts, -1), w / w.sum(-1, keepdim=True), torch.cat(p_parts, -1)
