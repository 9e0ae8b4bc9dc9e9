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
aggregate posterior that matches p(z); on ``absolute-value`` two decoders (``|z|`` and a monotone
map) have the same log p(x) but different posteriors (unidentifiability).
"""

import dataclasses
import os
from dataclasses import dataclass

import torch

from ..checks import NON_NEGATIVE, POSITIVE
from ..data.synthetic import SYNTHETIC_DATASETS, monotone_absolute_value
from ..diagnostics import aggregate_posterior_test, kl_to_posterior, mmd_permutation_test
from ..infer import IWAE, EvidenceLowerBound, fit_per_point_guide, libi_fit
from ..models import VAE, LearnedGaussian
from ..nets import MLP
from ..plotting.figure import save_figure, subplots
from ..posterior import grid, importance
from .framework.common import fit, grid_view, stored_grid

CLAIM = (
    "The ELBO prefers a decoder with a higher ELBO but a lower log p(x) than the true one; LiBI "
    "(likelihood first, then inference) recovers log p(x) close to the truth; |z| and a monotone "
    "decoder have the same log p(x) but different posteriors"
)
PAPER = "Yacoby, Pan, Doshi-Velez 2019"
BOUNDS = (-5.0, 5.0)


@dataclass(frozen=True)
class Config:
    """Synthetic ``datasets``; n_train / n_test points; MLP encoder and decoder (``hidden``),
    Gaussian likelihood with a learned scalar σ (started at ``init_sigma``, floor
    ``min_variance``); ELBO and IWAE (``iwae_k``) for ``steps`` at batch ``batch_size``; LiBI
    with ``libi_samples`` prior samples at batch ``libi_batch``, then ``stage2_steps`` for the
    guide; q* fitted ``q_star_steps`` steps. ``libi_tolerance``: nats per point for "LiBI's
    log p(x) is close to the truth"."""

    datasets: tuple = ("figure-8", "absolute-value", "clusters", "banana")
    n_train: int = 1000
    n_test: int = 200
    steps: int = 1500
    stage2_steps: int = 800
    batch_size: int = 256
    libi_samples: int = 256
    libi_batch: int = 64
    iwae_k: int = 20
    q_star_steps: int = 200
    hidden: tuple = (64, 64)
    init_sigma: float = POSITIVE.field(0.3)
    min_variance: float = NON_NEGATIVE.field(1e-4)
    libi_tolerance: float = POSITIVE.field(0.05)


PROFILES = {
    "quick": Config(),
    "full": Config(
        n_train=5000,
        n_test=1000,
        steps=20000,
        stage2_steps=5000,
        libi_samples=2048,
        libi_batch=256,
        q_star_steps=1000,
    ),
}


