r"""True posteriors by NUTS (Hoffman & Gelman 2014) through ``pyro.infer.MCMC``, decoder fixed.

Given θ, the latents of different data points are independent, so one sampler over the whole
(B, D) block of a minibatch targets the exact joint posterior :math:`\prod_b p_\theta(z_b|x_b)`:
one run serves many data points (Pyro runs one chain per process on CPU and vectorizes none,
so this is where the parallelism comes from). The price: step size and mass matrix are shared
by all points, so the hardest posterior sets the pace.

With a guide that is Gaussian per point, the sampler runs by default on the whitened latents
u = (z − μ_q(x)) / σ_q(x) (:mod:`pyrovae.posterior.whitening`, NeuTra-style with the encoder as
the map): every point's posterior then has scale ≈ 1, so the shared step size fits them all.
Chains start over-dispersed at u ~ N(0, 2²) so that R-hat can see several modes. The draws
reported are of z, exact whatever the guide's quality.

Chains are run one after another (without preconditioning each starts from its own draw of the
guide, or of the prior) and returned as one ``arviz.InferenceData`` (``arviz.from_pyro`` per
chain, concatenated along ``chain``); ``posterior[site]`` has dims (chain, draw, data, latent).
R-hat (rank-normalized, Vehtari et al. 2021), bulk ESS and the number of divergent transitions
are in ``idata.posterior.attrs`` and :func:`nuts_summary`; per data point in
:func:`posterior_comparison`.
"""

import warnings

import arviz
import numpy as np
import pyro
import torch
from pyro.infer import MCMC, NUTS
from pyro.infer.autoguide.initialization import init_to_value

from ..checks import check_count, check_data
from ..traces import adapt, hide_params, prior_proposal, without_plate_scale
from ._vectorized import refuse_discrete, replayed_latents
from .whitening import guide_affine, unwhiten, whitened_model, whitened_name


def _initial_values(model, guide, x, plate_name):
    proposal = guide if guide is not None else prior_proposal(model)
    names, pairs = replayed_latents(model, proposal, x, plate_name)
    refuse_discrete(pairs, names, "nuts")
    return {n: pairs[n][1]["value"].detach() for n in names}, names


def nuts_summary(idata, site=None) -> dict:
    """Max R-hat, min bulk ESS and number of divergences of a :func:`nuts` / :func:`hmc` result,
    over ``site`` (a name, a list, or ``None``: every latent site), with the same three numbers
    per site under ``"sites"``."""
    names = (
        list(idata.posterior.data_vars)
        if site is None
        else ([site] if isinstance(site, str) else list(site))
    )
    missing = [n for n in names if n not in idata.posterior.data_vars]
    if missing:
        raise ValueError(
            f"no posterior variable {missing}; the result has {sorted(idata.posterior.data_vars)}"
        )
    per_site = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in names:
            rhat = arviz.rhat(idata, var_names=[name])[name].values
            ess = arviz.ess(idata, var_names=[name])[name].values
            per_site[name] = {
                "rhat_max": float(np.nanmax(rhat)),
                "ess_bulk_min": float(np.nanmin(ess)),
            }
    divergences = (
        int(idata.sample_stats["diverging"].values.sum()) if "sample_stats" in idata.groups() else 0
    )
    return {
        "rhat_max": max(v["rhat_max"] for v in per_site.values()),
        "ess_bulk_min": min(v["ess_bulk_min"] for v in per_site.values()),
        "divergences": divergences,
        "sites": per_site,
    }


def _preconditioner(model, guide, x, precondition, plate_name):
    """The guide's per-point affine map, or None (``precondition=None``: use it when possible)."""
    if precondition is None:
        if guide is None:
            return None
        try:
            return guide_affine(model, guide, x, plate_name)
        except ValueError as err:
            warnings.warn(f"nuts runs without preconditioning: {err}", stacklevel=3)
            return None
    if not precondition:
        return None
    if guide is None:
        raise ValueError(
            "precondition=True needs a guide (its per-point Normal whitens the posterior); pass "
            "guide=... or precondition=False"
        )
    return guide_affine(model, guide, x, plate_name)


