"""Experiments run stage by stage (pyrovae/experiments/framework/stages.py): a time budget that
stops at a stage boundary with partial results, a run killed mid-way that resumes from its last
finished stage, a stages file of another run refused, and dai-depth run in parts equal to one
uninterrupted run."""

import json
import os
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from helpers import TOY_FIGURE6, TOY_TABLE1

from pyrovae import cli
from pyrovae.experiments import get
from pyrovae.experiments.framework.skeleton import run_experiment
from pyrovae.experiments.framework.stages import run_in_stages, stage_path
from pyrovae.experiments.framework.verdict_table import report_table


@dataclass(frozen=True)
class Config:
    stages: tuple = ("a", "b", "c")
    seconds: float = 10.0


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def staged_module(clock, calls, fail_at=None):
    """A staged experiment whose stage ``s`` returns {"value": len(s)} and takes
    ``config.seconds`` on ``clock``; ``fail_at``: that stage raises (a killed run)."""

    def run_stage(config, stage, out, device, seed, data, progress):
        if stage == fail_at:
            raise KeyboardInterrupt(f"killed during {stage}")
        calls.append(stage)
        clock.now += config.seconds
        return {"value": len(stage) + seed}

    return types.SimpleNamespace(
        Config=Config,
        PROFILES={"quick": Config(), "full": Config(seconds=20.0)},
        CLAIM="c",
        PAPER="p",
        stages=lambda config: list(config.stages),
        run_stage=run_stage,
        assemble=lambda config, done: {"total": sum(d["value"] for d in done.values())},
        run=lambda *a, **k: pytest.fail("a staged experiment runs through its stages"),
        checks=lambda results: {"total_is_three": results["total"] == 3},
        plot=lambda results, out: [],
    )


def _identity(seed=0):
    return {"experiment": "fake", "seed": seed}


def test_a_budget_stops_at_a_stage_boundary_and_the_rest_resumes(tmp_path):
    clock, calls = FakeClock(), []
    module = staged_module(clock, calls)
    # 15 s: stage a (10 s) runs; a second stage as long would end at 20 s > 15 s
    done, left = run_in_stages(
        module, Config(), tmp_path, _identity(), budget_minutes=0.25, clock=clock, log=print
    )
    assert calls == ["a"] and done == {"a": {"value": 1}} and left == ["b", "c"]
    saved = json.loads(Path(stage_path(tmp_path, "a")).read_text())
    assert saved["numbers"] == {"value": 1} and saved["seconds"] == 10.0 and saved["stage"] == "a"
    assert saved["ran_on"]["device"] == "cpu" and "pyrovae" in saved["ran_on"]["versions"]
    assert not os.path.exists(stage_path(tmp_path, "b"))
    # 25 s: b fits (0 + 10 ≤ 25), c does not (10 + 10 ≤ 25 fits too), so both run
    done, left = run_in_stages(
        module, Config(), tmp_path, _identity(), budget_minutes=25 / 60, clock=clock
    )
    assert calls == ["a", "b", "c"] and left == [] and list(done) == ["a", "b", "c"]
    # everything done: a rerun reads the numbers back and runs nothing
    run_in_stages(module, Config(), tmp_path, _identity(), clock=clock)
    assert calls == ["a", "b", "c"]


def test_a_killed_run_resumes_from_its_last_finished_stage(tmp_path):
    clock, calls = FakeClock(), []
    with pytest.raises(KeyboardInterrupt):
        run_in_stages(staged_module(clock, calls, fail_at="b"), Config(), tmp_path, _identity())
    assert calls == ["a"]
    done, left = run_in_stages(staged_module(clock, calls), Config(), tmp_path, _identity())
    assert calls == ["a", "b", "c"] and left == [] and done["c"] == {"value": 1}


def test_the_stages_of_another_run_are_refused_not_mixed(tmp_path):
    clock, calls = FakeClock(), []
    run_in_stages(staged_module(clock, calls), Config(), tmp_path, _identity(seed=0))
    before = Path(stage_path(tmp_path, "b")).read_text()
    with pytest.raises(ValueError, match=r"a stage of another run \(it differs in seed\)"):
        run_in_stages(staged_module(clock, calls), Config(), tmp_path, _identity(seed=1))
    assert Path(stage_path(tmp_path, "b")).read_text() == before  # left as it was
    Path(stage_path(tmp_path, "c")).write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a stage file"):
        run_in_stages(staged_module(clock, calls), Config(), tmp_path, _identity())
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="budget_minutes must be a finite number > 0"):
            module = staged_module(clock, calls)
            run_in_stages(module, Config(), tmp_path / "x", {}, budget_minutes=bad)


