r"""LiBI stage 1 — "likelihood before inference" (Yacoby, Pan, Doshi-Velez, "Characterizing and
avoiding problematic global optima of variational autoencoders", AABI 2019 / arXiv 2003.07756).

The ELBO :math:`\log p_\theta(x) - \mathrm{KL}(q(z|x) \,\|\, p_\theta(z|x))` can prefer a decoder
that explains the data *worse* if its posteriors are easier for q to fit. LiBI first fits θ by
maximizing an estimate of the marginal likelihood itself, with no variational family:

.. math::
    \log\hat p_\theta(x) = \log\frac1K\sum_{k=1}^K \frac{p_\theta(x, z_k)}{r(z_k)},
    \qquad z_k \sim r(z),

with the prior as proposal r by default (adequate for dim z ≤ 3), or a fixed, non-trainable
proposal. Per data point, in nats; the loss is :math:`-\frac{N}{B}\sum_b \log\hat p_\theta(x_b)`.
The estimator is a stochastic lower bound, :math:`E[\log\hat p] \le \log p(x)`, that tightens as K
grows (it is the IWAE bound with proposal r). Gradients reach θ only: the proposal's draws and
densities are computed without gradient. Stage 2 (inference with θ fixed) is
:func:`pyrovae.infer.libi_fit` or any reference posterior of :mod:`pyrovae.posterior`.
"""

from ..checks import check_count
from ..ops import logmeanexp
from ..traces import frozen_proposal, prior_proposal
from .iwae import IWAE
from .record import ObjectiveRecord


class LiBI(IWAE):
    """−log p̂_θ(x) with ``num_samples`` draws of a fixed proposal; the ``guide`` argument of
    ``loss`` / ``loss_and_grads`` is ignored (it does not enter stage 1).

    :param proposal: ``None`` (the model's prior) or a guide-like callable ``proposal(x, num_data)``
        sampling the latent sites; its parameters get no gradient.
    """

    def __init__(
        self, num_samples=500, proposal=None, plate_name=None, max_plate_nesting=float("inf")
    ):
        super().__init__(
            num_particles=check_count("num_samples", num_samples),
            vectorize_particles=True,
            plate_name=plate_name,
            max_plate_nesting=max_plate_nesting,
        )
        self.proposal = proposal

    requires_rsample = False  # the proposal is fixed: no gradient flows through its draws

    def _evaluate_adapted(self, model, guide, args, kwargs, kl_scale=1.0):
        proposal = (
            prior_proposal(model) if self.proposal is None else frozen_proposal(self.proposal)
        )
        log_w, scale, num_data = self.all_log_weights(model, proposal, args, kwargs)  # (K, B)
        log_p = (logmeanexp(log_w, 0) * scale).sum()
        return ObjectiveRecord(
            loss=-log_p.detach(),
            surrogate=-log_p,
            terms={"log_marginal": log_p.detach()},
            num_data=num_data,
            extensive=self.extensive_terms,
        )

    extensive_terms = frozenset({"loss", "log_marginal"})
