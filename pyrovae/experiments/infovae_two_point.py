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

import torch

from ..data import two_point
from ..infer import EvidenceLowerBound, InfoVAE, train
from ..plotting import plot_two_point
from ..plotting.figure import save_figure, subplots
from .common import check_profile, prepare_out, write_results
from .demo import DEFAULTS, build_two_point_vae, summarize
from .settings import resolve_settings

SETTINGS = {
    "quick": dict(stages=6, steps_per_stage=1000),
    "full": dict(stages=20, steps_per_stage=2500),
}


def objectives(lam):
    return {
        "ELBO": EvidenceLowerBound(),
        f"InfoVAE a=0 l={lam:g}": InfoVAE(0.0, lam),
        f"InfoVAE a=1 l={lam:g}": InfoVAE(1.0, lam),
    }


def run(
    out="runs/infovae-two-point",
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
):
    cfg = resolve_settings(
        dict(DEFAULTS, **SETTINGS[check_profile(profile)]), overrides, "infovae-two-point"
    )
    prepare_out(out)
    x = two_point(cfg["n"])
    results = {
        "claim": "ELBO separates q(z|x=±1) and over-spreads q(z); InfoVAE keeps q(z) ≈ p(z)",
        "paper": "Zhao, Song, Ermon 2019, Prop. 1 / Fig. 1",
        "profile": profile,
        "config": {**cfg, "hidden": list(cfg["hidden"])},
        "objectives": {},
    }
    vaes = {}
    for label, objective in objectives(cfg["lam"]).items():
        torch.manual_seed(seed)
        vae = build_two_point_vae(cfg["hidden"], cfg["min_variance"], cfg["init_log_variance"])
        trajectory = []
        for stage in range(cfg["stages"]):
            train(
                vae.model,
                vae.guide,
                x,
                objective,
                steps=cfg["steps_per_stage"],
                batch_size=cfg["batch_size"],
                lr=cfg["lr"],
                device=device,
                seed=seed + stage,
                progress=progress,
                clear_param_store=stage == 0,
            )
            row = summarize(vae, x, cfg["eval_particles"], seed)
            trajectory.append({"step": (stage + 1) * cfg["steps_per_stage"], **row})
        results["objectives"][label] = {"final": trajectory[-1], "trajectory": trajectory}
        vaes[label] = vae.cpu()
    final = {k: v["final"] for k, v in results["objectives"].items()}
    elbo, info0 = final["ELBO"], final[f"InfoVAE a=0 l={cfg['lam']:g}"]
    results["checks"] = {
        "elbo_separates": abs(elbo["q_mean"]["x=-1"] - elbo["q_mean"]["x=+1"]) > 1.0,
        "elbo_overspreads_aggregate": elbo["aggregate_variance"] > 1.0,
        "infovae_aggregate_near_prior": abs(info0["aggregate_variance"] - 1.0) < 0.1,
        "infovae_collapsed": info0["mutual_information"] < 0.05,
    }
    plot_two_point(vaes, os.path.join(out, "figure1.png"), seed=seed)
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
    save_figure(fig, os.path.join(out, "trajectories.png"))
    return write_results(out, results)
