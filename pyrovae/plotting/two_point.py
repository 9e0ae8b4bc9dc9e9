"""InfoVAE Figure 1 for the two-point data: q(z|x=±1) against p(z), and p(x|z) on top of it."""

import torch

from .figure import save_figure, subplots

COLORS = {-1: "tab:blue", 1: "tab:red"}


def _normal_pdf(grid, mean, std):
    return torch.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)


@torch.no_grad()
def plot_two_point(vaes: dict, path=None, num_z: int = 2000, seed: int = 0):
    """Columns: one VAE each (``{label: VAE}`` with 1-D z and 1-D x).

    Top: densities of q(z|x=−1), q(z|x=+1) and p(z) = N(0, 1). Bottom: the decoder's
    p(x) = E p(x|z) for z drawn from q(z|x=−1), from q(z|x=+1) and from p(z).
    """
    gen = torch.Generator().manual_seed(seed)
    fig, axes = subplots(2, len(vaes), figsize=(4.2 * len(vaes), 5.6), squeeze=False)
    zgrid = torch.linspace(-4, 4, 400)
    xgrid = torch.linspace(-2.5, 2.5, 500)
    for col, (label, vae) in enumerate(vaes.items()):
        ref = next(vae.parameters())
        points = torch.tensor([[-1.0], [1.0]], device=ref.device)
        loc, scale = (t.cpu() for t in vae.encode(points))
        top, bottom = axes[0][col], axes[1][col]
        top.plot(zgrid.numpy(), _normal_pdf(zgrid, 0.0, 1.0).numpy(), "k--", label="p(z)")
        sources = {"p(z)": torch.randn(num_z, 1, generator=gen)}
        for i, x in enumerate((-1, 1)):
            top.plot(
                zgrid.numpy(),
                _normal_pdf(zgrid, loc[i, 0], scale[i, 0]).numpy(),
                color=COLORS[x],
                label=f"q(z|x={x:+d})",
            )
            sources[f"z~q(z|x={x:+d})"] = loc[i] + scale[i] * torch.randn(num_z, 1, generator=gen)
        top.set_title(label)
        top.set_xlabel("z")
        top.legend(fontsize=8)
        for name, z in sources.items():
            lik = vae.decode(z.to(ref.device))  # Independent(Normal) over x of shape (num_z, 1)
            mean, std = lik.base_dist.loc.cpu()[:, 0], lik.base_dist.scale.cpu()[:, 0]
            dens = _normal_pdf(xgrid[:, None], mean[None], std[None]).mean(1).numpy()  # (grid,)
            style = "k--" if name == "p(z)" else None
            color = None if name == "p(z)" else COLORS[-1 if "-1" in name else 1]
            if style:
                bottom.plot(xgrid.numpy(), dens, style, label=f"x|{name}")
            else:
                bottom.plot(xgrid.numpy(), dens, color=color, label=f"x|{name}")
        bottom.set_yscale("log")
        bottom.set_ylim(1e-3, None)
        bottom.set_xlabel("x")
        bottom.legend(fontsize=8)
    fig.tight_layout()
    if path:
        save_figure(fig, path)
    return fig