def _run_chain(target, init, x, num_samples, warmup_steps, progress, dims, nuts_options):
    kernel = NUTS(target, init_strategy=init_to_value(values=init), **nuts_options)
    mcmc = MCMC(
        kernel,
        num_samples=num_samples,
        warmup_steps=warmup_steps,
        num_chains=1,
        disable_progbar=not progress,
    )
    mcmc.run(x)
    coords = {"data": np.arange(x.shape[0])}
    with np.errstate(invalid="ignore"):
        return arviz.from_pyro(mcmc, log_likelihood=False, coords=coords, dims=dims)


def _unwhitened(idata, affine):
    """Replace each ``{site}_whitened`` variable of the posterior by the draws of z."""
    post = idata.posterior
    for name in affine:
        u = post[whitened_name(name)]
        post[name] = u.copy(data=unwhiten(affine, name, u.values))
    idata.posterior = post.drop_vars([whitened_name(n) for n in affine])
    return idata


def nuts(
    model,
    x,
    num_samples=500,
    warmup_steps=500,
    num_chains=2,
    guide=None,
    seed=0,
    progress=False,
    plate_name=None,
    precondition=None,
    **nuts_options,
):
    r"""Sample p_θ(z|x) for every data point in ``x`` with NUTS; returns ``arviz.InferenceData``.

    :param model: follows :mod:`pyrovae.models.contract`; its parameters stay fixed.
    :param guide: whitens the target (see ``precondition``); without preconditioning each chain
        starts from a guide draw (default: a prior draw).
    :param precondition: sample u with z = μ_q(x) + σ_q(x) ⊙ u, the guide's per-point Normal as
        the map (chains start at u ~ N(0, 2²)); ``None`` (default): when a guide is given and is
        Normal at every latent site (otherwise a warning and the direct path); ``True`` requires
        such a guide; ``False``: sample z directly.
    :param num_chains: chains, run one after another (≥ 2 for R-hat).

    The target is :math:`\prod_b p_\theta(z_b|x_b)` for the points in ``x``, whatever ``num_data``
    the model was called with: the data plate's scale N/B is stripped from every site (a model
    with ``num_data`` baked in, e.g. a ``functools.partial``, would otherwise be sampled at
    temperature B/N). Any other scale (``poutine.scale`` inside the model) raises ``ValueError``.

    :param nuts_options: passed to ``pyro.infer.NUTS`` (e.g. ``target_accept_prob``,
        ``max_tree_depth``, ``full_mass``).
    """
    check_data(x, "nuts")
    model, guide = adapt(model, plate_name), adapt(guide, plate_name)
    # a discrete latent cannot be moved by NUTS: refuse it before any chain starts
    _initial_values(model, guide, x, plate_name)
    num_chains = check_count("num_chains", num_chains)
    num_samples = check_count("num_samples", num_samples)
    # the model's parameters are constants for the sampler; the target is p(z|x) of the points
    # at hand, so the data plate's N/B scale is removed (any other scale is refused)
    fixed_model = without_plate_scale(hide_params(model), "nuts")
    affine = _preconditioner(model, guide, x, precondition, plate_name)
    target = fixed_model if affine is None else whitened_model(fixed_model, affine)
    chains, names = [], None
    for chain in range(num_chains):
        pyro.set_rng_seed(seed + chain)
        if affine is None:
            init, names = _initial_values(model, guide, x, plate_name)
            dims = {n: ["data", f"{n}_dim"] for n in names}
        else:
            names = list(affine)
            init = {whitened_name(n): 2.0 * torch.randn_like(affine[n][0]) for n in names}
            dims = {whitened_name(n): ["data", f"{n}_dim"] for n in names}
        idata = _run_chain(target, init, x, num_samples, warmup_steps, progress, dims, nuts_options)
        chains.append(idata if affine is None else _unwhitened(idata, affine))
    idata = chains[0] if len(chains) == 1 else arviz.concat(*chains, dim="chain")
    if num_chains > 1:
        summary = nuts_summary(idata)
        summary.pop("sites")  # attrs hold numbers; per site: nuts_summary(idata)["sites"]
        idata.posterior.attrs.update(summary)
    return idata
