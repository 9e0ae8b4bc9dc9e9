"""``pyrovae train`` with the training-recipe flags."""

import json

import numpy as np
import pytest
import torch

from pyrovae.checkpoint import load_checkpoint
from pyrovae.cli import main
from pyrovae.models.factory import load_vae


def _tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        split: (rng.random((n, 784)) > 0.5).astype(np.float32)
        for split, n in (("train", 64), ("valid", 32))
    }
    np.savez(tmp_path / "tiny.npz", **data)
    return str(tmp_path / "tiny.npz")


def _train(tmp_path, *extra):
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        "binarized-mnist",
        "--data",
        _tiny_mnist(tmp_path),
        "--hidden",
        "32,16",
        "--activation",
        "tanh",
        "--z-dim",
        "4",
        "--batch-size",
        "16",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    try:
        return main(argv), out
    except SystemExit as stop:  # argparse's refusals (exit code 2)
        return stop.code, out


def test_train_with_validation_schedule_warmup_and_free_bits(tmp_path, capsys):
    code, out = _train(
        tmp_path,
        "--epochs",
        "6",
        "--valid-split",
        "--lr-schedule",
        "step:2:0.5",
        "--kl-warmup",
        "8",
        "--free-bits",
        "0.1",
        "--gradient",
        "stl",
    )
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 24  # 6 epochs of 4 steps
    assert [r["step"] for r in history if "val_loss" in r] == [4, 8, 12, 16, 20, 24]
    assert [r["lr"] for r in history[::4]] == pytest.approx(
        [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
    )
    assert history[0]["kl_weight"] == 0 and history[-1]["kl_weight"] == 1
    printed = capsys.readouterr().out
    assert "best validation loss" in printed
    best = load_checkpoint(out / "checkpoint.best.pt")
    assert best["val_loss"] == min(r["val_loss"] for r in history if "val_loss" in r)
    settings = load_checkpoint(out / "checkpoint.pt")["settings"]
    assert "free_bits=0.1" in settings["objective"] and "stl=True" in settings["objective"]
    # the best checkpoint rebuilds the model (two tanh layers) for diagnose
    vae = load_vae(out / "checkpoint.best.pt")
    assert isinstance(vae.encoder.net[1], torch.nn.Tanh)


def test_train_iwae_with_dreg_and_patience(tmp_path):
    code, out = _train(
        tmp_path,
        "--objective",
        "iwae",
        "--particles",
        "4",
        "--gradient",
        "dreg",
        "--steps",
        "40",
        "--valid-split",
        "valid",
        "--validate-every",
        "2",
        "--patience",
        "2",
        "--lr",
        "0.05",
    )
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert "iwae_bound" in history[0] and len(history) <= 40


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--gradient", "dreg"], "dreg"),
        (["--objective", "iwae", "--free-bits", "0.5"], "free_bits"),
        (["--lr-schedule", "linear"], "unknown learning-rate schedule"),
        (["--patience", "3"], "validation="),
        (["--kl-warmup", "-2"], "kl_warmup"),
        (["--objective", "iwae", "--kl-warmup", "5"], "no KL term"),
        (["--valid-split", "holdout"], "holdout"),
        (["--free-bits", "-1"], "--free-bits: the value must be a finite number ≥ 0"),
    ],
)
def test_bad_recipe_flags_are_clear_errors(extra, message, tmp_path, capsys):
    code, _ = _train(tmp_path, "--steps", "2", *extra)
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_run_resumed_with_resume_ends_like_the_uninterrupted_one(tmp_path):
    """Validation, patience, a step schedule and KL warm-up through the CLI: 20 steps, then
    --resume to 40, end with the history and best checkpoint of one 40-step run (validations
    fall on epoch ends, 4 steps, so the first run's last validation is one the long run has)."""
    flags = [
        "--valid-split",
        "--patience",
        "6",
        "--lr-schedule",
        "step:2:0.7",
        "--kl-warmup",
        "30",
        "--lr",
        "0.01",
        "--checkpoint-every",
        "4",
    ]
    whole, out_whole = _train(tmp_path / "a", "--steps", "40", *flags)
    first, out = _train(tmp_path / "b", "--steps", "20", *flags)
    resumed, out = _train(tmp_path / "b", "--steps", "40", "--resume", *flags)
    assert whole == first == resumed == 0
    history = json.loads((out / "history.json").read_text())
    assert history == json.loads((out_whole / "history.json").read_text())
    best, best_whole = (load_checkpoint(o / "checkpoint.best.pt") for o in (out, out_whole))
    assert best["step"] == best_whole["step"]
    for name, value in best["params"].items():
        assert torch.equal(value, best_whole["params"][name])
