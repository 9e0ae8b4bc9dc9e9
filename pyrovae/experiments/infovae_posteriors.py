r"""``infovae-posteriors`` — InfoVAE (Zhao, Song, Ermon 2019), Figures 3, 4 and 5, dim z = 2.

500 binarized-MNIST training images; ELBO against InfoVAE-MMD (α = 0, λ = 1000). Recorded:

* aggregate posterior against p(z): MMD² with a permutation p-value and log det Cov[q(z)] on test
  images (Figure 3: contours in ``aggregate.png``);
* true posterior against q(z|x): mean KL(q(z|x) ‖ p_θ(z|x)) over test points on an exact grid, and
  NUTS for three of them as a cross-check of the grid (Figure 4: ``posteriors_*.png``);
* reconstructions next to prior samples (Figure 5: ``samples_*.png``) and, as a number, the pixel
  MMD² of each to held-out images (larger = further from the data).

Claims: InfoVAE's q(z) is closer to p(z); its posteriors are closer to the true ones; the ELBO's
prior samples are worse than its reconstructions.
"""

import os
from dataclasses import dataclass

import torch

from ..checks import NON_NEGATIVE
from ..data import load_binarized_mnist, random_subset
from ..diagnostics import aggregate_posterior_moments, aggregate_posterior_test, kl_to_posterior
from ..infer import EvidenceLowerBound, InfoVAE
from ..models import build_vae
from ..ops import mmd2, rbf_kernel
from ..plotting import plot_aggregate_mixture, plot_image_rows, plot_posteriors
from ..posterior import grid, nuts, nuts_summary
from .framework.common import fit, grid_view, stored_grid

CLAIM = (
    "InfoVAE's q(z) is closer to p(z), its posteriors closer to the true ones; the ELBO's prior "
    "samples are worse than its reconstructions"
)
PAPER = "Zhao, Song, Ermon 2019, Figs. 3-5"
BOUNDS = (-4.0, 4.0)


@dataclass(frozen=True)
class Config:
    """``n_train`` binarized-MNIST images, dim z = 2, an MLP (``hidden``) or conv net, ``steps``
    of Adam at batch ``batch_size``; InfoVAE with (α, λ). Evaluation on ``n_test`` random test
    images: KL(q ‖ p(z|x)) on a ``grid_resolution``² grid over ``bounds`` for ``kl_points`` of
    them, NUTS (``nuts_samples`` draws and warm-up, 2 chains) for three."""

    n_train: int = 500
    steps: int = 1500
    batch_size: int = 100
    hidden: tuple = (256,)
    net: str = "mlp"
    z_dim: int = 2
    alpha: float = 0.0
    lam: float = NON_NEGATIVE.field(1000.0)
    kl_points: int = 100
    n_test: int = 1000
    grid_resolution: int = 81
    bounds: tuple = BOUNDS
    nuts_samples: int = 200


PROFILES = {
    "quick": Config(),
    "full": Config(
        steps=20000,
        hidden=(1024,),
        net="conv",
        kl_points=500,
        n_test=10000,
        grid_resolution=201,
        nuts_samples=1000,
    ),
}


