"""Per-data-point convergence of a :func:`pyrovae.posterior.nuts` run and how far q(z|x) is from it.

One sampler over many data points hides its weakest point in a maximum over all of them; this
table lists every point, so that the unreliable ones can be found, sorted and left out.
"""

import numpy as np
import pandas as pd  # a dependency of arviz
import pyro.poutine as poutine
import torch

from ..models.inputs import as_inputs
from ..traces import adapt, hide_params, max_plate_nesting, vectorize
from .stranded import chain_log_mass

# below this share of the heaviest chain's mode mass a chain is called stranded (as hmc's default)
_STRANDED_MASS_RATIO = 1e-3


def _per_point(values):
    """(data, *latent) -> (data, latent coordinates)."""
    return values.reshape(values.shape[0], -1)


def _guide_moments(guide, x, sites, draws=2000):
    """``{site: (mean, sd)}`` of q(z|x), (B, D) each, from ``draws`` draws of the guide."""
    inputs = as_inputs(x)
    blocked = hide_params(adapt(guide))
    nesting = max_plate_nesting(blocked, args=inputs.args, kwargs=inputs.kwargs)
    with torch.no_grad():
        trace = inputs.call(poutine.trace(vectorize(blocked, draws, nesting)).get_trace)
    out = {}
    for site in sites:
        if site not in trace.nodes:
            raise ValueError(f"the guide has no site {site!r}")
        value = trace.nodes[site]["value"].reshape(draws, inputs.num_points, -1)
        out[site] = (value.mean(0).cpu().numpy(), value.std(0).cpu().numpy())
    return out


def posterior_comparison(
    idata, site=None, rhat_max=1.01, min_ess_per_chain=100, guide=None, x=None
):
    """A ``pandas.DataFrame`` with one row per latent site and data point of ``idata`` (a
    :func:`nuts` or :func:`hmc` result):

    * ``site``: the latent site; ``site=None`` (default) takes every posterior variable, a name
      or a list of names picks some;
    * ``rhat``: the largest rank-normalized split-R-hat over the point's coordinates of the
      site (Vehtari et al. 2021); ``ess_bulk``, ``ess_tail``: the smallest over them;
    * ``reliable``: ``rhat <= rhat_max`` and ``ess_bulk >= min_ess_per_chain · chains`` (the
      thresholds of Vehtari et al.: 1.01 and 100 per chain);
    * ``why``: for a point that is not reliable, the reasons in words ("" otherwise). When the
      run recorded ``lp`` (log p(x, z) per draw, as :func:`hmc` does), the columns ``lp_rhat``
      (R-hat of the log density) and ``lightest_chain_mass`` (the smallest chain's estimated
      mode mass as a share of the heaviest chain's, :mod:`pyrovae.posterior.stranded`) tell a
      *stranded* chain, one caught in a mode of negligible mass (share < 1e-3), from chains
      spread over modes of real weight; ``restarted_chains`` counts the chains that
      ``hmc(..., restart_stranded=True)`` moved;
    * with ``guide`` and ``x`` (the data the run sampled; a tensor or several inputs):
      ``guide_mean_error_sd``, the largest ``|E_q[z] − E_p[z|x]|`` in posterior standard deviations,
      and ``guide_sd_ratio_min`` / ``guide_sd_ratio_max``, the range of sd_q / sd_p over
      coordinates (< 1: q too narrow). The guide's moments come from its own draws, so any
      guide family works (not only Normal).

    Sort it to find the worst points: ``table.sort_values("rhat", ascending=False)``.
    """
    variables = sorted(idata.posterior.data_vars)
    sites = variables if site is None else ([site] if isinstance(site, str) else list(site))
    missing = [name for name in sites if name not in idata.posterior]
    if missing or not sites:
        raise ValueError(
            f"idata has no posterior variable {missing[0] if missing else site!r}; its variables "
            f"are {variables}: pass site=... (a name, a list, or None for all)"
        )
    if (guide is None) != (x is None):
        raise ValueError("pass both guide= and x= (the data the run sampled) to compare q with it")
    moments = _guide_moments(guide, x, sites) if guide is not None else {}
    chains = _chain_agreement(idata, variables)
    tables = [
        _site_table(idata, name, rhat_max, min_ess_per_chain, moments.get(name)) for name in sites
    ]
    table = pd.concat(tables, ignore_index=True)
    if chains is not None:
        table = table.join(chains, on="data")
    needed = min_ess_per_chain * idata.posterior.sizes["chain"]
    table["why"] = [_why(row, rhat_max, needed) for row in table.itertuples()]
    return table


