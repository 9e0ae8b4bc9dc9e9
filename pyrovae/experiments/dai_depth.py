r"""``dai-depth`` — Dai, Wang, Wipf, "The Usual Suspects? Reassessing Blame for VAE Posterior
Collapse" (ICML 2020), Figure 1 and the trend of Figure 2.

An autoencoder and a VAE with a Gaussian decoder N(μ(z), γI) and learned γ (one scalar, floored at
ξ, Mattei & Frellsen 2018), encoder and decoder MLPs with ``depth`` hidden layers of ReLU units
(512 wide, as in the paper, in both profiles), trained the same number of
Adam steps at each depth. The autoencoder is the same network trained with β = 0
(reconstruction only: its encoder's noise scale is free to shrink to 0). Measured on the
training images: the reconstruction error ‖x − μ(μ_q(x))‖² per image (the code is the encoder
mean), and for the VAE the encoder's σ_z per latent dimension.

The paper's claims: deeper networks first lower and then *raise* the training reconstruction error
(the optimization landscape gets worse with depth, so a deeper model fits its own training data
worse), the VAE's error is at least the autoencoder's, and with depth σ_z moves toward 1 (more
latent dimensions collapse). The training images are Fashion-MNIST's grey levels in [0, 1], as
in the paper (``dataset="fashion-mnist"``, the default); ``dataset="binarized-mnist"`` runs the
same networks on the fixed binarization of MNIST (the data of this experiment's earlier verdicts),
modelled by the same Gaussian decoder.
"""

import functools
import os
import sys
from dataclasses import dataclass

import torch

from ..checks import NON_NEGATIVE, POSITIVE
from ..data import load_binarized_mnist, load_fashion_mnist, random_subset
from ..infer import BetaVAE, EvidenceLowerBound
from ..models import VAE, LearnedGaussian
from ..nets import MLP
from ..plotting.figure import save_figure, subplots
from .framework.common import encode_in_batches, fit
from .framework.stages import run_all_stages

CLAIM = (
    "Training reconstruction error first falls, then rises with depth; the VAE's is at least the "
    "AE's; σ_z moves toward 1 with depth"
)
PAPER = "Dai, Wang, Wipf 2020, Fig. 1 and 2"
MODELS = ("AE", "VAE")
DATASETS = {"fashion-mnist": "Fashion-MNIST", "binarized-mnist": "binarized MNIST"}


@dataclass(frozen=True)
class Config:
    """``n`` random training images of ``dataset`` ("fashion-mnist", the paper's, or
    "binarized-mnist"); encoder and decoder MLPs with ``depth``
    hidden layers of ``width`` ReLU units for each depth in ``depths``; dim z; ``steps`` Adam
    steps at batch ``batch_size`` and learning rate ``lr``; the decoder variance γ is learned
    from ``init_gamma``, floored at ``min_variance``. ``error_tolerance``: the relative margin
    by which an error must rise or fall to count; ``collapse_sigma``: σ_z above it counts as a
    collapsed dimension."""

    n: int = 5000
    dataset: str = "fashion-mnist"
    depths: tuple = (1, 2, 4, 6, 8, 10)
    width: int = 512
    z_dim: int = 20
    steps: int = 2000
    batch_size: int = 128
    lr: float = POSITIVE.field(1e-3)
    init_gamma: float = POSITIVE.field(1.0)
    min_variance: float = NON_NEGATIVE.field(1e-4)
    error_tolerance: float = POSITIVE.field(0.02)
    collapse_sigma: float = POSITIVE.field(0.9)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise ValueError(
                f"dai-depth: dataset must be one of {sorted(DATASETS)}, got {self.dataset!r} "
                "(--set dataset=fashion-mnist)"
            )


def training_images(config, data, seed):
    """``config.n`` random training images of ``config.dataset``, (n, 784) in [0, 1] (read
    once per data set, path, size and seed, for all the stages)."""
    return _training_images(config.dataset, data, config.n, seed).clone()


@functools.lru_cache(maxsize=2)
def _training_images(dataset, data, n, seed):
    if dataset == "fashion-mnist":
        x = load_fashion_mnist(data, "train")[0]
    else:
        x = load_binarized_mnist(data, "train")
    return random_subset(x, n, seed)


PROFILES = {
    "quick": Config(),
    "full": Config(n=50000, z_dim=64, steps=30000),
}


def depth_vae(config, depth, seed):
    """An MLP VAE with ``depth`` hidden layers of ``config.width`` units and a learned Gaussian
    variance γ, seeded."""
    torch.manual_seed(seed)
    hidden = [config.width] * depth
    return VAE(
        MLP(784, hidden, 2 * config.z_dim),
        MLP(config.z_dim, hidden, 784),
        LearnedGaussian(init_sigma=config.init_gamma**0.5, min_variance=config.min_variance),
        config.z_dim,
        (784,),
    )


@torch.no_grad()
def reconstruction(vae, x, batch=1000):
    """Squared error per image of the decoder mean at the encoder mean, and the encoder's σ_z
    (one encoder pass)."""
    loc, scale = encode_in_batches(vae, x, batch)
    errors = [
        (vae.decoder_mean(loc[i : i + batch]) - x[i : i + batch]).pow(2).sum(-1)
        for i in range(0, len(x), batch)
    ]
    return torch.cat(errors), scale


