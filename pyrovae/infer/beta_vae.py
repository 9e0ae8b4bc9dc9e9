r"""β-VAE (Higgins et al., ICLR 2017) and the plain ELBO.

.. math::
    \mathcal{L}_\beta(x) = -E_{q(z|x)}[\log p(x|z)] + \beta\,\mathrm{KL}(q(z|x) \,\|\, p(z))

in nats per data point; the returned loss is its sum over the data set (Pyro's convention).
:math:`\beta = 1` is the negative ELBO (Kingma & Welling 2014). It is also InfoVAE with
:math:`\alpha = 1 - \beta`, :math:`\lambda = \beta` (divergence weight
:math:`\alpha + \lambda - 1 = 0`).

Why a class: scaling the model with ``poutine.scale(scale=β)`` also scales log p(x|z) and gives
a different, wrong objective; the weight must act on the KL alone.
"""

import warnings

from ..arguments import check_weight
from ._objective import VAEObjective
from .score_function import has_score_function_sites, score_function_surrogate


class BetaVAE(VAEObjective):
    """Negative ELBO with the KL term weighted by ``beta`` ≥ 0.

    With ``analytic_kl=False`` (default) the loss equals ``pyro.infer.Trace_ELBO`` at ``beta=1``
    under the same seed; with ``analytic_kl=True`` it equals ``TraceMeanField_ELBO``.

    Guide sites without ``rsample`` (discrete or non-reparameterized latents) get the
    score-function gradient (:mod:`pyrovae.infer.score_function`), as in ``Trace_ELBO``; their
    gradients are noisier, so use more particles (``num_particles``) or a smaller learning rate.
    """

    supports_score_function = True

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_weight("beta (the KL weight; negative rewards divergence)", beta)

    def _particle(self, model_trace, guide_trace):
        ll, kl, pairs = self._elbo_terms(model_trace, guide_trace)
        loss = -ll + self.beta * kl
        surrogate = loss
        if has_score_function_sites(pairs):
            score, direct = score_function_surrogate(
                model_trace, pairs, self.beta, self._particles_in_trace()
            )
            surrogate = loss - score - self.beta * direct
        return loss, surrogate, {"log_likelihood": ll, "kl": kl, "elbo": ll - kl}


class EvidenceLowerBound(BetaVAE):
    """The negative evidence lower bound, −E_q log p(x|z) + KL(q(z|x) ‖ p(z)), with per-term
    records (nats summed over the data set). ``pyrovae.infer.ELBO`` is its deprecated old name
    (it shadowed ``pyro.infer.ELBO``, the base class of every Pyro objective)."""

    def __init__(self, **kwargs):
        super().__init__(beta=1.0, **kwargs)


class ELBO(EvidenceLowerBound):
    """Deprecated alias of :class:`EvidenceLowerBound` (the name shadows ``pyro.infer.ELBO``)."""

    def __init__(self, **kwargs):
        warnings.warn(
            "pyrovae.infer.ELBO is renamed EvidenceLowerBound (ELBO shadowed pyro.infer.ELBO); "
            "the old name will be removed in a later release",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(**kwargs)
