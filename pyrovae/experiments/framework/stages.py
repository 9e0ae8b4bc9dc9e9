"""Experiments that run stage by stage: each stage's numbers saved the moment it ends, a time
budget (``pyrovae reproduce NAME --budget-minutes M``), a killed or stopped run that resumes
where it left off, and stages run side by side (``--stage NAME``, several processes, one
``--out``).

An experiment opts in by defining, beside the skeleton's ``run`` / ``checks`` / ``plot``:

* ``stages(config) -> [name, ...]``: its stages in order (for example one per model trained);
* ``run_stage(config, stage, out, device, seed, data, progress) -> dict``: one stage's numbers
  (JSON-ready or tensors), independent of the other stages;
* ``assemble(config, done) -> dict``: the results ``run`` returns, from ``{stage: numbers}`` of
  every stage.

``OUT/stages/NAME.json`` holds one finished stage: what identifies the run (experiment,
profile, seed, config, the data's content hash), its numbers and its wall time, written
atomically when the stage ends. Run the same command again and the finished stages are read
back, not rerun; a stage file of another run (other config, seed or data) is refused, never
mixed in. One file per stage lets processes run different stages into the same folder at
once (``only``); a last call without ``only`` then assembles them.

The budget is planned at stage boundaries: a stage that starts runs to its end, and the next
one starts only if the elapsed time plus the longest stage so far (this run or the one it
resumes) fits the budget; the first stage of a fresh run, with nothing to estimate from,
always starts. A run that stops early writes ``results.json`` marked ``"partial": true`` with
the stages done and left and their numbers; checks and figures wait for the whole run.
"""

import json
import math
import os
import re
import time

from ...checkpoint import read_json, write_atomic
from .common import jsonable

STAGES_FOLDER = "stages"
_SAFE = re.compile(r"[^A-Za-z0-9._=-]")


def is_staged(module) -> bool:
    """Whether ``module`` defines ``stages``, ``run_stage`` and ``assemble``."""
    return all(hasattr(module, a) for a in ("stages", "run_stage", "assemble"))


def run_all_stages(module, config, out, device="cpu", seed=0, data=None, progress=False):
    """Every stage in order, assembled: what a staged experiment's ``run`` returns (no state
    file, no budget; :func:`run_in_stages` adds those)."""
    done = {
        stage: module.run_stage(config, stage, out, device, seed, data, progress)
        for stage in module.stages(config)
    }
    return module.assemble(config, done)


def _differences(saved, identity, prefix=""):
    """The keys (dotted) where two identities differ."""
    keys = sorted(set(saved) | set(identity))
    out = []
    for k in keys:
        a, b = saved.get(k), identity.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(prefix + k)
    return out


def stage_path(out, stage) -> str:
    """``OUT/stages/NAME.json`` (characters other than letters, digits and ``._=-`` as ``_``)."""
    return os.path.join(out, STAGES_FOLDER, _SAFE.sub("_", stage) + ".json")


def load_finished(out, identity, names) -> dict:
    """``{stage: {"numbers", "seconds"}}`` of the stages among ``names`` finished in ``out``
    by a run with this ``identity``; ``ValueError`` when a stage file is of another run or
    not a stage file."""
    finished = {}
    for name in names:
        path = stage_path(out, name)
        if not os.path.exists(path):
            continue
        saved = read_json(path, f"delete {path} to run that stage again")
        if not isinstance(saved, dict) or not {"numbers", "seconds", "stage"} <= set(saved):
            raise ValueError(
                f"{path} is not a stage file of pyrovae; delete it or use another --out"
            )
        differ = _differences(saved.get("identity") or {}, identity)
        if differ or saved["stage"] != name:
            raise ValueError(
                f"{path} holds a stage of another run (it differs in "
                f"{', '.join(differ) or 'stage'}); rerun with that run's settings to resume "
                "it, or give another --out"
            )
        finished[name] = {"numbers": saved["numbers"], "seconds": saved["seconds"]}
    return finished


def save_stage(out, identity, stage, numbers, seconds, device="cpu") -> None:
    """Write ``OUT/stages/NAME.json`` atomically, with where it ran (device, versions)."""
    from ...provenance import versions

    record = {"identity": identity, "stage": stage, "numbers": numbers, "seconds": seconds}
    record["ran_on"] = {"device": str(device), "versions": versions()}
    text = json.dumps(jsonable(record), indent=1)
    write_atomic(stage_path(out, stage), text.encode())


def run_in_stages(
    module,
    config,
    out,
    identity,
    *,
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    budget_minutes=None,
    only=None,
    clock=None,
    log=print,
):
    """Run the stages of ``module`` not yet finished in ``OUT/stages/`` (only those in
    ``only``, when given), saving each as it ends, within ``budget_minutes`` (``None``: no
    limit). Returns ``(done, left)``: ``{stage: numbers}`` of every finished stage (earlier
    runs and other processes included) and the names of the stages not finished."""
    if budget_minutes is not None and not (budget_minutes > 0 and math.isfinite(budget_minutes)):
        raise ValueError(f"budget_minutes must be a finite number > 0, got {budget_minutes!r}")
    budget = math.inf if budget_minutes is None else 60.0 * budget_minutes
    clock = clock or time.monotonic
    names = list(module.stages(config))
    unknown = [n for n in (only or ()) if n not in names]
    if unknown:
        raise ValueError(f"no stage {unknown[0]!r} in this run; its stages are: {', '.join(names)}")
    finished = load_finished(out, identity, names)
    if finished:
        log(f"resuming {out}: {len(finished)} of {len(names)} stages done ({', '.join(finished)})")
    start = clock()
    for name in names:
        if name in finished or (only and name not in only):
            continue
        longest = max((s["seconds"] for s in finished.values()), default=0.0)
        elapsed = clock() - start
        if elapsed + longest > budget:
            if longest > budget:
                log(
                    f"budget: the longest stage so far took {longest / 60:.2g} minutes, more "
                    f"than the whole budget of {budget / 60:.2g}; nothing more starts under it "
                    f"(give --budget-minutes of at least {longest / 60:.2g}, or none)"
                )
            else:
                log(
                    f"budget: {elapsed / 60:.2g} of {budget / 60:.2g} minutes used and the "
                    f"longest stage took {longest / 60:.2g}; stopping before {name!r}"
                )
            break
        began = clock()
        numbers = jsonable(module.run_stage(config, name, out, device, seed, data, progress))
        seconds = clock() - began
        save_stage(out, identity, name, numbers, seconds, device)
        finished[name] = {"numbers": numbers, "seconds": seconds}
    finished.update(load_finished(out, identity, [n for n in names if n not in finished]))
    done = {n: finished[n]["numbers"] for n in names if n in finished}
    return done, [n for n in names if n not in finished]
