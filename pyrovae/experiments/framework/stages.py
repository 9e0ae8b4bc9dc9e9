"""Experiments that run stage by stage: each stage's numbers saved the moment it ends, a time
budget (``pyrovae reproduce NAME --budget-minutes M``), and a killed or stopped run that resumes
where it left off.

An experiment opts in by defining, beside the skeleton's ``run`` / ``checks`` / ``plot``:

* ``stages(config) -> [name, ...]``: its stages in order (for example one per model trained);
* ``run_stage(config, stage, out, device, seed, data, progress) -> dict``: one stage's numbers
  (JSON-ready or tensors), independent of the other stages;
* ``assemble(config, done) -> dict``: the results ``run`` returns, from ``{stage: numbers}`` of
  every stage.

``OUT/stages.json`` holds what identifies the run (experiment, profile, seed, config, the data's
content hash) and each finished stage's numbers and wall time; it is rewritten atomically after
every stage. Run the same command again and the finished stages are read back, not rerun; a
``stages.json`` of another run (other config, seed or data) is refused, never mixed in.

The budget is planned at stage boundaries: a stage that starts runs to its end, and the next
one starts only if the elapsed time plus the longest stage so far (this run or the one it
resumes) fits the budget; the first stage of a fresh run, with nothing to estimate from,
always starts. A run that stops early writes ``results.json`` marked
``"partial": true`` with the stages done and left and their numbers; checks and figures wait
for the whole run.
"""

import math
import os
import time

from ...checkpoint import read_json, write_atomic
from .common import jsonable

STATE_FILE = "stages.json"


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


def load_state(out, identity) -> dict:
    """The state of a run in ``out`` with this ``identity`` (``{"identity", "finished"}``): the
    saved one (``"finished"``: ``{stage: {"numbers", "seconds"}}``), or a fresh one when
    ``out`` has none. ``ValueError`` when ``out`` holds the
    stages of another run."""
    path = os.path.join(out, STATE_FILE)
    if not os.path.exists(path):
        return {"identity": identity, "finished": {}}
    state = read_json(path, f"delete {path} to start this run afresh")
    if not isinstance(state, dict) or not isinstance(state.get("finished"), dict):
        raise ValueError(f"{path} is not a stages file of pyrovae; delete it or use another --out")
    differ = _differences(state.get("identity") or {}, identity)
    if differ:
        raise ValueError(
            f"{path} holds the stages of another run (it differs in {', '.join(differ)}); "
            "rerun with that run's settings to resume it, or give another --out"
        )
    return state


def save_state(out, state) -> None:
    """Write ``OUT/stages.json`` atomically."""
    text = _dumps(state)
    write_atomic(os.path.join(out, STATE_FILE), text.encode())


def _dumps(value):
    import json

    return json.dumps(jsonable(value), indent=1)


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
    clock=None,
    log=print,
):
    """Run the stages of ``module`` not yet in ``OUT/stages.json``, saving after each, within
    ``budget_minutes`` (``None``: no limit). Returns ``(done, left)``: ``{stage: numbers}`` of
    every finished stage (earlier runs included) and the names of the stages not run."""
    if budget_minutes is not None and not (budget_minutes > 0 and math.isfinite(budget_minutes)):
        raise ValueError(f"budget_minutes must be a finite number > 0, got {budget_minutes!r}")
    budget = math.inf if budget_minutes is None else 60.0 * budget_minutes
    clock = clock or time.monotonic
    names = list(module.stages(config))
    state = load_state(out, identity)
    resumed = [n for n in names if n in state["finished"]]
    if resumed:
        log(f"resuming {out}: {len(resumed)} of {len(names)} stages done ({', '.join(resumed)})")
    start = clock()
    for name in names:
        if name in state["finished"]:
            continue
        longest = max((s["seconds"] for s in state["finished"].values()), default=0.0)
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
        numbers = module.run_stage(config, name, out, device, seed, data, progress)
        state["finished"][name] = {"numbers": jsonable(numbers), "seconds": clock() - began}
        save_state(out, state)
    done = {n: state["finished"][n]["numbers"] for n in names if n in state["finished"]}
    return done, [n for n in names if n not in state["finished"]]
