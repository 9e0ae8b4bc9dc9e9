r"""InfoVAE (Zhao, Song, Ermon, "InfoVAE: Balancing Learning and Inference in Variational
Autoencoders", AAAI 2019, Eq. 6).

Per data point, in nats,

.. math::
    \mathcal{L}(x) = -E_{q(z|x)}[\log p(x|z)] + (1 - \alpha)\,\mathrm{KL}(q(z|x) \,\|\, p(z))
        + (\alpha + \lambda - 1)\, D(q(z) \,\|\, p(z)),

where :math:`q(z) = E_{p_D(x)} q(z|x)` is the aggregate posterior. The loss returned is the sum
over the data set (Pyro's convention), so the divergence enters as :math:`N (\alpha+\lambda-1) D`,
N the data-set size the data plate declares; divide by N for nats per data point.

* :math:`\alpha = 0, \lambda = 1`: the ELBO (the loss equals ``Trace_ELBO``'s under the same seed,
  or ``TraceMeanField_ELBO``'s with ``analytic_kl=True``).
* :math:`\alpha = 1 - \beta, \lambda = \beta`: β-VAE (the divergence weight is 0).
* :math:`\alpha = 1`: the MMD-VAE / WAE-like objective with no per-point KL.

D is estimated across the minibatch: every data point's guide sample of the latent site(s) is
a sample of q(z) (with several vectorized particles, D is estimated per particle and averaged:
draws sharing an x are not independent samples of q(z)), compared with as many samples drawn from
the model's own prior at that site. D = "mmd" (kernel MMD), "stein" (the SVGD gradient of KL(q(z) ‖
p(z)), Appendix B) or "adversarial" (Jensen-Shannon with a discriminator).

How this differs from ``pyro.infer.Trace_MMD``: Trace_MMD flattens each particle's whole
minibatch into one vector and compares *particles* with prior draws, so with one particle it
has a single sample of q and no aggregate posterior at all; it also has no KL weight (1 − α).
Here the data points of the minibatch are the samples of q(z), as in the paper.

Discrete latents (the label y of the semi-supervised M2 model): D applies to the continuous
sites (``latent_sites``, by default every continuous latent in the data plate) and the rest of
the objective is the ELBO's, with y in the KL. A guide that enumerates y
(``config_enumerate``) gives the aggregate as a mixture, :math:`q(z) = E_x \sum_y q(y|x)\,
q(z|x, y)`: every point contributes its draw of z for each y, weighted by q(y|x), and D is the
exact expectation of its estimator over the choice of y (``mmd`` and ``adversarial``;
:func:`pyrovae.ops.weighted_mmd2`), so its gradient reaches q(y|x) through the weights. A
*sampled* discrete site would need a score-function term for D, which is not estimated: such a
guide is refused with a divergence weight > 0 (enumerate the site instead), and ``stein``
(a gradient through samples only) refuses enumerated sites.

Constraints: :math:`\lambda > 0`, :math:`\alpha \le 1` and :math:`\alpha + \lambda - 1 \ge 0`. A
negative divergence weight would *maximize* D(q(z) ‖ p(z)) -- pythae's default (α = 0, λ = 1e-3)
does exactly that.
"""

import math

from ..checks import check_weight
from ..traces import sites_in_plate
from ..traces.enumeration import enumerated_aggregate, enumerated_names, enumeration_weights
from ..traces.sites import aggregate_samples, prior_score
from ._objective import VAEObjective
from .divergences import DivergenceEstimate, make_divergence
from .elbo import check_stl
from .iwae_gradients import single_sample_stl
from .score_function import has_score_function_sites, score_function_surrogate


def _zero_valued(t):
    """A tensor with value 0 and the gradient of ``t``."""
    return t - t.detach()


def _mean_estimate(estimates):
    """The average of per-particle divergence estimates (each computed on
    one particle's B draws)."""
    if len(estimates) == 1:
        return estimates[0]
    n = len(estimates)
    auxiliary = [e.auxiliary for e in estimates if e.auxiliary is not None]
    return DivergenceEstimate(
        value=sum(e.value for e in estimates) / n,
        surrogate=sum(e.surrogate for e in estimates) / n,
        auxiliary=sum(auxiliary) / n if auxiliary else None,
    )


