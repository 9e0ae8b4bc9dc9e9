"""pyrovae sweep: grid / seed / --set parsing, a tiny sweep on local Ray with 2 workers (one
setting fails), resume, a refused different sweep, and the summary's statistics and figures."""

import json
import os
import statistics
import sys
import time

import pytest
import torch

from pyrovae import cli
from pyrovae.experiments import experiment_settings
from pyrovae.experiments.framework.settings import parse_assignments, resolve_settings
from pyrovae.sweep import parse_grid, parse_seeds, plot_summary, run_sweep, summarize
from pyrovae.sweep.grid import split_values
from pyrovae.sweep.runner import import_ray

# a linear VAE on 200 pPCA points for 20 full-batch steps: about a second per run
TINY = {"n": "200", "phases": "((20, 0.05),)"}


def test_grid_seeds_and_set_parsing():
    assert split_values("1,(2, 3),[4,5]") == ["1", "(2, 3)", "[4,5]"]
    assert parse_grid(["lam=1,10", "hidden=(8, 8),(16,)"]) == {
        "lam": ["1", "10"],
        "hidden": ["(8, 8)", "(16,)"],
    }
    assert parse_seeds("0,1,2") == [0, 1, 2]
    for bad in (["lam="], ["lam"], ["lam=1,,2"], ["lam=1", "lam=2"], ["lam=1,1"]):
        with pytest.raises(ValueError, match="--grid"):
            parse_grid(bad)
    for bad in ("", "0,0", "a"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)
    assert parse_assignments(["a=1", "b = x"]) == {"a": "1", "b": "x"}
    with pytest.raises(ValueError, match="key=value"):
        parse_assignments(["a"])


def test_settings_overrides_are_type_checked():
    base = {"n": 10, "lr": 0.1, "flag": True, "name": "x", "hidden": (8, 8)}
    cfg = resolve_settings(base, {"n": "20", "lr": "1e-3", "flag": "false", "hidden": "(4,)"})
    assert cfg == {"n": 20, "lr": 1e-3, "flag": False, "name": "x", "hidden": (4,)}
    assert base["n"] == 10  # the profile itself is untouched
    with pytest.raises(ValueError, match=r"no setting 'm'.*n \(int\), lr \(float\)"):
        resolve_settings(base, {"m": "1"})
    for key, text in (("n", "2.5"), ("lr", "fast"), ("flag", "maybe"), ("hidden", "8")):
        with pytest.raises(ValueError, match=key):
            resolve_settings(base, {key: text})
    cfg = experiment_settings("linear-vae-ppca", "quick", TINY)
    assert cfg.n == 200 and cfg.phases == ((20, 0.05),)
    with pytest.raises(ValueError, match="unknown experiment"):
        experiment_settings("no-such-thing")


def test_reproduce_set_errors_name_the_settings(capsys):
    code = cli.main(["reproduce", "linear-vae-ppca", "--set", "nn=3", "--out", "/tmp/unused"])
    assert code == 2
    assert "no setting 'nn'" in capsys.readouterr().err


def test_bad_sweep_input_is_refused_before_anything_runs(tmp_path):
    out = str(tmp_path / "s")
    for kwargs, match in (
        ({"workers": 0}, "workers"),
        ({"grid": ["nope=1,2"]}, "no setting 'nope'"),
        ({"grid": ["n=ten"]}, "n is an int"),
        ({"grid": ["n=100"], "sets": {"n": "200"}}, "both in the grid and in --set"),
        ({"seeds": "0,0"}, "--seeds"),
    ):
        with pytest.raises(ValueError, match=match):
            run_sweep("linear-vae-ppca", out=out, progress=False, **kwargs)
    assert not os.path.exists(out)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        run_sweep("linear-vae-ppca", sets=TINY, out=str(tmp_path / "busy"), progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_sweeps_that_could_never_run_are_refused_before_ray_starts(tmp_path):
    """--gpus-per-run 0.5 on a machine without a GPU once left a Ray task waiting forever;
    --device cuda without CUDA failed every run; a NaN GPU share reached Ray."""
    out = str(tmp_path / "s")
    for kwargs, match in (
        ({"gpus_per_run": 0.5}, "this machine has none"),
        ({"device": "cuda"}, "CUDA is not available"),
        ({"gpus_per_run": float("nan")}, "finite number"),
    ):
        with pytest.raises(ValueError, match=match):
            run_sweep("linear-vae-ppca", sets=TINY, out=out, progress=False, **kwargs)
    assert not os.path.exists(out)


def test_an_address_where_nothing_listens_fails_within_seconds(tmp_path):
    """--address 127.0.0.1:1 once logged "Failed to connect to GCS" for more than 10 minutes."""
    pytest.importorskip("ray")
    start = time.monotonic()
    with pytest.raises(ValueError, match="nothing answers at 127.0.0.1:1"):
        run_sweep(
            "linear-vae-ppca",
            sets=TINY,
            out=str(tmp_path / "s"),
            address="127.0.0.1:1",
            progress=False,
        )
    assert time.monotonic() - start < 60
    assert not (tmp_path / "s").exists()


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"\.\[sweep\]"):
        import_ray()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_sweep_resumed_on_other_data_is_refused(local_ray, tmp_path):
    """A sweep resumed with another --data once mixed runs on two data sets in one sweep.json;
    the spec now holds the data's content hash. More seeds into the folder keep the old ones."""
    (tmp_path / "a.npy").write_bytes(b"first data")
    (tmp_path / "b.npy").write_bytes(b"other data")
    out = str(tmp_path / "s")
    first = run_sweep(
        "linear-vae-ppca", sets=TINY, out=out, data=str(tmp_path / "a.npy"), progress=False
    )
    assert first["spec"]["data"]["sha256"] and first["runs"][0]["status"] == "ok"
    before = (tmp_path / "s" / "sweep.json").read_bytes()
    with pytest.raises(ValueError, match="data differ"):
        run_sweep(
            "linear-vae-ppca", sets=TINY, out=out, data=str(tmp_path / "b.npy"), progress=False
        )
    assert (tmp_path / "s" / "sweep.json").read_bytes() == before
    more = run_sweep(
        "linear-vae-ppca",
        sets=TINY,
        out=out,
        seeds="1",
        data=str(tmp_path / "a.npy"),
        progress=False,
    )
    assert more["spec"]["seeds"] == [0, 1] and len(more["runs"]) == 2


