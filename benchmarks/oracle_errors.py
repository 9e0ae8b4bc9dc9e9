"""Errors of the posterior estimators and diagnostics against the linear-Gaussian closed forms.

The settings of tests/posterior/test_oracle_posteriors.py and
tests/diagnostics/test_diagnostics.py (a d=10, k=3 linear VAE whose guide is deliberately off,
and a d=6, k=2 one for the grid), measured once and written as JSON, so the numbers quoted in
notes can be reproduced:

    python benchmarks/oracle_errors.py --out benchmarks/results/oracle_errors.json
"""

import argparse
import json
import os
import sys

import pyro
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from helpers import linear_data, linear_oracle

from pyrovae.diagnostics import inference_gaps, kl_to_posterior
from pyrovae.models import LinearGaussianVAE
from pyrovae.posterior import grid, importance, nuts, nuts_summary


def measure():
    r = {}
    v = linear_oracle()
    x = linear_data(v, 40)
    exact = v.log_marginal(x).detach()
    res = importance(v.model, v.guide, x, num_samples=2000, seed=0, progress=False)
    r["importance_k2000"] = {
        "max_abs_err_over_se": ((res.log_marginal - exact).abs() / res.stderr).max().item(),
        "mean_abs_err": (res.log_marginal - exact).abs().mean().item(),
        "mean_se": res.stderr.mean().item(),
    }
    r["importance_se_by_k"] = {
        k: importance(v.model, v.guide, x[:20], num_samples=k, seed=1, progress=False)
        .stderr.mean()
        .item()
        for k in (250, 1000, 4000)
    }
    v2 = linear_oracle(d=6, k=2).double()
    x2 = linear_data(v2, 7).double()
    g = grid(v2.model, x2, bounds=(-6.0, 6.0), resolution=301)
    m, c = v2.posterior(x2)
    r["grid_301"] = {
        "max_abs_log_px_err": (g.log_marginal - v2.log_marginal(x2)).abs().max().item(),
        "max_abs_mean_err": (g.mean - m).abs().max().item(),
        "max_abs_cov_err": (g.covariance - c).abs().max().item(),
    }
    xk = linear_data(v, 8)
    idata = nuts(
        v.model, xk, num_samples=1000, warmup_steps=400, num_chains=2, guide=v.guide, seed=0
    )
    d = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 8, 3).float()
    m, c = v.posterior(xk)
    sd = c.diagonal().sqrt().detach()
    zc = d - d.mean(0)
    emp = torch.einsum("sbi,sbj->bij", zc, zc) / d.shape[0]
    r["nuts"] = {
        **nuts_summary(idata),
        "max_abs_mean_err_in_sd": ((d.mean(0) - m.detach()).abs() / sd).max().item(),
        "max_abs_cov_err_in_sd2": ((emp - c.detach()).abs() / sd.outer(sd)).max().item(),
    }
    x3 = linear_data(v, 30)
    kl = kl_to_posterior(v.model, v.guide, x3, num_samples=5000)
    r["kl_importance_k5000"] = {
        "max_abs_err": (kl - v.kl_to_posterior(x3).detach()).abs().max().item(),
        "mean_exact_kl": v.kl_to_posterior(x3).mean().item(),
    }
    klg = kl_to_posterior(
        v2.model, v2.guide, x2[:5], method="grid", bounds=(-6.0, 6.0), resolution=301
    )
    r["kl_grid_301"] = {"max_abs_err": (klg - v2.kl_to_posterior(x2[:5])).abs().max().item()}
    torch.manual_seed(0)
    lin = LinearGaussianVAE(8, 2)
    q, _ = torch.linalg.qr(torch.randn(8, 2))
    lin.set_params(W=q * torch.tensor([2.0, 1.0]), mu=torch.zeros(8), sigma2=torch.tensor(0.5))
    lin.set_optimal_guide()
    with torch.no_grad():
        lin.V.mul_(0.8)
    xg = linear_data(lin, 16)
    gaps = inference_gaps(lin.model, lin.guide, xg, num_samples=2000, steps=400)
    r["gaps_family_contains_posterior"] = {
        "approximation": gaps["mean_approximation_gap"],
        "amortization": gaps["mean_amortization_gap"],
        "exact_amortization": (lin.log_marginal(xg) - lin.elbo(xg)).mean().item(),
        "min_amortization_per_point": gaps["amortization_gap"].min().item(),
    }
    return r


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="benchmarks/results/oracle_errors.json")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    pyro.set_rng_seed(0)
    result = measure()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