def make_vae(ds, seed, config=PROFILES["quick"]):
    """An MLP VAE for data set ``ds`` (its data and latent dimensions) with a learned Gaussian
    variance, seeded."""
    torch.manual_seed(seed)
    hidden = list(config.hidden)
    return VAE(
        MLP(ds.data_dim, hidden, 2 * ds.latent_dim),
        MLP(ds.latent_dim, hidden, ds.data_dim),
        LearnedGaussian(init_sigma=config.init_sigma, min_variance=config.min_variance),
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
    best = _best_gaussian_elbo(model, x, g, cfg.q_star_steps, seed)
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
    """``|z|`` against the monotone decoder with the same pushforward: log p(x) and posterior
    shapes."""
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


def run(config, out, device="cpu", seed=0, data=None, progress=False):
    datasets, figures, fitted = {}, {}, {}
    for name in config.datasets:
        ds = SYNTHETIC_DATASETS[name]
        x_train = ds.sample(config.n_train, seed=seed)
        x_test = ds.sample(config.n_test, seed=seed + 100)
        rows, decoders = {}, {}
        rows["truth"], _ = evaluate(
            ds.model, None, x_test, ds, config, seed, exact_log_px=ds.log_prob(x_test)
        )
        for method in ("elbo", "iwae", "libi"):
            vae = make_vae(ds, seed, config)
            if method == "libi":
                libi_fit(
                    vae.model,
                    vae.guide,
                    x_train,
                    config.steps,
                    config.stage2_steps,
                    config.libi_samples,
                    batch_size=config.libi_batch,
                    seed=seed,
                    device=device,
                    progress=progress,
                )
            else:
                objective = EvidenceLowerBound() if method == "elbo" else IWAE(config.iwae_k)
                fit(vae, x_train, objective, config, seed=seed, device=device, progress=progress)
            vae = vae.cpu()
            rows[method], _ = evaluate(vae.model, vae.guide, x_test, ds, config, seed)
            rows[method]["sigma"] = vae.likelihood.variance().sqrt().item()
            decoders[method] = vae
        t, e, li = rows["truth"], rows["elbo"], rows["libi"]
        rows["libi_log_px_minus_truth"] = li["log_px"] - t["log_px"]
        rows["elbo_log_px_minus_truth"] = e["log_px"] - t["log_px"]
        if name == "absolute-value":
            rows["unidentifiability"] = unidentifiability(ds, x_test)
        datasets[name] = rows
        figures[name] = decoder_curves(ds, x_train, decoders)
        fitted[name] = decoders
    first = "figure-8" if "figure-8" in config.datasets else config.datasets[0]
    ds = SYNTHETIC_DATASETS[first]
    x = ds.sample(config.n_train, seed=seed)
    scalars = {}  # top-level numbers per data set, for sweep summaries (mean ± sd over seeds)
    for name, rows in datasets.items():
        scalars[f"{name}_elbo_log_px_minus_truth"] = rows["elbo_log_px_minus_truth"]
        scalars[f"{name}_libi_log_px_minus_truth"] = rows["libi_log_px_minus_truth"]
        scalars[f"{name}_iwae_log_px_minus_truth"] = (
            rows["iwae"]["log_px"] - rows["truth"]["log_px"]
        )
        scalars[f"{name}_elbo_decoder_best_elbo_minus_truth"] = (
            rows["elbo"]["best_elbo"] - rows["truth"]["best_elbo"]
        )
    return {
        **scalars,
        "datasets": datasets,
        "decoder_curves": figures,
        "posteriors_near_crossing": posterior_curves(ds, x, fitted[first]),
    }


def checks(results):
    tol = results["config"]["libi_tolerance"]
    out = {}
    for name, rows in results["datasets"].items():
        t, e = rows["truth"], rows["elbo"]
        out[f"{name}: ELBO decoder has a higher best ELBO than the truth"] = (
            e["best_elbo"] > t["best_elbo"]
        )
        out[f"{name}: ELBO decoder has a lower log p(x) than the truth"] = e["log_px"] < t["log_px"]
        out[f"{name}: LiBI log p(x) within {tol:g} nats of the truth"] = (
            abs(rows["libi_log_px_minus_truth"]) < tol
        )
        if "unidentifiability" in rows:
            u = rows["unidentifiability"]
            out[f"{name}: same log p(x), different posteriors"] = (
                u["max_abs_difference"] < 2e-3
                and u["posterior_sd_abs"] > 2 * u["posterior_sd_monotone"]
            )
    return out


def summary(results):
    cells = []
    for name, rows in results["datasets"].items():
        cells.append(
            f"{name}: log p(x) truth {rows['truth']['log_px']:.3f}, ELBO "
            f"{rows['elbo']['log_px']:.3f}, IWAE {rows['iwae']['log_px']:.3f}, LiBI "
            f"{rows['libi']['log_px']:.3f}; best ELBO truth {rows['truth']['best_elbo']:.3f}, "
            f"ELBO decoder {rows['elbo']['best_elbo']:.3f}"
        )
    return "; ".join(cells)


@torch.no_grad()
def decoder_curves(ds, x, decoders, points=200, samples=300):
    """What the decoder figure draws, as lists: data, the true curve and each decoder's."""
    gen = torch.Generator().manual_seed(0)
    view = {"latent_dim": ds.latent_dim, "data_dim": ds.data_dim, "x": x[:1000].tolist()}
    if ds.latent_dim == 1:
        z = torch.linspace(-3, 3, points).reshape(-1, 1)
        view["z"] = z[:, 0].tolist()
        view["data_z"] = torch.randn(min(len(x), 1000), generator=gen).clamp(-3, 3).tolist()
        view["truth"] = ds.f(z.double()).tolist()
        view["decoders"] = {m: vae.decoder_mean(z).tolist() for m, vae in decoders.items()}
    else:
        torch.manual_seed(0)
        view["samples"] = {m: vae.sample(samples).tolist() for m, vae in decoders.items()}
    return view


def posterior_curves(ds, x, decoders, methods=("elbo", "libi")):
    """The exact (grid) posteriors and q(z|x) of three points nearest the origin (figure-8's
    self-crossing), for each method: what the posterior figures draw."""
    from ..guides import guide_gaussian_params

    near = x[(x.norm(dim=1)).argsort()[:3]]
    out = {"points": near.tolist()}
    for m in methods:
        vae = decoders[m]
        g = grid(vae.model, near, bounds=BOUNDS, resolution=_resolution(ds))
        loc, scale = guide_gaussian_params(vae.guide, near)
        out[m] = {"loc": loc.tolist(), "scale": scale.tolist(), "grid": stored_grid(g)}
    return out


def plot(results, out):
    from ..plotting import plot_posteriors

    curves = results["decoder_curves"]
    paths = [os.path.join(out, "libi_decoders.png")]
    fig, axes = subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6), squeeze=False)
    for ax, (name, c) in zip(axes[0], curves.items(), strict=True):
        x = torch.tensor(c["x"])
        if c["latent_dim"] == 1 and c["data_dim"] == 1:
            ax.scatter(c["data_z"], x[: len(c["data_z"]), 0], s=2, color="0.7", label="data")
            ax.plot(c["z"], [f[0] for f in c["truth"]], "k", lw=2, label="truth f(z)")
            for m, mu in c["decoders"].items():
                ax.plot(c["z"], [v[0] for v in mu], label=m)
            ax.set_xlabel("z")
            ax.set_ylabel("x")
        elif c["latent_dim"] == 1:
            ax.scatter(x[:, 0], x[:, 1], s=2, color="0.7", label="data")
            ax.plot(*zip(*c["truth"], strict=True), "k", lw=2, label="truth")
            for m, mu in c["decoders"].items():
                ax.plot(*zip(*mu, strict=True), label=m)
        else:
            ax.scatter(x[:, 0], x[:, 1], s=2, color="0.7", label="data")
            for m, s in c["samples"].items():
                ax.scatter(*zip(*s, strict=True), s=2, label=f"{m} samples")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, paths[0])
    near = results["posteriors_near_crossing"]
    for m in ("elbo", "libi"):
        p = near[m]
        paths.append(os.path.join(out, f"posteriors_{m}.png"))
        plot_posteriors(
            torch.tensor(p["loc"]),
            torch.tensor(p["scale"]),
            range(3),
            grid_result=grid_view(p["grid"]),
            path=paths[-1],
            titles=[f"{m}: x = ({a:.2f}, {b:.2f})" for a, b in near["points"]],
        )
    return paths
