"""`pyrovae diagnose --model package.module:factory`: a Pyro-style VAE written by the user (its
own module, site names and signature), trained with pyrovae.infer.train, diagnosed from its
checkpoint or from a state dict, with the numbers of the same report run in Python."""

import json
import textwrap

import numpy as np
import pytest
import torch

from pyrovae.cli import main
from pyrovae.diagnostics import report
from pyrovae.infer import train

USER_MODULE = textwrap.dedent(
    """
    import pyro
    import pyro.distributions as dist
    import torch
    from torch import nn


    class TinyVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = nn.Linear(3, 784)
            self.encoder = nn.Linear(784, 6)

        def model(self, x):
            pyro.module("decoder", self.decoder)
            with pyro.plate("data", x.shape[0]):
                z = pyro.sample("latent", dist.Normal(x.new_zeros(x.shape[0], 3), 1.0).to_event(1))
                pyro.sample("obs", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

        def guide(self, x):
            pyro.module("encoder", self.encoder)
            with pyro.plate("data", x.shape[0]):
                loc, raw = self.encoder(x).chunk(2, -1)
                scale = nn.functional.softplus(raw) + 1e-3
                pyro.sample("latent", dist.Normal(loc, scale).to_event(1))


    def make():
        return TinyVAE()
    """
)


def _diagnose(path, tmp_path, out, extra=()):
    argv = ["diagnose", str(path), "--model", "tiny_user_vae:make", "--dataset", "file"]
    argv += ["--data", str(tmp_path / "tiny.npz"), "--num-samples", "40", "--is-points", "8"]
    argv += ["--out", str(out), *extra]
    assert main(argv) == 0
    return json.loads((out / "report.json").read_text())


def test_diagnose_a_users_model_from_its_checkpoint_and_state_dict(tmp_path, monkeypatch):
    (tmp_path / "tiny_user_vae.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    data = (rng.random((100, 784)) > 0.7).astype(np.float32)
    np.savez(tmp_path / "tiny.npz", train=data[:80], test=data[80:])
    import tiny_user_vae

    torch.manual_seed(0)
    vae = tiny_user_vae.make()
    train_x = torch.as_tensor(data[:80])
    train(
        vae.model,
        vae.guide,
        train_x,
        steps=30,
        batch_size=20,
        lr=1e-2,
        progress=False,
        checkpoint=tmp_path / "ck.pt",
    )
    torch.save(vae.state_dict(), tmp_path / "weights.pt")

    from_checkpoint = _diagnose(tmp_path / "ck.pt", tmp_path, tmp_path / "a")
    from_state_dict = _diagnose(tmp_path / "weights.pt", tmp_path, tmp_path / "b")
    assert from_checkpoint["latent_sites"] == ["latent"]
    # the same report in Python on the trained object (the CLI's random subset: all 20 points)
    test_x = torch.as_tensor(data[80:])[
        torch.randperm(20, generator=torch.Generator().manual_seed(0))
    ]
    expected = report(vae.model, vae.guide, test_x, num_samples=40, is_points=8).summary
    for got in (from_checkpoint, from_state_dict):
        assert got["elbo"] == pytest.approx(expected["elbo"], rel=1e-5)
        assert got["log_likelihood"]["mean"] == pytest.approx(
            expected["log_likelihood"]["mean"], rel=1e-5
        )
    untrained = report(
        *(lambda v: (v.model, v.guide))(tiny_user_vae.make()), test_x, num_samples=40, is_points=8
    ).summary
    assert abs(untrained["elbo"] - expected["elbo"]) > 1.0  # the parameters were loaded


def test_diagnose_model_refusals_name_the_fix(tmp_path, monkeypatch, capsys):
    (tmp_path / "tiny_user_vae.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "tiny.npz", test=np.zeros((4, 784), np.float32))
    torch.save({"decoder.weight": torch.zeros(2, 2)}, tmp_path / "wrong.pt")
    cases = [
        ("tiny_user_vae", "package.module:factory"),
        ("no_such_module:make", "cannot import"),
        ("tiny_user_vae:nothing", "no callable 'nothing'"),
    ]
    for spec, message in cases:
        argv = ["diagnose", str(tmp_path / "wrong.pt"), "--model", spec, "--dataset", "file"]
        assert main([*argv, "--data", str(tmp_path / "tiny.npz")]) != 0
        assert message in capsys.readouterr().err
    argv = ["diagnose", str(tmp_path / "wrong.pt"), "--model", "tiny_user_vae:make"]
    assert main([*argv, "--dataset", "file", "--data", str(tmp_path / "tiny.npz")]) != 0
    assert "does not fit TinyVAE" in capsys.readouterr().err
