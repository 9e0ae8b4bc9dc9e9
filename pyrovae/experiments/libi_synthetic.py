r"""``libi-synthetic`` — Yacoby, Pan, Doshi-Velez, "Characterizing and avoiding problematic global
optima of variational autoencoders" (AABI 2019, arXiv 2003.07756).

For each synthetic data set (:mod:`pyrovae.data.synthetic`) a VAE family (MLP 64-64 encoder and
decoder, Gaussian likelihood with a learned scalar σ) is fitted three ways — ELBO, IWAE (K = 20),
and LiBI (stage 1: log p̂_θ(x) with prior samples; stage 2: the guide by the ELBO, decoder frozen) —
and compared with the ground-truth model on held-out data:

* ``log_px``: exact test log p(x) per point (quadrature over z, for learned decoders too);
* ``best_elbo``: the best ELBO each decoder admits — a per-point Gaussian q* fitted to the frozen
  decoder from two starts, the better kept per point (mean over test points, importance-sampled);
* ``kl_q_posterior``: mean KL(q(z|x) ‖ p_θ(z|x)) of each method's amortized guide, on the grid;
* ``aggregate_mmd``: MMD² (and permutation p-value) between the aggregate posterior and p(z):
  q(z) from the guide, and for LiBI and the truth also from exact (grid) posteriors.

Claims checked: the ELBO's decoder attains a higher ELBO than the ground truth but a lower log p(x)
(the ELBO's bias); LiBI's decoder gets log p(x) close to the truth and, with exact posteriors, an
aggregate posterior that matches p(z); on ``absolute-value`` two decoders (|z| and a monotone map)
have the same log p(x) but different posteriors (unidentifiability).
"""

import dataclasses
import os

import torch

from ..data.synthetic import SYNTHETIC_DATASETS, monotone_absolute_value
from ..diagnostics import aggregate_posterior_test, kl_to_posterior, mmd_permutation_test
from ..infer import IWAE, EvidenceLowerBound, fit_per_point_guide, libi_fit, train
from ..models import VAE, LearnedGaussian
from ..nets import MLP
from ..plotting.figure import save_figure, subplots
from ..posterior import grid, importance
from .common import check_profile, prepare_out, write_results
from .settings import resolve_settings

SETTINGS = {
    "quick": dict(
        datasets=("figure-8", "absolute-value", "clusters", "banana"),
        n_train=1000,
        n_test=200,
        steps=1500,
        stage2_steps=800,
        libi_samples=256,
        libi_batch=64,
        iwae_k=20,
        q_star_steps=200,
    ),
    "full": dict(
        datasets=("figure-8", "absolute-value", "clusters", "banana"),
        n_train=5000,
        n_test=1000,
        steps=20000,
        stage2_steps=5000,
        libi_samples=2048,
        libi_batch=256,
        iwae_k=20,
        q_star_steps=1000,
    ),
}
BOUNDS = (-5.0, 5.0)


def make_vae(ds, seed):
    torch.manual_seed(seed)
    hidden = [64, 64]
    return VAE(
        MLP(ds.data_dim, hidden, 2 * ds.latent_dim),
        MLP(ds.latent_dim, hidden, ds.data_dim),
        LearnedGaussian(init_sigma=0.3, min_variance=1e-4),
        ds.latent_dim,
        (ds.data_dim,),
    )


def _resolution(ds):
    return 801 if ds.latent_dim == 1 else 121


def _best_gaussian_elbo(model, x, g, steps, seed):
    """Per point, the best ELBO of a Gaussian q* fitted to the frozen decoder, from two starts —
    the exact posterior's mean and sd, and its highest grid point with a tenth of that sd (a
    symmetric bimodal posterior leaves the first start on a saddle between the modes)."""
    sd = g.covariance.diagonal(dim1=-2, dim2=-1).clamp_min(1e-8).sqrt().float()
    starts = ((g.mean.float(), sd), (g.points[g.weights.argmax(0)].float(), 0.1 * sd))
    elbos = []
    for i, (loc, scale) in enumerate(starts):
        q = fit_per_point_guide(
            model, x, steps=steps, seed=seed + i, init_loc=loc, init_scale=scale
        )
        # one batch: a per-point guide only answers for the whole set it was fitted to
        elbos.append(
            importance(
                model, q.guide, x, num_samples=200, seed=seed, progress=False, batch_size=x.shape[0]
            ).elbo
        )
    return torch.maximum(*elbos)


