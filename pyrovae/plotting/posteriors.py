"""Posterior figures: q(z|x) against reference posteriors, the aggregate posterior against p(z),
latent scatter by label (InfoVAE Figures 3 and 4 style)."""

import math

import numpy as np
import torch

from .figure import save_figure, subplots


def _np(t):
    return t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)


def _gauss(grid, loc, scale):
    return np.exp(-0.5 * ((grid - loc) / scale) ** 2) / (scale * math.sqrt(2 * math.pi))


def plot_posteriors(loc, scale, indices, grid_result=None, samples=None, path=None, titles=None):
    """For each chosen data point: q(z|x) (diagonal Gaussian ``loc``/``scale``, (B, D)) against
    the grid posterior (``GridResult``, D ≤ 2) and/or reference draws ``samples`` (S, B, D), e.g.
    importance-resampled or NUTS draws. 1-D latents: densities; otherwise the first two dims,
    black contours for the true posterior, red 1- and 2-sd ellipses for q(z|x), grey draws."""
    loc, scale = _np(loc), _np(scale)
    samples = None if samples is None else _np(samples)
    dim = loc.shape[1]
    fig, axes = subplots(1, len(indices), figsize=(3.3 * len(indices), 3.1), squeeze=False)
    for ax, b in zip(axes[0], indices, strict=True):
        if dim == 1:
            lo, hi = loc[b, 0] - 5 * scale[b, 0], loc[b, 0] + 5 * scale[b, 0]
            if grid_result is not None:
                pts = _np(grid_result.points)[:, 0]
                dens = _np(grid_result.weights)[:, b] / grid_result.cell_volume
                ax.plot(pts, dens, "k", label="p(z|x) grid")
                lo, hi = (
                    min(lo, pts[dens > 1e-3 * dens.max()].min()),
                    max(hi, pts[dens > 1e-3 * dens.max()].max()),
                )
            if samples is not None:
                ax.hist(
                    samples[:, b, 0],
                    bins=40,
                    density=True,
                    alpha=0.4,
                    color="tab:gray",
                    label="draws",
                )
            z = np.linspace(lo, hi, 300)
            ax.plot(z, _gauss(z, loc[b, 0], scale[b, 0]), "tab:red", label="q(z|x)")
        else:
            half = 4 * scale[b, :2].max()
            centre = loc[b, :2].copy()
            if grid_result is not None and dim == 2:
                r0, r1 = grid_result.shape
                pts = _np(grid_result.points).reshape(r0, r1, 2)
                w = _np(grid_result.weights)[:, b].reshape(r0, r1)
                # the 1, 2, 3 "sigma" contours of the density (levels at exp(-k²/2) of its peak)
                ax.contour(
                    pts[..., 0],
                    pts[..., 1],
                    w,
                    levels=w.max() * np.exp(-0.5 * np.array([9.0, 4.0, 1.0])),
                    colors="k",
                    linewidths=1,
                )
                sd = np.sqrt(np.diag(_np(grid_result.covariance)[b]))
                half = max(half, 4 * sd.max())
                centre = (centre + _np(grid_result.mean)[b]) / 2
            if samples is not None:
                ax.scatter(samples[:, b, 0], samples[:, b, 1], s=2, alpha=0.3, color="tab:gray")
            t = np.linspace(0, 2 * np.pi, 100)
            for k in (1, 2):
                ax.plot(
                    loc[b, 0] + k * scale[b, 0] * np.cos(t),
                    loc[b, 1] + k * scale[b, 1] * np.sin(t),
                    "tab:red",
                    lw=1,
                )
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_title(titles[b] if titles else f"point {b}", fontsize=9)
    axes[0][0].legend(fontsize=7) if dim == 1 else None
    fig.tight_layout()
    return _save(fig, path)


