"""The experiment skeleton: a frozen ``Config`` per experiment, ``run``, ``checks``, ``plot``.

An experiment module following it defines

* ``Config``: a frozen dataclass holding every setting, and ``PROFILES = {"quick": Config(...),
  "full": Config(...)}``;
* ``run(config, out, device, seed, data, progress) -> dict``: the numbers (JSON-ready or
  tensors), including everything ``plot`` draws; no figures, no files but its own extras;
* ``checks(results) -> {claim: bool}``: each of the paper's claims as a test of the numbers;
* ``plot(results, out) -> [paths]``: figures from the stored results alone (built on
  :mod:`pyrovae.plotting`), so they can be redrawn from ``results.json``;
* ``CLAIM`` and ``PAPER``: one line each, for the report.

:func:`run_experiment` runs one: it resolves the profile and ``--set`` overrides (type-checked),
records the whole config, the seed, the profile, the checks and the provenance (the data's
path and content hash, the library versions) in ``results.json``, then plots. An experiment
that also defines ``stages`` / ``run_stage`` / ``assemble`` (:mod:`.stages`) runs stage by
stage: saved after each, resumable, within ``budget_minutes``.
"""

import dataclasses
import os

from ...provenance import data_record, versions
from .common import check_profile, jsonable, prepare_out, write_results
from .settings import resolve_settings
from .stages import is_staged, run_in_stages


def follows_skeleton(module) -> bool:
    """Whether ``module`` has what an experiment needs: ``Config``, ``PROFILES``, ``run``,
    ``checks`` and ``plot``."""
    return all(hasattr(module, a) for a in ("Config", "PROFILES", "run", "checks", "plot"))


def configure(module, name, profile="quick", overrides=None):
    """The profile's config with ``overrides`` (``{field: text or value}``) applied."""
    if not follows_skeleton(module):
        raise TypeError(f"{name} does not follow the experiment skeleton (see {__name__})")
    return resolve_settings(module.PROFILES[check_profile(profile, module, name)], overrides, name)


def _check_checks(name, checks):
    if not isinstance(checks, dict) or not checks:
        raise TypeError(f"{name}.checks must return a non-empty {{claim: bool}} dict")
    bad = {k: v for k, v in checks.items() if not isinstance(v, bool)}
    if bad:
        raise TypeError(f"{name}.checks returned non-bool verdicts: {bad}")
    return checks


def run_experiment(
    module,
    name,
    out=None,
    profile="quick",
    device="cpu",
    seed=0,
    data=None,
    progress=False,
    overrides=None,
    budget_minutes=None,
    stages=None,
):
    """Run one experiment; returns the results as written to ``OUT/results.json``.

    ``budget_minutes`` (a staged experiment only, :mod:`.stages`): start no stage that would
    not fit; a run stopped early writes its finished stages, marked ``"partial": true``, and
    the same call later resumes it. ``stages``: run only these stages (others may run in
    other processes into the same ``out``; a call without it assembles them)."""
    out = out or os.path.join("runs", name)
    config = configure(module, name, profile, overrides)
    if (budget_minutes is not None or stages) and not is_staged(module):
        raise ValueError(
            f"{name} does not run in stages, so it cannot stop part-way or run one stage: run "
            "it without --budget-minutes and --stage (experiments that define stages(), "
            "run_stage() and assemble() take them: docs/guide/sweeps.md)"
        )
    prepare_out(out)
    head = {
        "experiment": name,
        "claim": module.CLAIM,
        "paper": module.PAPER,
        "profile": profile,
        "seed": seed,
        "config": dataclasses.asdict(config),
    }
    provenance = {"data": data_record(data), "versions": versions()}
    options = dict(device=device, seed=seed, data=data, progress=progress)
    if not is_staged(module):
        results = module.run(config, out=out, **options)
        return finish(module, name, out, {**head, **results, "provenance": provenance})
    # what a stage file must match to be this run's (claim and paper are prose, not identity)
    same_run = ("experiment", "profile", "seed", "config")
    identity = jsonable(
        {**{k: head[k] for k in same_run}, "data_sha256": provenance["data"].get("sha256")}
    )
    done, left = run_in_stages(
        module, config, out, identity, budget_minutes=budget_minutes, only=stages, **options
    )
    if left:
        partial = {
            **head,
            "partial": True,
            "stages_done": list(done),
            "stages_left": left,
            "stage_numbers": done,
            "provenance": provenance,
        }
        return write_results(out, partial)
    results = module.assemble(config, done)
    return finish(module, name, out, {**head, **results, "provenance": provenance})


def finish(module, name, out, results):
    """Write ``results`` to ``OUT/results.json``, then add the checks and the figures drawn from
    what is stored (each step written, so a failing plot leaves the numbers and checks)."""
    results = write_results(out, results)  # JSON-ready from here on: plot reads what is stored
    results["checks"] = _check_checks(name, module.checks(results))
    results = write_results(out, results)
    results["figures"] = [os.path.basename(p) for p in module.plot(results, out)]
    return write_results(out, results)
