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

Nothing is written into the parts: an ``--out`` that is a part, inside one or holds one is
refused, and so is an ``--out`` that already holds a ``results.json``. The merge is built in a
temporary folder beside ``--out`` and renamed to it only after the checks and figures succeeded;
a refused or failed merge leaves no folder behind.

The merged ``results.json`` has the joined setting, the parts' ``rows`` in order, their
top-level numbers (which must not disagree), the experiment's checks recomputed on the whole,
its figures redrawn, and ``merged_from`` naming the parts. Since each part seeds its own runs,
a merge equals one run over the joined setting when every row's run depends on the seed and its
own setting alone (true of ``dai-depth``; tests/experiments/test_merge.py checks it).
"""

import json
import math
import os
import shutil
import tempfile

from ...checkpoint import read_json
from ...provenance import versions
from .registry import experiment_module
from .skeleton import finish

_SAME = ("experiment", "claim", "paper", "profile", "seed")
_RECOMPUTED = ("config", "rows", "checks", "figures", "merged_from", "provenance")


def _load(path):
    file = path if path.endswith(".json") else os.path.join(path, "results.json")
    if not os.path.exists(file):
        raise FileNotFoundError(f"{file} does not exist: give folders holding results.json")
    results = read_json(file, "rerun that part")
    if not isinstance(results, dict) or "experiment" not in results:
        raise ValueError(f"{file} is not the results.json of a pyrovae experiment")
    return results


def _non_finite(value, where):
    """The first NaN / inf number inside ``value`` (a JSON value), as ``where[key]...``."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{where}[{key!r}]")
        if found:
            return found
    return None


def _check_same_data(paths, parts):
    """Refuse parts whose results record different data (content hashes), or where one part
    records its data and another does not (results from before provenance: none compared)."""
    hashes = [(p.get("provenance") or {}).get("data", {}).get("sha256") for p in parts]
    if len(set(hashes)) > 1:
        listed = ", ".join(
            f"{path}: {h or 'not recorded'}" for path, h in zip(paths, hashes, strict=True)
        )
        raise ValueError(
            f"the parts were run on different data (content hashes {listed}); merge only runs "
            "on the same data"
        )


def _part_folder(path):
    return os.path.realpath(os.path.dirname(path) if path.endswith(".json") else path)


def _check_out(paths, out):
    """Refuse an ``out`` that is a part, lies inside one or holds one, or has results already."""
    target = os.path.realpath(out)
    for path in paths:
        part = _part_folder(path)
        if target == part or os.path.commonpath([target, part]) in (target, part):
            raise ValueError(
                f"--out {out} is, contains or lies inside the part {path}: a merge never writes "
                "into its inputs; choose a new folder"
            )
    if os.path.exists(os.path.join(out, "results.json")):
        raise ValueError(
            f"{out} already holds a results.json; choose a new --out (nothing was overwritten)"
        )


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
    _check_out(paths, out)
    parts = [_load(p) for p in paths]
    for path, part in zip(paths, parts, strict=True):
        bad = _non_finite(part.get("rows"), "rows")
        if bad:
            raise ValueError(
                f"{path}: {bad} is not a finite number; a part with NaN / inf rows would make "
                "the merged checks meaningless: rerun that part"
            )
    for field in _SAME:
        values = {json.dumps(p.get(field)) for p in parts}
        if len(values) != 1:
            raise ValueError(f"the parts differ in {field!r} ({', '.join(sorted(values))})")
    _check_same_data(paths, parts)
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
    merged["provenance"] = {**parts[0].get("provenance", {}), "versions": versions()}
    return _write_merged(merged, out)


def _write_merged(merged, out):
    """Checks and figures in a temporary folder beside ``out``, renamed to ``out`` at the end."""
    parent = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(parent, exist_ok=True)
        prefix = f".{os.path.basename(os.path.abspath(out))}.merging-"
        work = tempfile.mkdtemp(prefix=prefix, dir=parent)
    except OSError as err:
        raise ValueError(
            f"cannot write beside --out {out} ({err.strerror or err}); choose another --out"
        ) from None
    try:
        try:
            results = finish(
                experiment_module(merged["experiment"]), merged["experiment"], work, merged
            )
        except (TypeError, KeyError, IndexError) as err:
            raise ValueError(
                f"the merged results could not be checked ({type(err).__name__}: {err}); a part "
                "holds a value of the wrong kind (edited by hand?): rerun that part"
            ) from err
        if os.path.isdir(out) and not os.listdir(out):
            os.rmdir(out)  # an empty folder made for the merge
        if os.path.exists(out):
            for name in os.listdir(work):  # an existing folder without results: add the files
                os.replace(os.path.join(work, name), os.path.join(out, name))
        else:
            os.replace(work, out)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)