def test_stages_run_apart_into_one_folder_are_assembled(tmp_path):
    """Two processes (here two calls) each run their own stages into one folder; a last call
    without a selection finds them all and runs nothing."""
    clock, calls = FakeClock(), []
    module = staged_module(clock, calls)
    done, left = run_in_stages(module, Config(), tmp_path, _identity(), only=["c"])
    assert calls == ["c"] and list(done) == ["c"] and left == ["a", "b"]
    run_in_stages(module, Config(), tmp_path, _identity(), only=["a", "b"])
    done, left = run_in_stages(module, Config(), tmp_path, _identity())
    assert calls == ["c", "a", "b"] and list(done) == ["a", "b", "c"] and left == []
    with pytest.raises(ValueError, match="no stage 'd' in this run; its stages are: a, b, c"):
        run_in_stages(module, Config(), tmp_path, _identity(), only=["d"])


def test_partial_results_are_marked_and_the_finished_run_is_checked(tmp_path, monkeypatch):
    clock, calls = FakeClock(), []
    module = staged_module(clock, calls)
    monkeypatch.setattr("pyrovae.experiments.framework.stages.time.monotonic", clock)
    partial = run_experiment(module, "fake", str(tmp_path), budget_minutes=0.25)
    assert partial["partial"] is True and "checks" not in partial
    assert partial["stages_done"] == ["a"] and partial["stages_left"] == ["b", "c"]
    assert partial["stage_numbers"] == {"a": {"value": 1}}
    assert json.loads((tmp_path / "results.json").read_text()) == partial
    final = run_experiment(module, "fake", str(tmp_path))
    assert "partial" not in final and final["total"] == 3
    assert final["checks"] == {"total_is_three": True} and calls == ["a", "b", "c"]
    with pytest.raises(ValueError, match="differs in seed"):
        run_experiment(module, "fake", str(tmp_path), seed=4)


def test_a_budget_for_an_experiment_without_stages_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not run in stages.*--budget-minutes"):
        get("linear-vae-ppca")(str(tmp_path), budget_minutes=5)


