r"""``unbounded-likelihood`` — Mattei & Frellsen, "Leveraging the exact likelihood of deep latent
variable models" (NeurIPS 2018), Theorem 1 and Proposition 2.

With a Gaussian decoder whose variance σ²(z) is learned and unconstrained, the likelihood of a VAE
has no maximum: sup_θ log p_θ(x_1..x_n) = +∞.

1. The explicit construction: decoder mean μ(z) ≡ x₁ and σ(z) = ε on {z₁ > 0} (prior mass ½),
   σ(z) = 1 elsewhere. Then p(x₁) ≥ ½ (2πε²)^(−p/2) → ∞ as ε → 0 while every other p(x_j) stays
   ≥ ½ N(x_j; x₁, I) > 0: log p(data) → +∞ (exact, by quadrature over the 1-D latent). The ELBO with
   a fixed guide q(z|x₁) = N(2, 0.5²) grows too — its KL term is constant, so it cannot stop it.
2. Training: a VAE (MLP 5-64-64, z = 2) with σ(z) from the decoder on n = 30 points of N(0, I₅).
   Without a floor, training log p(x) (importance sampling, with SE) climbs without bound as the
   smallest σ heads to 0, and held-out log p(x) collapses; with σ² ≥ ξ = 0.01 it stays below
   −(n·p/2)·log(2πξ) and held-out log p(x) degrades far less. The decoder-variance diagnostic warns
   on the unconstrained run only.
"""

import math
import os
import warnings
from dataclasses import dataclass
from itertools import pairwise

import pyro
import pyro.distributions as dist
import torch

from ..checks import POSITIVE
from ..diagnostics import DecoderVarianceWarning, decoder_variance_health
from ..infer import EvidenceLowerBound, TrainingDiverged
from ..models import VAE, DecoderGaussian, data_plate
from ..nets import MLP
from ..plotting.figure import save_figure, subplots
from ..posterior import grid, importance
from .framework.common import fit

CLAIM = "With learned, unconstrained σ(z) the likelihood is unbounded; the floor σ² ≥ ξ bounds it"
PAPER = "Mattei & Frellsen 2018, Thm. 1 / Prop. 2"
EPSILONS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


@dataclass(frozen=True)
class Config:
    """n training points of N(0, I_p) (and ``test_n`` held out); the VAE trains in ``stages``
    of ``steps_per_stage`` full-batch Adam steps, log p(x) by importance sampling after each
    (``is_samples`` per training point, ``test_is_samples`` per held-out one); ``floor`` is ξ;
    ``epsilons`` are the construction's σ values."""

    n: int = 30
    p: int = 5
    test_n: int = 300
    stages: int = 6
    steps_per_stage: int = 1000
    lr: float = POSITIVE.field(1e-3)
    is_samples: int = 2000
    test_is_samples: int = 500
    floor: float = POSITIVE.field(0.01)
    epsilons: tuple = POSITIVE.field(EPSILONS)


PROFILES = {
    "quick": Config(),
    "full": Config(stages=20, steps_per_stage=2500, is_samples=10000),
}


def construction_model(x1, eps):
    """The Mattei-Frellsen decoder: μ(z) ≡ x₁, σ(z) = ε for z > 0 and 1 otherwise (z ∈ R)."""

    def model(x, num_data=None):
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 1), 1.0).to_event(1))
            sigma = torch.where(z > 0, torch.full_like(z, eps), torch.ones_like(z))  # (..., B, 1)
            pyro.sample("x", dist.Normal(x1.expand(*z.shape[:-1], -1), sigma).to_event(1), obs=x)

    return model


def construction(x, epsilons=EPSILONS):
    """Exact log p(data) and the ELBO of x₁ under the construction, for each ε."""
    x = x.double()
    rows = []
    q_loc, q_scale = 2.0, 0.5
    z = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    q = torch.distributions.Normal(q_loc, q_scale)
    wq = q.log_prob(z).exp() * (z[1] - z[0])  # quadrature weights of q
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).item()
    p = x.shape[1]
    for eps in epsilons:
        g = grid(construction_model(x[0], eps), x, bounds=(-8.0, 8.0), resolution=4000)
        sigma = torch.where(z > 0, torch.full_like(z, eps), torch.ones_like(z))
        ll_x1 = -0.5 * p * torch.log(2 * math.pi * sigma**2)  # log N(x1; x1, σ²I)
        rows.append(
            {
                "epsilon": eps,
                "log_p_data": g.log_marginal.sum().item(),
                "log_p_x1": g.log_marginal[0].item(),
                "lower_bound_log_p_x1": math.log(0.5) - 0.5 * p * math.log(2 * math.pi * eps**2),
                "elbo_x1": (wq * ll_x1).sum().item() - kl,
                "kl_x1": kl,
            }
        )
    return rows


def _vae(p, floor, seed):
    torch.manual_seed(seed)
    return VAE(
        MLP(p, [64, 64], 4), MLP(2, [64, 64], 2 * p), DecoderGaussian(min_variance=floor), 2, (p,)
    )


