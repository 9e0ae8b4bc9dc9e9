r"""β-VAE (Higgins et al., ICLR 2017) and the plain ELBO.

.. math::
    \mathcal{L}_\beta(x) = -E_{q(z|x)}[\log p(x|z)] + \beta\,\mathrm{KL}(q(z|x) \,\|\, p(z))

in nats per data point; the returned loss is its sum over the data set (Pyro's convention).
:math:`\beta = 1` is the negative ELBO (Kingma & Welling 2014). It is also InfoVAE with
:math:`\alpha = 1 - \beta`, :math:`\lambda = \beta` (divergence weight
:math:`\alpha + \lambda - 1 = 0`).

Why a class: scaling the model with ``poutine.scale(scale=β)`` also scales log p(x|z) and gives
a different, wrong objective; the weight must act on the KL alone.

Options that change the gradient, not the bound (see each class): ``free_bits=λ`` (Kingma et al.
2016, :mod:`pyrovae.infer.free_bits`) and ``stl=True`` ("sticking the landing", Roeder, Wu,
Duvenaud 2017): with the Monte Carlo KL, :math:`-\log q_\phi(z|x)` is evaluated with φ
detached, so its gradient flows only through :math:`z = \mu_\phi(x) + \sigma_\phi(x)\epsilon`.
The dropped term, the score :math:`E_q[\nabla_\phi \log q_\phi(z|x)] = 0`, has mean zero, so
the gradient stays unbiased; at an exact posterior the path gradient is zero for every ε.
"""

import warnings

from ..checks import check_weight
from ..traces import sites_in_plate
from ..traces.sites import kl_term
from ._objective import VAEObjective
from .free_bits import free_bits_kl, site_kl_per_dimension
from .iwae_gradients import single_sample_stl
from .score_function import has_score_function_sites, score_function_surrogate


def check_stl(stl, analytic_kl):
    """``stl`` as a bool; ``ValueError`` when combined with the closed-form KL (no log q at a
    sample, so no score term to stop)."""
    if stl and analytic_kl:
        raise ValueError(
            "stl=True stops the score term of the sampled log q(z|x); analytic_kl=True has no such "
            "term (its gradient is exact). Choose one of them."
        )
    return bool(stl)


class BetaVAE(VAEObjective):
    """Negative ELBO with the KL term weighted by ``beta`` ≥ 0.

    With ``analytic_kl=False`` (default) the loss equals ``pyro.infer.Trace_ELBO`` at ``beta=1``
    under the same seed; with ``analytic_kl=True`` it equals ``TraceMeanField_ELBO``.

    Guide sites without ``rsample`` (discrete or non-reparameterized latents) get the
    score-function gradient (:mod:`pyrovae.infer.score_function`), as in ``Trace_ELBO``; their
    gradients are noisier, so use more particles (``num_particles``) or a smaller learning rate.

    :param free_bits: λ ≥ 0 nats per latent dimension: the KL of each dimension of the latent
        sites in the data plate, averaged over the minibatch, is clamped below at λ in the loss
        (:mod:`pyrovae.infer.free_bits`); the recorded ``kl`` and ``elbo`` stay the true ones.
    :param stl: sticking-the-landing gradient (path derivative only); the loss is unchanged.
    :param gradient: the same choice by name, as IWAE takes it: ``"reparam"`` or ``"stl"``.
    """

    supports_score_function = True
    supports_enumeration = True

    def __init__(
        self,
        beta: float = 1.0,
        free_bits: float = 0.0,
        stl: bool = False,
        gradient: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.beta = check_weight("beta (the KL weight; negative rewards divergence)", beta)
        self.free_bits = check_weight("free_bits (nats per latent dimension)", free_bits)
        stl = single_sample_stl(gradient, stl, type(self).__name__)
        self.stl = check_stl(stl, self.analytic_kl)

    @property
    def kl_weight(self):
        return self.beta

    def _particle(self, model_trace, guide_trace, kl_scale=1.0):
        ll, kl, pairs = self._elbo_terms(model_trace, guide_trace)
        weight = self.beta * kl_scale
        kl_in_loss = kl
        if self.free_bits > 0:
            kl_in_loss = self._free_bits_kl(model_trace, pairs)
        loss = -ll + weight * kl_in_loss
        surrogate = loss
        if self._enum_nesting is None and has_score_function_sites(pairs):
            score, direct = score_function_surrogate(
                model_trace, pairs, weight, self._particles_in_trace()
            )
            surrogate = loss - score - weight * direct
        return loss, surrogate, {"log_likelihood": ll, "kl": kl, "elbo": ll - kl}

    def _free_bits_kl(self, model_trace, pairs):
        """The KL with each local dimension's minibatch-average clamped at ``free_bits``; global
        latents (outside the data plate) keep their KL."""
        names = sites_in_plate(pairs, self.plate_name)
        if not names:
            raise ValueError(
                "free_bits clamps the KL of local latents (sites inside the data plate), and "
                "this model has none; use free_bits=0"
            )
        per = self._particles_in_trace()
        dims = site_kl_per_dimension(pairs, names, self.analytic_kl, self.stl, per)  # (D,)
        global_pairs = {k: v for k, v in pairs.items() if k not in names}
        kl_global = kl_term(global_pairs, self.analytic_kl, self.stl) / per if global_pairs else 0.0
        return kl_global + free_bits_kl(dims, self.free_bits, self._num_data(model_trace))


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
