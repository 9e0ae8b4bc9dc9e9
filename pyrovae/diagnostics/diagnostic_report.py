"""All diagnostics of a fitted model in one JSON-serializable record (figures:
plotting.plot_report)."""

import math
from dataclasses import dataclass, field

import torch

from ..guides import guide_gaussian_params
from ..guides.gaussian_params import gaussian_latent_sites
from ..models.inputs import as_inputs
from ..models.vae import VAE
from ..posterior import ais, importance
from ..traces import unwrap
from .aggregate import aggregate_posterior_moments
from .collapse import active_units, collapsed_dimensions, kl_per_dimension
from .decoder_variance import decoder_variance_health
from .information import mutual_information
from .likelihood import inference_gaps
from .mmd_test import aggregate_posterior_test


@dataclass
class Report:
    """``summary``: numbers (JSON-serializable); ``arrays``: tensors the figures are drawn from."""

    summary: dict
    arrays: dict = field(default_factory=dict)


def _floats(t):
    return [float(v) for v in t.detach().cpu().flatten()]


def _per_site(names, per_site, kl, units, collapse):
    """The per-dimension diagnostics split by latent site: its columns of the concatenated
    (N, D) encoder output, KL, active units, collapsed dimensions and aggregate posterior."""
    out, start = {}, 0
    for name, (loc, scale) in zip(names, per_site, strict=True):
        stop = start + loc.shape[1]
        moments = aggregate_posterior_moments(loc, scale)
        out[name] = {
            "dims": [start, stop],
            "kl_total": kl[:, start:stop].sum(1).mean().item(),
            "active_units": int(units["active"][start:stop].sum()),
            "num_collapsed": int(collapse["collapsed"][start:stop].sum()),
            "aggregate_log_det_cov_per_dim": moments["log_det"].item() / loc.shape[1],
        }
        start = stop
    return out


