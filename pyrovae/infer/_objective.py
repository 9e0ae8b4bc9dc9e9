"""Base class of the pyrovae objectives: one place for particles, terms and backward."""

import math
import warnings

import torch
from pyro import poutine
from pyro.infer import ELBO
from pyro.infer.util import is_validation_enabled

from ..checks import check_count
from ..traces import adapt, latent_pairs, max_plate_nesting, run_traces, unwrap
from ..traces.enumeration import enumerated_names, enumeration_weights, expected_sum
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
    :param plate_name: the name of the data plate; by default it is found
        (:func:`pyrovae.traces.adapt`: the plate over the minibatch's points, sized or sizeless).
    """

    def __init__(
        self,
        num_particles=1,
        max_plate_nesting=float("inf"),
        vectorize_particles=False,
        analytic_kl=False,
        plate_name=None,
    ):
        super().__init__(
            num_particles=check_count("num_particles", num_particles),
            max_plate_nesting=max_plate_nesting,
            vectorize_particles=vectorize_particles,
        )
        self.analytic_kl = bool(analytic_kl)
        self.plate_name = plate_name
        self.last_terms = {}
        self._enumeration = (None, None)  # (call key, plate nesting or None): _plan_enumeration
        self._enumeration_plans = {}

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

    #: whether the objective sums enumerated discrete guide sites exactly (the ELBO family)
    supports_enumeration = False

    # ----- per-trace decomposition ----------------------------------------------------------
    def _get_trace(self, model, guide, args, kwargs):
        nesting = self._enum_nesting
        if nesting is None:
            return run_traces(model, guide, args, kwargs, self.max_plate_nesting)
        guide = poutine.enum(guide, first_available_dim=-(nesting + 1))
        return run_traces(model, guide, args, kwargs, nesting)

    @property
    def _enum_nesting(self):
        return self._enumeration[1]

    def _plan_enumeration(self, model, guide, args, kwargs):
        """Find (once per guide and form of call: which arguments are given, as ``ys`` is for
        labelled and not for unlabelled data) whether the guide marks sites for parallel
        enumeration; then the plate nesting that puts enumeration dims left of every plate."""
        key = (
            unwrap(guide),
            tuple(a is None for a in args),
            tuple(sorted((k, v is None) for k, v in kwargs.items())),
        )
        if self._enumeration[0] == key:
            return
        if key in self._enumeration_plans:
            self._enumeration = (key, self._enumeration_plans[key])
            return
        tensors = [a for a in (*args, *kwargs.values()) if torch.is_tensor(a)]
        devices = [t.device for t in tensors[:1] if t.device.type == "cuda"]
        with torch.no_grad(), torch.random.fork_rng(devices=devices), poutine.block():
            trace = poutine.trace(guide).get_trace(*args, **kwargs)
            names = enumerated_names(trace)
            nesting = None
            if names:
                self._check_enumeration(trace, names)
                nesting = self.max_plate_nesting
                if nesting == float("inf"):
                    nesting = max_plate_nesting(model, guide, args=args, kwargs=kwargs)
        self._enumeration = (key, nesting)
        self._enumeration_plans[key] = nesting

    def _check_enumeration(self, trace, names):
        what = type(self).__name__
        if not self.supports_enumeration:
            raise ValueError(
                f"guide sites {names} are marked for enumeration (config_enumerate), which "
                f"{what} does not sum out; train with pyrovae.infer.EvidenceLowerBound / BetaVAE "
                "(exact sums, as TraceEnum_ELBO), or sample the site (drop config_enumerate)"
            )
        options = [
            name
            for name, on in (
                ("analytic_kl", self.analytic_kl),
                ("stl", self.stl),
                ("free_bits", getattr(self, "free_bits", 0) > 0),
            )
            if on
        ]
        if options:
            raise ValueError(
                f"{what}: enumerated guide sites {names} are summed exactly with the sampled KL "
                f"and plain gradients; drop {', '.join(options)} for this model"
            )
        if self.vectorize_particles and self.num_particles > 1:
            raise ValueError(
                f"{what}: enumerated guide sites {names} with vectorize_particles=True are not "
                "supported; use num_particles without vectorize_particles"
            )
        other = [
            n
            for n, site in trace.nodes.items()
            if site["type"] == "sample"
            and not site["is_observed"]
            and n not in names
            and not site["fn"].has_rsample
        ]
        if other:
            raise ValueError(
                f"{what}: guide sites {names} are enumerated but {other} are discrete or "
                "non-reparameterized and not enumerated; enumerate every such site "
                "(config_enumerate(guide, 'parallel')) or none of them"
            )

    def _enumerated_terms(self, model_trace, guide_trace, pairs):
        """E_q log p(x|z) and KL, exact over the enumerated guide sites (see
        :mod:`pyrovae.traces.enumeration`)."""
        nesting = self._enum_nesting
        weights = enumeration_weights(guide_trace, enumerated_names(guide_trace))
        ll = 0.0
        for site in model_trace.nodes.values():
            if site["type"] == "sample" and site["is_observed"]:
                ll = ll + expected_sum(site["log_prob"], weights, nesting)
        kl = 0.0
        for model_site, guide_site in pairs.values():
            kl = kl + expected_sum(
                guide_site["log_prob"] - model_site["log_prob"], weights, nesting
            )
        return ll, kl

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
        if self._enum_nesting is not None:
            ll, kl = self._enumerated_terms(model_trace, guide_trace, pairs)
            return ll / per, kl / per, pairs
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
        # any Pyro model / guide: the data plate found, num_data passed or applied as N / B
        model, guide = adapt(model, self.plate_name), adapt(guide, self.plate_name)
        self._plan_enumeration(model, guide, args, kwargs)
        return self._evaluate_adapted(model, guide, args, kwargs, kl_scale)

    def _evaluate_adapted(self, model, guide, args, kwargs, kl_scale=1.0):
        """The record from the traces of an adapted model / guide (subclasses that do not
        decompose into per-particle terms override this)."""
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
