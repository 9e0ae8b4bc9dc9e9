"""pyrovae.save / pyrovae.load: a trained VAE in one file, rebuilt elsewhere; foreign, corrupt and
newer files refused with the reason."""

import json
import pickle

import numpy as np
import pytest
import torch
from helpers import binary_data

import pyrovae
from pyrovae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pyrovae.cli import main
from pyrovae.infer import train
from pyrovae.models import VAE, Bernoulli, build_vae
from pyrovae.nets import MLP
from pyrovae.provenance import tensor_digest

CONFIG = {"data_shape": [12], "z_dim": 3, "hidden": [16]}


def _trained(x):
    torch.manual_seed(0)
    vae = build_vae(CONFIG)
    train(vae.model, vae.guide, x, steps=15, batch_size=20, progress=False)
    return vae


def test_round_trip_gives_the_same_model(tmp_path):
    x = binary_data(n=40, d=12)
    vae = _trained(x)
    path = pyrovae.save(vae, tmp_path / "vae.pt", data=x, notes={"objective": "ELBO"})
    loaded = pyrovae.load(path)
    assert loaded.config == vae.config
    for (name, a), (_, b) in zip(
        vae.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    with torch.no_grad():  # the same function: encoder and decoder outputs agree exactly
        loc, scale = vae.encode(x)
        loc2, scale2 = loaded.encode(x)
        assert torch.equal(loc, loc2) and torch.equal(scale, scale2)
        assert torch.equal(vae.decoder_mean(loc), loaded.decoder_mean(loc))
    assert loaded.saved_with["data"] == {"sha256": tensor_digest(x), "num_points": 40}
    assert loaded.saved_with["notes"] == {"objective": "ELBO"}
    assert loaded.saved_with["provenance"]["pyrovae"] == pyrovae.__version__
    raw = torch.load(path, weights_only=True)  # no code runs on loading
    assert raw["kind"] == "saved-model" and raw["model_config"] == CONFIG


def test_a_vae_without_config_is_refused_naming_the_fix(tmp_path):
    vae = VAE(MLP(12, [8], 6), MLP(3, [8], 12), Bernoulli(), 3, (12,))
    with pytest.raises(ValueError, match="build_vae"):
        pyrovae.save(vae, tmp_path / "v.pt")
    # with the config that build_vae turns into this architecture it saves
    same = {"data_shape": [12], "z_dim": 3, "hidden": [8]}
    pyrovae.save(vae, tmp_path / "v.pt", config=same)
    assert pyrovae.load(tmp_path / "v.pt").config == same
    with pytest.raises(ValueError, match="another architecture"):
        pyrovae.save(vae, tmp_path / "w.pt", config=CONFIG)
    with pytest.raises(ValueError, match="takes a pyrovae.models.VAE"):
        pyrovae.save(torch.nn.Linear(2, 2), tmp_path / "u.pt")


def test_saving_over_a_file_that_is_not_pyrovaes_is_refused_and_leaves_it(tmp_path):
    user_file = tmp_path / "data.npz"
    user_file.write_bytes(b"the user's data")
    vae = build_vae(CONFIG)
    with pytest.raises(ValueError, match="is not a pyrovae file"):
        pyrovae.save(vae, user_file)
    assert user_file.read_bytes() == b"the user's data"
    path = pyrovae.save(vae, tmp_path / "vae.pt")
    assert pyrovae.save(vae, path) == path  # an earlier saved model is replaced


def test_foreign_newer_and_modelless_files_are_refused(tmp_path):
    torch.save({"weights": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a pyrovae checkpoint"):
        pyrovae.load(tmp_path / "plain.pt")

    class Code:  # an object whose unpickling would run code
        def __reduce__(self):
            return (print, ("ran",))

    with open(tmp_path / "code.pt", "wb") as f:
        pickle.dump({"format": "pyrovae-checkpoint-1", "x": Code()}, f, protocol=2)
    with pytest.raises(CheckpointError):
        pyrovae.load(tmp_path / "code.pt")

    vae = build_vae(CONFIG)
    path = pyrovae.save(vae, tmp_path / "vae.pt")
    state = load_checkpoint(path)
    state["model_format"] = 99
    save_checkpoint(tmp_path / "newer.pt", {k: v for k, v in state.items() if k != "format"})
    with pytest.raises(CheckpointError, match="layout 99"):
        pyrovae.load(tmp_path / "newer.pt")

    save_checkpoint(tmp_path / "run.pt", {"step": 0, "param_names": [], "params": {}})
    with pytest.raises(CheckpointError, match="without a saved model"):
        pyrovae.load(tmp_path / "run.pt")

    data = bytearray((tmp_path / "vae.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (tmp_path / "flipped.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        pyrovae.load(tmp_path / "flipped.pt")


def test_train_writes_a_saved_model_that_diagnose_reads(tmp_path):
    rng = np.random.default_rng(0)
    data = (rng.random((120, 784)) > 0.7).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", train=data[:100], test=data[100:])
    out = tmp_path / "run"
    argv = ["train", "--dataset", "binarized-mnist", "--data", str(tmp_path / "tiny.npz")]
    argv += ["--z-dim", "2", "--hidden", "16", "--steps", "5", "--batch-size", "50"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    vae = pyrovae.load(out / "model.pt")
    assert vae.saved_with["notes"]["dataset"] == "binarized-mnist"
    assert vae.saved_with["data"]["num_points"] == 100
    # diagnose finds the data from the saved model's notes (no --data)
    report = ["diagnose", str(out / "model.pt"), "--num-samples", "20", "--is-points", "4"]
    assert main([*report, "--gap-points", "2", "--out", str(tmp_path / "diag")]) == 0
    rep = json.loads((tmp_path / "diag" / "report.json").read_text())
    assert rep["latent_dim"] == 2 and rep["num_points"] == 20