def stages(config):
    """One stage per model and depth: ``AE-depth-1``, ``VAE-depth-1``, ..."""
    return [f"{label}-depth-{depth}" for depth in config.depths for label in MODELS]


def run_stage(config, stage, out, device="cpu", seed=0, data=None, progress=False):
    """Train one model at one depth on the training images; its row of numbers."""
    label, depth = stage.split("-depth-")
    depth = int(depth)
    x = training_images(config, data, seed)
    objective = BetaVAE(0.0) if label == "AE" else EvidenceLowerBound()
    vae = depth_vae(config, depth, seed)
    trained = fit(vae, x, objective, config, seed=seed, device=device, progress=progress)
    vae = vae.cpu()
    errors, sigma_z = reconstruction(vae, x)
    per_dim = sigma_z.mean(0)  # mean σ_z of each latent dimension over the images
    return {
        "model": label,
        "depth": depth,
        "reconstruction_error": errors.mean().item(),
        "gamma": vae.likelihood.variance().item(),
        "final_loss": trained.last("loss"),
        "sigma_z_per_dimension": per_dim.tolist(),
        "sigma_z_median": sigma_z.median().item(),
        "collapsed_dimensions": int((per_dim > config.collapse_sigma).sum()),
    }


def assemble(config, done):
    """The rows of every stage, in the stages' order, and the top-level numbers."""
    rows = [done[stage] for stage in stages(config)]
    return {"rows": rows, **_scalars(rows)}


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    return run_all_stages(sys.modules[__name__], config, out, device, seed, data, progress)


def _scalars(rows):
    """Top-level numbers for summaries and sweeps: the error per model and depth."""
    out = {}
    for r in rows:
        out[f"{r['model']}_error_depth_{r['depth']}"] = r["reconstruction_error"]
        if r["model"] == "VAE":
            out[f"VAE_sigma_z_median_depth_{r['depth']}"] = r["sigma_z_median"]
    return out


def _rows(results, model):
    """One model's rows, shallowest first."""
    return sorted((r for r in results["rows"] if r["model"] == model), key=lambda r: r["depth"])


def _errors(results, model):
    rows = _rows(results, model)
    return [r["depth"] for r in rows], [r["reconstruction_error"] for r in rows]


def checks(results):
    tol = results["config"]["error_tolerance"]
    _, vae = _errors(results, "VAE")
    _, ae = _errors(results, "AE")
    best = min(range(len(vae)), key=vae.__getitem__)
    vae_rows = _rows(results, "VAE")
    return {
        # the error at the best depth is clearly below the shallowest's (falls first) ...
        "vae_error_falls_then_rises_with_depth": vae[best] < vae[0] * (1 - tol)
        # ... and the deepest's is clearly above the best (then rises)
        and vae[-1] > vae[best] * (1 + tol),
        "ae_error_rises_at_the_deepest": ae[-1] > min(ae) * (1 + tol),
        "vae_error_at_least_ae_at_every_depth": all(
            v >= a * (1 - tol) for v, a in zip(vae, ae, strict=True)
        ),
        "vae_sigma_z_moves_toward_one_with_depth": vae_rows[-1]["sigma_z_median"]
        > vae_rows[0]["sigma_z_median"],
    }


def plot(results, out):
    path = os.path.join(out, "depth.png")
    fig, axes = subplots(1, 2, figsize=(10, 3.4))
    for model in MODELS:
        depths, errors = _errors(results, model)
        axes[0].plot(depths, errors, "o-", label=model)
    axes[0].set_xlabel("hidden layers (encoder and decoder each)")
    axes[0].set_ylabel("training reconstruction error per image")
    axes[0].legend()
    vae_rows = _rows(results, "VAE")
    axes[1].boxplot(
        [r["sigma_z_per_dimension"] for r in vae_rows],
        tick_labels=[str(r["depth"]) for r in vae_rows],
    )
    axes[1].axhline(1.0, color="k", lw=0.8, ls="--")
    axes[1].set_xlabel("hidden layers")
    axes[1].set_ylabel("VAE σ_z per latent dimension")
    fig.tight_layout()
    save_figure(fig, path)
    return [path]


def summary(results):
    cells = []
    for model in MODELS:
        depths, errors = _errors(results, model)
        cells.append(
            f"{model} reconstruction error at depth "
            + ", ".join(f"{d}: {e:.1f}" for d, e in zip(depths, errors, strict=True))
        )
    vae_rows = _rows(results, "VAE")
    cells.append(
        "VAE median σ_z "
        + ", ".join(f"{r['depth']}: {r['sigma_z_median']:.2f}" for r in vae_rows)
        + "; collapsed dimensions "
        + ", ".join(f"{r['depth']}: {r['collapsed_dimensions']}" for r in vae_rows)
        + f" ({_data_words(results)})"
    )
    return "; ".join(cells)


def _data_words(results):
    """Which images the numbers are from, and whether they are the paper's."""
    dataset = results["config"].get("dataset", "binarized-mnist")  # older results: MNIST
    if dataset == "fashion-mnist":
        return f"{results['config']['n']} Fashion-MNIST training images, as the paper"
    return f"{results['config']['n']} binarized-MNIST images, not the paper's Fashion-MNIST"
