r"""``infovae-two-point`` — Zhao, Song, Ermon, InfoVAE (AAAI 2019), Proposition 1 / Figure 1.

Data {−1, +1}; encoder and decoder MLPs with three hidden layers of 200 units; a Gaussian decoder
with learned σ(z) (floor ξ = 10⁻³); z one-dimensional. The proposition: the ELBO pushes
q(z|x=±1) apart — |mean| grows, std shrinks, so the aggregate q(z) over-spreads p(z) = N(0, 1) —
while InfoVAE (α = 0, λ = 500, D = MMD) keeps q(z) ≈ p(z).

Recorded over training for each objective: mean and std of q(z|x=±1), variance and log det of the
aggregate q(z), decoder σ at the two codes, I_q(x; z), ELBO. Besides the paper's InfoVAE setting
the run includes α = 1, λ = 500 (no per-point KL term): with α = 0 the optimizer reaches q(z) = p(z)
by posterior collapse (I(x; z) = 0), and dropping the KL weight tests
whether that term is the cause.
"""

import os
from dataclasses import dataclass

import torch

from ..data import two_point
from ..diagnostics import two_point_summary
from ..infer import EvidenceLowerBound, InfoVAE, train
from ..models import two_point_vae
from ..plotting import draw_two_point, two_point_curves
from ..plotting.figure import save_figure, subplots

CLAIM = "ELBO separates q(z|x=±1) and over-spreads q(z); InfoVAE keeps q(z) ≈ p(z)"
PAPER = "Zhao, Song, Ermon 2019, Prop. 1 / Fig. 1"


@dataclass(frozen=True)
class Config:
    """n points of {−1, +1}; the two-point VAE (``hidden`` widths, variance floor ξ =
    ``min_variance``, initial log variance); ``stages`` × ``steps_per_stage`` Adam steps at
    batch ``batch_size``, evaluated after each stage with ``eval_particles`` ELBO samples;
    InfoVAE with λ = ``lam`` at α = 0 and at α = 1. The checks' thresholds are part of it."""

    n: int = 512
    hidden: tuple = (200, 200, 200)
    min_variance: float = 1e-3
    init_log_variance: float = -6.0
    stages: int = 6
    steps_per_stage: int = 1000
    batch_size: int = 128
    lr: float = 1e-3
    lam: float = 500.0
    eval_particles: int = 256
    separation: float = 1.0  # |mean q(z|−1) − mean q(z|+1)| for "separates"
    prior_variance_tolerance: float = 0.1
    collapse_information: float = 0.05  # nats: I(x; z) below it is collapse


PROFILES = {"quick": Config(), "full": Config(stages=20, steps_per_stage=2500)}


def objectives(lam):
    return {
        "ELBO": EvidenceLowerBound(),
        f"InfoVAE a=0 l={lam:g}": InfoVAE(0.0, lam),
        f"InfoVAE a=1 l={lam:g}": InfoVAE(1.0, lam),
    }


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    x = two_point(config.n)
    results, vaes = {}, {}
    for label, objective in objectives(config.lam).items():
        torch.manual_seed(seed)
        vae = two_point_vae(config.hidden, config.min_variance, config.init_log_variance)
        trajectory = []
        for stage in range(config.stages):
            train(
                vae.model,
                vae.guide,
                x,
                objective,
                steps=config.steps_per_stage,
                batch_size=config.batch_size,
                lr=config.lr,
                device=device,
                seed=seed + stage,
                progress=progress,
                clear_param_store=stage == 0,
            )
            row = two_point_summary(vae, x, config.eval_particles, seed)
            trajectory.append({"step": (stage + 1) * config.steps_per_stage, **row})
        results[label] = {"final": trajectory[-1], "trajectory": trajectory}
        vaes[label] = vae.cpu()
    return {"objectives": results, "figure1_curves": two_point_curves(vaes, seed=seed)}


def checks(results):
    cfg = results["config"]
    final = {k: v["final"] for k, v in results["objectives"].items()}
    elbo, info0 = final["ELBO"], final[f"InfoVAE a=0 l={cfg['lam']:g}"]
    return {
        "elbo_separates": abs(elbo["q_mean"]["x=-1"] - elbo["q_mean"]["x=+1"]) > cfg["separation"],
        "elbo_overspreads_aggregate": elbo["aggregate_variance"] > 1.0,
        "infovae_aggregate_near_prior": abs(info0["aggregate_variance"] - 1.0)
        < cfg["prior_variance_tolerance"],
        # recorded, not a claim of the paper: how InfoVAE reaches q(z) = p(z) here
        "infovae_collapsed": info0["mutual_information"] < cfg["collapse_information"],
    }


def summary(results):
    cells = []
    for label, r in results["objectives"].items():
        f = r["final"]
        cells.append(
            f"{label}: q means {f['q_mean']['x=-1']:.2f} / {f['q_mean']['x=+1']:.2f}, stds "
            f"{f['q_std']['x=-1']:.2f} / {f['q_std']['x=+1']:.2f}, Var q(z) "
            f"{f['aggregate_variance']:.3f}, I(x;z) {f['mutual_information']:.3f}"
        )
    return "; ".join(cells)


def plot(results, out):
    paths = [os.path.join(out, "figure1.png"), os.path.join(out, "trajectories.png")]
    draw_two_point(results["figure1_curves"], paths[0])
    fig, axes = subplots(1, 3, figsize=(12, 3.2))
    for label, r in results["objectives"].items():
        t = r["trajectory"]
        steps = [row["step"] for row in t]
        axes[0].plot(steps, [row["aggregate_variance"] for row in t], "o-", label=label)
        axes[1].plot(steps, [row["mutual_information"] for row in t], "o-", label=label)
        axes[2].plot(steps, [row["final_elbo"] for row in t], "o-", label=label)
    for ax, title in zip(
        axes, ("Var q(z) (prior: 1)", "I(x; z) (max log 2)", "ELBO per point"), strict=True
    ):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, paths[1])
    return paths
