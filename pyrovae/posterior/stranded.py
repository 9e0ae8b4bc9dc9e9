r"""Stranded chains: a chain caught in a mode that holds almost none of the posterior's mass.

HMC cannot cross a wide region of low density, so a chain that starts (or wanders during
warm-up) into a minor mode stays there. Its draws then bias every moment, and R-hat flags the
point without saying why. What tells a stranded chain from one in a mode of real weight is the
*mass* of the mode it samples, which each chain estimates from its own draws by the identity
behind the ELBO,

.. math::

    \log Z_c \;\ge\; \mathbb{E}_{q_c}[\log p(x, z)] + \mathbb{H}[q_c],

with equality when :math:`q_c`, the distribution of chain c's draws, is the posterior restricted
to its mode. Here :math:`\mathbb{E}_{q_c}[\log p]` is the mean log density of the chain's draws
and :math:`\mathbb{H}[q_c]` the entropy of a diagonal Gaussian with their variances,
:math:`\tfrac12\sum_d \log(2\pi e\,\mathrm{var}_d)`. For Gaussian modes this is exact in the
mean log density and a slight over-estimate of the entropy for correlated modes; it is a
screening statistic, not an evidence estimate. Chains whose log mass is below the heaviest
chain's by more than ``log(1 / mass_ratio)`` are *stranded*.
"""

import math

import torch


def chain_log_mass(z, log_density):
    """log Ẑ_c per (chain, point) from draws ``z`` (C, n, B, D) and their log densities
    log p(x, z) (C, n, B): the mean log density plus the entropy of a diagonal Gaussian with the
    chain's variances (see the module docstring). A chain with < 2 draws or a non-finite mean
    gets −inf."""
    if z.shape[1] < 2:
        return torch.full(z.shape[:1] + z.shape[2:3], -math.inf, dtype=z.dtype, device=z.device)
    var = z.var(1).clamp_min(torch.finfo(z.dtype).tiny)  # (C, B, D)
    entropy = 0.5 * torch.log(2 * math.pi * math.e * var).sum(-1)
    log_mass = log_density.mean(1) + entropy
    return torch.where(torch.isfinite(log_mass), log_mass, torch.full_like(log_mass, -math.inf))


def stranded(log_mass, mass_ratio):
    """(C, B) boolean: chains whose estimated mode mass is below ``mass_ratio`` times the
    heaviest chain's at the same point."""
    best = log_mass.max(0).values
    return log_mass < best + math.log(mass_ratio)


def restart_from_others(state, is_stranded, generator=None):
    """Move every stranded chain to the current state of a chain of the same point that is
    not stranded, drawn uniformly; ``state`` is a tuple of tensors with (C, B) leading dims."""
    if not is_stranded.any():
        return state
    keep = (~is_stranded).to(state[0].dtype)  # (C, B)
    chains = keep.shape[0]
    donors = torch.multinomial(keep.T, chains, replacement=True, generator=generator).T  # (C, B)
    donors = torch.where(is_stranded, donors, torch.arange(chains, device=donors.device)[:, None])
    moved = []
    for part in state:
        index = donors.reshape(donors.shape + (1,) * (part.dim() - 2)).expand_as(part)
        moved.append(part.gather(0, index))
    return tuple(moved)
