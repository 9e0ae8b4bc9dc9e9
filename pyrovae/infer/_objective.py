"""Base class of the pyrovae objectives: one place for particles, terms and backward."""

import math
import warnings

import torch
from pyro.infer import ELBO
from pyro.infer.util import is_validation_enabled

from ..arguments import check_count
from ..models.contract import DATA_PLATE
from ..traces import latent_pairs, run_traces
from ..traces.sites import kl_term, num_data_points, observed_log_likelihood

EXTENSIVE_TERMS = frozenset({"loss", "log_likelihood", "kl", "elbo", "iwae_bound"})


class VAEObjective(ELBO):
    """Shared machinery; subclasses implement :meth:`_particle`.

    All losses are in nats, summed over the data set as in Pyro (with a subsampled data plate,
    the minibatch sum is scaled by N / B); divide by N for nats per data point.
    After each call, ``self.last_terms`` holds detached per-term tensors of the same units
    (``log_likelihood`` = E_q log p(x|z), ``kl`` = KL(q(z|x) ‖ p(z)), ``elbo``, objective-specific
    terms) and ``num_data`` = N (a float), which :func:`pyrovae.infer.train` records;
    ``extensive_terms`` names the ones that are sums over the data set.

    :param analytic_kl: use the closed-form KL(q ‖ p) where one is registered (as
        ``TraceMeanField_ELBO``) instead of the single-sample estimate log q(z) − log
        p(z) (as ``Trace_ELBO``).
    """

    def __init__(
        self,
        num_particles=1,
        max_plate_nesting=float("inf"),
        vectorize_particles=False,
        analytic_kl=False,
        plate_name=DATA_PLATE,
    ):
        super().__init__(
            num_particles=check_count("num_particles", num_particles),
            max_plate_nesting=max_plate_nesting,
            vectorize_particles=vectorize_particles,
        )
        self.analytic_kl = bool(analytic_kl)
        self.plate_name = plate_name
        self.last_terms = {}

    extensive_terms = EXTENSIVE_TERMS
    #: whether guide sites without ``rsample`` are allowed (score-function gradients)
    supports_score_function = False
    #: the objective named in the error for non-reparameterized guide sites
    score_function_alternative = "pyrovae.infer.EvidenceLowerBound or pyrovae.infer.BetaVAE"

    # ----- per-trace decomposition ----------------------------------------------------------
    def _get_trace(self, model, guide, args, kwargs):
        return run_traces(model, guide, args, kwargs, self.max_plate_nesting)

    def _particles_in_trace(self):
        return self.num_particles if self.vectorize_particles else 1

    def _elbo_terms(self, model_trace, guide_trace):
        """E log p(x|z), KL and the latent site pairs, per particle."""
        pairs = latent_pairs(
            model_trace,
            guide_trace,
            require_rsample=not self.supports_score_function,
            alternative=self.score_function_alternative,
        )
        per = self._particles_in_trace()
        ll = observed_log_likelihood(model_trace) / per
        kl = kl_term(pairs, self.analytic_kl) / per
        return ll, kl, pairs

    def _num_data(self, model_trace):
        for site in model_trace.nodes.values():
            if site["type"] == "sample" and site["is_observed"]:
                try:
                    return num_data_points(site, self.plate_name)
                except ValueError:
                    continue
        return float("nan")

    def _particle(self, model_trace, guide_trace):
        """Return (loss, differentiable surrogate, terms) for one trace (see subclasses)."""
        raise NotImplementedError

    # ----- the pyro.infer.ELBO interface ----------------------------------------------------
    def _evaluate(self, model, guide, args, kwargs):
        traces = list(self._get_traces(model, guide, args, kwargs))
        weight = 1.0 / len(traces)
        loss, surrogate, terms = 0.0, 0.0, {}
        for model_trace, guide_trace in traces:
            l_, s_, t_ = self._particle(model_trace, guide_trace)
            loss, surrogate = loss + l_ * weight, surrogate + s_ * weight
            for k, v in t_.items():
                terms[k] = (
                    terms.get(k, 0.0)
                    + (v.detach() if torch.is_tensor(v) else torch.as_tensor(v)) * weight
                )
        terms["loss"] = torch.as_tensor(loss).detach()
        terms["num_data"] = self._num_data(traces[0][0])
        self.last_terms = terms
        return torch.as_tensor(loss), torch.as_tensor(surrogate)

    def loss(self, model, guide, *args, **kwargs) -> float:
        """Objective value (a float, nats summed over the data set)."""
        loss, _ = self._evaluate(model, guide, args, kwargs)
        return loss.item()

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """A tensor whose value is the loss and whose gradient is the objective's gradient."""
        return self._evaluate(model, guide, args, kwargs)[1]

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        """Evaluate the loss and backpropagate its surrogate into every parameter it touches."""
        loss, surrogate = self._evaluate(model, guide, args, kwargs)
        if surrogate.requires_grad:
            surrogate.backward()
        value = loss.item()
        if is_validation_enabled() and math.isnan(value):
            warnings.warn("Encountered NaN: loss", stacklevel=2)
        return value
