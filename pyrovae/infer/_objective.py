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
from .record import EXTENSIVE_TERMS, ObjectiveRecord


class VAEObjective(ELBO):
    """Shared machinery; subclasses implement :meth:`_particle`.

    All losses are in nats, summed over the data set as in Pyro (with a subsampled data plate,
    the minibatch sum is scaled by N / B); divide by N for nats per data point.
    :meth:`evaluate` returns an :class:`~pyrovae.infer.record.ObjectiveRecord` (loss,
    differentiable surrogate, detached terms such as ``log_likelihood`` = E_q log p(x|z),
    ``kl`` = KL(q(z|x) ‖ p(z)) and ``elbo``, and N), which :func:`pyrovae.infer.train` uses.
    The ``pyro.infer.ELBO`` methods (``loss``, ``loss_and_grads``, ``differentiable_loss``) work
    with ``pyro.infer.SVI`` as any Pyro objective; they also leave the terms of their last call in
    ``self.last_terms`` (with ``num_data``) for users of SVI.

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
    #: the weight of KL(q(z|x) ‖ p(z)) in the loss, which ``train(kl_warmup=n)`` ramps up from 0;
    #: ``None`` for objectives without a KL term to warm up (IWAE, LiBI)
    kl_weight = None
    #: sticking-the-landing gradients (set by subclasses that offer them)
    stl = False
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
        """E log p(x|z), KL and the latent site pairs, per particle (KL as the objective's
        gradient sees it: with ``stl`` the guide's parameters are stopped inside log q)."""
        pairs = latent_pairs(
            model_trace,
            guide_trace,
            require_rsample=not self.supports_score_function,
            alternative=self.score_function_alternative,
        )
        per = self._particles_in_trace()
        ll = observed_log_likelihood(model_trace) / per
        kl = kl_term(pairs, self.analytic_kl, stop_guide_params=self.stl) / per
        return ll, kl, pairs

    def _num_data(self, model_trace):
        for site in model_trace.nodes.values():
            if site["type"] == "sample" and site["is_observed"]:
                try:
                    return num_data_points(site, self.plate_name)
                except ValueError:
                    continue
        return float("nan")

    def _particle(self, model_trace, guide_trace, kl_scale):
        """Return (loss, differentiable surrogate, terms) for one trace (see subclasses);
        ``kl_scale`` ∈ [0, 1] multiplies the KL weight (the KL warm-up factor)."""
        raise NotImplementedError

    def evaluate(self, model, guide, args=(), kwargs=None, *, kl_scale=1.0) -> ObjectiveRecord:
        """Evaluate the objective on ``model(*args, **kwargs)`` / ``guide(...)``.

        :param kl_scale: factor in [0, 1] on the KL term's weight (``train(kl_warmup=n)`` ramps
            it from 0 to 1); only objectives with a ``kl_weight`` accept a value other than 1.
        :returns: an :class:`~pyrovae.infer.record.ObjectiveRecord`; nothing is backpropagated.
        """
        if not 0.0 <= kl_scale <= 1.0:
            raise ValueError(f"kl_scale must be in [0, 1], got {kl_scale}")
        if kl_scale != 1.0 and self.kl_weight is None:
            raise ValueError(
                f"{type(self).__name__} has no KL term to warm up; kl_warmup applies to "
                "EvidenceLowerBound, BetaVAE and InfoVAE"
            )
        return self._evaluate(model, guide, tuple(args), dict(kwargs or {}), kl_scale)

    def _evaluate(self, model, guide, args, kwargs, kl_scale=1.0):
        traces = list(self._get_traces(model, guide, args, kwargs))
        weight = 1.0 / len(traces)
        loss, surrogate, terms = 0.0, 0.0, {}
        for model_trace, guide_trace in traces:
            l_, s_, t_ = self._particle(model_trace, guide_trace, kl_scale)
            loss, surrogate = loss + l_ * weight, surrogate + s_ * weight
            for k, v in t_.items():
                terms[k] = (
                    terms.get(k, 0.0)
                    + (v.detach() if torch.is_tensor(v) else torch.as_tensor(v)) * weight
                )
        return ObjectiveRecord(
            loss=torch.as_tensor(loss).detach(),
            surrogate=torch.as_tensor(surrogate),
            terms=terms,
            num_data=self._num_data(traces[0][0]),
            extensive=self.extensive_terms,
        )

    # ----- the pyro.infer.ELBO interface ----------------------------------------------------
    def _remember(self, record):
        self.last_terms = {**record.terms, "loss": record.loss, "num_data": record.num_data}
        return record

    def loss(self, model, guide, *args, **kwargs) -> float:
        """Objective value (a float, nats summed over the data set)."""
        return self._remember(self._evaluate(model, guide, args, kwargs)).loss.item()

    def differentiable_loss(self, model, guide, *args, **kwargs) -> torch.Tensor:
        """A tensor whose value is the loss and whose gradient is the objective's gradient
        estimate (the surrogate's, which for e.g. DReG has another value)."""
        record = self._remember(self._evaluate(model, guide, args, kwargs))
        return record.loss + (record.surrogate - record.surrogate.detach())

    def loss_and_grads(self, model, guide, *args, **kwargs) -> float:
        """Evaluate the loss and backpropagate its surrogate into every parameter it touches."""
        record = self._remember(self._evaluate(model, guide, args, kwargs))
        if record.surrogate.requires_grad:
            record.surrogate.backward()
        value = record.loss.item()
        if is_validation_enabled() and math.isnan(value):
            warnings.warn("Encountered NaN: loss", stacklevel=2)
        return value