def evaluate(model, guide, x, ds, cfg, seed, exact_log_px=None):
    """The numbers of one fitted (model, guide) pair on test data ``x``."""
    g = grid(model, x, bounds=BOUNDS, resolution=_resolution(ds))
    best = _best_gaussian_elbo(model, x, g, cfg["q_star_steps"], seed)
    out = {
        "log_px": (exact_log_px if exact_log_px is not None else g.log_marginal).mean().item(),
        "best_elbo": best.mean().item(),
        "edge_mass_max": g.edge_mass.max().item(),
    }
    if guide is not None:
        out["kl_q_posterior"] = (
            kl_to_posterior(
                model, guide, x, method="grid", bounds=BOUNDS, resolution=_resolution(ds)
            )
            .mean()
            .item()
        )
        from ..guides import guide_gaussian_params

        loc, scale = guide_gaussian_params(guide, x)
        agg = aggregate_posterior_test(loc, scale, num_permutations=100, seed=seed + 1)
        out["aggregate_mmd_q"], out["aggregate_mmd_q_p_value"] = agg["mmd2"], agg["p_value"]
    # aggregate of the exact posteriors: one grid draw per test point against prior draws
    gen = torch.Generator().manual_seed(seed + 2)
    idx = torch.multinomial(g.weights.T.cpu(), 1, generator=gen)[:, 0]  # (B,)
    exact_draws = g.points.cpu()[idx]
    exact = mmd_permutation_test(
        exact_draws,
        torch.randn(exact_draws.shape, generator=gen),
        num_permutations=100,
        seed=seed + 3,
    )
    out["aggregate_mmd_exact"], out["aggregate_mmd_exact_p_value"] = exact["mmd2"], exact["p_value"]
    return out, g


def unidentifiability(ds, x):
    """|z| against the monotone decoder with the same pushforward: log p(x) and posterior shapes."""
    lp_abs = ds.log_prob(x)
    lp_mono = ds.log_prob(x, f=monotone_absolute_value)
    out = {
        "log_px_abs": lp_abs.mean().item(),
        "log_px_monotone": lp_mono.mean().item(),
        "max_abs_difference": (lp_abs - lp_mono).abs().max().item(),
    }
    for name, f in (("abs", ds.f), ("monotone", monotone_absolute_value)):
        g = grid(dataclasses.replace(ds, f=f).model, x, bounds=BOUNDS, resolution=801)
        # |z|: posteriors symmetric about 0 (E[z|x] = 0, two modes); monotone: one mode
        out[f"mean_abs_posterior_mean_{name}"] = g.mean[:, 0].abs().mean().item()
        out[f"posterior_sd_{name}"] = g.covariance[:, 0, 0].sqrt().mean().item()
    return out


