r"""``dai-local-minimum`` — Dai, Wang, Wipf, "The Usual Suspects? Reassessing Blame for VAE
Posterior Collapse" (ICML 2020), Prop. 4.1 and Prop. 5.1.

A. Bad local minimum. Decoder mean :math:`\mu_x = \pi_\alpha(Wz) + b` with the soft threshold
   :math:`\pi_\alpha(u) = \mathrm{sign}(u)(|u| - \alpha)_+`, learned variance γ, linear encoder with
   diagonal covariance; data on a k-dimensional subspace of R^d. At the collapsed point (W = 0,
   q(z|x) = N(0, I), b = x̄, γ = data variance) every gradient is exactly zero — π_α is flat around
   0 — so training stays there with KL = 0, while a PCA initialization reaches a near-zero
   reconstruction error and a far better ELBO.
B. Collapse driven by γ. A small MLP VAE with fixed γ swept upward: active units (Burda et al.)
   fall and reach exactly 0 at a finite γ, where the loss equals that of the model N(x̄, γI).

Both use the analytic KL (``EvidenceLowerBound(analytic_kl=True)``): at q = p its gradient is
exactly zero, whereas the single-sample estimate would jitter the encoder.
"""

import math
import os
from dataclasses import dataclass
from itertools import pairwise

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from ..checks import POSITIVE
from ..diagnostics import active_units
from ..infer import EvidenceLowerBound, train
from ..models import VAE, Gaussian, data_plate
from ..nets import MLP
from ..plotting.figure import save_figure, subplots

CLAIM = (
    "The collapsed point is a stationary local minimum of the soft-threshold VAE that PCA "
    "initialization escapes; with a fixed γ large enough every unit collapses"
)
PAPER = "Dai, Wang, Wipf 2020, Prop. 4.1 and 5.1"


@dataclass(frozen=True)
class Config:
    """Data: n points on a k-dimensional subspace of R^d, coefficients beyond the threshold α.
    Part A trains the soft-threshold VAE ``steps`` full-batch steps from the collapsed point and
    from PCA; part B trains an MLP VAE ``mlp_steps`` steps at each fixed γ in ``gammas``.
    ``loss_tolerance``: nats per point between the loss at full collapse and N(x̄, γI)'s."""

    n: int = 1000
    d: int = 20
    k: int = 3
    alpha: float = 0.5
    steps: int = 3000
    gammas: tuple = POSITIVE.field((0.01, 0.1, 1.0, 3.0, 10.0))
    mlp_steps: int = 1500
    loss_tolerance: float = POSITIVE.field(0.02)


PROFILES = {
    "quick": Config(),
    "full": Config(
        n=5000,
        steps=20000,
        gammas=(0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 2.0, 3.0, 5.0, 10.0),
        mlp_steps=10000,
    ),
}


def soft_threshold(u, alpha):
    """π_α(u) = sign(u) (``|u|`` − α)₊, elementwise."""
    return torch.sign(u) * torch.relu(u.abs() - alpha)


