"""Merge runs of one experiment that were split over one tuple setting.

A long profile can be split to run side by side, on several GPUs or machines, e.g. ``dai-depth``
once per depth::

    pyrovae reproduce dai-depth --profile full --set 'depths=(1,)' --out runs/d1
    pyrovae reproduce dai-depth --profile full --set 'depths=(2,)' --out runs/d2
    pyrovae merge runs/d1 runs/d2 --out runs/dai-depth

The parts must be the same experiment, profile and seed, with configs equal except one
tuple-valued setting (the *split key*, e.g. ``depths``); their values of that setting must not
overlap. Only results made of ``rows`` plus per-setting top-level numbers merge (``dai-depth``);
anything else the parts disagree on is refused, naming it (``infovae-comparison`` keeps sample
images of its last z only, ``libi-synthetic`` has no rows).

The merged ``results.json`` has the joined setting, the parts' ``rows`` in order, their
top-level numbers (which must not disagree), the experiment's checks recomputed on the whole,
its figures redrawn, and ``merged_from`` naming the parts. Since each part seeds its own runs,
a merge equals one run over the joined setting when every row's run depends on the seed and its
own setting alone (true of ``dai-depth``; tests/test_merge.py checks it).
"""

import json
import os

from . import _module
from .common import prepare_out
from .skeleton import finish

_SAME = ("experiment", "claim", "paper", "profile", "seed")
_RECOMPUTED = ("config", "rows", "checks", "figures", "merged_from")


def _load(path):
    file = path if path.endswith(".json") else os.path.join(path, "results.json")
    if not os.path.exists(file):
        raise FileNotFoundError(f"{file} does not exist: give folders holding results.json")
    with open(file) as f:
        return json.load(f)


def _split_key(configs, paths: str):
    keys = set(configs[0])
    if any(set(c) != keys for c in configs):
        raise ValueError("the parts' configs have different settings: not runs of one version")
    differing = sorted(k for k in keys if any(c[k] != configs[0][k] for c in configs))
    if not differing:
        raise ValueError(f"the parts have the same settings: they are one run twice ({paths})")
    if len(differing) != 1:
        raise ValueError(
            "the parts' configs must differ in exactly one tuple setting (the split key); "
            f"they differ in {differing} ({paths})"
        )
    key = differing[0]
    if not all(isinstance(c[key], list) for c in configs):
        raise ValueError(f"the parts differ in {key!r}, which is not a tuple setting")
    joined = [v for c in configs for v in c[key]]
    if len({json.dumps(v) for v in joined}) != len(joined):
        raise ValueError(f"the parts' values of {key!r} overlap: {joined}")
    return key, joined


def merge_runs(paths, out):
    """Merge the ``results.json`` of ``paths`` (folders or files) into ``OUT/results.json``;
    returns the merged results."""
    if len(paths) < 2:
        raise ValueError("give at least two runs to merge")
    parts = [_load(p) for p in paths]
    for field in _SAME:
        values = {json.dumps(p.get(field)) for p in parts}
        if len(values) != 1:
            raise ValueError(f"the parts differ in {field!r} ({', '.join(sorted(values))})")
    if any("rows" not in p for p in parts):
        raise ValueError(f"{parts[0]['experiment']} has no 'rows' to merge")
    key, joined = _split_key([p["config"] for p in parts], ", ".join(paths))
    merged = {f: parts[0][f] for f in _SAME}
    merged["config"] = {**parts[0]["config"], key: joined}
    merged["rows"] = [row for p in parts for row in p["rows"]]
    for part in parts:
        for name, value in part.items():
            if name in _SAME or name in _RECOMPUTED:
                continue
            if name in merged and merged[name] != value:
                raise ValueError(
                    f"the parts disagree on {name!r} ({merged[name]!r} vs {value!r}); "
                    "only rows and per-setting numbers can be merged"
                )
            merged[name] = value
    merged["merged_from"] = [os.path.abspath(p) for p in paths]
    prepare_out(out)
    return finish(_module(merged["experiment"]), merged["experiment"], out, merged)
