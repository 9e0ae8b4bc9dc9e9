"""Hostile inputs replayed through the command line (merges, --set, resumes, sweeps,
checkpoints): each must end in one clear error (no traceback), write nothing, and leave every
input byte for byte as it was."""

import hashlib
import os

import pytest
import torch
from helpers import write_results_part

from pyrovae.cli import main


def _run(argv):
    try:
        return main(argv)
    except SystemExit as stop:  # argparse refusals
        return stop.code


def _snapshot(folder):
    """Every file under ``folder`` with its SHA-256 (what must stay untouched)."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Inputs a hostile user points the commands at: two merge parts, a truncated part, a
    trained checkpoint and a copy with flipped bytes, a truncated sweep.json."""
    root = tmp_path_factory.mktemp("inputs")
    for name, z in (("a", 2), ("b", 5)):
        write_results_part(root / name, config={"z_dims": [z]}, rows=[{"z_dim": z}])
    (root / "cut").mkdir()
    (root / "cut" / "results.json").write_text('{"experiment": "infovae-comp')
    train = ["train", "--dataset", "two-point", "--z-dim", "1", "--hidden", "8", "--steps", "3"]
    train += ["--likelihood", "gaussian-decoder", "--min-variance", "1e-3", "--no-progress"]
    assert _run([*train, "--out", str(root / "run")]) == 0
    raw = bytearray((root / "run" / "checkpoint.pt").read_bytes())
    weights = torch.load(root / "run" / "checkpoint.pt", weights_only=True)["params"]
    stored = max(weights.values(), key=lambda t: t.numel()).numpy().tobytes()
    start = bytes(raw).index(stored) + len(stored) // 2  # inside the largest parameter
    raw[start : start + 8] = bytes(b ^ 0xFF for b in raw[start : start + 8])
    (root / "flipped").mkdir()
    (root / "flipped" / "checkpoint.pt").write_bytes(bytes(raw))
    (root / "sweep").mkdir()
    (root / "sweep" / "sweep.json").write_text('{"spec": {}, "runs": [{"ru')
    return root


def _cases(root, out):
    tiny = ["--set", "n=200", "--set", "phases=((5, 0.05),)"]
    cases = {
        "merge into a part": ["merge", f"{root}/a", f"{root}/b", "--out", f"{root}/a"],
        "merge a truncated part": ["merge", f"{root}/a", f"{root}/cut", "--out", out],
        "reproduce a tuple of the wrong length": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "phases=((20,),)",
            "--out",
            out,
        ],
        "reproduce a negative count": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "n=-3",
            "--out",
            out,
        ],
        "reproduce a NaN variance": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "sigma2=nan",
            "--out",
            out,
        ],
        "reproduce an infinite threshold": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "max_gap=inf",
            "--out",
            out,
        ],
        "reproduce a negative variance": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "sigma2=-1",
            "--out",
            out,
        ],
        "reproduce a zero learning rate": [
            "reproduce",
            "sigma-collapse",
            "--set",
            "lr=0",
            "--out",
            out,
        ],
        "reproduce a negative tuple element": [
            "reproduce",
            "sigma-collapse",
            "--set",
            "epsilons=(0.1, -0.1)",
            "--out",
            out,
        ],
        "reproduce a probability above one": [
            "reproduce",
            "sigma-collapse",
            "--set",
            "delta=1.5",
            "--out",
            out,
        ],
        "reproduce a cosine threshold below -1": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "min_abs_cos=-inf",
            "--out",
            out,
        ],
        "reproduce more latent dimensions than data dimensions": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "k=50",
            "--out",
            out,
        ],
        "reproduce more points than memory holds": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "n=100000000000",
            "--out",
            out,
        ],
        "reproduce a negative learning rate in a phase": [
            "reproduce",
            "linear-vae-ppca",
            "--set",
            "phases=((10, -0.1),)",
            "--out",
            out,
        ],
        "report a truncated results.json": ["reproduce", "--report", f"{root}/cut"],
        "train a negative seed": ["train", "--dataset", "two-point", "--seed", "-1", "--out", out],
        "train a NaN variance floor": [
            "train",
            "--dataset",
            "two-point",
            "--min-variance",
            "nan",
            "--out",
            out,
        ],
        "train a negative learning rate": [
            "train",
            "--dataset",
            "two-point",
            "--lr",
            "-1e-3",
            "--out",
            out,
        ],
        "diagnose a flipped checkpoint": [
            "diagnose",
            f"{root}/flipped/checkpoint.pt",
            "--out",
            out,
        ],
        "summarize a truncated sweep": ["sweep", "--summary", f"{root}/sweep"],
        "sweep at an address where nothing listens": [
            "sweep",
            "linear-vae-ppca",
            *tiny,
            "--address",
            "127.0.0.1:1",
            "--out",
            out,
        ],
    }
    if not torch.cuda.is_available():
        cases["sweep asking for GPUs on a machine without"] = [
            "sweep",
            "linear-vae-ppca",
            *tiny,
            "--gpus-per-run",
            "0.5",
            "--out",
            out,
        ]
        cases["sweep on cuda without CUDA"] = [
            "sweep",
            "linear-vae-ppca",
            *tiny,
            "--device",
            "cuda",
            "--out",
            out,
        ]
    return cases


def test_every_hostile_case_is_one_clear_error_that_writes_and_changes_nothing(
    inputs, tmp_path, capsys
):
    out = str(tmp_path / "out")
    for name, argv in _cases(inputs, out).items():
        before = _snapshot(inputs)
        code = _run(argv)
        err = capsys.readouterr().err
        assert code not in (0, None), name
        assert "error" in err and "Traceback" not in err, (name, err)
        if "truncated" in name:  # the error names the file
            assert "cut" in err or "sweep.json" in err, (name, err)
        assert not os.path.exists(out), name  # nothing written
        assert _snapshot(inputs) == before, name  # nothing changed
        assert not [p for p in os.listdir(inputs) if p.startswith(".")], name  # no temp left