class InfoVAE(VAEObjective):
    """The InfoVAE objective as a ``pyro.infer.ELBO``.

    :param alpha: α ≤ 1; the KL term is weighted by 1 − α.
    :param lam: λ > 0; the divergence is weighted by α + λ − 1 ≥ 0.
    :param divergence: "mmd", "stein", "adversarial", or a divergence instance.
    :param latent_sites: names of the latent sites whose aggregate posterior is matched to the
        prior; default: every continuous latent site inside the data plate (discrete ones, such
        as an enumerated label, are left to the ELBO part).
    :param divergence_options: passed to the divergence, e.g. ``kernel="imq"``,
        ``bandwidth="infovae"`` for MMD.
    :param stl: sticking-the-landing gradient for the KL term (the guide's parameters stopped
        inside log q(z|x); see :class:`~pyrovae.infer.BetaVAE`); the loss is unchanged.
        ``gradient="stl"`` says the same ("reparam" is the default; "dreg" is IWAE's alone).
    """

    supports_score_function = True  # the ELBO part; the divergence refuses sampled discrete sites
    supports_enumeration = True

    def __init__(
        self,
        alpha: float = 0.0,
        lam: float = 1.0,
        divergence="mmd",
        latent_sites=None,
        num_particles=1,
        vectorize_particles=False,
        analytic_kl=False,
        plate_name=None,
        max_plate_nesting=float("inf"),
        stl=False,
        gradient=None,
        **divergence_options,
    ):
        super().__init__(
            num_particles=num_particles,
            vectorize_particles=vectorize_particles,
            analytic_kl=analytic_kl,
            plate_name=plate_name,
            max_plate_nesting=max_plate_nesting,
        )
        lam = check_weight("lam (λ)", lam, strict=True)
        alpha = check_weight("alpha (α)", alpha, minimum=-math.inf)
        if not alpha <= 1:
            raise ValueError(
                f"alpha (α) must be ≤ 1 (the KL weight 1 − α would be negative), got {alpha}"
            )
        if alpha + lam - 1 < 0:
            raise ValueError(
                f"alpha + lam - 1 = {alpha + lam - 1:g} < 0 would maximize the divergence "
                f"between q(z) "
                "and p(z); choose lam ≥ 1 − alpha (lam = 1 − alpha gives β-VAE with β = 1 − alpha)"
            )
        self.alpha, self.lam = float(alpha), float(lam)
        self.divergence_weight = self.alpha + self.lam - 1.0
        self.divergence = make_divergence(divergence, **divergence_options)
        self.latent_sites = None if latent_sites is None else list(latent_sites)
        stl = single_sample_stl(gradient, stl, type(self).__name__)
        self.stl = check_stl(stl, self.analytic_kl)

    @property
    def kl_weight(self):
        return 1.0 - self.alpha

    def reset(self):
        """Reset the divergence's own state (the adversarial discriminator), if it has any."""
        if hasattr(self.divergence, "reset"):
            self.divergence.reset()

    def _particle(self, model_trace, guide_trace, kl_scale=1.0):
        ll, kl, pairs = self._elbo_terms(model_trace, guide_trace)
        kl_weight = (1.0 - self.alpha) * kl_scale
        loss = -ll + kl_weight * kl
        surrogate = loss
        sampled_discrete = self._enum_nesting is None and has_score_function_sites(pairs)
        if sampled_discrete:
            score, direct = score_function_surrogate(
                model_trace, pairs, kl_weight, self._particles_in_trace()
            )
            surrogate = loss - score - kl_weight * direct
        terms = {"log_likelihood": ll, "kl": kl, "elbo": ll - kl}
        if self.divergence_weight > 0:
            names = self._divergence_sites(pairs)
            if sampled_discrete:
                discrete = [n for n, (_, g) in pairs.items() if not g["fn"].has_rsample]
                raise ValueError(
                    f"InfoVAE: guide sites {discrete} are sampled without a reparameterization, "
                    "and the divergence's gradient through them would need a score-function "
                    "term that InfoVAE does not estimate; enumerate them "
                    "(pyro.infer.config_enumerate(guide, 'parallel')), which InfoVAE sums "
                    "exactly, or use divergence weight 0 (alpha + lam = 1)"
                )
            est = self._divergence_estimate(pairs, names, guide_trace)
            weight = self.divergence_weight * self._num_data(model_trace)  # N (α + λ − 1)
            loss = loss + weight * est.value.detach()
            surrogate = surrogate + weight * _zero_valued(est.surrogate)
            if est.auxiliary is not None:
                surrogate = surrogate + _zero_valued(est.auxiliary)
                terms["discriminator_loss"] = est.auxiliary
            terms["divergence"] = est.value
        return loss, surrogate, terms

    def _divergence_sites(self, pairs):
        """``latent_sites``, checked to be continuous; or every continuous site in the plate."""
        if self.latent_sites is not None:
            discrete = [n for n in self.latent_sites if n in pairs and not _continuous(pairs[n][1])]
            if discrete:
                raise ValueError(
                    f"InfoVAE: latent_sites {discrete} are discrete; the divergence compares "
                    "continuous latents with their prior (a discrete label stays in the ELBO "
                    "part): name continuous sites only"
                )
            return self.latent_sites
        names = [n for n in sites_in_plate(pairs, self.plate_name) if _continuous(pairs[n][1])]
        if not names:
            raise ValueError(
                "InfoVAE found no continuous latent site inside the data plate to match to the "
                "prior"
            )
        return names

    def _divergence_estimate(self, pairs, names, guide_trace):
        if self._enum_nesting is None:
            groups = self._particles_in_trace()
            q, p = aggregate_samples(pairs, names, self.plate_name, groups)  # (P, B, D) each
            return _mean_estimate(
                [
                    self.divergence(q[g], p[g], prior_score(pairs, names, g, groups))
                    for g in range(groups)
                ]
            )
        if not getattr(self.divergence, "supports_weights", False):
            raise ValueError(
                f"InfoVAE: the divergence {getattr(self.divergence, 'name', self.divergence)!r} "
                "cannot take an aggregate posterior over enumerated discrete sites (it needs "
                "plain samples); use divergence='mmd' or 'adversarial' (both take the weights)"
            )
        weights = enumeration_weights(guide_trace, enumerated_names(guide_trace))
        q, w, p = enumerated_aggregate(pairs, names, weights, self._enum_nesting, self.plate_name)
        return self.divergence(q, p, None, weights=w)


def _continuous(guide_site):
    """A guide site of real support (reparameterized or not)."""
    return not guide_site["fn"].support.is_discrete
