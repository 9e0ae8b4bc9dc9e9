r"""``pyrovae demo``: ELBO against InfoVAE-MMD on the two-point data of InfoVAE Proposition 1.

Data {−1, +1}; encoder and decoder MLPs with three hidden layers of 200 units; a Gaussian decoder
with learned variance σ²(z) (floored at ξ, Mattei & Frellsen 2018); z one-dimensional. InfoVAE
uses α = 0, λ = 500 and D = MMD, as in the paper. The proposition says the ELBO prefers q(z|x=±1)
pushed apart with shrinking variance (so q(z) need not match p(z)), while the InfoVAE divergence
keeps q(z) ≈ p(z). The demo records what the optimizer actually reaches, including posterior
collapse (I_q(x; z) ≈ 0), which InfoVAE with α = 0 and a large λ is prone to.
"""

import json
import math
import os
import time

import torch

from ..data import two_point
from ..diagnostics import two_point_summary
from ..infer import EvidenceLowerBound, InfoVAE, train
from ..models import two_point_vae
from ..plotting import plot_history, plot_two_point

DEFAULTS = dict(
    n=512,
    steps=6000,
    batch_size=128,
    lr=1e-3,
    hidden=(200, 200, 200),
    lam=500.0,
    min_variance=1e-3,
    init_log_variance=-6.0,
    eval_particles=256,
)


def run_demo(out="pyrovae-demo", steps=None, seed=0, device="cpu", progress=True, **overrides):
    """Train both objectives, write ``results.json``, ``two_point.png``, ``history.png``.

    Returns the results dict. ``steps`` overrides the default number of optimizer steps.
    """
    cfg = dict(DEFAULTS, **overrides)
    if steps is not None:
        cfg["steps"] = int(steps)
    os.makedirs(out, exist_ok=True)
    x = two_point(cfg["n"])
    objectives = {
        "ELBO": EvidenceLowerBound(),
        f"InfoVAE-MMD (alpha=0, lambda={cfg['lam']:g})": InfoVAE(0.0, cfg["lam"]),
    }
    results = {
        "config": {**cfg, "hidden": list(cfg["hidden"]), "seed": seed, "device": str(device)},
        "objectives": {},
    }
    vaes, histories = {}, {}
    for label, objective in objectives.items():
        torch.manual_seed(seed)
        vae = two_point_vae(cfg["hidden"], cfg["min_variance"], cfg["init_log_variance"])
        start = time.perf_counter()
        run = train(
            vae.model,
            vae.guide,
            x,
            objective,
            steps=cfg["steps"],
            batch_size=cfg["batch_size"],
            lr=cfg["lr"],
            device=device,
            seed=seed,
            progress=progress,
        )
        summary = two_point_summary(vae, x, cfg["eval_particles"], seed)
        summary["train_seconds"] = time.perf_counter() - start
        results["objectives"][label] = summary
        vaes[label], histories[label] = vae, run.history
    results["prior"] = {"variance": 1.0, "log_det": 0.0}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot_two_point(vaes, os.path.join(out, "two_point.png"), seed=seed)
    plot_history(
        histories, os.path.join(out, "history.png"), keys=["loss", "elbo", "log_likelihood", "kl"]
    )
    return results


def format_table(results) -> str:
    """A short text table of the demo's results."""
    head = (
        f"{'objective':<36}{'mean q(z|-1)':>13}{'mean q(z|+1)':>13}{'std q(z|-1)':>12}"
        f"{'std q(z|+1)':>12}{'Var q(z)':>10}{'logdet':>9}{'I(x;z)':>8}{'ELBO':>9}"
    )
    lines = [head, "-" * len(head)]
    for label, r in results["objectives"].items():
        lines.append(
            f"{label:<36}{r['q_mean']['x=-1']:>13.3f}{r['q_mean']['x=+1']:>13.3f}"
            f"{r['q_std']['x=-1']:>12.3f}{r['q_std']['x=+1']:>12.3f}"
            f"{r['aggregate_variance']:>10.3f}{r['aggregate_log_det']:>9.3f}"
            f"{r['mutual_information']:>8.3f}{r['final_elbo']:>9.3f}"
        )
    lines.append(f"prior p(z) = N(0, 1): Var = 1, logdet = 0; I(x;z) ≤ log 2 = {math.log(2):.3f}")
    return "\n".join(lines)