def report(
    model,
    guide,
    data,
    num_samples=500,
    is_points=200,
    gap_points=0,
    labels=None,
    site=None,
    epsilon=0.01,
    delta=0.01,
    num_permutations=200,
    seed=0,
    method="is",
    ais_steps=1000,
    ais_chains=16,
) -> Report:
    """Run every diagnostic on ``data`` (a tensor (N, ...), or several inputs as a tuple / dict
    of aligned tensors: :mod:`pyrovae.models.inputs`).

    :param num_samples: importance samples per point for log p(x) (K).
    :param is_points: how many data points (the first ones) get importance sampling.
    :param gap_points: if > 0, amortization / approximation gaps on that many points (fits a
        per-point guide; slower).
    :param labels: optional labels (N,) kept for the latent scatter plot.
    :param epsilon: with ``delta``, the (ε, δ)-collapse thresholds of Lucas et al. (2019).
    :param site: the latent site(s) whose Gaussian q(z|x) the per-dimension diagnostics read (KL,
        active units, collapse, aggregate posterior, I(x;z)): a name, a list (concatenated), or
        ``None`` (default): every Normal site inside the data plate, whatever its name. The
        summary lists them (``latent_sites``) and says why any other latent site was left out
        (``skipped_sites``: discrete or non-Normal sites enter only log p(x) and the ELBO).
    :param method: ``"is"`` (importance sampling, K = ``num_samples``) or ``"ais"`` (annealed
        importance sampling from the guide, ``ais_steps`` × ``ais_chains``; importance sampling
        still runs for the ELBO and the posterior draws, and its numbers and k̂ stay beside).
    """
    if method not in ("is", "ais"):
        raise ValueError(f"unknown method {method!r}; choose 'is' or 'ais'")
    torch.manual_seed(seed)
    inputs = as_inputs(data)
    names, skipped = gaussian_latent_sites(guide, inputs)
    if site is not None:
        names = [site] if isinstance(site, str) else list(site)
        skipped = {k: v for k, v in skipped.items() if k not in names}
    if not names:
        raise ValueError(
            "the guide has no Normal latent site inside the data plate"
            + (f" (skipped: {skipped})" if skipped else "")
            + "; report reads q(z|x) as a diagonal Gaussian"
        )
    per_site = [guide_gaussian_params(guide, inputs, name) for name in names]  # (N, D_s) each
    loc = torch.cat([p[0] for p in per_site], -1)  # (N, D)
    scale = torch.cat([p[1] for p in per_site], -1)
    kl = kl_per_dimension(loc, scale)  # (N, D)
    moments = aggregate_posterior_moments(loc, scale)
    units = active_units(loc)
    collapse = collapsed_dimensions(kl, epsilon, delta)
    n_test = min(loc.shape[0], 1000)
    mmd = aggregate_posterior_test(loc[:n_test], scale[:n_test], num_permutations)
    subset = inputs.slice(0, is_points)
    res = importance(model, guide, subset, num_samples=num_samples, seed=seed)
    b = subset.num_points
    log_likelihood = {
        "method": "is",
        "mean": res.log_marginal.mean().item(),
        "stderr": (res.stderr.pow(2).sum().sqrt() / b).item(),
        "num_samples": num_samples,
        "num_points": b,
        "khat_max": res.khat.max().item(),
        "khat_above_0.7": int((res.khat > 0.7).sum()),
        "ess_mean": res.ess.mean().item(),
    }
    log_marginal = res.log_marginal
    if method == "ais":
        annealed = ais(model, subset, guide, num_steps=ais_steps, num_chains=ais_chains, seed=seed)
        log_marginal = annealed.log_marginal
        log_likelihood = {
            "method": "ais",
            "mean": log_marginal.mean().item(),
            "stderr": (annealed.stderr.pow(2).sum().sqrt() / b).item(),
            "num_steps": ais_steps,
            "num_chains": ais_chains,
            "num_points": b,
            "acceptance": annealed.acceptance.mean().item(),
            "divergences": int(annealed.divergences.sum()),
            "importance_sampling": log_likelihood,
        }
    summary = {
        "num_points": int(inputs.num_points),
        "latent_sites": names,
        "skipped_sites": skipped,
        "latent_dim": int(loc.shape[1]),
        "log_likelihood": log_likelihood,
        "elbo": res.elbo.mean().item(),
        "variational_gap": (log_marginal - res.elbo).mean().item(),
        "kl_per_dimension": _floats(kl.mean(0)),
        "kl_total": kl.sum(1).mean().item(),
        "active_units": units["num_active"],
        "activity": _floats(units["activity"]),
        "collapse": {
            "epsilon": epsilon,
            "delta": delta,
            "num_collapsed": collapse["num_collapsed"],
            "collapsed_fraction": collapse["collapsed_fraction"],
            "collapsed": [bool(c) for c in collapse["collapsed"]],
        },
        "aggregate_posterior": {
            "log_det_cov": moments["log_det"].item(),
            "log_det_cov_per_dim": moments["log_det"].item() / loc.shape[1],
            "variance": _floats(moments["variance"]),
            "mean": _floats(moments["mean"]),
            "mmd2_vs_prior": mmd["mmd2"],
            "mmd_p_value": mmd["p_value"],
        },
        "mutual_information": mutual_information(loc[:n_test], scale[:n_test], 16).item(),
        "mutual_information_max": math.log(n_test),
        "per_site": _per_site(names, per_site, kl, units, collapse),
    }
    arrays = {
        "loc": loc,
        "scale": scale,
        "kl_per_dimension": kl.mean(0),
        "variational_gap": log_marginal - res.elbo,
        "samples": res.samples,
    }
    if labels is not None:
        arrays["labels"] = labels
    owner = getattr(unwrap(model), "__self__", None)
    if isinstance(owner, VAE):
        health = decoder_variance_health(owner, inputs.primary[:n_test])
        if health is not None:
            summary["decoder_variance"] = health
    if gap_points:
        gaps = inference_gaps(
            model, guide, inputs.slice(0, gap_points).unwrap(), num_samples=num_samples, seed=seed
        )
        summary["inference_gaps"] = {
            "amortization": gaps["mean_amortization_gap"],
            "approximation": gaps["mean_approximation_gap"],
            "num_points": int(gap_points),
        }
    return Report(summary=summary, arrays=arrays)
