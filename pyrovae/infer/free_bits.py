r"""Free bits (Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling, "Improved variational
inference with inverse autoregressive flow", NeurIPS 2016, Eq. 15).

The KL term of the loss is replaced, per latent dimension j, by

.. math::
    \sum_j \max\big(\lambda,\ E_{x \in \mathcal{M}}[\mathrm{KL}(q(z_j|x) \,\|\, p(z_j))]\big)

(times N: the loss is a data-set sum), the KL averaged over the minibatch :math:`\mathcal{M}`
clamped below at λ nats. A dimension whose average KL is under λ gets no gradient from the KL
term, so the optimizer is not pushed to collapse it onto the prior. The clamp applies to the
*loss*; the reported ``kl`` and ``elbo`` stay the true ones.

Dimensions are the elements of each latent site's event (a site drawn from
``Normal(loc, scale).to_event(1)`` has ``z_dim`` of them); the family must factorize over them.
"""

import math

import torch
from pyro.distributions.util import detach


def _factors(dist, name):
    """The univariate distribution under ``Independent`` wrappers (log_prob per element)."""
    base = dist
    while isinstance(base, torch.distributions.Independent):
        base = base.base_dist
    if base.event_shape != ():
        raise ValueError(
            f"free_bits needs the KL per latent dimension, but site {name!r} uses "
            f"{type(base).__name__} with event shape {tuple(base.event_shape)}, which does not "
            "factorize over dimensions; use a factorized family (e.g. Normal(...).to_event(1)) or "
            "free_bits=0"
        )
    return base


def _expand_batch(t, shape, event_dim):
    """A per-point mask or scale, shaped like the site's batch, broadcast to its value's shape."""
    if not torch.is_tensor(t):
        return t
    return t.reshape(t.shape + (1,) * event_dim).expand(shape) if t.dim() else t


def site_kl_per_dimension(pairs, names, analytic, stop, particles_in_trace):
    """KL(q ‖ p) per latent dimension of the sites ``names``, each summed over the data set (the
    minibatch sum scaled by N / B, masked points excluded), concatenated: shape (D,).

    :param analytic: closed-form KL per dimension where registered, else log q − log p.
    :param stop: log q with the guide's parameters detached (STL) at reparameterized sites.
    """
    parts = []
    for name in names:
        model_site, guide_site = pairs[name]
        q = _factors(guide_site["fn"], name)
        p = _factors(model_site["fn"], name)
        z = guide_site["value"]
        kl = None
        if analytic:
            try:
                kl = torch.distributions.kl_divergence(q, p)
            except NotImplementedError:
                kl = None
        if kl is None:
            # STL: log q with the guide's parameters detached (gradient only through z)
            stopped = stop and q.has_rsample
            log_q = (_factors(detach(guide_site["fn"]), name) if stopped else q).log_prob(z)
            kl = log_q - p.log_prob(z)
        kl = kl.expand(z.shape)
        event_dim = guide_site["fn"].event_dim
        mask = guide_site["mask"]
        if mask is not None and not isinstance(mask, bool):
            kl = torch.where(_expand_batch(mask, z.shape, event_dim), kl, kl.new_zeros(()))
        elif mask is False:
            kl = torch.zeros_like(kl)
        kl = kl * _expand_batch(guide_site["scale"], z.shape, event_dim)
        width = math.prod(z.shape[z.dim() - event_dim :])
        parts.append(kl.reshape(-1, width).sum(0) / particles_in_trace)  # (D_site,)
    return torch.cat(parts)


def free_bits_kl(kl_dims, free_bits, num_data):
    r""":math:`\sum_j \max(N\lambda, \mathrm{KL}_j)` for data-set-summed KLs per dimension."""
    return torch.clamp(kl_dims, min=free_bits * num_data).sum()
