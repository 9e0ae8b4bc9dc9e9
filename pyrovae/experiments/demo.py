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
from ..diagnostics import aggregate_posterior_moments, mutual_information
from ..infer import EvidenceLowerBound, InfoVAE, train
from ..models import VAE, DecoderGaussian
from ..nets import MLP
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


def build_two_point_vae(
    hidden=DEFAULTS["hidden"],
    min_variance=DEFAULTS["min_variance"],
    init_log_variance=DEFAULTS["init_log_variance"],
):
    """The 1-D VAE of the demo: MLP encoder / decoder and a Gaussian decoder with σ²(z) ≥ ξ."""
    likelihood = DecoderGaussian(min_variance=min_variance, init_log_variance=init_log_variance)
    return VAE(MLP(1, hidden, 2), MLP(1, hidden, 2), likelihood, z_dim=1, data_shape=(1,))


@torch.no_grad()
def summarize(vae, x, particles, seed):
    """The demo's numbers for one trained VAE (nats per data point where they are losses)."""
    ref = next(vae.parameters())
    points = torch.tensor([[-1.0], [1.0]], device=ref.device)
    loc, scale = vae.encode(points)
    moments = aggregate_posterior_moments(loc, scale)  # the data are half -1, half +1
    sigma = vae.likelihood.variance_of(vae.decoder(loc), (1,)).sqrt()
    gen = torch.Generator().manual_seed(seed)
    elbo = EvidenceLowerBound(
        num_particles=particles, vectorize_particles=True, max_plate_nesting=1
    )
    torch.manual_seed(seed)
    final_elbo = -elbo.loss(vae.model, vae.guide, x.to(ref.device)) / x.shape[0]
    return {
        "q_mean": {"x=-1": loc[0, 0].item(), "x=+1": loc[1, 0].item()},
        "q_std": {"x=-1": scale[0, 0].item(), "x=+1": scale[1, 0].item()},
        "aggregate_variance": moments["variance"][0].item(),
        "aggregate_log_det": moments["log_det"].item(),
        "decoder_sigma_at_q_mean": {"x=-1": sigma[0, 0].item(), "x=+1": sigma[1, 0].item()},
        "mutual_information": mutual_information(
            loc.cpu(), scale.cpu(), 4096, generator=gen
        ).item(),
        "final_elbo": final_elbo,
    }


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
        vae = build_two_point_vae(cfg["hidden"], cfg["min_variance"], cfg["init_log_variance"])
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
        summary = summarize(vae, x, cfg["eval_particles"], seed)
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
