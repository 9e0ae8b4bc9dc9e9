r"""``sigma-collapse`` — Lucas et al. (2019), Sec. 5: posterior collapse is driven by the
observation noise σ², not by the ELBO itself.

1. Linear VAE on the pPCA data of ``linear-vae-ppca`` with σ² *fixed* on a grid, trained by SVI:
   latent dimension i is (ε, δ)-collapsed (KL(q(z_i|x) ‖ p(z_i)) < ε for ≥ 1 − δ of the data;
   δ = 0.01) exactly when its eigenvalue λ_i ≤ σ² — the count must equal #{i : λ_i ≤ σ²}.
2. A deep VAE (MLP, dim z = 10) on binarized MNIST read as continuous data with a Gaussian
   decoder of fixed σ²: the collapsed fraction grows with σ²; and with σ² learned, started small
   against started large (the paper: starting large still collapses more).

Figure: collapsed fraction against ε for each σ² (deep VAE), and the linear count against σ².
"""

import os
from dataclasses import dataclass
from itertools import pairwise

import torch

from ..checks import OPEN_UNIT, POSITIVE
from ..data import load_binarized_mnist, ppca_data
from ..diagnostics import collapsed_dimensions, kl_per_dimension
from ..infer import EvidenceLowerBound
from ..models import VAE, Gaussian, LearnedGaussian, LinearGaussianVAE
from ..nets import MLP
from ..plotting.figure import save_figure, subplots
from .framework.common import fit, train_phases

CLAIM = (
    "Collapse is set by the observation noise σ²: with σ² fixed, dimension i of a linear VAE is "
    "(ε, δ)-collapsed iff λ_i ≤ σ²; a deep VAE collapses more as σ² grows, and learned σ² "
    "started large collapses more than started small"
)
PAPER = "Lucas et al. 2019, Sec. 5"


@dataclass(frozen=True)
class Config:
    """Linear part: fixed σ² grid and SVI steps on the pPCA data. Deep part: MLP VAE (one
    hidden layer of ``hidden`` units, dim z) with a fixed-σ² Gaussian decoder on ``deep_n``
    binarized MNIST images read as continuous, and learned σ² started at each ``learned_init``
    σ; collapse read at ``epsilons`` with δ = ``delta``, judged at ``judge_epsilon``."""

    linear_sigma2: tuple = POSITIVE.field((0.05, 0.5, 2.0, 3.2, 4.5, 6.0))
    linear_steps: int = 1500
    deep_sigma2: tuple = POSITIVE.field((0.01, 0.1, 0.5, 2.0))
    deep_n: int = 2000
    deep_steps: int = 600
    z_dim: int = 10
    hidden: int = 400
    batch_size: int = 128
    lr: float = POSITIVE.field(1e-3)
    learned_init: tuple = POSITIVE.field((0.05, 1.0))
    epsilons: tuple = POSITIVE.field((0.001, 0.003, 0.01, 0.03, 0.1, 0.3))
    delta: float = OPEN_UNIT.field(0.01)
    judge_epsilon: float = POSITIVE.field(0.1)
    run_linear: bool = True  # False: the deep part only (sweeps over seeds and deep settings)


