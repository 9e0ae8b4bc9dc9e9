"""The experiment skeleton (Config, run, checks, plot), --set on reproduce, and the generated
reproduction table (`pyrovae reproduce --report`)."""

import dataclasses
import json
import types

import pytest

from pyrovae import cli
from pyrovae.experiments import REGISTRY, experiment_module, experiment_settings, get
from pyrovae.experiments.framework.skeleton import follows_skeleton, run_experiment
from pyrovae.experiments.framework.verdict_table import (
    END,
    START,
    replace_in_readme,
    report_table,
    verdict,
)

TINY = {"n": "300", "batch_size": "300", "phases": "((30, 0.05),)"}

CONVERTED = tuple(REGISTRY)


@pytest.mark.parametrize("name", CONVERTED)
def test_converted_experiments_follow_the_skeleton(name):
    module = experiment_module(name)
    assert follows_skeleton(module) and module.CLAIM and module.PAPER
    for profile in ("quick", "full"):
        config = module.PROFILES[profile]
        assert isinstance(config, module.Config) and dataclasses.is_dataclass(config)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.__setattr__(dataclasses.fields(config)[0].name, None)
    assert module.PROFILES["quick"] != module.PROFILES["full"]


def test_demo_follows_the_skeleton_and_redraws_from_json(tmp_path):
    from pyrovae.experiments import demo

    assert follows_skeleton(demo) and demo.CLAIM and demo.PAPER
    r = demo.run_demo(str(tmp_path), steps=30, progress=False, n=32, eval_particles=16)
    assert r == json.loads((tmp_path / "results.json").read_text())
    assert r["config"] == dataclasses.asdict(
        dataclasses.replace(demo.Config(), steps=30, n=32, eval_particles=16)
    ) | {"hidden": [200, 200, 200]}
    (tmp_path / "two_point.png").unlink()
    assert demo.plot(r, str(tmp_path)) and (tmp_path / "two_point.png").exists()
    with pytest.raises(ValueError, match="no setting 'lambda_'"):
        demo.run_demo(str(tmp_path / "x"), lambda_=1, progress=False)


def test_run_records_config_checks_and_figures(tmp_path):
    r = get("linear-vae-ppca")(str(tmp_path), "quick", seed=3, overrides=TINY)
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored == r
    assert r["experiment"] == "linear-vae-ppca" and r["seed"] == 3 and r["profile"] == "quick"
    assert r["config"]["n"] == 300 and r["config"]["phases"] == [[30, 0.05]]
    assert set(r["checks"]) == {
        "elbo_reaches_ppca_maximum",
        "sigma2_reaches_ppca_sigma2",
        "columns_align_with_principal_directions",
    }
    assert all(isinstance(v, bool) for v in r["checks"].values())
    assert r["figures"] == ["linear_vae_ppca.png"] and (tmp_path / "linear_vae_ppca.png").exists()
    config = experiment_settings("linear-vae-ppca", "quick", TINY)
    assert config.n == 300 and config.phases == ((30, 0.05),)


