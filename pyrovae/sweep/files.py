"""The files of a sweep folder, in one place: ``sweep.json`` (the specification and one row per
run) and ``sweep.csv`` (the same rows as a table), written atomically after every finished run."""

import csv
import io
import json
import os

from ..checkpoint import read_json, write_atomic

SWEEP_FILE, CSV_FILE = "sweep.json", "sweep.csv"


def read_sweep_file(path) -> dict:
    """A ``sweep.json``, or a ``ValueError`` naming the file when it is truncated or edited."""
    sweep = read_json(path, "restore it, or start the sweep in a new --out")
    runs = sweep.get("runs") if isinstance(sweep, dict) else None
    if not isinstance(runs, list) or not all(
        isinstance(r, dict) and {"run", "status", "params"} <= set(r) for r in runs
    ):
        raise ValueError(
            f"{path} is not a pyrovae sweep file (its runs need 'run', 'status' and 'params'); "
            "restore it, or start the sweep in a new --out"
        )
    return sweep


def write_sweep_files(out, spec, rows):
    """``sweep.json`` and ``sweep.csv`` of ``rows`` (``{run name: row}``), each atomically."""
    ordered = sorted(rows.values(), key=lambda r: r["run"])
    payload = {"spec": spec, "runs": ordered}
    write_atomic(os.path.join(out, SWEEP_FILE), json.dumps(payload, indent=2).encode())
    write_atomic(os.path.join(out, CSV_FILE), _csv(ordered).encode())


def _csv(rows):
    """The rows as CSV: run, seed, status, wall time, then params, results and checks."""
    params = sorted({k for r in rows for k in r["params"]})
    # a result named like a leading column (experiments record their "seed") is that column
    leading = {"run", "seed", "status", "wall_s"}
    results = sorted({k for r in rows for k in r.get("results", {})} - leading - set(params))
    checks = sorted({k for r in rows for k in r.get("checks", {})})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["run", "seed", "status", "wall_s", *params, *results, *(f"check:{c}" for c in checks)]
    )
    for r in rows:
        writer.writerow(
            [r["run"], r["seed"], r["status"], f"{r.get('wall_s', float('nan')):.2f}"]
            + [r["params"].get(k, "") for k in params]
            + [r.get("results", {}).get(k, "") for k in results]
            + [r.get("checks", {}).get(k, "") for k in checks]
        )
    return buffer.getvalue()
