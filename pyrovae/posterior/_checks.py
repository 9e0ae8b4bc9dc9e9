"""Checks shared by the reference posteriors: resource warnings, the data against the model
(dtype, support), the proposal's density and the plausibility of a log p(x) estimate."""

import warnings

import pyro
import pyro.poutine as poutine
import torch
from pyro.poutine.util import site_is_subsample

from ..checks import check_inputs
from ..models.inputs import Inputs, as_inputs, call_arguments
from ..traces import hide_params, unwrap

LARGE_BYTES = 1 << 30


def warn_if_large(num_bytes: int, what: str, knob: str):
    """A ``ResourceWarning`` when a result would hold more than 1 GiB."""
    if num_bytes > LARGE_BYTES:
        warnings.warn(
            f"{what} will hold about {num_bytes / 2**30:.1f} GiB in memory; reduce the {knob} "
            "(or pass fewer data points per call)",
            ResourceWarning,
            stacklevel=3,
        )


def model_dtype(model):
    """The floating dtype of the parameters of the module ``model`` is a method of, or ``None``."""
    owner = getattr(unwrap(model), "__self__", None)
    if isinstance(owner, torch.nn.Module):
        for p in owner.parameters():
            if p.is_floating_point():
                return p.dtype
    return None


def prepare_inputs(model, x, what) -> Inputs:
    """``x`` as checked :class:`Inputs`, floating tensors in the model's parameter dtype (as
    ``train`` does: float64 data meet a float32 model without a dtype error)."""
    x = as_inputs(x)
    check_inputs(x, what)
    dtype = model_dtype(model)
    return x.to(dtype=dtype) if dtype is not None else x


def _traced(fn, x, what, role):
    """One pass of ``fn`` on ``x`` (no gradient, validation off) with every sample site's log
    density computed; a failure inside is a ``ValueError`` naming the data's shapes."""
    args, kwargs = call_arguments(x)
    try:
        with torch.no_grad(), pyro.validation_enabled(False):
            trace = poutine.trace(hide_params(fn)).get_trace(*args, **kwargs)
            for site in trace.nodes.values():
                if site["type"] == "sample" and not site_is_subsample(site):
                    site["log_density"] = site["fn"].log_prob(site["value"])
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        shapes = ", ".join(str(tuple(t.shape)) for t in x.tensors().values())
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{what}: the {role} fails on the data (shapes {shapes}): {type(err).__name__}: "
            f"{first}. Check that the data have the shape the model was built for (e.g. 784 "
            "pixels per image) and that model and guide run on them"
        ) from err
    return trace


def check_data_support(model, x, what) -> bool:
    """``ValueError`` when a data value lies outside the support of the model's observed site
    (x = 7 under a Bernoulli) or the model fails on the data; returns whether every observed
    site is discrete (then log p(x) ≤ 0). One pass of the model with latents drawn from its
    prior."""
    trace = _traced(model, x, what, "model")
    observed = [
        site
        for site in trace.nodes.values()
        if site["type"] == "sample" and site["is_observed"] and not site_is_subsample(site)
    ]
    for site in observed:
        fn, value = site["fn"], site["value"]
        base = fn
        while hasattr(base, "base_dist"):  # Independent / masked: the elementwise support
            base = base.base_dist
        try:
            inside = torch.as_tensor(base.support.check(value))
        except (NotImplementedError, RuntimeError):  # a support without a check: nothing to say
            continue
        if not bool(inside.all()):
            bad = value[~inside.expand(value.shape)] if inside.dim() == value.dim() else value
            raise ValueError(
                f"{what}: the data lie outside the support of the model's observed site "
                f"{site['name']!r} ({type(fn).__name__}: {fn.support}), e.g. the value "
                f"{bad.flatten()[0].item():g}; give data the likelihood can produce (binarize "
                "images for a Bernoulli decoder, or choose a likelihood for your data)"
            )
    return bool(observed) and all(site["fn"].support.is_discrete for site in observed)


def check_log_marginal(log_marginal, discrete: bool, what: str, fix: str):
    """``ValueError`` for a log p(x) estimate that cannot be right: not finite, or positive for
    data of a discrete likelihood (p(x) ≤ 1)."""
    bad = ~torch.isfinite(log_marginal)
    if bad.any():
        points = torch.nonzero(bad).flatten()[:5].tolist()
        raise ValueError(
            f"{what} gave a log p(x) that is not finite for data points {points}: the model or "
            f"the proposal produced NaN / inf densities. {fix}"
        )
    if discrete and (log_marginal > 1e-6).any():
        points = torch.nonzero(log_marginal > 1e-6).flatten()[:5].tolist()
        raise ValueError(
            f"{what} gave log p(x) > 0 for data points {points}, impossible for a discrete "
            f"likelihood (p(x) ≤ 1): the estimate is broken, not the model. {fix}"
        )


def check_proposal_density(log_r, what: str):
    """``ValueError`` when the proposal (the guide) gives a non-finite log density at its own
    draws: a scale of 0, below 0 or NaN."""
    if not torch.isfinite(log_r).all():
        raise ValueError(
            f"{what}: the guide's log density at its own draws is not finite (NaN / inf): its "
            "scale is 0, negative or NaN for some points; fix the guide (e.g. softplus(raw) + "
            "1e-3 for a scale), or pass guide=None to start from the prior"
        )


def check_guide_draws(guide, x, what: str):
    """``ValueError`` naming the site when the guide's density at its own draws is not finite
    (a scale of 0, below 0 or NaN), instead of Pyro's parameter error deep in a pass."""
    trace = _traced(guide, x, what, "guide")
    for site in trace.nodes.values():
        if site["type"] != "sample" or site["is_observed"] or site_is_subsample(site):
            continue
        if not torch.isfinite(site["log_density"]).all():
            raise ValueError(
                f"{what}: the guide's site {site['name']!r} ({type(site['fn']).__name__}) has a "
                "density that is not finite at its own draws: its scale is 0, negative or NaN "
                "for some points; fix the guide (e.g. softplus(raw) + 1e-3 for a scale), or "
                "pass guide=None to propose from the prior"
            )
