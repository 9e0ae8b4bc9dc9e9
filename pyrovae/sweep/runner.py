"""``run_sweep``: every grid point × seed of an experiment as a Ray task, with resume.

Ray is the engine PyTorch users already run on clusters. Locally (the default) Ray is started
on demand with ``workers`` CPUs; ``address`` joins an existing cluster (``ray start --head`` on
one machine, ``address="HEAD:6379"`` from the others — every node needs pyrovae installed and
the data at the same path). At most ``workers`` runs are in flight at once, and each sets
torch's thread count to its CPU share: two torch processes with default threads on two cores
slow each other 10–20x by OpenMP spin-waiting.

Each run writes its own folder ``OUT/run-NNN_..._seed=S`` (results.json, figures).
``OUT/sweep.json`` holds the sweep's specification and one row per run (params, seed, status,
wall time, the run's scalar results and checks, the error of a failed run); ``OUT/sweep.csv``
the same as a table.
Both are rewritten after every finished run, so an interrupted sweep loses nothing: the same
command again skips the finished runs and retries the failed ones. One driver at a time per
folder: a second is refused while the first holds ``OUT/.sweep.lock`` (:mod:`pyrovae.sweep.lock`).
"""

import math
import os
import socket
import time
import traceback

from ..provenance import data_record
from .files import SWEEP_FILE, read_sweep_file, write_sweep_files
from .grid import grid_points, parse_grid, parse_seeds, run_name
from .lock import LOCK_FILE, sweep_lock


def import_ray():
    """The ``ray`` module, or ``ImportError`` naming the ``sweep`` extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            'pyrovae sweep runs on Ray, which is not installed: pip install -e ".[sweep]" '
            '(or pip install "ray>=2.9")'
        ) from None
    return ray


def _scalars(results):
    """The run's top-level numbers, bools and strings (the long histories stay in its folder)."""
    return {
        k: v
        for k, v in results.items()
        if k != "checks" and (v is None or isinstance(v, (int, float, bool, str)))
    }


def _checks(results):
    """``checks`` as ``{claim: bool}`` (a check may be recorded as ``{"holds": bool, ...}``)."""
    out = {}
    for name, value in (results.get("checks") or {}).items():
        if isinstance(value, dict):
            value = value.get("holds", value.get("passed"))
        if isinstance(value, bool):
            out[name] = value
    return out


def execute_run(
    experiment, params, seed, profile, sets, device, data, run_dir, threads, deadline=None
):
    """One run (inside a Ray worker, or in-process): returns its sweep.json row. ``deadline``
    (``time.time()`` seconds): a staged experiment gets the time left as its budget and may
    stop part-way (status ``partial``; the next sweep resumes it)."""
    import torch

    from .. import experiments
    from ..experiments.framework.registry import experiment_module
    from ..experiments.framework.stages import is_staged

    start = time.perf_counter()
    row = {"run": os.path.basename(run_dir), "params": params, "seed": seed}
    try:
        torch.set_num_threads(threads)
        os.makedirs(run_dir, exist_ok=True)
        budget = None
        if deadline is not None and is_staged(experiment_module(experiment)):
            budget = max((deadline - time.time()) / 60, 1e-3)
        results = experiments.get(experiment)(
            out=run_dir,
            profile=profile,
            device=device,
            seed=seed,
            data=data,
            progress=False,
            overrides={**sets, **params},
            budget_minutes=budget,
        )
        status = "partial" if results.get("partial") else "ok"
        row.update(status=status, results=_scalars(results), checks=_checks(results))
    except Exception as err:  # a failed run is recorded; it never stops the sweep
        lines = traceback.format_exception(type(err), err, err.__traceback__)
        row.update(status="failed", error=f"{type(err).__name__}: {err}", traceback=lines[-6:])
    row["wall_s"] = time.perf_counter() - start
    return row


def _spec(experiment, grid, seeds, sets, profile, device, data=None):
    return {
        "experiment": experiment,
        "profile": profile,
        "grid": grid,
        "seeds": seeds,
        "set": sets,
        "device": device,
        "data": data_record(data),  # its content hash: a resume on other data is refused
    }