def run(
    out="runs/libi-synthetic",
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
):
    cfg = resolve_settings(SETTINGS[check_profile(profile)], overrides, "libi-synthetic")
    prepare_out(out)
    results = {
        "claim": "the ELBO prefers decoders with easy posteriors over the true one; LiBI fits the "
        "likelihood first",
        "paper": "Yacoby, Pan, Doshi-Velez 2019",
        "profile": profile,
        "config": cfg,
        "datasets": {},
    }
    curves = {}
    for name in cfg["datasets"]:
        ds = SYNTHETIC_DATASETS[name]
        x_train, x_test = (
            ds.sample(cfg["n_train"], seed=seed),
            ds.sample(cfg["n_test"], seed=seed + 100),
        )
        rows, decoders = {}, {}
        rows["truth"], _ = evaluate(
            ds.model, None, x_test, ds, cfg, seed, exact_log_px=ds.log_prob(x_test)
        )
        for method in ("elbo", "iwae", "libi"):
            vae = make_vae(ds, seed)
            if method == "libi":
                libi_fit(
                    vae.model,
                    vae.guide,
                    x_train,
                    cfg["steps"],
                    cfg["stage2_steps"],
                    cfg["libi_samples"],
                    batch_size=cfg["libi_batch"],
                    seed=seed,
                    device=device,
                    progress=progress,
                )
            else:
                objective = EvidenceLowerBound() if method == "elbo" else IWAE(cfg["iwae_k"])
                train(
                    vae.model,
                    vae.guide,
                    x_train,
                    objective,
                    steps=cfg["steps"],
                    batch_size=256,
                    seed=seed,
                    device=device,
                    progress=progress,
                )
            vae = vae.cpu()
            rows[method], _ = evaluate(vae.model, vae.guide, x_test, ds, cfg, seed)
            rows[method]["sigma"] = vae.likelihood.variance().sqrt().item()
            decoders[method] = vae
        t, e, li = rows["truth"], rows["elbo"], rows["libi"]
        rows["checks"] = {
            "elbo_decoder_has_higher_best_elbo_than_truth": e["best_elbo"] > t["best_elbo"],
            "elbo_decoder_has_lower_log_px_than_truth": e["log_px"] < t["log_px"],
            "libi_log_px_minus_truth": li["log_px"] - t["log_px"],
            "elbo_log_px_minus_truth": e["log_px"] - t["log_px"],
        }
        if name == "absolute-value":
            rows["unidentifiability"] = unidentifiability(ds, x_test)
        results["datasets"][name] = rows
        curves[name] = (ds, x_train, decoders)
    _figures(out, curves)
    return write_results(out, results)


def _figures(out, curves):
    fig, axes = subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), squeeze=False)
    for ax, (name, (ds, x, decoders)) in zip(axes[0], curves.items(), strict=True):
        if ds.latent_dim == 1:
            z = torch.linspace(-3, 3, 400).reshape(-1, 1)
            if ds.data_dim == 1:
                ax.scatter(
                    torch.randn(len(x), generator=torch.Generator().manual_seed(0)).clamp(-3, 3),
                    x[:, 0],
                    s=2,
                    color="0.7",
                    label="data (z drawn afresh)",
                )
                ax.plot(z[:, 0], ds.f(z.double())[:, 0], "k", lw=2, label="truth f(z)")
                for m, vae in decoders.items():
                    with torch.no_grad():
                        ax.plot(z[:, 0], vae.decoder_mean(z)[:, 0], label=m)
                ax.set_xlabel("z")
                ax.set_ylabel("x")
            else:
                ax.scatter(x[:, 0], x[:, 1], s=2, color="0.7", label="data")
                f = ds.f(z.double())
                ax.plot(f[:, 0], f[:, 1], "k", lw=2, label="truth")
                for m, vae in decoders.items():
                    with torch.no_grad():
                        mu = vae.decoder_mean(z)
                    ax.plot(mu[:, 0], mu[:, 1], label=m)
        else:
            ax.scatter(x[:, 0], x[:, 1], s=2, color="0.7", label="data")
            for m, vae in decoders.items():
                with torch.no_grad():
                    s = vae.sample(300)
                ax.scatter(s[:, 0], s[:, 1], s=2, label=f"{m} samples")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, os.path.join(out, "libi_decoders.png"))
    ds, x, decoders = curves.get("figure-8", next(iter(curves.values())))
    near = x[(x.norm(dim=1)).argsort()[:3]]  # points nearest the self-crossing
    for m in ("elbo", "libi"):
        from ..guides import guide_gaussian_params
        from ..plotting import plot_posteriors

        vae = decoders[m]
        g = grid(vae.model, near, bounds=BOUNDS, resolution=801)
        loc, scale = guide_gaussian_params(vae.guide, near)
        plot_posteriors(
            loc,
            scale,
            range(3),
            grid_result=g,
            path=os.path.join(out, f"posteriors_{m}.png"),
            titles=[f"{m}: x = ({a:.2f}, {b:.2f})" for a, b in near.tolist()],
        )
