"""Figures (matplotlib, Agg backend); functions take tensors / records and never train."""

from .history import plot_history
from .images import plot_image_rows
from .two_point import plot_two_point

__all__ = ["plot_history", "plot_image_rows", "plot_two_point"]
