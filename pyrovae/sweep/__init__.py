"""Sweeps of an experiment's settings × seeds on Ray (:func:`run_sweep`), and their summary.

``pyrovae sweep NAME --grid key=v1,v2 --seeds 0,1,2 --out DIR`` from the command line;
``pyrovae sweep --summary DIR`` for the table and figure. Ray is an optional extra
(``pip install -e ".[sweep]"``), imported only when a sweep has runs to do.
"""

from .grid import grid_points, parse_grid, parse_seeds
from .runner import execute_run, run_sweep
from .summary import format_table, load_sweep, plot_summary, summarize

__all__ = [
    "execute_run",
    "format_table",
    "grid_points",
    "load_sweep",
    "parse_grid",
    "parse_seeds",
    "plot_summary",
    "run_sweep",
    "summarize",
]
