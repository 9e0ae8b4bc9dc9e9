"""Parsing a sweep's grid (``key=v1,v2,...``) and seeds, and naming its runs."""

import itertools
import re


def split_values(text):
    """Split ``"1,2,(3, 4)"`` at the commas outside brackets: ``["1", "2", "(3, 4)"]``."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse_grid(specs) -> dict:
    """``["lam=1,10", "xi=1e-3,1e-2"]`` -> ``{"lam": ["1", "10"], "xi": ["1e-3", "1e-2"]}``."""
    grid = {}
    for spec in specs or ():
        key, sep, values = str(spec).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--grid expects key=v1,v2,..., got {spec!r}")
        if key in grid:
            raise ValueError(f"--grid gives {key!r} twice; list all its values in one --grid")
        items = split_values(values)
        if not values.strip() or any(not v for v in items):
            raise ValueError(f"--grid {key!r} has an empty value list or an empty value: {spec!r}")
        if len(set(items)) != len(items):
            raise ValueError(f"--grid {key!r} repeats a value: {spec!r}")
        grid[key] = items
    return grid


def parse_seeds(text) -> list:
    """``"0,1,2"`` (or a list of ints) -> ``[0, 1, 2]``: at least one, no repeats."""
    items = split_values(text) if isinstance(text, str) else list(text)
    try:
        seeds = [int(s) for s in items]
    except (TypeError, ValueError):
        raise ValueError(f"--seeds expects integers such as 0,1,2, got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds needs at least one seed and no repeats, got {text!r}")
    return seeds


def grid_points(grid) -> list:
    """Every combination of the grid's values, in order (one empty point for an empty grid)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def run_name(index, params, seed) -> str:
    """A folder name for one run: its index (stable under resume) and readable settings."""
    tail = "_".join(f"{k}={v}" for k, v in params.items())
    tail = re.sub(r"[^A-Za-z0-9.=+-]+", "-", tail).strip("-")[:80]
    return f"run-{index:03d}" + (f"_{tail}" if tail else "") + f"_seed={seed}"
