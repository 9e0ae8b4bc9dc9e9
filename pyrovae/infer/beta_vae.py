r"""β-VAE (Higgins et al., ICLR 2017) and the plain ELBO.

.. math::
    \mathcal{L}_\beta(x) = -E_{q(z|x)}[\log p(x|z)] + \beta\,\mathrm{KL}(q(z|x) \,\|\, p(z))

in nats per data point; the returned loss is its sum over the data set (Pyro's convention).
:math:`\beta = 1` is the negative ELBO (Kingma & Welling 2014). It is also InfoVAE with
:math:`\alpha = 1 - \beta`, :math:`\lambda = \beta` (divergence weight :math:`\alpha + \lambda - 1 = 0`).

Why a class: scaling the model with ``poutine.scale(scale=β)`` also scales log p(x|z) and gives
a different, wrong objective; the weight must act on the KL alone.
"""

from ._objective import VAEObjective


class BetaVAE(VAEObjective):
    """Negative ELBO with the KL term weighted by ``beta`` ≥ 0.

    With ``analytic_kl=False`` (default) the loss equals ``pyro.infer.Trace_ELBO`` at ``beta=1``
    under the same seed; with ``analytic_kl=True`` it equals ``TraceMeanField_ELBO``.
    """

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if not beta >= 0:
            raise ValueError(f"beta must be ≥ 0 (a negative KL weight rewards divergence), got {beta}")
        self.beta = float(beta)

    def _particle(self, model_trace, guide_trace):
        ll, kl, _ = self._elbo_terms(model_trace, guide_trace)
        loss = -ll + self.beta * kl
        return loss, loss, {"log_likelihood": ll, "kl": kl, "elbo": ll - kl}


class ELBO(BetaVAE):
    """The negative evidence lower bound, −E_q log p(x|z) + KL(q(z|x) ‖ p(z)), with per-term records."""

    def __init__(self, **kwargs):
        super().__init__(beta=1.0, **kwargs)
