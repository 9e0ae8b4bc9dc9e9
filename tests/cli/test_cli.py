"""The command line: demo and train end to end with tiny settings."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from pyrovae.cli import main


def test_demo_writes_results_and_figures(tmp_path, capsys):
    argv = ["demo", "--steps", "40", "--out", str(tmp_path), "--no-progress"]
    assert main([*argv, "--set", "lam=100", "--set", "n=64"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["experiment"] == "demo" and results["seed"] == 0
    assert results["config"]["lam"] == 100.0 and results["config"]["n"] == 64
    assert results["config"]["steps"] == 40
    assert set(results["checks"]) == {
        "elbo_separates",
        "elbo_overspreads_aggregate",
        "infovae_aggregate_near_prior",
        "infovae_collapsed",
    }
    assert results["figures"] == ["two_point.png", "history.png"]
    assert len(results["objectives"]) == 2
    assert "InfoVAE-MMD (alpha=0, lambda=100)" in results["objectives"]
    for r in results["objectives"].values():
        for key in (
            "q_mean",
            "q_std",
            "aggregate_variance",
            "aggregate_log_det",
            "final_elbo",
            "mutual_information",
        ):
            assert key in r
        assert r["aggregate_variance"] > 0
    assert (tmp_path / "two_point.png").stat().st_size > 10_000
    assert (tmp_path / "history.png").exists()
    assert "ELBO" in capsys.readouterr().out


def test_demo_refuses_an_unknown_or_mistyped_setting_before_any_work(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--set", "lambda=100"]) == 2
    assert "demo has no setting 'lambda'" in capsys.readouterr().err
    assert main(["demo", "--out", str(out), "--set", "steps=many"]) == 2
    assert "steps is an int" in capsys.readouterr().err
    assert not out.exists()


def test_train_two_point_and_resume(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "--dataset",
        "two-point",
        "--z-dim",
        "1",
        "--hidden",
        "16",
        "--likelihood",
        "gaussian-decoder",
        "--min-variance",
        "1e-3",
        "--objective",
        "infovae",
        "--lam",
        "10",
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--no-progress",
        "--checkpoint-every",
        "10",
    ]
    assert main(args + ["--steps", "20"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 20
    assert main(args + ["--steps", "30", "--resume"]) == 0
    assert len(json.loads((out / "history.json").read_text())) == 30


def test_train_mnist_file_writes_sample_figure(tmp_path):
    data = (np.random.default_rng(0).random((64, 784)) > 0.5).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", train=data)
    out = tmp_path / "mn"
    assert (
        main(
            [
                "train",
                "--dataset",
                "binarized-mnist",
                "--data",
                str(tmp_path / "tiny.npz"),
                "--objective",
                "iwae",
                "--particles",
                "3",
                "--steps",
                "3",
                "--batch-size",
                "16",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (out / "samples.png").exists() and (out / "checkpoint.pt").exists()


def test_clear_errors_on_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PYROVAE_DATA", raising=False)
    assert main(["train", "--dataset", "binarized-mnist", "--out", str(tmp_path)]) == 2
    assert "binarized_mnist.npz" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--dataset",
                "two-point",
                "--objective",
                "infovae",
                "--lam",
                "0.5",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "maximize" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--dataset", "two-point", "--limit", "0"], "--limit: must be ≥ 1"),
        (["train", "--dataset", "two-point", "--limit", "-1"], "--limit: must be ≥ 1"),
        (["train", "--dataset", "two-point", "--z-dim", "0"], "--z-dim: must be ≥ 1"),
        (["train", "--dataset", "two-point", "--hidden", "0"], "--hidden: must be ≥ 1"),
        (["train", "--dataset", "two-point", "--particles", "0"], "--particles: must be ≥ 1"),
        (["demo", "--steps", "0"], "--steps: must be ≥ 1"),
        (["demo", "--threads", "0"], "--threads: must be ≥ 1"),
        (["reproduce", "--list", "--threads", "-2"], "--threads: must be ≥ 1"),
    ],
)
def test_bad_numbers_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_threads_option_sets_torchs_thread_count(capsys):
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["reproduce", "--list", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--device", "gpu"], "--device must be cpu, cuda or cuda:N"),
        (["--device", "mps"], "--device must be cpu, cuda or cuda:N"),
        (
            ["--objective", "infovae", "--divergence", "stein", "--kernel", "imq"],
            "--kernel applies",
        ),
        (["--objective", "elbo", "--bandwidth", "median"], "--bandwidth applies"),
    ],
)
def test_ignored_or_invalid_options_are_errors(extra, message, tmp_path, capsys):
    assert main(["train", "--dataset", "two-point", "--out", str(tmp_path), *extra]) == 2
    assert message in capsys.readouterr().err


def test_unwritable_out_fails_before_training(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    argv = ["train", "--dataset", "two-point", "--steps", "5000", "--out", str(blocker / "x")]
    assert main(argv) == 2
    assert "not a writable folder" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "pyrovae.cli", "train", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--min-variance" in out and "--objective" in out


@pytest.mark.cuda
def test_demo_on_cuda(tmp_path):
    assert (
        main(["demo", "--steps", "20", "--device", "cuda", "--out", str(tmp_path), "--no-progress"])
        == 0
    )


def test_diagnose_a_trained_checkpoint(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = (rng.random((200, 784)) > 0.7).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", train=data[:160], test=data[160:])
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--dataset",
                "binarized-mnist",
                "--data",
                str(tmp_path / "tiny.npz"),
                "--z-dim",
                "3",
                "--hidden",
                "32",
                "--steps",
                "20",
                "--batch-size",
                "32",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "diagnose",
                str(out / "checkpoint.pt"),
                "--num-samples",
                "50",
                "--is-points",
                "10",
                "--gap-points",
                "4",
            ]
        )
        == 0
    )
    rep = json.loads((out / "report.json").read_text())
    assert rep["num_points"] == 40 and rep["latent_dim"] == 3
    assert rep["log_likelihood"]["num_points"] == 10 and rep["log_likelihood"]["mean"] < 0
    assert len(rep["kl_per_dimension"]) == 3 and "mmd_p_value" in rep["aggregate_posterior"]
    assert "inference_gaps" in rep
    assert (out / "report.png").stat().st_size > 10_000
    assert "log p(x) =" in capsys.readouterr().out
    # the same checkpoint by annealed importance sampling: IS stays beside it
    assert (
        main(
            [
                "diagnose",
                str(out / "checkpoint.pt"),
                "--num-samples",
                "50",
                "--is-points",
                "4",
                "--method",
                "ais",
                "--ais-steps",
                "20",
                "--ais-chains",
                "4",
            ]
        )
        == 0
    )
    rep = json.loads((out / "report.json").read_text())
    ll = rep["log_likelihood"]
    assert ll["method"] == "ais" and ll["num_steps"] == 20 and ll["num_points"] == 4
    assert ll["importance_sampling"]["method"] == "is" and math.isfinite(ll["mean"])
    assert "AIS 20 steps" in capsys.readouterr().out