def test_checks_must_be_booleans(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Config:
        x: int = 1

    fake = types.SimpleNamespace(
        Config=Config,
        PROFILES={"quick": Config(), "full": Config(2)},
        CLAIM="c",
        PAPER="p",
        run=lambda config, out, **kw: {"value": config.x},
        checks=lambda results: {"holds": results["value"]},  # an int, not a bool
        plot=lambda results, out: [],
    )
    with pytest.raises(TypeError, match="non-bool"):
        run_experiment(fake, "fake", str(tmp_path))
    fake.checks = lambda results: {}
    with pytest.raises(TypeError, match="non-empty"):
        run_experiment(fake, "fake", str(tmp_path))


def test_reproduce_set_reaches_the_run(tmp_path, capsys):
    out = tmp_path / "ppca"
    args = ["reproduce", "linear-vae-ppca", "--out", str(out), "--no-progress"]
    for key, value in TINY.items():
        args += ["--set", f"{key}={value}"]
    assert cli.main(args) == 0
    assert json.loads((out / "results.json").read_text())["config"]["n"] == 300
    assert cli.main(["reproduce", "linear-vae-ppca", "--set", "n=many"]) == 2
    assert "n is an int" in capsys.readouterr().err


def test_report_table_from_results(tmp_path):
    runs = tmp_path / "runs"
    get("linear-vae-ppca")(str(runs / "linear-vae-ppca"), "quick", overrides=TINY)
    other = runs / "nested" / "dai"
    other.mkdir(parents=True)
    checks = {"collapsed_point_is_stationary": True, "pca_initialization_escapes": True}
    (other / "results.json").write_text(
        json.dumps({"experiment": "dai-local-minimum", "profile": "quick", "checks": checks})
    )
    with pytest.raises(ValueError, match=r"nested/dai/results.json lacks what dai-local-minimum"):
        report_table(str(runs))  # a stub without the numbers is not a result
    (other / "results.json").unlink()
    table = report_table(str(runs))
    lines = table.splitlines()
    assert lines[0] == START and lines[-1] == END and len(lines) == 5
    row = lines[3]
    assert row.startswith("| A linear VAE trained by the ELBO")
    assert "--set 'n=300'" in row and "--set 'phases=((30, 0.05),)'" in row
    assert "--set 'batch_size=300'" in row and "--profile quick" in row
    r = json.loads((runs / "linear-vae-ppca" / "results.json").read_text())
    assert f"{r['final_elbo']:.4f}" in row  # the number comes from results.json
    assert verdict(r["checks"]) in row
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{START}\nold table\n{END}\n\nafter\n")
    replace_in_readme(str(readme), table)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# title") and text.endswith("after\n")
    assert row in text
    with pytest.raises(ValueError, match="no generated table"):
        replace_in_readme(str(tmp_path / "runs" / "linear-vae-ppca" / "results.json"), table)
    with pytest.raises(FileNotFoundError, match="no results.json"):
        report_table(str(tmp_path / "empty"))
    assert cli.main(["reproduce", "linear-vae-ppca", "--report", str(runs)]) == 2
    assert cli.main(["reproduce", "--readme", str(readme)]) == 2
    assert cli.main(["reproduce", "--report", str(runs), "--readme", str(readme)]) == 0


def test_a_rerun_regenerates_its_row_and_keeps_the_others(tmp_path):
    runs = tmp_path / "runs"
    get("linear-vae-ppca")(str(runs / "linear-vae-ppca"), "quick", overrides=TINY)
    table = report_table(str(runs))
    old_ppca = "| old ppca | p | 1 | `pyrovae reproduce linear-vae-ppca --profile quick` | ✗ |"
    old_dai = "| old dai | p | 2 | `pyrovae reproduce dai-depth --profile quick` | ✓ |"
    gone = "| gone | p | 3 | `pyrovae reproduce no-such-experiment --profile quick` | ✓ |"
    readme = tmp_path / "README.md"
    header = "| claim | paper | ours | command | verdict |\n|---|---|---|---|---|"
    readme.write_text(f"# t\n{START}\n{header}\n{old_dai}\n{gone}\n{old_ppca}\n{END}\nend\n")
    readme.chmod(0o644)
    changed = replace_in_readme(str(readme), table)
    assert changed == {
        "regenerated": ["linear-vae-ppca"],
        "kept": ["dai-depth"],
        "dropped": ["no-such-experiment"],
    }
    text = readme.read_text()
    body = text.split(START)[1].split(END)[0].strip().splitlines()
    new_row = table.splitlines()[3]
    # the registry's order: linear-vae-ppca before dai-depth; the old ppca row replaced
    assert body == header.splitlines() + [new_row, old_dai]
    assert text.startswith("# t\n") and text.endswith(f"{END}\nend\n")
    assert readme.stat().st_mode & 0o777 == 0o644  # the rewrite keeps the file's permissions
    replace_in_readme(str(readme), table, keep_other_rows=False)
    assert old_dai not in readme.read_text()


def test_verdicts():
    assert verdict({"a": True, "b": True}) == "✓"
    assert verdict({"a": True, "b": False}) == "partly"
    assert verdict({"a": False}) == "✗"
    assert verdict({}) == "no checks"
    assert verdict({"a": {"holds": True}}) == "✓"


def test_every_experiment_is_registered_once():
    assert len(set(REGISTRY.values())) == len(REGISTRY)


def test_two_point_curves_are_densities_and_redraw_from_json():
    """Figure 1 of the two-point experiment is drawn from stored curves: q(z|x=±1) on its grid
    integrates to its mass inside [−4, 4], and p(x) to at most 1 on [−2.5, 2.5]."""
    import math

    import torch

    from pyrovae.models import two_point_vae
    from pyrovae.plotting import draw_two_point, two_point_curves

    torch.manual_seed(0)
    vae = two_point_vae(hidden=(8,))
    curves = json.loads(json.dumps(two_point_curves({"a": vae}, num_z=200)))
    c = curves["a"]
    loc, scale = vae.encode(torch.tensor([[-1.0], [1.0]]))
    for i, key in enumerate(("x=-1", "x=+1")):
        dz = c["z"][1] - c["z"][0]
        mass = sum(c["q"][key]) * dz
        m, s = loc[i, 0].item(), scale[i, 0].item()
        inside = 0.5 * (math.erf((4 - m) / (s * 2**0.5)) - math.erf((-4 - m) / (s * 2**0.5)))
        assert mass == pytest.approx(inside, abs=0.02)
    dx = c["x"][1] - c["x"][0]
    assert all(0 < sum(d) * dx <= 1.01 for d in c["p_x"].values())
    fig = draw_two_point(curves)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3 and len(fig.axes[1].lines) == 3


def test_two_point_sweep_settings(tmp_path):
    """infovae-two-point for sweeps: without the ELBO run and the closed-form grid it still
    records the per-α scalars a sweep summary reads, and its checks omit the ELBO's claims."""
    tiny = {
        "n": 32,
        "hidden": (8,),
        "stages": 1,
        "steps_per_stage": 10,
        "eval_particles": 8,
        "train_elbo": False,
        "closed_form_grid": False,
        "kl_warmup": 5,
    }
    r = get("infovae-two-point")(str(tmp_path), overrides=tiny)
    assert set(r["objectives"]) == {"InfoVAE a=0 l=500", "InfoVAE a=1 l=500"}
    assert len(r["closed_form"]) == 2 and "elbo_separates" not in r["checks"]
    for alpha in (0, 1):
        final = r["objectives"][f"InfoVAE a={alpha} l=500"]["final"]
        assert r[f"a{alpha}_information"] == final["mutual_information"]
        assert r[f"a{alpha}_mmd2"] >= 0.0
    with pytest.raises(ValueError, match="kl_warmup"):
        get("infovae-two-point")(str(tmp_path / "x"), overrides={**tiny, "kl_warmup": 11})


def test_two_point_lam_warmup_pieces():
    """The λ warm-up: geometric from 1 below λ, the steps split evenly; the first stage is the
    pieces then the rest at the target objective; bad settings are refused before training."""
    from pyrovae.experiments.infovae_two_point import Config, _first_stage, lam_warmup_pieces
    from pyrovae.infer import InfoVAE

    pieces = lam_warmup_pieces(100.0, 23, 4)
    assert [n for _, n in pieces] == [6, 6, 6, 5]
    assert [lam for lam, _ in pieces] == pytest.approx([1.0, 100**0.25, 10.0, 100**0.75])
    config = Config(steps_per_stage=50, lam=100.0, lam_warmup=23, lam_warmup_pieces=4)
    plan = _first_stage(config, InfoVAE(1.0, 100.0))
    assert [(o.alpha, o.lam, n, w) for o, n, w in plan[:-1]] == [
        (1.0, lam, n, 0) for lam, n in pieces
    ]
    assert plan[-1][0].lam == 100.0 and plan[-1][1] == 27
    assert sum(n for _, n, _ in plan) == 50
    with pytest.raises(ValueError, match="must exceed 1"):
        lam_warmup_pieces(1.0, 10, 2)
    with pytest.raises(ValueError, match="lam_warmup_pieces"):
        lam_warmup_pieces(10.0, 3, 5)


def test_two_point_lam_warmup_run(tmp_path):
    tiny = {
        "n": 32,
        "hidden": (8,),
        "stages": 2,
        "steps_per_stage": 10,
        "eval_particles": 8,
        "train_elbo": False,
        "closed_form_grid": False,
        "lam_warmup": 6,
        "lam_warmup_pieces": 3,
    }
    r = get("infovae-two-point")(str(tmp_path), overrides=tiny)
    assert r["config"]["lam_warmup"] == 6
    assert [t["step"] for t in r["objectives"]["InfoVAE a=0 l=500"]["trajectory"]] == [10, 20]
    with pytest.raises(ValueError, match="not both"):
        get("infovae-two-point")(str(tmp_path / "x"), overrides={**tiny, "kl_warmup": 2})
    with pytest.raises(ValueError, match="lam_warmup .* must fit"):
        get("infovae-two-point")(str(tmp_path / "y"), overrides={**tiny, "lam_warmup": 11})
