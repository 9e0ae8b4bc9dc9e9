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

import torch

from ..data import load_binarized_mnist, random_subset
from ..diagnostics import aggregate_posterior_moments, aggregate_posterior_test, kl_to_posterior
from ..infer import EvidenceLowerBound, InfoVAE, train
from ..models import build_vae
from ..ops import mmd2, rbf_kernel
from ..plotting import plot_aggregate_mixture, plot_image_rows, plot_posteriors
from ..posterior import grid, nuts, nuts_summary
from .common import check_profile, prepare_out, write_results
from .settings import resolve_settings

SETTINGS = {
    "quick": dict(
        n_train=500,
        steps=1500,
        hidden=[256],
        net="mlp",
        kl_points=100,
        n_test=1000,
        grid_resolution=81,
        nuts_samples=200,
    ),
    "full": dict(
        n_train=500,
        steps=20000,
        hidden=[1024],
        net="conv",
        kl_points=500,
        n_test=10000,
        grid_resolution=201,
        nuts_samples=1000,
    ),
}
BOUNDS = (-4.0, 4.0)


def _pixel_mmd(a, b):
    return mmd2(
        a.reshape(len(a), -1), b.reshape(len(b), -1), lambda x, y: rbf_kernel(x, y, "median")
    ).item()


def run(
    out="runs/infovae-posteriors",
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
):
    cfg = resolve_settings(SETTINGS[check_profile(profile)], overrides, "infovae-posteriors")
    prepare_out(out)
    x_train = load_binarized_mnist(data, "train")[: cfg["n_train"]]
    x_test = random_subset(
        load_binarized_mnist(data, "test"), cfg["n_test"], seed
    )  # the split is class-ordered
    results = {
        "claim": "InfoVAE's q(z) and posteriors are closer to p(z) and p(z|x); ELBO prior "
        "samples are "
        "worse than its reconstructions",
        "paper": "Zhao, Song, Ermon 2019, Figs. 3-5",
        "profile": profile,
        "config": cfg,
        "objectives": {},
    }
    for label, objective in (("ELBO", EvidenceLowerBound()), ("InfoVAE-MMD", InfoVAE(0.0, 1000.0))):
        torch.manual_seed(seed)
        vae = build_vae(
            {"data_shape": [784], "z_dim": 2, "hidden": cfg["hidden"], "net": cfg["net"]}
        )
        train(
            vae.model,
            vae.guide,
            x_train,
            objective,
            steps=cfg["steps"],
            batch_size=100,
            seed=seed,
            device=device,
            progress=progress,
        )
        vae = vae.cpu()
        with torch.no_grad():
            loc, scale = vae.encode(x_test)
        moments = aggregate_posterior_moments(loc, scale)
        test = aggregate_posterior_test(loc, scale, num_permutations=200, seed=seed + 1)
        pts = x_test[: cfg["kl_points"]]
        kl = kl_to_posterior(
            vae.model,
            vae.guide,
            pts,
            method="grid",
            bounds=BOUNDS,
            resolution=cfg["grid_resolution"],
        )
        few = pts[:3]
        g = grid(vae.model, few, bounds=BOUNDS, resolution=cfg["grid_resolution"])
        idata = nuts(
            vae.model,
            few,
            num_samples=cfg["nuts_samples"],
            warmup_steps=cfg["nuts_samples"],
            num_chains=2,
            guide=vae.guide,
            seed=seed,
        )
        draws = torch.as_tensor(idata.posterior["z"].values).reshape(-1, 3, 2).float()
        with torch.no_grad():
            recon, samples = vae.reconstruct(x_test[:200]), vae.sample(200)
        results["objectives"][label] = {
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
        plot_aggregate_mixture(loc, scale, os.path.join(out, f"aggregate_{label}.png"))
        plot_posteriors(
            loc[:3],
            scale[:3],
            range(3),
            grid_result=g,
            samples=draws,
            path=os.path.join(out, f"posteriors_{label}.png"),
        )
        plot_image_rows(
            {"data": x_test[:12], "reconstruction": recon[:12], "prior sample": samples[:12]},
            os.path.join(out, f"samples_{label}.png"),
        )
    e, i = results["objectives"]["ELBO"], results["objectives"]["InfoVAE-MMD"]
    results["checks"] = {
        "infovae_aggregate_closer_to_prior": i["aggregate_mmd2"] < e["aggregate_mmd2"],
        "infovae_posteriors_closer": i["mean_kl_q_true_posterior"] < e["mean_kl_q_true_posterior"],
        "elbo_prior_samples_worse_than_reconstructions": e["pixel_mmd_prior_samples"]
        > e["pixel_mmd_reconstructions"],
    }
    return write_results(out, results)