def _load_existing(out, spec):
    path = os.path.join(out, SWEEP_FILE)
    if not os.path.exists(path):
        if os.path.isdir(out) and set(os.listdir(out)) - {LOCK_FILE}:
            raise ValueError(
                f"{out} is not empty and holds no {SWEEP_FILE}: give a new or empty --out "
                "(nothing was overwritten)"
            )
        return {}
    saved = read_sweep_file(path)
    old = saved.get("spec", {})
    # a sweep.json from before data were recorded has no "data": it cannot be compared
    differs = [
        k for k in spec if k != "seeds" and old.get(k) != spec[k] and (k != "data" or k in old)
    ]
    if differs:
        raise ValueError(
            f"{out} holds a different sweep ({', '.join(differs)} differ: there "
            f"{ {k: old.get(k) for k in differs} }); give another --out, or the same settings "
            "to resume it (nothing was overwritten)"
        )
    # more seeds into a swept folder: the spec keeps every seed (its runs stay in the summary)
    spec["seeds"] = sorted(set(old.get("seeds", [])) | set(spec["seeds"]))
    return {row["run"]: row for row in saved.get("runs", [])}


CONNECT_TIMEOUT_S = 10.0


def _probe_address(address, timeout=CONNECT_TIMEOUT_S):
    """``ValueError`` unless something accepts a TCP connection at ``address`` (HOST:PORT, or
    ray://HOST:PORT) within ``timeout`` seconds: Ray's own connect retries for minutes."""
    if address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--address takes HOST:PORT (e.g. 10.0.0.5:6379), got {address!r}")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as err:
        raise ValueError(
            f"nothing answers at {address} within {timeout:g} s ({err.strerror or err}); start "
            "the cluster's head with `ray start --head` and pass its HOST:6379, or leave "
            "--address out to run locally"
        ) from None


def check_resources(device, gpus_per_run, address):
    """Refuse a sweep that could never run, before Ray starts: a non-finite or negative GPU
    share, GPUs asked of a machine without any, ``--device cuda`` without CUDA (checked here
    only for local runs), an ``address`` where nothing answers within 10 s."""
    import torch

    if not (isinstance(gpus_per_run, (int, float)) and math.isfinite(gpus_per_run)):
        raise ValueError(f"gpus_per_run must be a finite number >= 0, got {gpus_per_run!r}")
    if gpus_per_run < 0:
        raise ValueError(f"gpus_per_run must be >= 0, got {gpus_per_run}")
    if address:
        _probe_address(address)
        return
    if gpus_per_run > 0 and torch.cuda.device_count() == 0:
        raise ValueError(
            f"--gpus-per-run {gpus_per_run} asks for GPUs, but this machine has none (Ray "
            "would wait forever to schedule the runs); use --gpus-per-run 0, or --address of "
            "a cluster with GPUs"
        )
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"--device {device} but CUDA is not available here (every run would fail); use "
            "--device cpu"
        )