def _pixel_mmd(a, b):
    return mmd2(
        a.reshape(len(a), -1), b.reshape(len(b), -1), lambda x, y: rbf_kernel(x, y, "median")
    ).item()


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    x_train = load_binarized_mnist(data, "train")[: config.n_train]
    # a random subset: the test split is ordered by class
    x_test = random_subset(load_binarized_mnist(data, "test"), config.n_test, seed)
    bounds = tuple(config.bounds)
    objectives, figures = {}, {}
    for label, objective in (
        ("ELBO", EvidenceLowerBound()),
        ("InfoVAE-MMD", InfoVAE(config.alpha, config.lam)),
    ):
        torch.manual_seed(seed)
        net = {"hidden": list(config.hidden), "net": config.net}
        vae = build_vae({"data_shape": [784], "z_dim": config.z_dim, **net})
        fit(vae, x_train, objective, config, seed=seed, device=device, progress=progress)
        vae = vae.cpu()
        with torch.no_grad():
            loc, scale = vae.encode(x_test)
        moments = aggregate_posterior_moments(loc, scale)
        test = aggregate_posterior_test(loc, scale, num_permutations=200, seed=seed + 1)
        pts = x_test[: config.kl_points]
        kl = kl_to_posterior(
            vae.model,
            vae.guide,
            pts,
            method="grid",
            bounds=bounds,
            resolution=config.grid_resolution,
        )
        few = pts[:3]
        g = grid(vae.model, few, bounds=bounds, resolution=config.grid_resolution)
        idata = nuts(
            vae.model,
            few,
            num_samples=config.nuts_samples,
            warmup_steps=config.nuts_samples,
            num_chains=2,
            guide=vae.guide,
            seed=seed,
        )
        draws = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 3, config.z_dim).float()
        with torch.no_grad():
            recon, samples = vae.reconstruct(x_test[:200]), vae.sample(200)
        objectives[label] = {
            "aggregate_log_det_cov": moments["log_det"].item(),
            "aggregate_mmd2": test["mmd2"],
            "aggregate_mmd_p_value": test["p_value"],
            "mean_kl_q_true_posterior": kl.mean().item(),
            "kl_points": int(pts.shape[0]),
            "nuts": nuts_summary(idata),
            "nuts_vs_grid_max_mean_difference": (draws.mean(0) - g.mean.float()).abs().max().item(),
            "pixel_mmd_reconstructions": _pixel_mmd(recon, x_test[200:400]),
            "pixel_mmd_prior_samples": _pixel_mmd(samples, x_test[200:400]),
        }
        figures[label] = {
            "loc": loc.tolist(),
            "scale": scale.tolist(),
            "grid": stored_grid(g),
            "nuts_draws": draws.tolist(),
            "images": {
                "data": x_test[:12].tolist(),
                "reconstruction": recon[:12].tolist(),
                "prior sample": samples[:12].tolist(),
            },
        }
    return {"objectives": objectives, "figure_data": figures}


def checks(results):
    e, i = results["objectives"]["ELBO"], results["objectives"]["InfoVAE-MMD"]
    return {
        "infovae_aggregate_closer_to_prior": i["aggregate_mmd2"] < e["aggregate_mmd2"],
        "infovae_posteriors_closer": i["mean_kl_q_true_posterior"] < e["mean_kl_q_true_posterior"],
        "elbo_prior_samples_worse_than_reconstructions": e["pixel_mmd_prior_samples"]
        > e["pixel_mmd_reconstructions"],
    }


def summary(results):
    e, i = results["objectives"]["ELBO"], results["objectives"]["InfoVAE-MMD"]
    return (
        f"aggregate MMD² vs p(z) {i['aggregate_mmd2']:.4f} (InfoVAE) vs {e['aggregate_mmd2']:.4f} "
        f"(ELBO); log det Cov[q(z)] {i['aggregate_log_det_cov']:.2f} vs "
        f"{e['aggregate_log_det_cov']:.2f}; mean grid KL(q ‖ p(z|x)) over {e['kl_points']} test "
        f"images {i['mean_kl_q_true_posterior']:.2f} vs {e['mean_kl_q_true_posterior']:.2f} nats; "
        f"NUTS vs grid posterior means ≤ "
        f"{max(e['nuts_vs_grid_max_mean_difference'], i['nuts_vs_grid_max_mean_difference']):.3f};"
        f" pixel MMD² to held-out images, ELBO prior samples {e['pixel_mmd_prior_samples']:.3f} vs"
        f" reconstructions {e['pixel_mmd_reconstructions']:.3f}"
    )


def plot(results, out):
    paths = []
    for label, f in results["figure_data"].items():
        loc, scale = torch.tensor(f["loc"]), torch.tensor(f["scale"])
        paths.append(os.path.join(out, f"aggregate_{label}.png"))
        plot_aggregate_mixture(loc, scale, paths[-1])
        paths.append(os.path.join(out, f"posteriors_{label}.png"))
        plot_posteriors(
            loc[:3],
            scale[:3],
            range(3),
            grid_result=grid_view(f["grid"]),
            samples=torch.tensor(f["nuts_draws"]),
            path=paths[-1],
        )
        paths.append(os.path.join(out, f"samples_{label}.png"))
        plot_image_rows({k: torch.tensor(v) for k, v in f["images"].items()}, paths[-1])
    return paths
