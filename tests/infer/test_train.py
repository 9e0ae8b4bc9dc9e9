"""Training loop: history, checkpoints (atomic, weights-only, resumable), NaN guard, bad data."""

import json
import os

import pyro
import pyro.distributions as dist
import pytest
import torch
from helpers import binary_data, linear_data, linear_oracle, small_vae

from pyrovae.checkpoint import load_checkpoint
from pyrovae.infer import EvidenceLowerBound, InfoVAE, TrainingDiverged, train
from pyrovae.models import LinearGaussianVAE, data_plate, load_vae
from pyrovae.models.factory import build_vae


def test_history_records_every_term_per_data_point(tmp_path):
    vae, x = small_vae(), binary_data(n=64)
    result = train(
        vae.model,
        vae.guide,
        x,
        InfoVAE(0.0, 10.0),
        steps=12,
        batch_size=16,
        progress=False,
        history_path=tmp_path / "h.json",
    )
    assert len(result.history) == 12 and result.steps == 12
    row = result.history[-1]
    for key in ("step", "loss", "log_likelihood", "kl", "elbo", "divergence", "grad_norm"):
        assert key in row
    # per data point: loss = −ll + KL + λ' D, each already divided by N
    assert row["loss"] == pytest.approx(
        -row["log_likelihood"] + row["kl"] + 9.0 * row["divergence"], rel=1e-4
    )
    assert json.loads((tmp_path / "h.json").read_text()) == result.history


def test_training_improves_the_linear_vae_towards_the_ppca_optimum():
    """SVI on the linear VAE climbs to within 0.05 nats/point of the closed-form pPCA maximum."""
    from pyrovae.models import ppca_mle

    truth = linear_oracle(d=6, k=2)
    x = linear_data(truth, n=2000).detach()
    best = ppca_mle(x, 2).log_likelihood.item()
    vae = LinearGaussianVAE(6, 2, seed=0)
    with torch.no_grad():
        vae.mu.copy_(x.mean(0))
    result = train(
        vae.model,
        vae.guide,
        x,
        EvidenceLowerBound(),
        steps=3000,
        batch_size=200,
        lr=0.02,
        progress=False,
    )
    elbo = vae.elbo(x).mean().item()
    assert result.history[0]["elbo"] < elbo
    assert elbo == pytest.approx(best, abs=0.05)
    assert elbo <= vae.log_marginal(x).mean().item() + 1e-5


def test_checkpoint_is_weights_only_and_resume_reproduces_the_uninterrupted_run(tmp_path):
    cfg = {"data_shape": [12], "z_dim": 3, "hidden": [16]}
    x = binary_data(n=64)

    def run(steps, ckpt, resume=False):
        torch.manual_seed(0)
        vae = build_vae(cfg)
        train(
            vae.model,
            vae.guide,
            x,
            EvidenceLowerBound(),
            steps=steps,
            batch_size=16,
            checkpoint=ckpt,
            checkpoint_every=4,
            resume=resume,
            progress=False,
            config={"model": cfg},
        )
        return vae

    full = run(10, tmp_path / "a" / "ck.pt")
    run(6, tmp_path / "b" / "ck.pt")
    resumed = run(10, tmp_path / "b" / "ck.pt", resume=True)
    for (n, p), (_, q) in zip(full.named_parameters(), resumed.named_parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), n
    state = torch.load(tmp_path / "b" / "ck.pt", weights_only=True)
    assert state["step"] == 10 and len(state["history"]) == 10
    assert not [f for f in os.listdir(tmp_path / "b") if f.startswith(".tmp")]
    rebuilt = load_vae(tmp_path / "b" / "ck.pt")
    for (_, p), (_, q) in zip(rebuilt.named_parameters(), resumed.named_parameters(), strict=True):
        assert torch.equal(p, q)


