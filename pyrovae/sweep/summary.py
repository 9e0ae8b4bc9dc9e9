"""A finished (or partly finished) sweep as a table of mean ± sd over seeds, and a figure."""

import json
import math
import os
import statistics

from ..plotting.figure import subplots
from .files import SWEEP_FILE, read_sweep_file


def load_sweep(out) -> dict:
    """The sweep file of a ``pyrovae sweep --out`` folder, or ``FileNotFoundError`` naming the
    folder to give."""
    path = os.path.join(out, SWEEP_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: give the --out folder of a pyrovae sweep")
    return read_sweep_file(path)


def _numeric_keys(rows):
    keys = []
    for row in rows:
        for k, v in row.get("results", {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in keys:
                keys.append(k)
    return keys


def summarize(sweep, keys=None) -> list:
    """One row per grid point: its params, runs ok / failed, and for each key (default: every
    numeric result) ``(mean, sd, n)`` over the seeds whose run finished; checks as the fraction
    of seeds where the claim held."""
    runs = sweep["runs"]
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        raise ValueError(
            f"no run of this sweep has finished ({len(runs)} recorded, none ok): nothing to "
            "summarize yet; run or resume the sweep first"
        )
    keys = list(keys) if keys else _numeric_keys(ok)
    unknown = [k for k in keys if all(k not in r.get("results", {}) for r in ok)] if ok else []
    if unknown:
        raise ValueError(
            f"no finished run has result {unknown[0]!r}; numeric results: {_numeric_keys(ok)}"
        )
    groups = {}
    for r in runs:
        groups.setdefault(json.dumps(r["params"], sort_keys=True), []).append(r)
    table = []
    for params_key, members in groups.items():
        good = [r for r in members if r["status"] == "ok"]
        row = {"params": json.loads(params_key), "ok": len(good)}
        row["failed"] = len(members) - len(good)
        for k in keys:
            values = [r["results"].get(k) for r in good]
            values = [float(v) for v in values if isinstance(v, (int, float))]
            values = [v for v in values if math.isfinite(v)]
            mean = statistics.fmean(values) if values else math.nan
            sd = statistics.stdev(values) if len(values) > 1 else math.nan
            row[k] = (mean, sd, len(values))
        claims = sorted({c for r in good for c in r.get("checks", {})})
        row["checks"] = {c: sum(bool(r["checks"].get(c)) for r in good) / len(good) for c in claims}
        table.append(row)
    return table


def format_table(table, keys) -> str:
    """A plain-text table of a summary: one row per grid point, ``mean ± sd (n)`` for each key."""
    lines = []
    for row in table:
        params = " ".join(f"{k}={v}" for k, v in row["params"].items()) or "(no grid)"
        cells = []
        for k in keys:
            mean, sd, n = row[k]
            cells.append(f"{k} {mean:.4g} ± {sd:.2g} (n={n})" if n > 1 else f"{k} {mean:.4g}")
        failed = f"  FAILED {row['failed']}" if row["failed"] else ""
        lines.append(f"{params}: " + "; ".join(cells) + failed)
    return "\n".join(lines)


def _as_number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def plot_summary(sweep, table, key):
    """Lines (mean ± sd over seeds against the grid value) for one grid key, a heatmap of the
    mean for two; returns a ``matplotlib.figure.Figure``."""
    grid = sweep["spec"]["grid"]
    names = list(grid)
    if len(names) not in (1, 2):
        raise ValueError(f"a summary plot needs one or two grid keys, this sweep has {len(names)}")
    if len(names) == 1:
        (name,) = names
        values = grid[name]
        numeric = all(_as_number(v) is not None for v in values)
        xs = [_as_number(v) if numeric else i for i, v in enumerate(values)]
        cells = {r["params"][name]: r[key] for r in table}
        means = [cells.get(v, (math.nan, math.nan, 0))[0] for v in values]
        sds = [cells.get(v, (math.nan, math.nan, 0))[1] for v in values]
        fig, ax = subplots(figsize=(4.5, 3.2))
        ax.errorbar(xs, means, yerr=[0 if math.isnan(s) else s for s in sds], marker="o")
        if not numeric:
            ax.set_xticks(xs, values)
        elif all(x > 0 for x in xs) and max(xs) / min(xs) >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(f"{key} (mean ± sd over seeds)")
    else:
        rows_key, cols_key = names
        cells = {(r["params"][rows_key], r["params"][cols_key]): r[key][0] for r in table}
        matrix = [[cells.get((a, b), math.nan) for b in grid[cols_key]] for a in grid[rows_key]]
        fig, ax = subplots(figsize=(1.2 + 0.9 * len(grid[cols_key]), 1.0 + 0.6 * len(matrix)))
        image = ax.imshow(matrix, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(grid[cols_key])), grid[cols_key])
        ax.set_yticks(range(len(grid[rows_key])), grid[rows_key])
        ax.set_xlabel(cols_key)
        ax.set_ylabel(rows_key)
        for i, line in enumerate(matrix):
            for j, value in enumerate(line):
                if not math.isnan(value):
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(image, ax=ax, label=f"{key} (mean over seeds)")
    ax.set_title(f"{sweep['spec']['experiment']} ({sweep['spec']['profile']})", fontsize=9)
    fig.tight_layout()
    return fig
