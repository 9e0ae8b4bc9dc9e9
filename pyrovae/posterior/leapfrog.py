r"""One vectorized leapfrog integrator and Metropolis correction, shared by :func:`ais` and
:func:`hmc`.

States are batched as (C, B, D): C chains for each of B data points. Every point has its own
step size ε_b and its own number of leapfrog steps L_b; a point whose trajectory is done is
frozen while the others finish. With momentum p ~ N(0, I) and H(u, p) = −log f(u) + ½|p|²,

.. math::
    p_{1/2} = p_0 + \tfrac{\varepsilon}{2}\nabla\log f(u_0),\quad
    u_{k+1} = u_k + \varepsilon\, p_{k+1/2},\quad
    p_{k+3/2} = p_{k+1/2} + \varepsilon\nabla\log f(u_{k+1})

with a half step for the last momentum update; the proposal is accepted with probability
min(1, exp(H_0 − H_L)) (Neal 2011, "MCMC using Hamiltonian dynamics", Sec. 5.2).
"""

import math

import torch


def leapfrog(density, position, momentum, start, step_size, num_steps):
    """Integrate from ``position`` (C, B, D) with ``momentum`` (C, B, D).

    :param density: ``density(u) -> (log_f, grad, *extras)``: log f (C, B), its gradient in u and
        any per-(chain, point) values to carry along (AIS carries log p and log r).
    :param start: ``(log_f, grad, *extras)`` at ``position``.
    :param step_size: ε per point, (B,).
    :param num_steps: leapfrog steps per point, (B,), each ≥ 1.
    :returns: ``(position, momentum, (log_f, grad, *extras))`` at the end of each trajectory.
    """
    eps = step_size.unsqueeze(-1)  # (B, 1): broadcast over chains and D
    u, at = position, list(start)
    p = momentum + 0.5 * eps * at[1]
    for i in range(int(num_steps.max())):
        active = (i < num_steps).unsqueeze(-1)  # (B, 1): points still moving
        u_next = u + eps * p
        values = density(u_next)
        last = (i + 1 >= num_steps).unsqueeze(-1)
        p_next = p + torch.where(last, 0.5, 1.0) * eps * values[1]
        u = torch.where(active, u_next, u)
        p = torch.where(active, p_next, p)
        at = [_keep(active, new, old) for new, old in zip(values, at, strict=True)]
    return u, p, tuple(at)


def _keep(active, new, old):
    """``new`` where the point is still moving, else ``old``; ``active`` is (B, 1)."""
    mask = active if new.dim() == active.dim() + 1 else active.squeeze(-1)
    return torch.where(mask, new, old)


def metropolis(log_f0, momentum0, log_f1, momentum1, position1, max_energy_error=math.inf):
    """Accept or reject every (chain, point) proposal.

    A transition is *divergent* when the proposal's energy or position is not finite, or the
    energy error exceeds ``max_energy_error``; divergent transitions are rejected. A current
    state of density 0 (log f = −inf: a start outside the support) accepts any finite proposal.

    :returns: ``(accept_prob, accept, divergent)``, each (C, B).
    """
    energy0 = log_f0 - 0.5 * momentum0.pow(2).sum(-1)
    energy1 = log_f1 - 0.5 * momentum1.pow(2).sum(-1)
    error = energy1 - energy0
    divergent = (
        ~torch.isfinite(energy1) | ~torch.isfinite(position1).all(-1) | (error < -max_energy_error)
    )
    error = torch.where(divergent, torch.full_like(error, -math.inf), error)
    accept_prob = error.clamp(max=0.0).exp()
    accept = torch.rand_like(accept_prob) < accept_prob
    return accept_prob, accept, divergent
