"""Grids of 28x28 images: data, reconstructions, prior samples."""

from .figure import save_figure, subplots


def plot_image_rows(rows: dict, path=None, image_shape=(28, 28), max_cols: int = 12):
    """One row of images per entry of ``rows`` ({label: tensor (n, prod(image_shape))})."""
    fig, axes = subplots(
        len(rows), max_cols, figsize=(max_cols * 0.8, len(rows) * 0.95), squeeze=False
    )
    for r, (label, images) in enumerate(rows.items()):
        images = images.detach().cpu().reshape(-1, *image_shape).numpy()
        for c in range(max_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < images.shape[0]:
                ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
        axes[r][0].set_title(label, fontsize=8, loc="left")
    fig.tight_layout()
    if path:
        save_figure(fig, path, dpi=100)
    return fig
