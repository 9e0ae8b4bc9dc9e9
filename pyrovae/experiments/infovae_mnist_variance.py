r"""``infovae-mnist-variance`` — InfoVAE (Zhao, Song, Ermon 2019), Figure 2.

Binarized MNIST training sets of increasing size, DCGAN-style conv encoder / decoder, dim z = 10,
Bernoulli likelihood; ELBO against InfoVAE-MMD (α = 0, λ = 1000). Metric: log det Cov[q(z)] of the
aggregate posterior over the test set (exact mixture moments; 0 for the prior N(0, I)). Claim:
the ELBO over-estimates the aggregate variance (log det clearly > 0, worst for small training sets)
while InfoVAE stays near 0.
"""

import os
from dataclasses import dataclass

import torch

from ..checks import NON_NEGATIVE
from ..data import load_binarized_mnist, random_subset
from ..diagnostics import aggregate_posterior_moments
from ..infer import EvidenceLowerBound, InfoVAE
from ..models import conv_vae
from ..plotting.figure import save_figure, subplots
from .framework.common import encode_in_batches, fit

CLAIM = "ELBO over-estimates log det Cov[q(z)] (> 0, worst at small N); InfoVAE stays closer to 0"
PAPER = "Zhao, Song, Ermon 2019, Fig. 2"


@dataclass(frozen=True)
class Config:
    """Training-set ``sizes`` of binarized MNIST, conv encoder / decoder (``channels``,
    ``hidden``), dim z, ``steps`` of Adam at batch ``batch_size``; InfoVAE with (α, λ); the
    aggregate posterior measured on ``n_test`` random test images."""

    sizes: tuple = (500, 2000)
    steps: int = 800
    batch_size: int = 100
    channels: int = 32
    hidden: int = 256
    n_test: int = 2000
    z_dim: int = 10
    alpha: float = 0.0
    lam: float = NON_NEGATIVE.field(1000.0)


PROFILES = {
    "quick": Config(),
    "full": Config(
        sizes=(500, 1000, 2000, 5000, 10000, 50000),
        steps=20000,
        channels=64,
        hidden=1024,
        n_test=10000,
    ),
}


@torch.no_grad()
def aggregate_log_det(vae, x, batch=500):
    """log det and per-dimension variances of the aggregate posterior's moments over ``x`` (encoded
    in batches)."""
    m = aggregate_posterior_moments(*encode_in_batches(vae, x, batch))
    return m["log_det"].item(), m["variance"].tolist()


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    train_all = load_binarized_mnist(data, "train")
    # a random subset: the test split is ordered by class
    test = random_subset(load_binarized_mnist(data, "test"), config.n_test, seed)
    rows = []
    for size in config.sizes:
        for label, objective in (
            ("ELBO", EvidenceLowerBound()),
            ("InfoVAE-MMD", InfoVAE(config.alpha, config.lam)),
        ):
            vae = conv_vae(config.z_dim, config.channels, config.hidden, seed=seed)
            fit(
                vae,
                train_all[:size],
                objective,
                config,
                seed=seed,
                device=device,
                progress=progress,
            )
            log_det, variance = aggregate_log_det(vae.cpu(), test)
            rows.append(
                {
                    "objective": label,
                    "train_size": size,
                    "log_det_cov": log_det,
                    "variance_per_dim": variance,
                }
            )
    return {"rows": rows}


def checks(results):
    def log_dets(label):
        rows = sorted(
            (r for r in results["rows"] if r["objective"] == label), key=lambda r: r["train_size"]
        )
        return [r["log_det_cov"] for r in rows]

    elbo, info = log_dets("ELBO"), log_dets("InfoVAE-MMD")
    return {
        "elbo_over_estimates_aggregate_variance": all(v > 0 for v in elbo),
        "elbo_worst_at_the_smallest_training_set": elbo[0] >= max(elbo),
        "infovae_closer_to_prior_than_elbo": all(
            abs(i) < abs(e) for i, e in zip(info, elbo, strict=True)
        ),
    }


def plot(results, out):
    rows = results["rows"]
    fig, ax = subplots(figsize=(4.5, 3.3))
    for label in ("ELBO", "InfoVAE-MMD"):
        pts = [(r["train_size"], r["log_det_cov"]) for r in rows if r["objective"] == label]
        ax.plot(*zip(*pts, strict=True), "o-", label=label)
    ax.axhline(0.0, color="k", ls="--", lw=0.8, label="prior")
    ax.set_xscale("log")
    ax.set_xlabel("training set size")
    ax.set_ylabel("log det Cov[q(z)]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return [save_figure(fig, os.path.join(out, "figure2.png"))]


def summary(results):
    cells = [
        f"{r['objective']} N={r['train_size']}: {r['log_det_cov']:.2f}"
        for r in sorted(results["rows"], key=lambda r: (r["objective"], r["train_size"]))
    ]
    cfg = results["config"]
    return (
        f"log det Cov[q(z)] ({cfg['steps']} steps, {cfg['channels']}-channel conv nets, "
        f"{cfg['n_test']} random test images): " + "; ".join(cells)
    )
