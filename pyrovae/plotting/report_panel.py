"""The figure panel of a diagnostics report."""

import torch

from .figure import save_figure, subplots
from .posteriors import plot_aggregate_posterior, plot_latent_scatter


def plot_report(rep, path=None):
    """KL per dimension, aggregate posterior against the prior, per-point variational gaps and,
    with labels, the latent scatter."""
    a = rep.arrays
    panels = 4 if "labels" in a else 3
    fig, axes = subplots(1, panels, figsize=(3.6 * panels, 3.3))
    kl = a["kl_per_dimension"].detach().cpu().numpy()
    axes[0].bar(range(len(kl)), kl)
    axes[0].set_xlabel("latent dimension")
    axes[0].set_title("KL(q(z_i|x) ‖ p(z_i)), mean over x", fontsize=9)
    reps = max(1, min(50, 20000 // a["loc"].shape[0]))  # draws per point: q(z) is a mixture
    loc, scale = a["loc"].repeat(reps, 1), a["scale"].repeat(reps, 1)
    plot_aggregate_posterior(loc + scale * torch.randn_like(scale), ax=axes[1])
    axes[2].hist(a["variational_gap"].detach().cpu().numpy(), bins=30)
    axes[2].set_title("log p(x) − ELBO per point (nats)", fontsize=9)
    if "labels" in a:
        plot_latent_scatter(a["loc"], a["labels"], ax=axes[3])
    fig.tight_layout()
    if path:
        save_figure(fig, path)
    return fig
