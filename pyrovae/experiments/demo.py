r"""``pyrovae demo``: ELBO against InfoVAE-MMD on the two-point data of InfoVAE Proposition 1.

Data {−1, +1}; encoder and decoder MLPs with three hidden layers of 200 units; a Gaussian decoder
with learned variance σ²(z) (floored at ξ, Mattei & Frellsen 2018); z one-dimensional. InfoVAE
uses α = 0, λ = 500 and D = MMD, as in the paper. The proposition says the ELBO prefers q(z|x=±1)
pushed apart with shrinking variance (so q(z) need not match p(z)), while the InfoVAE divergence
keeps q(z) ≈ p(z). The demo records what the optimizer actually reaches, including posterior
collapse (I_q(x; z) ≈ 0), which InfoVAE with α = 0 and a large λ is prone to.
"""

import math
import os
import sys
import time
from dataclasses import dataclass

import torch

from ..checks import FINITE, NON_NEGATIVE, POSITIVE
from ..data import two_point
from ..diagnostics import two_point_summary
from ..infer import EvidenceLowerBound, InfoVAE
from ..models import two_point_vae
from ..plotting import draw_two_point, plot_history, two_point_curves
from .framework.common import fit

CLAIM = "ELBO separates q(z|x=±1) and over-spreads q(z); InfoVAE-MMD keeps q(z) ≈ p(z)"
PAPER = "Zhao, Song, Ermon 2019, Prop. 1"


@dataclass(frozen=True)
class Config:
    """n points of {−1, +1}; the two-point VAE (``hidden`` widths, variance floor ξ =
    ``min_variance``, initial decoder log variance); ``steps`` Adam steps per objective at batch
    ``batch_size``; InfoVAE with α = 0 and λ = ``lam``; ``eval_particles`` ELBO samples for the
    summary. The checks' thresholds are part of it."""

    n: int = 512
    steps: int = 6000
    batch_size: int = 128
    lr: float = POSITIVE.field(1e-3)
    hidden: tuple = (200, 200, 200)
    lam: float = NON_NEGATIVE.field(500.0)
    min_variance: float = NON_NEGATIVE.field(1e-3)
    init_log_variance: float = FINITE.field(-6.0)
    eval_particles: int = 256
    separated_information: float = POSITIVE.field(0.6)  # nats (log 2 = 0.693 at most)
    prior_variance_tolerance: float = POSITIVE.field(0.1)
    collapse_information: float = POSITIVE.field(0.05)  # nats: I(x; z) below it is collapse


PROFILES = {"quick": Config(), "full": Config(steps=20000)}


def objectives(config):
    """The objectives the demo compares, by label: the ELBO and InfoVAE-MMD (α = 0, λ =
    ``config.lam``)."""
    return {
        "ELBO": EvidenceLowerBound(),
        f"InfoVAE-MMD (alpha=0, lambda={config.lam:g})": InfoVAE(0.0, config.lam),
    }


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    """Train both objectives from the same initialization; the numbers, the histories and the
    Figure 1 curves (so that :func:`~pyrovae.experiments.demo.plot` redraws from
    ``results.json``)."""
    x = two_point(config.n)
    summaries, histories, vaes = {}, {}, {}
    for label, objective in objectives(config).items():
        torch.manual_seed(seed)
        vae = two_point_vae(config.hidden, config.min_variance, config.init_log_variance)
        start = time.perf_counter()
        trained = fit(vae, x, objective, config, seed=seed, device=device, progress=progress)
        summary = two_point_summary(vae, x, config.eval_particles, seed)
        summary["train_seconds"] = time.perf_counter() - start
        summaries[label], histories[label], vaes[label] = summary, trained.history, vae.cpu()
    return {
        "device": str(device),
        "objectives": summaries,
        "prior": {"variance": 1.0, "log_det": 0.0},
        "histories": histories,
        "figure1_curves": two_point_curves(vaes, seed=seed),
    }


def checks(results):
    cfg = results["config"]
    elbo, info = results["objectives"].values()
    return {
        "elbo_separates": elbo["mutual_information"] > cfg["separated_information"],
        "elbo_overspreads_aggregate": elbo["aggregate_variance"] > 1.0,
        "infovae_aggregate_near_prior": abs(info["aggregate_variance"] - 1.0)
        < cfg["prior_variance_tolerance"],
        # recorded, not a claim of the paper: how InfoVAE reaches q(z) = p(z) here
        "infovae_collapsed": info["mutual_information"] < cfg["collapse_information"],
    }


def plot(results, out):
    paths = [os.path.join(out, "two_point.png"), os.path.join(out, "history.png")]
    draw_two_point(results["figure1_curves"], paths[0])
    plot_history(results["histories"], paths[1], keys=["loss", "elbo", "log_likelihood", "kl"])
    return paths


def summary(results):
    return "; ".join(
        f"{label}: Var q(z) {r['aggregate_variance']:.3f}, I(x;z) {r['mutual_information']:.3f}"
        for label, r in results["objectives"].items()
    )


def run_demo(
    out="pyrovae-demo", steps=None, seed=0, device="cpu", progress=True, overrides=None, **settings
):
    """Train both objectives; write ``results.json`` (the whole config, the numbers, the checks),
    ``two_point.png`` and ``history.png``. Returns the results.

    ``steps`` overrides the number of optimizer steps; ``overrides`` (``{field: text or value}``,
    as ``pyrovae demo --set``) and keyword ``settings`` replace any field of :class:`Config`,
    type-checked: an unknown name raises ``ValueError`` listing the fields.
    """
    from .framework.skeleton import run_experiment

    overrides = {**(overrides or {}), **settings}
    if steps is not None:
        overrides["steps"] = int(steps)
    return run_experiment(
        sys.modules[__name__], "demo", out, "quick", device, seed, None, progress, overrides
    )


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