def test_nan_stops_training_and_keeps_the_last_good_state(tmp_path):
    """A model whose likelihood turns NaN at its 6th evaluation: training stops at step 6 with an
    error naming the step and the term; parameters equal those after step 5,
    as does the checkpoint."""
    torch.manual_seed(0)
    loc = torch.nn.Parameter(torch.zeros(3))
    calls = {"n": 0}

    def model(x, num_data=None):
        poison = float("nan") if calls["n"] >= 6 else 0.0
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 3), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z + poison, 1.0).to_event(1), obs=x)

    def guide(x, num_data=None):
        p = pyro.param("loc", loc)
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(p.expand(len(x), 3), 1.0).to_event(1))

    snapshots = []

    class Recording(EvidenceLowerBound):
        def evaluate(self, *args, **kwargs):
            if torch.is_grad_enabled():  # a training step (train creates parameters first)
                calls["n"] += 1
                snapshots.append(
                    pyro.param("loc").detach().clone() if "loc" in pyro.get_param_store() else None
                )
            return super().evaluate(*args, **kwargs)

    ckpt = tmp_path / "ck.pt"
    pyro.enable_validation(False)  # Pyro would only warn; the loop must stop by itself
    with pytest.raises(TrainingDiverged, match="step 6: .*log_likelihood|step 6: loss") as err:
        train(
            model,
            guide,
            torch.randn(20, 3),
            Recording(),
            steps=20,
            batch_size=10,
            lr=0.1,
            checkpoint=ckpt,
            progress=False,
        )
    assert len(err.value.result.history) == 5
    assert torch.equal(pyro.param("loc").detach(), snapshots[-1])
    assert not torch.equal(snapshots[-1], snapshots[1])
    saved = load_checkpoint(ckpt)
    assert saved["step"] == 5 and torch.equal(saved["params"]["loc"], snapshots[-1])


@pytest.mark.parametrize(
    "data,match",
    [
        (torch.zeros(0, 12), "empty"),
        (torch.zeros(12), "shape"),
        (torch.tensor([[0.0] * 11 + [float("nan")]] * 4), "NaN"),
        (torch.zeros(4, 12, dtype=torch.long), "floating point"),
        ([[0.0] * 12], "torch.Tensor"),
        (torch.zeros(4, 13), "data_shape"),
        (torch.full((4, 12), 0.5), "binary"),
    ],
)
def test_invalid_data_is_rejected_before_training(data, match):
    vae = small_vae()
    with pytest.raises(ValueError, match=match):
        train(vae.model, vae.guide, data, steps=1, progress=False)


def test_steps_or_epochs_required():
    vae = small_vae()
    with pytest.raises(ValueError, match="steps= or epochs="):
        train(vae.model, vae.guide, binary_data(), progress=False)
    result = train(vae.model, vae.guide, binary_data(n=40), epochs=2, batch_size=16, progress=False)
    assert result.steps == 4  # 40 // 16 = 2 full batches per epoch


def test_stale_param_store_is_cleared():
    pyro.param("stale_leftover", torch.zeros(2))
    vae = small_vae()
    result = train(vae.model, vae.guide, binary_data(), steps=2, progress=False)
    assert "stale_leftover" not in pyro.get_param_store()
    assert all(not n.startswith("stale") for n in result.param_names)


def test_model_without_parameters_is_a_clear_error():
    net = torch.nn.Linear(2, 3)

    def model(x, num_data=None):
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(net(z), 1.0).to_event(1), obs=x)

    def guide(x, num_data=None):
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))

    with pytest.raises(ValueError, match="pyro.module"):
        train(model, guide, torch.randn(8, 3), steps=1, progress=False)


def test_load_vae_ignores_objective_parameters_and_checks_shapes(tmp_path):
    cfg = {"data_shape": [12], "z_dim": 2, "hidden": [8]}
    vae = build_vae(cfg)
    ckpt = tmp_path / "adv.pt"
    train(
        vae.model,
        vae.guide,
        binary_data(n=32),
        InfoVAE(0.0, 5.0, divergence="adversarial"),
        steps=3,
        batch_size=16,
        checkpoint=ckpt,
        progress=False,
        config={"model": cfg},
    )
    rebuilt = load_vae(ckpt)
    assert torch.equal(rebuilt.encoder.net[0].weight, vae.encoder.net[0].weight.detach())
    state = load_checkpoint(ckpt)
    from pyrovae.models.factory import load_params_into

    with pytest.raises(ValueError, match="shape"):
        load_params_into(build_vae({**cfg, "hidden": [9]}), state["params"])


def test_evaluate_callback_joins_the_history_every_n_steps_without_gradients():
    vae, x = small_vae(), binary_data(n=64)
    calls = []

    def evaluate(step):
        calls.append((step, torch.is_grad_enabled()))
        with torch.no_grad():
            loc, _ = vae.encode(x)
        return {"mean_abs_loc": loc.abs().mean().item()}

    result = train(
        vae.model,
        vae.guide,
        x,
        EvidenceLowerBound(),
        steps=25,
        batch_size=16,
        progress=False,
        evaluate=evaluate,
        evaluate_every=10,
    )
    assert calls == [(10, False), (20, False), (25, False)]
    assert [r["step"] for r in result.history if "mean_abs_loc" in r] == [10, 20, 25]
    with pytest.raises(ValueError, match="evaluate"):
        train(
            vae.model,
            vae.guide,
            x,
            EvidenceLowerBound(),
            steps=2,
            progress=False,
            evaluate=evaluate,
            evaluate_every=0,
        )
