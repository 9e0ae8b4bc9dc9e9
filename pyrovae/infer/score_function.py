r"""Score-function (REINFORCE) surrogate for guide sites without ``rsample`` (discrete latents,
non-reparameterized families), as in ``pyro.infer.Trace_ELBO`` (Williams 1992; Ranganath, Gerrish,
Blei 2014; Schulman et al. 2015, "Gradient estimation using stochastic computation graphs").

For a non-reparameterized site z with guide density :math:`q_\phi(z)` and the per-particle objective
:math:`f = \log p(x|z) + \beta[\log p(z) - \log q_\phi(z)]`,

.. math::
    \nabla_\phi E_q[f] = E_q[f\,\nabla_\phi \log q_\phi(z)] + E_q[\nabla_\phi f]

where the last term's direct :math:`-\beta\nabla_\phi\log q_\phi(z)` part has mean zero and is
dropped (as Pyro does). The cost multiplying each site's score is Rao-Blackwellized over
plates: only the terms in plates that contain the site (``MultiFrameTensor.sum_to``), so a data
point's score sees its own cost, not the whole minibatch's.

Scale: the cost carries the data plate's N/B once; the score is taken unscaled (masked), so the
estimate is unbiased for the N-point objective under subsampling. (Pyro's ``Trace_ELBO`` scales
both; the two agree when nothing is subsampled.)
"""

from pyro.infer.util import MultiFrameTensor

from ..traces.sites import masked_log_prob


def _stack(site):
    return tuple(site["cond_indep_stack"])


def score_function_surrogate(model_trace, pairs, kl_weight, particles_in_trace):
    """Zero-valued tensors: one whose gradient is the score-function part of the objective's
    gradient, and the direct ``log q`` part to remove, for non-reparameterized sites.

    :returns: ``(score_term, direct_log_q)``; add ``-score_term`` to the surrogate loss and
        subtract ``kl_weight * direct_log_q`` (whose value is 0) to drop the zero-mean term.
    """
    cost = MultiFrameTensor()
    for name, site in model_trace.nodes.items():
        if site["type"] != "sample":
            continue
        if site["is_observed"]:
            cost.add((_stack(site), site["log_prob"].detach()))
        elif name in pairs:
            guide_site = pairs[name][1]
            term = site["log_prob"].detach() - guide_site["log_prob"].detach()
            cost.add((_stack(site), kl_weight * term))
    score_term, direct = 0.0, 0.0
    for _, guide_site in pairs.values():
        if guide_site["fn"].has_rsample:
            continue
        log_q = masked_log_prob(guide_site)
        score = log_q - log_q.detach()  # value 0, gradient ∇ log q (unscaled, masked)
        downstream = cost.sum_to(guide_site["cond_indep_stack"])
        score_term = score_term + (downstream * score).sum()
        direct = direct + (guide_site["log_prob_sum"] - guide_site["log_prob_sum"].detach())
    return score_term / particles_in_trace, direct / particles_in_trace


def has_score_function_sites(pairs) -> bool:
    """Whether any guide site of the (model site, guide site) ``pairs`` is not reparameterizable
    (its gradient needs a score-function term)."""
    return any(not guide_site["fn"].has_rsample for _, guide_site in pairs.values())
