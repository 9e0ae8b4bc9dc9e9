r"""The generative model's log-likelihood by importance sampling, with error bars, and the gaps
between it and the variational bounds.

* :func:`log_likelihood`: :math:`\frac1B\sum_b \log\hat p(x_b)` with the guide as proposal
  (K samples per point, the IWAE-K estimator, e.g. K = 5000 as in Burda et al. 2016) and its
  standard error :math:`\sqrt{\sum_b \mathrm{se}_b^2}/B` over the Monte Carlo noise.
* :func:`variational_gap`: :math:`\log p(x) - \mathrm{ELBO}(x) = \mathrm{KL}(q(z|x) \,\|\, p(z|x))`
  per point, both terms from the same weights (the ELBO as the mean log-weight). Because
  :math:`\log\hat p` is biased low, so is this gap; the bias shrinks as K grows.
* :func:`inference_gaps`: the Cremer et al. (2018) split of the gap into approximation and
  amortization parts, with :math:`q^*` a per-point Gaussian fitted to the fixed decoder.
"""

import math

import torch

from ..infer.per_point_fit import fit_per_point_guide
from ..posterior import ais, importance

METHODS = ("is", "ais")


def log_likelihood(model, guide, x, num_samples=1000, method="is", **options) -> dict:
    """Mean log p(x) per data point with its standard error, and the per-point estimates.

    :param method: ``"is"``: importance sampling with the guide as proposal, K = ``num_samples``
        (:func:`pyrovae.posterior.importance`; ``khat_max`` says whether to trust it: > 0.7 not);
        ``"ais"``: annealed importance sampling from the guide (:func:`pyrovae.posterior.ais`;
        ``options`` such as ``num_steps``, ``num_chains``; ``num_samples`` is not used), for models
        where the guide is a poor proposal.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    b = x.shape[0]
    if method == "ais":
        res = ais(model, x, guide=guide, **options)
        extra = {
            "acceptance": res.acceptance.mean().item(),
            "divergences": int(res.divergences.sum()),
        }
    else:
        res = importance(model, guide, x, num_samples=num_samples, **options)
        extra = {"khat_max": res.khat.max().item()}
    return {
        "method": method,
        "log_likelihood": res.log_marginal.mean().item(),
        "stderr": (res.stderr.pow(2).sum().sqrt() / b).item(),
        "per_point": res.log_marginal,
        "per_point_stderr": res.stderr,
        **extra,
        "result": res,
    }


def variational_gap(model, guide, x, num_samples=1000, **importance_options) -> dict:
    """Per-point ELBO, log p̂(x) and their difference (= KL(q(z|x) ‖ p(z|x)) up to IS bias)."""
    res = importance(model, guide, x, num_samples=num_samples, **importance_options)
    gap = res.log_marginal - res.elbo
    return {
        "elbo": res.elbo,
        "log_marginal": res.log_marginal,
        "gap": gap,
        "mean_gap": gap.mean().item(),
        "result": res,
    }


def inference_gaps(model, guide, x, num_samples=1000, steps=500, lr=0.05, seed=0) -> dict:
    """Amortization and approximation gaps per data point (Cremer, Li, Duvenaud 2018).

    L[q] comes from importance sampling with the amortized guide; L[q*] from the per-point
    Gaussian fitted to the same decoder, initialized at the amortized guide. log p̂(x) pools the
    K weights of both runs into one estimate, log((K p̂_q + K p̂_q*) / 2K): each p̂ is unbiased,
    so their average is too. (The pointwise maximum of two noisy log p̂ would be biased upward,
    by about 0.56 standard errors when the two are alike.)
    """
    amortized = importance(model, guide, x, num_samples=num_samples, seed=seed)
    q_star = fit_per_point_guide(model, x, init_guide=guide, steps=steps, lr=lr, seed=seed)
    optimal = importance(
        model, q_star.guide, x, num_samples=num_samples, seed=seed + 1, batch_size=x.shape[0]
    )  # a per-point guide answers for its whole set only
    # p̂ = (Σ_k w_k + Σ_k w*_k) / 2K: the two runs' weights as one sample of 2K
    log_p = torch.logaddexp(amortized.log_marginal, optimal.log_marginal) - math.log(2.0)
    return {
        "elbo_amortized": amortized.elbo,
        "elbo_optimal": optimal.elbo,
        "log_marginal": log_p,
        "amortization_gap": optimal.elbo - amortized.elbo,
        "approximation_gap": log_p - optimal.elbo,
        "mean_amortization_gap": (optimal.elbo - amortized.elbo).mean().item(),
        "mean_approximation_gap": (log_p - optimal.elbo).mean().item(),
        "per_point_guide": q_star,
    }
