"""InfoVAE Figure 1 for the two-point data: q(z|x=±1) against p(z), and p(x|z) on top of it.

:func:`two_point_curves` evaluates the curves of trained VAEs as plain lists (an experiment
stores them in results.json); :func:`draw_two_point` draws stored curves; :func:`plot_two_point`
does both.
"""

import math

import torch

from .figure import save_figure, subplots

COLORS = {-1: "tab:blue", 1: "tab:red"}


def _normal_pdf(grid, mean, std):
    return torch.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)


@torch.no_grad()
def two_point_curves(vaes: dict, num_z: int = 2000, seed: int = 0, z_points=200, x_points=250):
    """``{label: {"z": grid, "q": {"x=-1": density, "x=+1": ...}, "x": grid, "p_x": {source:
    density}}}`` for VAEs with 1-D z and x: q(z|x=±1) on a z grid, and the decoder's
    p(x) = E p(x|z) on an x grid for z drawn from q(z|x=−1), from q(z|x=+1) and from p(z)."""
    gen = torch.Generator().manual_seed(seed)
    zgrid = torch.linspace(-4, 4, z_points)
    xgrid = torch.linspace(-2.5, 2.5, x_points)
    curves = {}
    for label, vae in vaes.items():
        ref = next(vae.parameters())
        points = torch.tensor([[-1.0], [1.0]], device=ref.device)
        loc, scale = (t.cpu() for t in vae.encode(points))
        sources = {"p(z)": torch.randn(num_z, 1, generator=gen)}
        q = {}
        for i, x in enumerate((-1, 1)):
            q[f"x={x:+d}"] = _normal_pdf(zgrid, loc[i, 0], scale[i, 0]).tolist()
            sources[f"z~q(z|x={x:+d})"] = loc[i] + scale[i] * torch.randn(num_z, 1, generator=gen)
        p_x = {}
        for name, z in sources.items():
            lik = vae.decode(z.to(ref.device))  # Independent(Normal) over x of shape (num_z, 1)
            mean, std = lik.base_dist.loc.cpu()[:, 0], lik.base_dist.scale.cpu()[:, 0]
            p_x[name] = _normal_pdf(xgrid[:, None], mean[None], std[None]).mean(1).tolist()
        curves[label] = {"z": zgrid.tolist(), "q": q, "x": xgrid.tolist(), "p_x": p_x}
    return curves


def draw_two_point(curves: dict, path=None):
    """Columns: one VAE each. Top: q(z|x=−1), q(z|x=+1) and p(z) = N(0, 1). Bottom: the
    decoder's p(x) for z from q(z|x=−1), from q(z|x=+1) and from p(z) (log scale)."""
    fig, axes = subplots(2, len(curves), figsize=(4.2 * len(curves), 5.6), squeeze=False)
    for col, (label, c) in enumerate(curves.items()):
        top, bottom = axes[0][col], axes[1][col]
        prior = [math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) for z in c["z"]]
        top.plot(c["z"], prior, "k--", label="p(z)")
        for x in (-1, 1):
            top.plot(c["z"], c["q"][f"x={x:+d}"], color=COLORS[x], label=f"q(z|x={x:+d})")
        top.set_title(label)
        top.set_xlabel("z")
        top.legend(fontsize=8)
        for name, density in c["p_x"].items():
            if name == "p(z)":
                bottom.plot(c["x"], density, "k--", label=f"x|{name}")
            else:
                color = COLORS[-1 if "-1" in name else 1]
                bottom.plot(c["x"], density, color=color, label=f"x|{name}")
        bottom.set_yscale("log")
        bottom.set_ylim(1e-3, None)
        bottom.set_xlabel("x")
        bottom.legend(fontsize=8)
    fig.tight_layout()
    if path:
        save_figure(fig, path)
    return fig


def plot_two_point(vaes: dict, path=None, num_z: int = 2000, seed: int = 0):
    """Figure 1 for trained VAEs (``{label: VAE}``): :func:`two_point_curves`, then
    :func:`draw_two_point`."""
    return draw_two_point(two_point_curves(vaes, num_z, seed), path)