def test_sweep_on_local_ray_records_failures_and_resumes(local_ray, tmp_path):
    out = str(tmp_path / "sweep")
    # a learning rate of 1e30 passes the settings' checks and diverges inside the run:
    # recorded as failed, the sweep goes on
    good, bad = "((20, 0.05),)", "((20, 1e30),)"
    grid = [f"phases={good},{bad}"]
    sets = {"n": "200"}
    sweep = run_sweep(
        "linear-vae-ppca", grid=grid, seeds="0,1", sets=sets, out=out, workers=2, progress=False
    )
    rows = {(r["params"]["phases"], r["seed"]): r for r in sweep["runs"]}
    assert sorted(rows) == sorted([(good, 0), (good, 1), (bad, 0), (bad, 1)])
    for seed in (0, 1):
        ok, failed = rows[(good, seed)], rows[(bad, seed)]
        assert ok["status"] == "ok" and failed["status"] == "failed"
        assert failed["error"]
        assert ok["results"]["profile"] == "quick" and ok["wall_s"] > 0
        assert os.path.exists(os.path.join(out, ok["run"], "results.json"))
        with open(os.path.join(out, ok["run"], "results.json")) as f:
            config = json.load(f)["config"]
        assert config["n"] == 200 and config["phases"] == [[20, 0.05]]  # overrides reached run()
        assert "TrainingDiverged" in failed["error"]
    # the two seeds differ (each run got its own seed)
    assert rows[(good, 0)]["results"]["final_elbo"] != rows[(good, 1)]["results"]["final_elbo"]
    with open(os.path.join(out, "sweep.json")) as f:
        assert json.load(f)["runs"] == sweep["runs"]
    with open(os.path.join(out, "sweep.csv")) as f:
        lines = f.read().splitlines()
    assert len(lines) == 5 and lines[0].startswith("run,seed,status,wall_s,phases")

    # resume: the finished runs are skipped (their folders untouched), the failed ones retried
    finished = {k: rows[k] for k in rows if rows[k]["status"] == "ok"}
    stamps = {
        k: os.path.getmtime(os.path.join(out, r["run"], "results.json"))
        for k, r in finished.items()
    }
    again = run_sweep(
        "linear-vae-ppca", grid=grid, seeds="0,1", sets=sets, out=out, workers=2, progress=False
    )
    again_rows = {(r["params"]["phases"], r["seed"]): r for r in again["runs"]}
    for k, r in finished.items():
        assert again_rows[k] == r
        assert os.path.getmtime(os.path.join(out, r["run"], "results.json")) == stamps[k]
    assert again_rows[(bad, 0)]["status"] == "failed"

    # a different sweep in the same folder is refused; nothing is overwritten
    with open(os.path.join(out, "sweep.json")) as f:
        before = f.read()
    with pytest.raises(ValueError, match="holds a different sweep"):
        run_sweep("linear-vae-ppca", grid=["batch_size=100"], sets=TINY, out=out, progress=False)
    with open(os.path.join(out, "sweep.json")) as f:
        assert f.read() == before

    # the summary: mean and sd over the seeds that finished, failures counted
    table = summarize(again, ["final_elbo"])
    by_value = {row["params"]["phases"]: row for row in table}
    values = [rows[(good, s)]["results"]["final_elbo"] for s in (0, 1)]
    mean, sd, n = by_value[good]["final_elbo"]
    assert n == 2 and mean == pytest.approx(statistics.fmean(values))
    assert sd == pytest.approx(statistics.stdev(values))
    assert by_value[bad]["ok"] == 0 and by_value[bad]["failed"] == 2
    assert (
        cli.main(["sweep", "--summary", out, "--keys", "final_elbo,elbo_gap_to_ppca_optimum"]) == 0
    )
    for name in ("summary.png", "summary-final_elbo.png", "summary-elbo_gap_to_ppca_optimum.png"):
        assert os.path.exists(os.path.join(out, name))