def _start_ray(ray, workers, gpus_per_run, address):
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
            available = ray.cluster_resources().get("GPU", 0)
            if gpus_per_run > available:
                ray.shutdown()
                raise ValueError(
                    f"--gpus-per-run {gpus_per_run} but the cluster at {address} has "
                    f"{available:g} GPUs; Ray would wait forever to schedule the runs"
                )
        else:
            ray.init(
                num_cpus=workers,
                num_gpus=None if gpus_per_run else 0,
                include_dashboard=False,
                log_to_driver=False,
            )
    except (ConnectionError, RuntimeError, TimeoutError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ValueError(
            f"could not reach {where}: {err}. Start one with `ray start --head` and pass "
            "its address (HEAD_IP:6379), or leave --address out to run locally"
        ) from err
    return True


def run_sweep(
    experiment,
    grid=None,
    seeds=(0,),
    sets=None,
    profile="quick",
    out="runs/sweep",
    workers=1,
    gpus_per_run=0.0,
    address=None,
    device="cpu",
    data=None,
    threads_per_run=None,
    progress=True,
    budget_minutes=None,
):
    """Run ``experiment`` at every grid point × seed as Ray tasks; returns the sweep.json dict.

    :param grid: ``{key: [values]}`` (values as text, parsed to the setting's type) or a list of
        ``"key=v1,v2"`` strings; every key must be a setting of the experiment's profile.
    :param seeds: seeds (or ``"0,1,2"``); each grid point runs once per seed.
    :param sets: ``{key: value}`` overrides applied to every run (``--set``).
    :param workers: runs in flight at once (and the CPUs of a local Ray instance).
    :param gpus_per_run: GPUs Ray reserves per run (fractions share a GPU).
    :param address: an existing Ray cluster's address; default: local Ray started on demand.
    :param threads_per_run: torch threads per run; default: this machine's cores / workers.
    :param budget_minutes: no run starts after this many minutes, and a staged experiment's
        run stops at a stage boundary within them (status ``partial``); the same call later
        runs what is left and resumes the partial runs.
    """
    from .. import experiments
    from ..experiments.framework.settings import parse_assignments

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if budget_minutes is not None and not (
        isinstance(budget_minutes, (int, float)) and 0 < budget_minutes < math.inf
    ):
        raise ValueError(f"budget_minutes must be a finite number > 0, got {budget_minutes!r}")
    deadline = None if budget_minutes is None else time.time() + 60 * budget_minutes
    check_resources(device, gpus_per_run, address)
    grid = dict(grid) if isinstance(grid, dict) else parse_grid(grid)
    grid = {k: [str(v) for v in values] for k, values in grid.items()}
    if any(not values for values in grid.values()):
        raise ValueError("every grid key needs at least one value")
    seeds = parse_seeds(seeds)
    sets = dict(sets) if isinstance(sets, dict) else parse_assignments(sets)
    both = set(grid) & set(sets)
    if both:
        raise ValueError(f"{sorted(both)} given both in the grid and in --set; keep one")
    points = grid_points(grid)
    for point in points:  # every key and value type-checked before anything runs
        experiments.experiment_settings(experiment, profile, {**sets, **point})
    spec = _spec(experiment, grid, seeds, sets, profile, str(device), data)
    _load_existing(out, dict(spec))  # refused before the folder exists
    os.makedirs(out, exist_ok=True)
    with sweep_lock(out):  # one driver per folder; the rows read again under the lock
        done = _load_existing(out, spec)
        threads = threads_per_run or max(1, (os.cpu_count() or 1) // workers)
        jobs = []
        for i, point in enumerate(points):
            for seed in seeds:
                name = run_name(i, point, seed)
                if done.get(name, {}).get("status") != "ok":
                    jobs.append((name, point, seed))
        rows = dict(done)
        write_sweep_files(out, spec, rows)
        if progress:
            skipped = len(points) * len(seeds) - len(jobs)
            print(f"sweep {experiment}: {len(jobs)} runs to go, {skipped} finished before")
        if not jobs:
            return {"spec": spec, "runs": sorted(rows.values(), key=lambda r: r["run"])}

        ray = import_ray()
        started = _start_ray(ray, workers, gpus_per_run, address)
        task = ray.remote(num_cpus=1, num_gpus=gpus_per_run, max_retries=0)(execute_run)
        try:
            pending, queue, finished = {}, list(jobs), 0
            while queue or pending:
                if queue and deadline is not None and time.time() >= deadline:
                    if progress:
                        print(
                            f"budget of {budget_minutes:g} minutes spent: {len(queue)} runs "
                            "not started; the same command runs them later"
                        )
                    queue = []
                while queue and len(pending) < workers:
                    name, point, seed = queue.pop(0)
                    run_dir = os.path.abspath(os.path.join(out, name))
                    ref = task.remote(
                        experiment,
                        point,
                        seed,
                        profile,
                        sets,
                        device,
                        data,
                        run_dir,
                        threads,
                        deadline,
                    )
                    pending[ref] = (name, point, seed)
                if not pending:
                    break
                ready, _ = ray.wait(list(pending), num_returns=1)
                name, point, seed = pending.pop(ready[0])
                try:
                    row = ray.get(ready[0])
                except Exception as err:  # the worker itself died (killed, out of memory)
                    row = {"run": name, "params": point, "seed": seed, "status": "failed"}
                    row["error"] = f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
                rows[name] = row
                write_sweep_files(out, spec, rows)
                finished += 1
                if progress:
                    wall = row.get("wall_s")
                    took = f" in {wall:.1f} s" if wall is not None else ""
                    print(f"[{finished}/{len(jobs)}] {name}: {row['status']}{took}")
        finally:
            if started:
                ray.shutdown()
        return {"spec": spec, "runs": sorted(rows.values(), key=lambda r: r["run"])}
