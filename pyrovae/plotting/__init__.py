"""Figures from tensors / records; never trains.

Every function builds a :class:`matplotlib.figure.Figure` without pyplot and returns it (Jupyter
displays a returned figure; ``path=`` also saves it). The library never chooses a matplotlib
backend -- only the ``pyrovae`` command line does (Agg, for files).
"""

from .figure import save_figure, subplots
from .history import plot_history
from .images import plot_image_rows
from .posteriors import (
    plot_aggregate_mixture,
    plot_aggregate_posterior,
    plot_latent_scatter,
    plot_posteriors,
)
from .report_panel import plot_report
from .two_point import draw_two_point, plot_two_point, two_point_curves

__all__ = [
    "draw_two_point",
    "plot_aggregate_mixture",
    "plot_aggregate_posterior",
    "plot_history",
    "plot_image_rows",
    "plot_latent_scatter",
    "plot_posteriors",
    "plot_report",
    "plot_two_point",
    "save_figure",
    "subplots",
    "two_point_curves",
]