def training_run(x_train, x_test, floor, cfg, seed=0, device="cpu", progress=False):
    """Train a Gaussian-decoder VAE with variance floor ``floor`` stage by stage; the test log-
    likelihood after each stage and the stage where training diverged (``None`` when it did
    not)."""
    vae = _vae(x_train.shape[1], floor, seed)
    curve, diverged = [], None
    for stage in range(cfg.stages):
        try:
            fit(
                vae,
                x_train,
                EvidenceLowerBound(),
                cfg,
                seed=seed + stage,
                device=device,
                progress=progress,
                steps=cfg.steps_per_stage,
                batch_size=x_train.shape[0],
                clear_param_store=stage == 0,
            )
        except TrainingDiverged as err:  # the NaN guard kept the last good state
            diverged = str(err)
        vae = vae.cpu()
        tr = importance(
            vae.model, vae.guide, x_train, num_samples=cfg.is_samples, seed=0, progress=False
        )
        te = importance(
            vae.model, vae.guide, x_test, num_samples=cfg.test_is_samples, seed=0, progress=False
        )
        with torch.no_grad():
            sigma_min = vae.decode(vae.encode(x_train)[0]).base_dist.scale.min().item()
        curve.append(
            {
                "step": (stage + 1) * cfg.steps_per_stage,
                "train_log_p": tr.log_marginal.sum().item(),
                "train_log_p_se": tr.stderr.pow(2).sum().sqrt().item(),
                "train_khat_max": tr.khat.max().item(),
                "test_log_p_per_point": te.log_marginal.mean().item(),
                "sigma_min": sigma_min,
            }
        )
        if diverged:
            break
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        health = decoder_variance_health(vae, x_train)
    warned = any(issubclass(w.category, DecoderVarianceWarning) for w in caught)
    return {
        "floor": floor,
        "curve": curve,
        "diverged": diverged,
        "variance_health": health,
        "variance_warning": warned,
    }


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    gen = torch.Generator().manual_seed(seed)
    x_train = torch.randn(config.n, config.p, generator=gen)
    x_test = torch.randn(config.test_n, config.p, generator=gen)
    rows = construction(x_train, config.epsilons)
    free = training_run(x_train, x_test, 0.0, config, seed, device, progress)
    floored = training_run(x_train, x_test, config.floor, config, seed, device, progress)
    bound = -0.5 * config.n * config.p * math.log(2 * math.pi * config.floor)
    return {
        "construction": rows,
        "unconstrained": free,
        "floored": floored,
        "floored_bound_total_log_p": bound,
        "unconstrained_final_train_log_p": free["curve"][-1]["train_log_p"],
        "floored_final_train_log_p": floored["curve"][-1]["train_log_p"],
        "unconstrained_final_test_log_p": free["curve"][-1]["test_log_p_per_point"],
        "floored_final_test_log_p": floored["curve"][-1]["test_log_p_per_point"],
    }


def checks(results):
    rows, bound = results["construction"], results["floored_bound_total_log_p"]
    free, floored = results["unconstrained"], results["floored"]
    return {
        "construction_log_p_grows_without_bound": all(
            a["log_p_data"] < b["log_p_data"] for a, b in pairwise(rows)
        ),
        "construction_elbo_grows_without_bound": all(
            a["elbo_x1"] < b["elbo_x1"] for a, b in pairwise(rows)
        ),
        "unconstrained_training_log_p_keeps_climbing": all(
            a["train_log_p"] < b["train_log_p"] for a, b in pairwise(free["curve"])
        ),
        "floored_training_log_p_below_bound": all(
            c["train_log_p"] <= bound for c in floored["curve"]
        ),
        "floor_generalizes_better": results["floored_final_test_log_p"]
        > results["unconstrained_final_test_log_p"],
        "variance_warning_only_without_floor": free["variance_warning"]
        and not floored["variance_warning"],
    }


def plot(results, out):
    return [_figure(out, results)]


def _figure(out, r):
    fig, axes = subplots(1, 3, figsize=(13, 3.4))
    eps = [row["epsilon"] for row in r["construction"]]
    axes[0].plot(
        eps, [row["log_p_data"] for row in r["construction"]], "o-", label="log p(data), exact"
    )
    axes[0].plot(
        eps, [row["elbo_x1"] for row in r["construction"]], "s--", label="ELBO(x₁), fixed q"
    )
    axes[0].set_xscale("log")
    axes[0].invert_xaxis()
    axes[0].set_xlabel("ε = σ(z) on z > 0")
    axes[0].set_title("explicit construction: μ ≡ x₁", fontsize=9)
    axes[0].legend(fontsize=8)
    for key, style in (("unconstrained", "o-"), ("floored", "s-")):
        c = r[key]["curve"]
        steps = [row["step"] for row in c]
        axes[1].errorbar(
            steps,
            [row["train_log_p"] for row in c],
            yerr=[row["train_log_p_se"] for row in c],
            fmt=style,
            label=f"{key} (train, IS ± SE)",
        )
        axes[2].plot(steps, [row["sigma_min"] for row in c], style, label=key)
    axes[1].axhline(r["floored_bound_total_log_p"], color="k", ls="--", label="bound with floor")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("log p(training set)")
    axes[1].legend(fontsize=7)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("step")
    axes[2].set_title("smallest decoder σ", fontsize=9)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, os.path.join(out, "unbounded_likelihood.png"))


def summary(results):
    rows, free, floored = results["construction"], results["unconstrained"], results["floored"]
    first, last = rows[0], rows[-1]
    return (
        f"construction μ ≡ x₁, σ = ε on z > 0: exact log p(data) {first['log_p_data']:.1f} → "
        f"{last['log_p_data']:.1f} as ε = {first['epsilon']:g} → {last['epsilon']:g}, ELBO(x₁) "
        f"{first['elbo_x1']:.1f} → {last['elbo_x1']:.1f}; training without a floor: log p(train) "
        f"{free['curve'][0]['train_log_p']:.1f} → {free['curve'][-1]['train_log_p']:.1f}, held-out "
        f"{results['unconstrained_final_test_log_p']:.4g} per point, smallest σ "
        f"{free['curve'][-1]['sigma_min']:.2g}; with ξ = {floored['floor']:g}: log p(train) "
        f"{floored['curve'][-1]['train_log_p']:.1f} ≤ bound "
        f"{results['floored_bound_total_log_p']:.1f}, held-out "
        f"{results['floored_final_test_log_p']:.1f}"
    )
