r"""``linear-vae-ppca`` — Lucas, Tucker, Grosse, Norouzi, "Don't Blame the
ELBO!" (ICML 2019), Sec. 4.

Data: probabilistic PCA with d = 20, k = 5, latent scales chosen so the top eigenvalues of the data
covariance spread over [0.1 + 0.1, 5], σ² = 0.1, n = 10000. A :class:`LinearGaussianVAE` is
trained with pyrovae's ELBO by SVI. Claims (their Cor. 1, Thm. 2): the linear VAE's ELBO has the
pPCA maximum likelihood as its global optimum, reached by gradient training —

* ELBO per point → the closed-form pPCA maximum log-likelihood (the gap, nats per point);
* learned σ² → the mean of the discarded sample eigenvalues;
* decoder columns align with the principal directions (``|cos|`` → 1; the diagonal guide removes the
  rotation ambiguity of pPCA), i.e. the ELBO adds no spurious optimum.
"""

import os
from dataclasses import dataclass

import torch

from ..checks import POSITIVE, UNIT, check_fits_in_memory
from ..data import column_alignment, ppca_data
from ..models import LinearGaussianVAE, ppca_mle
from ..plotting.figure import save_figure, subplots
from .framework.common import train_phases

CLAIM = "A linear VAE trained by the ELBO reaches the pPCA maximum likelihood: no spurious optimum"
PAPER = "Lucas et al. 2019, Sec. 4 (Cor. 1, Thm. 2)"


@dataclass(frozen=True)
class Config:
    """pPCA data (n points, d dims, k latent dims, noise σ²) and Adam phases (steps, lr);
    full-batch gradients keep the weak rotation-fixing force of the diagonal guide from drowning
    in minibatch noise. The checks' tolerances are part of the config."""

    n: int = 10000
    d: int = 20
    k: int = 5
    sigma2: float = POSITIVE.field(0.1)
    batch_size: int = 10000
    phases: tuple = ((2500, 0.05), (1000, 0.005))
    max_gap: float = POSITIVE.field(0.01)  # nats per point between the ELBO and the pPCA maximum
    max_sigma2_error: float = POSITIVE.field(0.005)
    min_abs_cos: float = UNIT.field(0.99)

    def __post_init__(self):
        """Settings that must agree with each other, checked before any work."""
        if not self.k < self.d:
            raise ValueError(
                f"k={self.k} latent dimensions need data of more dimensions (d={self.d}): pPCA "
                "fits k < d; lower k or raise d"
            )
        if self.n < 2:
            raise ValueError(f"n={self.n}: the pPCA fit estimates a covariance, which needs n >= 2")
        for i, (_, lr) in enumerate(self.phases):
            POSITIVE.check(f"phases[{i}] learning rate", lr)
        # x in float32 and float64, and the pPCA fit's copies: ~4 float64 copies of (n, d)
        check_fits_in_memory(f"n={self.n} points of d={self.d}", 32 * self.n * self.d, "lower n")


PROFILES = {
    "quick": Config(),
    "full": Config(phases=((10000, 0.05), (5000, 0.005), (5000, 0.0005))),
}


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    x, _ = ppca_data(config.n, config.d, config.k, config.sigma2, seed=seed)
    fit = ppca_mle(x.double(), config.k)
    torch.manual_seed(seed)
    vae = LinearGaussianVAE(config.d, config.k, seed=seed)
    with torch.no_grad():
        vae.mu.copy_(x.mean(0))
    history = train_phases(
        vae.model, vae.guide, x, config.phases, config.batch_size, seed, device, progress
    )
    vae = vae.cpu()
    with torch.no_grad():
        elbo = vae.elbo(x).mean().item()
        log_lik = vae.log_marginal(x).mean().item()
        align = column_alignment(vae.W, fit.W.float() / fit.W.float().norm(dim=0))
    every = max(len(history) // 500, 1)
    return {
        "history": [{"step": r["step"], "elbo": r["elbo"]} for r in history[::every]],
        "ppca_max_log_likelihood": fit.log_likelihood.item(),
        "final_elbo": elbo,
        "final_log_likelihood": log_lik,
        "elbo_gap_to_ppca_optimum": fit.log_likelihood.item() - elbo,
        "learned_sigma2": vae.sigma2.item(),
        "ppca_sigma2": fit.sigma2.item(),
        "sample_eigenvalues": fit.eigenvalues.tolist(),
        "column_abs_cos": align.tolist(),
        "min_column_abs_cos": align.min().item(),
    }


def checks(results):
    cfg = results["config"]
    return {
        "elbo_reaches_ppca_maximum": results["elbo_gap_to_ppca_optimum"] < cfg["max_gap"],
        "sigma2_reaches_ppca_sigma2": abs(results["learned_sigma2"] - results["ppca_sigma2"])
        < cfg["max_sigma2_error"],
        "columns_align_with_principal_directions": results["min_column_abs_cos"]
        > cfg["min_abs_cos"],
    }


def plot(results, out):
    history = results["history"]
    best = results["ppca_max_log_likelihood"]
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(
        [r["step"] for r in history], [r["elbo"] for r in history], lw=0.6, label="ELBO (estimate)"
    )
    axes[0].axhline(best, color="k", ls="--", label="pPCA max log-lik")
    axes[0].set_ylim(best - 5, best + 1)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("nats / point")
    axes[0].legend(fontsize=8)
    cos = results["column_abs_cos"]
    axes[1].bar(range(len(cos)), cos)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("|cos| decoder column vs principal direction", fontsize=9)
    fig.tight_layout()
    return [save_figure(fig, os.path.join(out, "linear_vae_ppca.png"))]


def summary(results):
    return (
        f"ELBO {results['final_elbo']:.4f} vs pPCA max log-lik "
        f"{results['ppca_max_log_likelihood']:.4f} nats/point (gap "
        f"{results['elbo_gap_to_ppca_optimum']:.4f}); σ² {results['learned_sigma2']:.5f} vs "
        f"{results['ppca_sigma2']:.5f}; decoder columns vs principal directions "
        f"|cos| ≥ {results['min_column_abs_cos']:.3f}"
    )