def _chain_agreement(idata, variables):
    """Per point: R-hat of lp, the lightest chain's mode-mass share, chains restarted; None when
    the run recorded no ``lp``."""
    import arviz

    stats = idata.sample_stats if "sample_stats" in idata.groups() else None
    if stats is None or "lp" not in stats:
        return None
    lp = stats["lp"].values  # (C, S, B)
    with np.errstate(invalid="ignore", divide="ignore"):
        lp_rhat = arviz.rhat(stats[["lp"]])["lp"].values
    chains, draws, batch = lp.shape
    z = np.concatenate(
        [idata.posterior[name].values.reshape(chains, draws, batch, -1) for name in variables], -1
    )
    log_mass = chain_log_mass(torch.as_tensor(z, dtype=torch.float64), torch.as_tensor(lp))
    share = (log_mass - log_mass.max(0).values).exp().min(0).values.numpy()
    table = pd.DataFrame({"lp_rhat": lp_rhat, "lightest_chain_mass": share})
    restarted = idata.posterior.attrs.get("restarted")
    if restarted is not None:
        table["restarted_chains"] = np.asarray(restarted).reshape(-1, batch).sum(0)
    return table


def _why(row, rhat_max, ess_needed):
    """The reasons a row is not reliable, in words."""
    if row.reliable:
        return ""
    reasons = []
    share = getattr(row, "lightest_chain_mass", np.nan)
    if share < _STRANDED_MASS_RATIO:
        reasons.append(
            f"the chains disagree in mean log density (lp R-hat {row.lp_rhat:.3g}): one is "
            f"stranded in a mode holding ~{share:.1e} of the heaviest chain's mass; "
            "hmc(..., restart_stranded=True) moves such chains at the end of warm-up"
        )
    if row.rhat > rhat_max:
        reason = f"R-hat {row.rhat:.3g} > {rhat_max}"
        if share >= _STRANDED_MASS_RATIO:
            reason += (
                f" while the chains' regions hold comparable mass (lightest {share:.2g} of the "
                "heaviest): several modes or slow mixing, no chain is stranded"
            )
        reasons.append(reason)
    if row.ess_bulk < ess_needed:
        reasons.append(f"bulk ESS {row.ess_bulk:.0f} < {ess_needed:.0f}")
    if not reasons:  # R-hat or ESS not finite
        reasons.append(f"R-hat {row.rhat} or ESS {row.ess_bulk} is not a number")
    return "; ".join(reasons)


def _site_table(idata, site, rhat_max, min_ess_per_chain, guide_moments):
    import arviz

    draws = idata.posterior[site]
    chains = draws.sizes["chain"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = _per_point(arviz.rhat(idata, var_names=[site])[site].values).max(1)
        bulk = _per_point(arviz.ess(idata, var_names=[site])[site].values).min(1)
        tail = _per_point(arviz.ess(idata, var_names=[site], method="tail")[site].values).min(1)
    table = pd.DataFrame(
        {
            "site": site,
            "data": np.arange(len(rhat)),
            "rhat": rhat,
            "ess_bulk": bulk,
            "ess_tail": tail,
            "reliable": (rhat <= rhat_max) & (bulk >= min_ess_per_chain * chains),
        }
    )
    if guide_moments is not None:
        values = draws.values.reshape(chains * draws.sizes["draw"], len(rhat), -1)
        mean_p, sd_p = values.mean(0), values.std(0)
        mean_q, sd_q = guide_moments
        if mean_q.shape != mean_p.shape:
            raise ValueError(
                f"the guide's site {site!r} gives {mean_q.shape} per draw but the run has "
                f"{mean_p.shape}: pass the x the run sampled"
            )
        table["guide_mean_error_sd"] = (np.abs(mean_q - mean_p) / sd_p).max(1)
        ratio = sd_q / sd_p
        table["guide_sd_ratio_min"] = ratio.min(1)
        table["guide_sd_ratio_max"] = ratio.max(1)
    return table
