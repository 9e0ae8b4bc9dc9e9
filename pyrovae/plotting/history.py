"""Training curves from a :class:`pyrovae.infer.TrainResult` history."""

from .figure import save_figure, subplots

SKIP = {"step", "grad_norm"}


def plot_history(histories: dict, path=None, keys=None, smooth: int = 50):
    """One panel per term, one line per run. ``histories``: {label: list of history rows}.

    Curves are running means over ``smooth`` steps. Returns the figure (saved when ``path``).
    """
    keys = keys or sorted({k for rows in histories.values() for r in rows[:1] for k in r} - SKIP)
    fig, axes = subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for label, rows in histories.items():
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if not pts:
                continue
            steps, vals = zip(*pts, strict=True)
            w = max(1, min(smooth, len(vals) // 10 or 1))
            run = [
                sum(vals[max(0, i - w + 1) : i + 1]) / len(vals[max(0, i - w + 1) : i + 1])
                for i in range(len(vals))
            ]
            ax.plot(steps, run, label=label)
        ax.set_title(key)
        ax.set_xlabel("step")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    if path:
        save_figure(fig, path)
    return fig