class SoftThresholdVAE(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(π_α(Wz) + b, γI); q(z|x) = N(Vx + c, diag exp(log_D))."""

    def __init__(self, d, k, alpha):
        super().__init__()
        self.alpha = alpha
        self.W, self.b = nn.Parameter(torch.zeros(d, k)), nn.Parameter(torch.zeros(d))
        self.log_gamma = nn.Parameter(torch.zeros(()))
        self.V, self.c = nn.Parameter(torch.zeros(k, d)), nn.Parameter(torch.zeros(k))
        self.log_D = nn.Parameter(torch.zeros(k))

    def mean(self, z):
        return soft_threshold(z @ self.W.T, self.alpha) + self.b

    def model(self, x, num_data=None):
        pyro.module("dai", self)
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), self.W.shape[1]), 1.0).to_event(1))
            pyro.sample(
                "x", dist.Normal(self.mean(z), self.log_gamma.exp().sqrt()).to_event(1), obs=x
            )

    def guide(self, x, num_data=None):
        pyro.module("dai", self)
        with data_plate(x, num_data):
            pyro.sample(
                "z", dist.Normal(x @ self.V.T + self.c, (0.5 * self.log_D).exp()).to_event(1)
            )


def subspace_data(n, d, k, alpha, seed=0):
    """x = A s with A (d, k) orthonormal and ``|s_i|`` ≥ α + 1 (coefficients beyond the
    threshold)."""
    gen = torch.Generator().manual_seed(seed)
    a, _ = torch.linalg.qr(torch.randn(d, k, generator=gen))
    s = torch.sign(torch.randn(n, k, generator=gen)) * (
        alpha + 1.0 + torch.rand(n, k, generator=gen)
    )
    return s @ a.T


def _fit(model, x, steps, seed, device):
    return train(
        model.model,
        model.guide,
        x,
        EvidenceLowerBound(analytic_kl=True),
        steps=steps,
        batch_size=x.shape[0],
        lr=1e-2,
        seed=seed,
        device=device,
        progress=False,
    )


def part_a(x, cfg, seed, device):
    """Part A: the soft-threshold VAE trained from the collapsed point and from PCA; gradients,
    parameter changes, ELBOs and reconstruction errors of both."""
    d, k, alpha = x.shape[1], cfg.k, cfg.alpha
    collapsed = SoftThresholdVAE(d, k, alpha)
    with torch.no_grad():
        collapsed.b.copy_(x.mean(0))
        collapsed.log_gamma.fill_(math.log(((x - x.mean(0)) ** 2).mean().item()))
    start = {n: p.detach().clone() for n, p in collapsed.named_parameters()}
    hist_c = _fit(collapsed, x, cfg.steps, seed, device).history
    collapsed = collapsed.cpu()
    moved = {n: (p.detach() - start[n]).abs().max().item() for n, p in collapsed.named_parameters()}
    collapsed.zero_grad()
    EvidenceLowerBound(analytic_kl=True).loss_and_grads(collapsed.model, collapsed.guide, x)
    grads = {n: p.grad.abs().max().item() for n, p in collapsed.named_parameters()}

    pca = SoftThresholdVAE(d, k, alpha)
    xc = x - x.mean(0)
    evals, evecs = torch.linalg.eigh(xc.T @ xc / x.shape[0])
    u, lam = evecs[:, -k:], evals[-k:]
    with torch.no_grad():
        pca.W.copy_(u * (lam.sqrt() + alpha))
        pca.V.copy_((u / lam.sqrt()).T)
        pca.b.copy_(x.mean(0))
        pca.log_D.fill_(math.log(0.01))
    hist_p = _fit(pca, x, cfg.steps, seed, device).history

    def recon_mse(m):
        m = m.cpu()
        with torch.no_grad():
            return ((m.mean(x @ m.V.T + m.c) - x) ** 2).mean().item()

    # W and the encoder never move (their gradient is exactly 0); b and γ sit at their optimum,
    # where Adam turns float-rounding gradients into jitter of about the learning rate
    return {
        "collapsed_init": {
            "final_elbo": hist_c[-1]["elbo"],
            "final_kl": hist_c[-1]["kl"],
            "final_abs_gradient": grads,
            "max_parameter_change": moved,
            "max_abs_W": collapsed.W.abs().max().item(),
            "gamma": collapsed.log_gamma.exp().item(),
            "data_variance": ((x - x.mean(0)) ** 2).mean().item(),
            "reconstruction_mse": recon_mse(collapsed),
        },
        "pca_init": {
            "final_elbo": hist_p[-1]["elbo"],
            "final_kl": hist_p[-1]["kl"],
            "gamma": pca.log_gamma.exp().item(),
            "reconstruction_mse": recon_mse(pca),
        },
        "elbo_curves": {
            "collapsed": [r["elbo"] for r in hist_c[::50]],
            "pca": [r["elbo"] for r in hist_p[::50]],
        },
    }


def part_b(x, cfg, seed, device):
    """Part B: an MLP VAE trained at each fixed γ; its active units and loss against the cost of
    N(x̄, γI)."""
    d = x.shape[1]
    xbar_var = ((x - x.mean(0)) ** 2).sum(1).mean().item()  # E ||x - x̄||²
    rows = []
    for gamma in cfg.gammas:
        torch.manual_seed(seed)
        vae = VAE(MLP(d, [64], 10), MLP(5, [64], d), Gaussian(math.sqrt(gamma)), 5, (d,))
        hist = train(
            vae.model,
            vae.guide,
            x,
            EvidenceLowerBound(analytic_kl=True),
            steps=cfg.mlp_steps,
            batch_size=min(256, x.shape[0]),
            lr=1e-3,
            seed=seed,
            device=device,
            progress=False,
        )
        vae = vae.cpu()
        with torch.no_grad():
            loc = vae.encode(x)[0]
            loss = (
                -EvidenceLowerBound(
                    num_particles=64,
                    vectorize_particles=True,
                    max_plate_nesting=1,
                    analytic_kl=True,
                ).loss(vae.model, vae.guide, x)
                / x.shape[0]
            )
        gaussian_cost = 0.5 * d * math.log(2 * math.pi * gamma) + xbar_var / (2 * gamma)
        rows.append(
            {
                "gamma": gamma,
                "active_units": active_units(loc)["num_active"],
                "loss_per_point": -loss,
                "cost_of_N(xbar, gamma I)": gaussian_cost,
                "final_train_kl": hist.history[-1]["kl"],
            }
        )
    return rows


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    x = subspace_data(config.n, config.d, config.k, config.alpha, seed)
    pyro.clear_param_store()
    a = part_a(x, config, seed, device)
    b = part_b(x, config, seed, device)
    zero = [r["gamma"] for r in b if r["active_units"] == 0]
    return {
        "part_a": a,
        "part_b": b,
        "first_gamma_with_zero_active_units": min(zero) if zero else None,
    }


def checks(results):
    c, p = results["part_a"]["collapsed_init"], results["part_a"]["pca_init"]
    b, last = results["part_b"], results["part_b"][-1]
    frozen = ("W", "V", "c", "log_D")
    return {
        "collapsed_point_is_stationary": c["final_kl"] == 0.0
        and all(c["final_abs_gradient"][n] == 0.0 for n in frozen)
        and all(c["max_parameter_change"][n] == 0.0 for n in frozen),
        "pca_initialization_escapes": p["reconstruction_mse"] < 0.05 * c["reconstruction_mse"]
        and p["final_elbo"] > c["final_elbo"],
        "active_units_fall_to_zero_as_gamma_grows": b[0]["active_units"] > 0
        and results["first_gamma_with_zero_active_units"] is not None
        and all(x["active_units"] >= y["active_units"] for x, y in pairwise(b)),
        "full_collapse_loss_equals_gaussian_cost": abs(
            last["loss_per_point"] - last["cost_of_N(xbar, gamma I)"]
        )
        < results["config"]["loss_tolerance"],
    }


def plot(results, out):
    a, b = results["part_a"], results["part_b"]
    fig, axes = subplots(1, 2, figsize=(9, 3.3))
    axes[0].plot(a["elbo_curves"]["collapsed"], label="collapsed init (stays)")
    axes[0].plot(a["elbo_curves"]["pca"], label="PCA init")
    axes[0].set_xlabel("step / 50")
    axes[0].set_ylabel("ELBO per point")
    axes[0].legend(fontsize=8)
    axes[1].plot([r["gamma"] for r in b], [r["active_units"] for r in b], "o-")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("fixed γ")
    axes[1].set_ylabel("active units of 5")
    fig.tight_layout()
    return [save_figure(fig, os.path.join(out, "dai_local_minimum.png"))]


def summary(results):
    c, p = results["part_a"]["collapsed_init"], results["part_a"]["pca_init"]
    b = results["part_b"]
    grad = max(c["final_abs_gradient"][n] for n in ("W", "V", "c", "log_D"))
    return (
        f"collapsed init: ELBO {c['final_elbo']:.2f}, KL {c['final_kl']:.2g}, largest gradient "
        f"of W, V, c, log D {grad:.2g}, "
        f"reconstruction MSE {c['reconstruction_mse']:.3g}; PCA init: ELBO {p['final_elbo']:.2f}, "
        f"MSE {p['reconstruction_mse']:.3g}. Active units at γ = "
        + ", ".join(f"{r['gamma']:g}" for r in b)
        + ": "
        + ", ".join(str(r["active_units"]) for r in b)
        + f"; at γ = {b[-1]['gamma']:g} loss {b[-1]['loss_per_point']:.3f} vs N(x̄, γI) "
        f"{b[-1]['cost_of_N(xbar, gamma I)']:.3f} nats/point"
    )
