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

Constraints: :math:`\lambda > 0`, :math:`\alpha \le 1` and :math:`\alpha + \lambda - 1 \ge 0`. A
negative divergence weight would *maximize* D(q(z) ‖ p(z)) -- pythae's default (α = 0, λ = 1e-3)
does exactly that.
"""

import math

from ..arguments import check_weight
from ..traces import sites_in_plate
from ..traces.sites import aggregate_samples, prior_score
from ._objective import VAEObjective
from .beta_vae import check_stl
from .divergences import DivergenceEstimate, make_divergence
from .iwae_gradients import single_sample_stl


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
        prior; default: every latent site inside the data plate.
    :param divergence_options: passed to the divergence, e.g. ``kernel="imq"``,
        ``bandwidth="infovae"`` for MMD.
    :param stl: sticking-the-landing gradient for the KL term (the guide's parameters stopped
        inside log q(z|x); see :class:`~pyrovae.infer.BetaVAE`); the loss is unchanged.
        ``gradient="stl"`` says the same ("reparam" is the default; "dreg" is IWAE's alone).
    """

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
        loss = -ll + (1.0 - self.alpha) * kl_scale * kl
        surrogate = loss
        terms = {"log_likelihood": ll, "kl": kl, "elbo": ll - kl}
        if self.divergence_weight > 0:
            names = self.latent_sites or sites_in_plate(pairs, self.plate_name)
            if not names:
                raise ValueError(
                    "InfoVAE found no latent site inside the data plate to match to the prior"
                )
            groups = self._particles_in_trace()
            q, p = aggregate_samples(pairs, names, self.plate_name, groups)  # (P, B, D) each
            est = _mean_estimate(
                [
                    self.divergence(q[g], p[g], prior_score(pairs, names, g, groups))
                    for g in range(groups)
                ]
            )
            weight = self.divergence_weight * self._num_data(model_trace)  # N (α + λ − 1)
            loss = loss + weight * est.value.detach()
            surrogate = loss + weight * _zero_valued(est.surrogate)
            if est.auxiliary is not None:
                surrogate = surrogate + _zero_valued(est.auxiliary)
                terms["discriminator_loss"] = est.auxiliary
            terms["divergence"] = est.value
        return loss, surrogate, terms
