"""Per-data-point convergence of a :func:`pyrovae.posterior.nuts` run and how far q(z|x) is from it.

One sampler over many data points hides its weakest point in a maximum over all of them; this
table lists every point, so that the unreliable ones can be found, sorted and left out.
"""

import numpy as np
import pandas as pd  # a dependency of arviz
import pyro.poutine as poutine
import torch

from ..traces import max_plate_nesting, vectorize


def _per_point(values):
    """(data, *latent) -> (data, latent coordinates)."""
    return values.reshape(values.shape[0], -1)


def _guide_moments(guide, x, site, draws=2000):
    """Mean and standard deviation of q(z|x) at ``site``, (B, D) each, from ``draws`` draws."""
    blocked = poutine.block(guide, hide_types=["param"])
    nesting = max_plate_nesting(blocked, args=(x,))
    with torch.no_grad():
        trace = poutine.trace(vectorize(blocked, draws, nesting)).get_trace(x)
    if site not in trace.nodes:
        raise ValueError(f"the guide has no site {site!r}")
    value = trace.nodes[site]["value"].reshape(draws, x.shape[0], -1)
    return value.mean(0).cpu().numpy(), value.std(0).cpu().numpy()


def posterior_comparison(idata, site="z", rhat_max=1.01, min_ess_per_chain=100, guide=None, x=None):
    """A ``pandas.DataFrame`` with one row per data point of ``idata`` (a :func:`nuts` result):

    * ``rhat``: the largest rank-normalized split-R-hat over the point's latent coordinates
      (Vehtari et al. 2021); ``ess_bulk``, ``ess_tail``: the smallest over its coordinates;
    * ``reliable``: ``rhat <= rhat_max`` and ``ess_bulk >= min_ess_per_chain · chains`` (the
      thresholds of Vehtari et al.: 1.01 and 100 per chain);
    * with ``guide`` and ``x`` (the data the run sampled): ``guide_mean_error_sd``, the largest
      |E_q[z] − E_p[z|x]| in posterior standard deviations, and ``guide_sd_ratio_min`` /
      ``guide_sd_ratio_max``, the range of sd_q / sd_p over coordinates (< 1: q too narrow).

    Sort it to find the worst points: ``table.sort_values("rhat", ascending=False)``.
    """
    import arviz

    if site not in idata.posterior:
        raise ValueError(
            f"idata has no posterior variable {site!r}; its variables are "
            f"{sorted(idata.posterior.data_vars)}: pass site=..."
        )
    if (guide is None) != (x is None):
        raise ValueError("pass both guide= and x= (the data the run sampled) to compare q with it")
    draws = idata.posterior[site]
    chains = draws.sizes["chain"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = _per_point(arviz.rhat(idata, var_names=[site])[site].values).max(1)
        bulk = _per_point(arviz.ess(idata, var_names=[site])[site].values).min(1)
        tail = _per_point(arviz.ess(idata, var_names=[site], method="tail")[site].values).min(1)
    table = pd.DataFrame(
        {
            "data": np.arange(len(rhat)),
            "rhat": rhat,
            "ess_bulk": bulk,
            "ess_tail": tail,
            "reliable": (rhat <= rhat_max) & (bulk >= min_ess_per_chain * chains),
        }
    )
    if guide is not None:
        values = draws.values.reshape(chains * draws.sizes["draw"], len(rhat), -1)
        mean_p, sd_p = values.mean(0), values.std(0)
        mean_q, sd_q = _guide_moments(guide, x, site)
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
