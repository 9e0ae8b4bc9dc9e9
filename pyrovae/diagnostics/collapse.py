r"""Posterior collapse: which latent dimensions carry information about x.

* KL per dimension, :math:`\mathrm{KL}(q(z_i|x) \,\|\, N(0, 1)) = \tfrac12(\mu_i^2 + \sigma_i^2 - 1
  - \log\sigma_i^2)`, per data point.
* Active units (Burda, Grosse, Salakhutdinov 2016, Sec. 5.2): dimension i is active when
  :math:`\mathrm{Cov}_x(E_{q(z|x)}[z_i]) > 0.01`.
* (ε, δ)-collapse (Lucas, Tucker, Grosse, Norouzi 2019, Def. 1): dimension i is collapsed when
  :math:`\mathrm{KL}(q(z_i|x) \,\|\, p(z_i)) < \varepsilon` for at least a
  fraction 1 − δ of the data.
"""

import torch


def kl_per_dimension(loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(N(loc, scale²) ‖ N(0, 1)) per data point and dimension, (B, D), nats."""
    var = scale**2
    return 0.5 * (loc**2 + var - 1.0 - torch.log(var))


def active_units(loc: torch.Tensor, threshold: float = 0.01) -> dict:
    """Burda et al.'s activity statistic per dimension and the number of active units."""
    activity = loc.var(0, unbiased=True)  # (D,)
    return {
        "activity": activity,
        "active": activity > threshold,
        "num_active": int((activity > threshold).sum()),
    }


def collapsed_dimensions(kl: torch.Tensor, epsilon: float = 0.01, delta: float = 0.01) -> dict:
    """(ε, δ)-collapse of Lucas et al. from per-point, per-dimension KLs (B, D).

    Returns the boolean mask of collapsed dimensions, their number and fraction, and for each
    dimension the fraction of data points with KL < ε.
    """
    if not 0 <= delta < 1 or epsilon <= 0:
        raise ValueError("need epsilon > 0 and 0 ≤ delta < 1")
    below = (kl < epsilon).float().mean(0)  # (D,)
    collapsed = below >= 1.0 - delta
    return {
        "fraction_below_epsilon": below,
        "collapsed": collapsed,
        "num_collapsed": int(collapsed.sum()),
        "collapsed_fraction": collapsed.float().mean().item(),
    }
