r"""Importance weighted autoencoder bound (Burda, Grosse, Salakhutdinov, ICLR 2016).

.. math::
    \mathcal{L}_K(x) = E_{z_{1:K} \sim q(z|x)}\Big[\log \frac1K \sum_{k=1}^K
        \frac{p(x, z_k)}{q(z_k|x)}\Big] \le \log p(x)

per data point, in nats; the loss is :math:`-\frac{N}{B}\sum_{b=1}^B \mathcal{L}_K(x_b)`.

Why not ``pyro.infer.RenyiELBO(alpha=0)``: it forms the log-mean-exp over the *scaled*
log-weights, so under ``pyro.plate(..., subsample_size=B)`` the N/B factor lands inside the
logsumexp and the bound is wrong. Here the (K, B) log-weights are built from each site's
``unscaled_log_prob`` (with its ``poutine.mask`` applied: masked observations contribute 0) and
the scale N/B is applied after the log-mean-exp. Any other scale inside the data plate (a
``poutine.scale``) is refused with a ``ValueError``: it has no meaning inside a per-point bound.
"""

import torch

from ..ops import logmeanexp
from ..traces import latent_pairs, trace_log_weights
from ..traces.broadcast import explain_broadcast_failure
from ..traces.run import data_plate_scale
from ._objective import VAEObjective
from .iwae_gradients import check_gradient, iwae_surrogate
from .record import ObjectiveRecord


class IWAE(VAEObjective):
    """Negative IWAE bound with ``num_particles = K`` importance samples per data point.

    Every latent and observed site must be inside the data plate (the bound is per data point).
    ``K = 1`` is the ELBO. Particles are vectorized by default (one batched pass).

    :param gradient: ``"reparam"`` (default), ``"stl"`` or ``"dreg"`` (doubly reparameterized,
        Tucker et al. 2019): the guide's gradient estimator (:mod:`pyrovae.infer.iwae_gradients`);
        the bound's value and the model's gradient are the same for all three.
    """

    def __init__(
        self,
        num_particles: int = 5,
        vectorize_particles: bool = True,
        gradient: str = "reparam",
        **kwargs,
    ):
        super().__init__(
            num_particles=num_particles, vectorize_particles=vectorize_particles, **kwargs
        )
        self.gradient = check_gradient(gradient, type(self).__name__)

    #: the guide's draws must carry pathwise gradients (LiBI's frozen proposal needs none)
    requires_rsample = True

    def log_weights(self, model_trace, guide_trace):
        """Per-point log importance weights log p(x, z) − log q(z|x), shape (P, B), and N/B."""
        vectorized = self.vectorize_particles and self.num_particles > 1
        particle_dim = -self.max_plate_nesting if vectorized else None
        log_w = trace_log_weights(
            model_trace,
            guide_trace,
            particle_dim,
            self.plate_name,
            type(self).__name__,
            require_rsample=self.requires_rsample,
            alternative="pyrovae.infer.EvidenceLowerBound",
            stop_proposal_params=getattr(self, "gradient", "reparam") != "reparam",
        )
        return log_w, data_plate_scale(model_trace)

    def all_log_weights(self, model, proposal, args, kwargs, latent_values=None):
        """(K, B) log-weights of every particle, the data-plate scale N/B, and N; the guide's
        latent draws are appended to ``latent_values`` when a list is given."""
        weights, scale = [], 1.0
        for model_trace, guide_trace in self._get_traces(model, proposal, args, kwargs):
            log_w, scale = self.log_weights(model_trace, guide_trace)
            weights.append(log_w)
            if latent_values is not None:
                pairs = latent_pairs(model_trace, guide_trace, require_rsample=False)
                latent_values.extend(g["value"] for _, g in pairs.values())
        log_w = torch.cat(weights, 0)  # (K, B)
        if log_w.shape[0] != self.num_particles:  # a site had no particle dimension
            log_w = log_w.expand(self.num_particles, -1)
        num_data = log_w.shape[1] * (scale.item() if torch.is_tensor(scale) else scale)
        return log_w, scale, float(num_data)

    def _evaluate_adapted(self, model, guide, args, kwargs, kl_scale=1.0):
        latent_values = [] if self.gradient == "dreg" else None  # only DReG needs the draws

        def vectorized():
            return self.all_log_weights(model, guide, args, kwargs, latent_values)

        def one_particle():
            with torch.no_grad():
                self._get_trace(model, guide, args, kwargs)

        if self.vectorize_particles and self.num_particles > 1:
            name = type(self).__name__
            fix = f"{name}(num_particles={self.num_particles}, vectorize_particles=False)"
            log_w, scale, num_data = explain_broadcast_failure(vectorized, one_particle, name, fix)
        else:
            log_w, scale, num_data = vectorized()
        bound = (logmeanexp(log_w, 0) * scale).sum()
        elbo = (log_w.mean(0) * scale).sum()
        return ObjectiveRecord(
            loss=-bound.detach(),
            surrogate=iwae_surrogate(log_w, scale, self.gradient, latent_values),
            terms={"iwae_bound": bound.detach(), "elbo": elbo.detach()},
            num_data=num_data,
            extensive=self.extensive_terms,
        )

    def _particle(self, model_trace, guide_trace, kl_scale):  # pragma: no cover - overridden
        raise NotImplementedError
