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
path and content hash, the library versions) in ``results.json``, then plots.
"""

import dataclasses
import os

from ...provenance import data_record, versions
from .common import check_profile, prepare_out, write_results
from .settings import resolve_settings


def follows_skeleton(module) -> bool:
    """Whether ``module`` has what an experiment needs: ``Config``, ``PROFILES``, ``run``,
    ``checks`` and ``plot``."""
    return all(hasattr(module, a) for a in ("Config", "PROFILES", "run", "checks", "plot"))


def configure(module, name, profile="quick", overrides=None):
    """The profile's config with ``overrides`` (``{field: text or value}``) applied."""
    if not follows_skeleton(module):
        raise TypeError(f"{name} does not follow the experiment skeleton (see {__name__})")
    return resolve_settings(module.PROFILES[check_profile(profile)], overrides, name)


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
):
    """Run one experiment; returns the results as written to ``OUT/results.json``."""
    out = out or os.path.join("runs", name)
    config = configure(module, name, profile, overrides)
    prepare_out(out)
    results = module.run(config, out=out, device=device, seed=seed, data=data, progress=progress)
    results = {
        "experiment": name,
        "claim": module.CLAIM,
        "paper": module.PAPER,
        "profile": profile,
        "seed": seed,
        "config": dataclasses.asdict(config),
        **results,
        "provenance": {"data": data_record(data), "versions": versions()},
    }
    return finish(module, name, out, results)


def finish(module, name, out, results):
    """Write ``results`` to ``OUT/results.json``, then add the checks and the figures drawn from
    what is stored (each step written, so a failing plot leaves the numbers and checks)."""
    results = write_results(out, results)  # JSON-ready from here on: plot reads what is stored
    results["checks"] = _check_checks(name, module.checks(results))
    results = write_results(out, results)
    results["figures"] = [os.path.basename(p) for p in module.plot(results, out)]
    return write_results(out, results)
