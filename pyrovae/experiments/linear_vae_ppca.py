r"""``linear-vae-ppca`` — Lucas, Tucker, Grosse, Norouzi, "Don't Blame the
ELBO!" (ICML 2019), Sec. 4.

Data: probabilistic PCA with d = 20, k = 5, latent scales chosen so the top eigenvalues of the data
covariance spread over [0.1 + 0.1, 5], σ² = 0.1, n = 10000. A :class:`LinearGaussianVAE` is
trained with pyrovae's ELBO by SVI. Claims (their Cor. 1, Thm. 2): the linear VAE's ELBO has the
pPCA maximum likelihood as its global optimum, reached by gradient training —

* ELBO per point → the closed-form pPCA maximum log-likelihood (the gap, nats per point);
* learned σ² → the mean of the discarded sample eigenvalues;
* decoder columns align with the principal directions (|cos| → 1; the diagonal guide removes the
  rotation ambiguity of pPCA), i.e. the ELBO adds no spurious optimum.
"""

import math
import os

import torch

from ..models import LinearGaussianVAE, ppca_mle
from ..plotting.figure import save_figure, subplots
from .common import check_profile, prepare_out, train_phases, write_results
from .settings import resolve_settings

# (steps, learning rate) phases of Adam; full-batch gradients keep the weak rotation-fixing
# force of the diagonal guide from drowning in minibatch noise
SETTINGS = {
    "quick": dict(n=10000, batch_size=10000, phases=((2500, 0.05), (1000, 0.005))),
    "full": dict(n=10000, batch_size=10000, phases=((10000, 0.05), (5000, 0.005), (5000, 0.0005))),
}


def ppca_data(n=10000, d=20, k=5, sigma2=0.1, top=(5.0, 0.2), seed=0):
    """Samples of pPCA with random orthonormal directions; the data covariance has eigenvalues
    ``linspace(top[0], top[1], k)`` along them and σ² elsewhere. Returns (x, directions (d, k))."""
    gen = torch.Generator().manual_seed(seed)
    directions, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    directions = directions[:, :k]
    eig = torch.linspace(top[0], top[1], k, dtype=torch.float64)
    w = directions * (eig - sigma2).sqrt()
    z = torch.randn(n, k, generator=gen, dtype=torch.float64)
    x = z @ w.T + math.sqrt(sigma2) * torch.randn(n, d, generator=gen, dtype=torch.float64)
    return x.float(), directions.float()


def column_alignment(W, directions):
    """For each principal direction, the largest |cos| with any decoder column (1 = aligned)."""
    w = W / W.norm(dim=0, keepdim=True).clamp_min(1e-12)
    return (directions.T @ w).abs().max(1).values


def run(
    out="runs/linear-vae-ppca",
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
):
    cfg = resolve_settings(SETTINGS[check_profile(profile)], overrides, "linear-vae-ppca")
    prepare_out(out)
    x, directions = ppca_data(cfg["n"], seed=seed)
    fit = ppca_mle(x.double(), 5)
    torch.manual_seed(seed)
    vae = LinearGaussianVAE(20, 5, seed=seed)
    with torch.no_grad():
        vae.mu.copy_(x.mean(0))
    history = train_phases(
        vae.model, vae.guide, x, cfg["phases"], cfg["batch_size"], seed, device, progress
    )
    vae = vae.cpu()
    with torch.no_grad():
        elbo = vae.elbo(x).mean().item()
        log_lik = vae.log_marginal(x).mean().item()
        learned_sigma2 = vae.sigma2.item()
        align = column_alignment(vae.W, fit.W.float() / fit.W.float().norm(dim=0))
    results = {
        "claim": "linear VAE trained by the ELBO reaches the pPCA maximum likelihood",
        "history_every_100": history[::100],
        "paper": "Lucas et al. 2019, Sec. 4 (Cor. 1, Thm. 2)",
        "profile": profile,
        "config": cfg,
        "ppca_max_log_likelihood": fit.log_likelihood.item(),
        "final_elbo": elbo,
        "final_log_likelihood": log_lik,
        "elbo_gap_to_ppca_optimum": fit.log_likelihood.item() - elbo,
        "learned_sigma2": learned_sigma2,
        "ppca_sigma2": fit.sigma2.item(),
        "sample_eigenvalues": fit.eigenvalues.tolist(),
        "column_abs_cos": align.tolist(),
        "min_column_abs_cos": align.min().item(),
    }
    steps = [r["step"] for r in history]
    fig, axes = subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(steps, [r["elbo"] for r in history], lw=0.6, label="ELBO (one-sample estimate)")
    axes[0].axhline(fit.log_likelihood.item(), color="k", ls="--", label="pPCA max log-lik")
    axes[0].set_ylim(fit.log_likelihood.item() - 5, fit.log_likelihood.item() + 1)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("nats / point")
    axes[0].legend(fontsize=8)
    axes[1].bar(range(5), align.numpy())
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("|cos| decoder column vs principal direction", fontsize=9)
    fig.tight_layout()
    save_figure(fig, os.path.join(out, "linear_vae_ppca.png"))
    return write_results(out, results)