needs_fashion = pytest.mark.skipif(
    not (SHARED_DATA / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists(),
    reason="needs ../shared/data/fashion-mnist",
)
TINY = {"n": "120", "steps": "15", "width": "8", "z_dim": "3", "depths": "(1, 2)"}


@needs_fashion
def test_dai_depth_in_budgeted_parts_equals_one_run(tmp_path, capsys):
    joint = get("dai-depth")(str(tmp_path / "joint"), data=str(SHARED_DATA), overrides=TINY)
    args = ["reproduce", "dai-depth", "--data", str(SHARED_DATA), "--no-progress"]
    args += ["--out", str(tmp_path / "parts")]
    for key, value in TINY.items():
        args += ["--set", f"{key}={value}"]
    args += ["--budget-minutes", "0.0001"]
    assert cli.main(args) == 0  # the first stage runs, then the budget is spent
    assert "partial: 1 stages done, 3 left" in capsys.readouterr().out
    first = json.loads((tmp_path / "parts" / "results.json").read_text())
    assert first["partial"] and first["stages_done"] == ["AE-depth-1"]
    assert "no verdict (partial run)" in report_table(str(tmp_path / "parts"))
    assert cli.main(args) == 0  # a stage is known to take longer than the budget: none starts
    assert "more than the whole budget" in capsys.readouterr().out
    assert json.loads((tmp_path / "parts" / "results.json").read_text()) == first
    assert cli.main(args[:-2]) == 0  # no budget: the rest runs, the first stage read back
    last = json.loads((tmp_path / "parts" / "results.json").read_text())
    assert "partial" not in last
    assert last["rows"] == joint["rows"] and last["checks"] == joint["checks"]
    assert (tmp_path / "parts" / "depth.png").exists()


needs_mnist = pytest.mark.skipif(
    not (SHARED_DATA / "binarized_mnist.npz").exists(), reason="needs ../shared/data"
)


@needs_mnist
def test_infovae_likelihood_stopped_and_resumed_equals_one_run(tmp_path):
    run = get("infovae-likelihood")
    joint = run(str(tmp_path / "joint"), data=str(SHARED_DATA), overrides=TOY_TABLE1)
    parts = tmp_path / "parts"
    first = run(str(parts), data=str(SHARED_DATA), overrides=TOY_TABLE1, budget_minutes=1e-6)
    assert first["partial"] and first["stages_done"] == ["ELBO"]
    assert first["stages_left"] == [
        "InfoVAE-MMD",
        "InfoVAE-Stein",
        "InfoVAE-adversarial",
        "anchor",
    ]
    assert first["stage_numbers"]["ELBO"]["ais"]["n_points"] == 4
    last = run(str(parts), data=str(SHARED_DATA), overrides=TOY_TABLE1)
    assert last["models"] == joint["models"] and last["anchor"] == joint["anchor"]
    assert last["checks"] == joint["checks"] and (parts / "table1.png").exists()


@needs_mnist
def test_infovae_comparison_run_as_separate_stages_equals_one_run(tmp_path):
    """Each model a stage (``--stage``), the digit classifier trained in each process on one
    thread: the assembled run equals an uninterrupted one, classifier included."""
    run = get("infovae-comparison")
    joint = run(str(tmp_path / "joint"), data=str(SHARED_DATA), overrides=TOY_FIGURE6)
    parts = tmp_path / "parts"
    args = ["reproduce", "infovae-comparison", "--data", str(SHARED_DATA), "--no-progress"]
    args += ["--out", str(parts), "--threads", "2"]
    for key, value in TOY_FIGURE6.items():
        args += ["--set", f"{key}={value}"]
    assert cli.main([*args, "--stage", "z2-InfoVAE-adversarial"]) == 0
    assert sorted(os.listdir(parts / "stages")) == ["z2-InfoVAE-adversarial.json"]
    assert cli.main(args) == 0  # the other stages, then the whole run assembled
    last = json.loads((parts / "results.json").read_text())
    assert last["rows"] == joint["rows"] and last["checks"] == joint["checks"]
    assert last["classifier_sha256"] == joint["classifier_sha256"]
    assert list(last["samples"]) == ["data", *(row["objective"] for row in joint["rows"])]
    assert (parts / "figure6.png").exists() and (parts / "samples_z2.png").exists()


def test_infovae_comparison_refuses_stages_scored_by_different_classifiers():
    from pyrovae.experiments.infovae_comparison import PROFILES, assemble, stages

    config = PROFILES["cpu"]
    facts = {"heldout_accuracy": 0.9, "cross_entropy_minimum": 2.3}
    facts["cross_entropy_on_heldout_data"] = 2.4
    done = {
        name: {"row": {}, "samples": None, "classifier": {**facts, "sha256": f"{i % 2}"}}
        for i, name in enumerate(stages(config))
    }
    with pytest.raises(ValueError, match="different digit classifiers.*rerun every stage"):
        assemble(config, done)


@needs_fashion
def test_a_sweep_run_past_its_deadline_is_partial_and_resumes(tmp_path):
    import time

    from pyrovae.sweep.runner import execute_run

    sets = {k: v for k, v in TINY.items() if k != "depths"}
    run_dir = str(tmp_path / "run")
    args = ("dai-depth", {"depths": "(1,)"}, 0, "quick", sets, "cpu", str(SHARED_DATA), run_dir, 1)
    row = execute_run(*args, deadline=time.time())  # no time left: one stage, then stop
    assert row["status"] == "partial", row
    assert json.loads((tmp_path / "run" / "results.json").read_text())["stages_left"] == [
        "VAE-depth-1"
    ]
    row = execute_run(*args)  # the next sweep call: no deadline, the run resumes and finishes
    assert row["status"] == "ok" and row["results"]["VAE_error_depth_1"] > 0


def test_list_names_the_stages_of_the_settings_given(capsys):
    code = cli.main(["reproduce", "dai-depth", "--list", "--set", "depths=(1, 3)"])
    assert code == 0
    assert "stages: AE-depth-1 VAE-depth-1 AE-depth-3 VAE-depth-3" in capsys.readouterr().out
    assert cli.main(["reproduce", "linear-vae-ppca", "--stage", "x", "--out", "/tmp/unused"]) == 2
    assert "does not run in stages" in capsys.readouterr().err
    assert cli.main(["reproduce", "dai-depth", "--profile", "paper", "--list"]) == 2
    assert "dai-depth has the profiles quick, full; got 'paper'" in capsys.readouterr().err


def test_fit_passes_an_experiments_stage_minutes_to_train_as_its_time_limit(monkeypatch):
    """Both InfoVAE experiments share ``stage_minutes`` (ConvInfoVAESettings); ``fit`` turns a
    positive value into ``train(time_limit=...)`` and passes nothing for 0."""
    from pyrovae.experiments.framework import common
    from pyrovae.experiments.infovae_setup import ConvInfoVAESettings

    seen = []
    monkeypatch.setattr(common, "train", lambda *args, **options: seen.append(options))
    vae = types.SimpleNamespace(model=None, guide=None)
    for minutes in (0.0, 2.5):
        config = ConvInfoVAESettings(steps=7, stage_minutes=minutes)
        common.fit(vae, None, None, config, seed=0, device="cpu", progress=False)
    assert "time_limit" not in seen[0] and seen[1]["time_limit"] == 2.5
    assert seen[1]["steps"] == 7 and seen[1]["batch_size"] == 100
