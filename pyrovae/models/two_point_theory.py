r"""Exact objective values on InfoVAE's two-point data, in the Gaussian family of its Appendix.

Data x ∈ {−1, +1} with probability ½ each; encoder q(z|x=±1) = N(±c, s²); prior p(z) = N(0, 1);
a Gaussian decoder N(μ(z), σ²(z)). For a given encoder the best decoder is known in closed form:
μ(z) = E_q[x|z] = tanh(cz/s²) and, with a learned variance floored at ξ,
σ²(z) = max(ξ, Var_q[x|z]) (or σ² fixed). Per data point, in nats,

.. math::
    L(c, s) = -E_q \log p(x|z) + (1-\alpha)\,\mathrm{KL}(N(c, s^2) \,\|\, N(0, 1))
        + (\alpha + \lambda - 1)\,\mathrm{MMD}^2(q(z), p(z)),

with the aggregate :math:`q(z) = \tfrac12 N(c, s^2) + \tfrac12 N(-c, s^2)` and MMD² exact for
pyrovae's default kernel :math:`\exp(-(z-z')^2/2)` (RBF, bandwidth "dim"):
:math:`E\,k(a, b) = (1 + v)^{-1/2} \exp(-\Delta^2 / (2(1 + v)))` for independent Gaussians with
mean difference Δ and summed variance v. E_q log p(x|z) is integrated on a fine z grid.

The *collapsed* solution c = 0, s = 1 has q(z|x) = p(z), I(x; z) = 0, decoder N(0, 1) and
L = ½ log 2π + ½ ≈ 1.419 for every α and λ. Minimizing L over (c, s) gives the best
*informative* solution of the family; if its L is lower, a trained InfoVAE that collapses has
failed to optimize, not found the objective's optimum (Zhao et al. 2019, Prop. 1 and App. A).
"""

import math

import torch

LOG_2PI = math.log(2 * math.pi)
COLLAPSED = 0.5 * LOG_2PI + 0.5


def _expected_rbf(delta, variance):
    return (1.0 + variance) ** -0.5 * torch.exp(-(delta**2) / (2.0 * (1.0 + variance)))


def mixture_mmd2(c, s):
    """MMD²(½N(c, s²) + ½N(−c, s²), N(0, 1)) under exp(−(z − z')²/2), exactly."""
    v = s**2
    qq = 0.5 * (_expected_rbf(0.0 * c, 2 * v) + _expected_rbf(2 * c, 2 * v))
    qp = _expected_rbf(c, v + 1.0)
    pp = 3.0**-0.5
    return qq - 2 * qp + pp


def equal_mixture_mmd2(means, stds):
    """MMD²(q, N(0, 1)) for the equal-weight mixture q = (1/m) Σ N(means_i, stds_i²) of 1-D
    Gaussians, under exp(−(z − z')²/2), exactly: a trained q(z|x=±1) need not be symmetric."""
    means = torch.as_tensor(means, dtype=torch.float64)
    var = torch.as_tensor(stds, dtype=torch.float64) ** 2
    qq = _expected_rbf(means[:, None] - means[None, :], var[:, None] + var[None, :]).mean()
    qp = _expected_rbf(means, var + 1.0).mean()
    return (qq - 2 * qp + 3.0**-0.5).item()


def terms(c, s, min_variance=None, fixed_variance=None, grid_points=8001, bound=12.0):
    """E_q log p(x|z) with the best decoder, KL(q(z|x) ‖ p(z)), MMD²(q(z), p(z)), I_q(x; z)."""
    if (min_variance is None) == (fixed_variance is None):
        raise ValueError("give exactly one of min_variance (ξ, learned σ²) or fixed_variance")
    c = torch.as_tensor(c, dtype=torch.float64)
    s = torch.as_tensor(s, dtype=torch.float64)
    z = torch.linspace(-bound, bound, grid_points, dtype=torch.float64)
    dz = z[1] - z[0]
    log_q1 = -0.5 * ((z - c) / s) ** 2 - torch.log(s) - 0.5 * LOG_2PI
    log_q2 = -0.5 * ((z + c) / s) ** 2 - torch.log(s) - 0.5 * LOG_2PI
    q = 0.5 * (log_q1.exp() + log_q2.exp())  # the aggregate posterior's density
    logit = 2 * c * z / s**2  # log q(z|+1) − log q(z|−1)
    mean = torch.tanh(logit / 2)  # E_q[x | z]
    var = (1 - mean**2).clamp_min(0.0)  # Var_q[x | z]
    if fixed_variance is not None:
        sigma2 = torch.full_like(z, float(fixed_variance))
    else:
        sigma2 = var.clamp_min(float(min_variance))
    expected_log_lik = -0.5 * torch.log(2 * math.pi * sigma2) - var / (2 * sigma2)
    p1 = torch.sigmoid(logit)
    entropy = -(
        p1 * torch.log(p1.clamp_min(1e-300)) + (1 - p1) * torch.log((1 - p1).clamp_min(1e-300))
    )
    return {
        "log_likelihood": (q * expected_log_lik).sum() * dz,
        "kl": 0.5 * (c**2 + s**2 - 1.0 - torch.log(s**2)),
        "mmd2": mixture_mmd2(c, s),
        "mutual_information": math.log(2.0) - (q * entropy).sum() * dz,
    }


def objective(c, s, alpha, lam, **decoder):
    """L(c, s) per data point (see the module); ``decoder``: ``min_variance`` or
    ``fixed_variance``."""
    t = terms(c, s, **decoder)
    return -t["log_likelihood"] + (1 - alpha) * t["kl"] + (alpha + lam - 1) * t["mmd2"]


def best_informative(
    alpha, lam, starts=((0.9, 0.4), (0.6, 0.75), (2.0, 0.2), (0.3, 0.9)), **decoder
):
    """The lowest L over (c, s) (c > 0, s > 0) from several starts (L-BFGS on log c, log s)."""
    best = None
    for c0, s0 in starts:
        raw = torch.tensor([math.log(c0), math.log(s0)], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([raw], max_iter=300, line_search_fn="strong_wolfe")

        def closure(raw=raw, opt=opt):
            opt.zero_grad()
            value = objective(raw[0].exp(), raw[1].exp(), alpha, lam, **decoder)
            value.backward()
            return value

        opt.step(closure)
        with torch.no_grad():
            c, s = raw[0].exp().item(), raw[1].exp().item()
            value = objective(c, s, alpha, lam, **decoder).item()
        if math.isfinite(value) and (best is None or value < best["objective"]):
            best = {"objective": value, "c": c, "s": s}
    t = terms(best["c"], best["s"], **decoder)
    best.update({k: float(v) for k, v in t.items()})
    best["aggregate_variance"] = best["c"] ** 2 + best["s"] ** 2
    return best


def compare(alpha, lam, **decoder):
    """The collapsed and the best informative solution at (α, λ) and one decoder variance."""
    informative = best_informative(alpha, lam, **decoder)
    return {
        "alpha": alpha,
        "lam": lam,
        **{k: float(v) for k, v in decoder.items()},
        "collapsed_objective": COLLAPSED,
        "informative": informative,
        "informative_wins": informative["objective"] < COLLAPSED,
    }