def _fake_sweep(grid, value):
    """A sweep.json-shaped dict (no Ray): ``value(params, seed)`` as each run's result."""
    from pyrovae.sweep import grid_points

    runs = []
    for point in grid_points(grid):
        for seed in (0, 1, 2):
            runs.append(
                {
                    "run": f"r{len(runs)}",
                    "params": point,
                    "seed": seed,
                    "status": "ok",
                    "results": {"score": value(point, seed)},
                    "checks": {"claim": seed != 2},
                }
            )
    spec = {"experiment": "x", "profile": "quick", "grid": grid, "seeds": [0, 1, 2]}
    return {"spec": spec, "runs": runs}


def test_summary_statistics_and_figures():
    grid = {"lam": ["1", "10", "100"], "xi": ["0.01", "0.1"]}
    sweep = _fake_sweep(grid, lambda p, s: float(p["lam"]) * float(p["xi"]) + s)
    table = summarize(sweep)
    row = next(r for r in table if r["params"] == {"lam": "10", "xi": "0.1"})
    mean, sd, n = row["score"]
    assert (mean, n) == (pytest.approx(2.0), 3) and sd == pytest.approx(1.0)
    assert row["checks"] == {"claim": pytest.approx(2 / 3)}
    heatmap = plot_summary(sweep, table, "score")
    assert len(heatmap.axes[0].images) == 1
    line_sweep = _fake_sweep({"lam": ["1", "10", "100"]}, lambda p, s: float(p["lam"]))
    lines = plot_summary(line_sweep, summarize(line_sweep), "score")
    assert lines.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="no finished run has result"):
        summarize(sweep, ["nope"])


def test_summary_of_a_sweep_without_finished_runs_says_so():
    sweep = _fake_sweep({"lam": ["1"]}, lambda p, s: 1.0)
    for run in sweep["runs"]:
        run["status"] = "failed"
    with pytest.raises(ValueError, match="none ok"):
        summarize(sweep)


def test_broken_sweep_files_are_named(tmp_path):
    """A truncated or hand-edited sweep.json once gave a bare JSON error or KeyError: 'run'."""
    from pyrovae.sweep.summary import load_sweep

    good = json.dumps(_fake_sweep({"lam": ["1"]}, lambda p, s: 1.0))
    for name, text, match in (
        ("cut", good[: len(good) // 2], "not readable JSON"),
        ("edited", json.dumps({"spec": {}, "runs": [{"seed": 0}]}), "not a pyrovae sweep"),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "sweep.json").write_text(text)
        with pytest.raises(ValueError, match=rf"{name}/sweep.json is {match}"):
            load_sweep(str(folder))
        with pytest.raises(ValueError, match=rf"{name}/sweep.json is {match}"):
            run_sweep("linear-vae-ppca", sets=TINY, out=str(folder), progress=False)


def test_sweep_csv_columns_are_unique():
    from pyrovae.sweep.files import _csv

    sweep = _fake_sweep({"lam": ["1"]}, lambda p, s: 1.0)
    for run in sweep["runs"]:
        run["results"].update(seed=run["seed"], lam="1")  # experiments record their seed
    header = _csv(sweep["runs"]).splitlines()[0].split(",")
    assert len(header) == len(set(header)) and header.count("seed") == 1


@pytest.mark.parametrize(
    "experiment, setting, message",
    [
        ("linear-vae-ppca", "phases=((20,),)", r"phases\[0\] has 2 elements"),
        ("linear-vae-ppca", "phases=((20.5, 0.05),)", r"phases\[0\]\[0\] is an int"),
        ("linear-vae-ppca", "n=-3", "n is a count"),
        ("linear-vae-ppca", "k=0", "k is a count"),
        ("linear-vae-ppca", "sigma2=nan", "sigma2 must be a finite number"),
        ("linear-vae-ppca", "max_gap=inf", "max_gap must be a finite number"),
        ("infovae-comparison", "z_dims=(2.5,)", r"z_dims\[0\] is an int"),
        ("infovae-comparison", "z_dims=(0,)", r"z_dims\[0\] is a count"),
    ],
)
def test_set_values_are_checked_in_depth_before_any_work(experiment, setting, message):
    """--set once checked only the outer type: hidden=(8.5,) ran 8 units and recorded 8.5,
    thresholds at ±inf made every check True, n=-3 failed deep inside torch."""
    with pytest.raises(ValueError, match=message):
        experiment_settings(experiment, "quick", parse_assignments([setting]))


def test_set_values_that_fit_the_template_are_converted():
    config = experiment_settings(
        "linear-vae-ppca", "quick", parse_assignments(["phases=((20, 1),)", "sigma2=1"])
    )
    assert config.phases == ((20, 1.0),) and isinstance(config.phases[0][1], float)
    assert config.sigma2 == 1.0