PROFILES = {
    "quick": Config(),
    "full": Config(
        linear_sigma2=(0.05, 0.15, 0.5, 1.0, 2.0, 3.2, 4.5, 6.0),
        linear_steps=5000,
        deep_sigma2=(0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
        deep_n=50000,
        deep_steps=20000,
    ),
}


def linear_collapse(x, sigma2, steps, seed=0, device="cpu", epsilon=0.01, delta=0.01):
    """Train a fixed-σ² linear VAE by SVI; return (collapsed count, per-point per-dim KL)."""
    torch.manual_seed(seed)
    vae = LinearGaussianVAE(x.shape[1], 5, sigma2=sigma2, seed=seed)
    with torch.no_grad():
        vae.mu.copy_(x.mean(0))
    train_phases(
        vae.model, vae.guide, x, ((steps, 0.05), (steps // 3, 0.005)), x.shape[0], seed, device
    )
    vae = vae.cpu()
    with torch.no_grad():
        m, d = vae.guide_params(x)
        kl = kl_per_dimension(m, d.sqrt().expand_as(m))
    return collapsed_dimensions(kl, epsilon, delta)["num_collapsed"], kl


def deep_vae(config, likelihood, seed=0):
    """The one-hidden-layer MLP VAE on MNIST with likelihood ``likelihood``, seeded."""
    torch.manual_seed(seed)
    z, h = config.z_dim, config.hidden
    return VAE(MLP(784, [h], 2 * z), MLP(z, [h], 784), likelihood, z, (784,))


def deep_collapse(vae, x, config):
    """The fraction of (ε, δ)-collapsed latent dimensions of ``vae`` on ``x``, for each ε in
    ``config.epsilons``."""
    with torch.no_grad():
        loc, scale = vae.encode(x)
        kl = kl_per_dimension(loc, scale)
    return {
        str(eps): collapsed_dimensions(kl, eps, config.delta)["collapsed_fraction"]
        for eps in config.epsilons
    }


def _train_deep(vae, mnist, config, seed, device, progress):
    objective = EvidenceLowerBound()
    fit(
        vae,
        mnist,
        objective,
        config,
        seed=seed,
        device=device,
        progress=progress,
        steps=config.deep_steps,
    )
    return vae.cpu()


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    x, _ = ppca_data(seed=seed)
    eig = torch.linalg.eigvalsh(torch.cov(x.double().T)).flip(0)[:5]  # top-5 sample eigenvalues
    linear = []
    for s2 in config.linear_sigma2 if config.run_linear else ():
        count, kl = linear_collapse(x, s2, config.linear_steps, seed, device)
        linear.append(
            {
                "sigma2": s2,
                "collapsed": count,
                "eigenvalue_rule": int((eig <= s2).sum()),
                "kl_per_dim_mean": kl.mean(0).tolist(),
            }
        )
    results = {"top_eigenvalues": eig.tolist(), "linear": linear}
    try:
        mnist = load_binarized_mnist(data, "train")[: config.deep_n]
    except FileNotFoundError as err:
        if not config.run_linear:  # nothing else to report: say which file is missing
            raise
        results["deep"] = {"skipped": str(err)}
        return results
    deep, learned = [], []
    for s2 in config.deep_sigma2:
        vae = _train_deep(
            deep_vae(config, Gaussian(s2**0.5), seed), mnist, config, seed, device, progress
        )
        fractions = deep_collapse(vae, mnist[:1000], config)
        deep.append({"sigma2": s2, "collapsed_fraction_by_epsilon": fractions})
    for init in config.learned_init:
        likelihood = LearnedGaussian(init_sigma=init, min_variance=1e-4)
        vae = _train_deep(deep_vae(config, likelihood, seed), mnist, config, seed, device, progress)
        learned.append(
            {
                "init_sigma": init,
                "final_sigma2": vae.likelihood.variance().item(),
                "collapsed_fraction_by_epsilon": deep_collapse(vae, mnist[:1000], config),
            }
        )
    results["deep"] = {"fixed_sigma2": deep, "learned_sigma2": learned}
    eps = str(config.judge_epsilon)  # top-level numbers for sweep summaries
    for r in deep:
        results[f"collapsed_at_sigma2_{r['sigma2']:g}"] = r["collapsed_fraction_by_epsilon"][eps]
    for r in learned:
        results[f"learned_from_{r['init_sigma']:g}_collapsed"] = r["collapsed_fraction_by_epsilon"][
            eps
        ]
        results[f"learned_from_{r['init_sigma']:g}_final_sigma2"] = r["final_sigma2"]
    return results


def checks(results):
    out = {}
    if results["linear"]:
        out["linear_collapse_matches_eigenvalue_rule"] = all(
            r["collapsed"] == r["eigenvalue_rule"] for r in results["linear"]
        )
    deep = results.get("deep", {})
    if deep.get("fixed_sigma2"):
        eps = str(results["config"]["judge_epsilon"])
        fixed = [r["collapsed_fraction_by_epsilon"][eps] for r in deep["fixed_sigma2"]]
        out["deep_collapse_grows_with_sigma2"] = fixed[-1] > fixed[0] and all(
            a <= b for a, b in pairwise(fixed)
        )
        learned = sorted(deep["learned_sigma2"], key=lambda r: r["init_sigma"])
        small, large = (r["collapsed_fraction_by_epsilon"][eps] for r in (learned[0], learned[-1]))
        out["learned_sigma2_started_large_collapses_more"] = large > small
    return out


def plot(results, out):
    lin = results["linear"]
    fig, axes = subplots(1, 2, figsize=(9, 3.3))
    if lin:
        axes[0].plot(
            [r["sigma2"] for r in lin],
            [r["collapsed"] for r in lin],
            "o-",
            label="SVI, (ε, δ)-collapsed",
        )
        axes[0].step(
            [r["sigma2"] for r in lin],
            [r["eigenvalue_rule"] for r in lin],
            "k--",
            where="post",
            label="#{λ_i ≤ σ²}",
        )
        axes[0].set_xlabel("σ² (fixed)")
        axes[0].set_ylabel("collapsed dims of 5")
        axes[0].legend(fontsize=8)
        axes[0].set_title("linear VAE", fontsize=9)
    else:  # a deep-only run: no linear panel
        axes[0].set_axis_off()
    deep = results.get("deep", {})
    for r in deep.get("fixed_sigma2", []):
        curve = r["collapsed_fraction_by_epsilon"]
        eps = [float(e) for e in curve]  # JSON keys are strings: plot ε as numbers
        axes[1].plot(eps, list(curve.values()), "o-", label=f"σ²={r['sigma2']:g}")
    for r in deep.get("learned_sigma2", []):
        curve = r["collapsed_fraction_by_epsilon"]
        axes[1].plot(
            [float(e) for e in curve],
            list(curve.values()),
            "s--",
            label=f"learned from σ={r['init_sigma']:g}",
        )
    axes[1].set_xscale("log")
    axes[1].set_xlabel("ε")
    axes[1].set_ylabel("collapsed fraction (δ=0.01)")
    axes[1].set_title("deep VAE on MNIST-as-continuous", fontsize=9)
    if deep.get("fixed_sigma2"):
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    return [save_figure(fig, os.path.join(out, "sigma_collapse.png"))]


def summary(results):
    lin = results["linear"]
    text = (
        (
            "linear VAE, collapsed dims at σ² = "
            + ", ".join(f"{r['sigma2']:g}" for r in lin)
            + ": "
            + ", ".join(str(r["collapsed"]) for r in lin)
            + " (rule #{λ_i ≤ σ²}: "
            + ", ".join(str(r["eigenvalue_rule"]) for r in lin)
            + ")"
        )
        if lin
        else "linear part not run"
    )
    deep = results.get("deep", {})
    if deep.get("fixed_sigma2"):
        eps = str(results["config"]["judge_epsilon"])
        cfg = results["config"]
        text += (
            f"; deep VAE ({cfg['deep_steps']} steps on {cfg['deep_n']} images, dim z = "
            f"{cfg['z_dim']}), collapsed fraction at ε = {eps}: "
            + ", ".join(
                f"{r['collapsed_fraction_by_epsilon'][eps]:.2g} (σ² = {r['sigma2']:g})"
                for r in deep["fixed_sigma2"]
            )
            + "; learned σ²: "
            + ", ".join(
                f"from σ = {r['init_sigma']:g} ends at σ² = {r['final_sigma2']:.3g}, collapsed "
                f"{r['collapsed_fraction_by_epsilon'][eps]:.2g}"
                for r in deep["learned_sigma2"]
            )
        )
    elif deep.get("skipped"):
        text += "; deep part not run (no MNIST)"
    return text
