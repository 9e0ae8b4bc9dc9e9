"""Figures without pyplot: the library never picks a matplotlib backend.

:func:`subplots` builds a :class:`matplotlib.figure.Figure` that no global figure manager knows
about, so it is never leaked and never shown twice; Jupyter displays a returned figure as the
cell's value, and :func:`save_figure` writes it (PNG through the Agg canvas, whatever backend a
notebook or the CLI has chosen).
"""

import io
import os

import matplotlib.figure

from ..checkpoint import write_atomic


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter displays as PNG even before any pyplot backend is active
    (IPython registers its Figure formatter only once pyplot has drawn something)."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        return buffer.getvalue()


def subplots(nrows=1, ncols=1, *, figsize=None, squeeze=True, **kwargs):
    """Like ``pyplot.subplots`` but without pyplot: ``(figure, axes)``."""
    fig = Figure(figsize=figsize)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **kwargs)
    return fig, axes


def save_figure(fig, path, dpi=110):
    """Write ``fig`` to ``path`` (format from the extension; a temporary file renamed when
    complete); returns the path."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format=fmt)
    write_atomic(path, buffer.getvalue())  # never a half-written figure
    return path