def _prior_circles(ax):
    """Contours of the prior N(0, I) in two dims: dashed circles at radius 1, 2, 3, equal axes."""
    t = np.linspace(0, 2 * np.pi, 100)
    for r in (1, 2, 3):
        ax.plot(r * np.cos(t), r * np.sin(t), "k--", lw=0.8)
    ax.set_aspect("equal")


def plot_aggregate_posterior(z, path=None, bins=60, extent=4.0, ax=None):
    """Density contours of aggregate-posterior draws ``z`` (N, D), first two dims (or a histogram
    for D = 1), against the prior N(0, I) (dashed)."""
    z = _np(z)
    own = ax is None
    if own:
        fig, ax = subplots(figsize=(3.6, 3.4))
    if z.shape[1] == 1:
        ax.hist(z[:, 0], bins=bins, density=True, alpha=0.5, label="q(z)")
        g = np.linspace(-extent, extent, 200)
        ax.plot(g, _gauss(g, 0.0, 1.0), "k--", label="p(z)")
        ax.legend(fontsize=7)
    else:
        h, xe, ye = np.histogram2d(
            z[:, 0], z[:, 1], bins=bins, range=[[-extent, extent]] * 2, density=True
        )
        xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
        ax.contour(xc, yc, h.T, levels=6, cmap="viridis")
        _prior_circles(ax)
    ax.set_title("aggregate posterior q(z) vs p(z)", fontsize=9)
    return _save(ax.figure, path) if own else ax


def mixture_density_grid(loc, scale, extent=4.0, resolution=120):
    """(g, density): the Gaussian-mixture density (1/N) Σ_n N(z; loc_n, diag scale_n²) of the first
    two latent dims on the square grid g × g (``density[i, j]`` at z = (g[j], g[i])), float64."""
    loc, scale = (
        torch.as_tensor(t, dtype=torch.float64).detach().cpu()[:, :2] for t in (loc, scale)
    )
    if loc.shape[1] != 2:
        raise ValueError(
            "the aggregate-posterior density plot needs at least two latent dimensions"
        )
    g = torch.linspace(-extent, extent, resolution, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1).reshape(-1, 1, 2)  # (R², 1, 2)
    log_comp = torch.distributions.Normal(loc, scale).log_prob(zz).sum(-1)  # (R², N)
    density = (torch.logsumexp(log_comp, -1) - math.log(loc.shape[0])).exp()
    return g, density.reshape(resolution, resolution)


def plot_aggregate_mixture(loc, scale, path=None, extent=4.0, resolution=120, ax=None):
    r"""Exact density contours of the aggregate posterior :math:`q(z) = \frac1N\sum_n
    N(z; \mu_n, \mathrm{diag}\,\sigma_n^2)` from the encoder's ``loc`` / ``scale`` (N, D), in the
    first two latent dims, against the prior N(0, I) (dashed circles at radius 1, 2, 3). No sampling
    noise, unlike contours of a histogram of draws."""
    g, density = mixture_density_grid(loc, scale, extent, resolution)
    own = ax is None
    if own:
        fig, ax = subplots(figsize=(3.6, 3.4))
    ax.contour(g.numpy(), g.numpy(), density.numpy(), levels=8, cmap="viridis")
    _prior_circles(ax)
    ax.set_title("aggregate posterior q(z) vs p(z)", fontsize=9)
    return _save(ax.figure, path) if own else ax


def plot_latent_scatter(z, labels, path=None, ax=None):
    """Encoder means (N, D), first two dims, coloured by label."""
    z, labels = _np(z), _np(labels)
    own = ax is None
    if own:
        fig, ax = subplots(figsize=(3.8, 3.4))
    y = z[:, 1] if z.shape[1] > 1 else np.zeros(len(z))
    sc = ax.scatter(z[:, 0], y, c=labels, cmap="tab10", s=3)
    ax.figure.colorbar(sc, ax=ax)
    ax.set_title("latent means by label", fontsize=9)
    return _save(ax.figure, path) if own else ax


def _save(fig, path):
    if path:
        fig.tight_layout()
        save_figure(fig, path)
    return fig
