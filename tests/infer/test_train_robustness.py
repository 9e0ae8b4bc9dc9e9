"""Training robustness found by trying the library as a new user would:
divergence inside a distribution constructor, resume mismatches, bad arguments, broken files,
dtype mismatch, and a reused adversarial objective."""

import os

import numpy as np
import pytest
import torch
from helpers import binary_data, small_vae

from pyrovae.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from pyrovae.data import load_binarized_mnist
from pyrovae.infer import IWAE, EvidenceLowerBound, InfoVAE, LiBI, TrainingDiverged, train


def _poisoned(after, scale_value=-1.0):
    """A model whose likelihood scale becomes invalid (negative) at its ``after``-th call, as a
    collapsing learned variance does: under Pyro validation the Normal's constructor raises.
    Calls count training steps only (``train`` first runs the model without gradients to create
    the parameters)."""
    import pyro
    import pyro.distributions as dist

    from pyrovae.models import data_plate

    calls = {"n": 0}
    loc = torch.nn.Parameter(torch.zeros(2))

    def model(x, num_data=None):
        calls["n"] += torch.is_grad_enabled()
        scale = scale_value if calls["n"] >= after else 1.0
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z, x.new_full((2,), scale)).to_event(1), obs=x)

    def guide(x, num_data=None):
        p = pyro.param("loc", loc)
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(p.expand(len(x), 2), 1.0).to_event(1))

    return model, guide


def test_constraint_violation_with_validation_on_is_divergence(tmp_path):
    """With Pyro validation on (the default), a negative / NaN scale makes the distribution's
    constructor raise before any loss exists. That is TrainingDiverged naming the step and the
    parameter, with the last good state saved (before: a raw ValueError and no checkpoint)."""
    model, guide = _poisoned(after=4)
    ckpt = tmp_path / "ck.pt"
    with pytest.raises(TrainingDiverged, match=r"at step 4: a distribution parameter") as info:
        train(
            model, guide, torch.randn(8, 2), steps=10, batch_size=8, checkpoint=ckpt, progress=False
        )
    assert "Expected parameter scale" in str(info.value)
    state = load_checkpoint(ckpt)
    assert state["step"] == info.value.result.steps == 3 == len(info.value.result.history)
    assert all(np.isfinite(p.numpy()).all() for p in state["params"].values())


def test_bad_term_is_named(tmp_path):
    """A NaN likelihood is reported as log_likelihood, not as 'loss'."""
    import pyro
    import pyro.distributions as dist

    from pyrovae.models import data_plate

    calls = {"n": 0}
    loc = torch.nn.Parameter(torch.zeros(2))

    def model(x, num_data=None):
        calls["n"] += 1
        bad = float("nan") if calls["n"] >= 3 else 0.0
        with data_plate(x, num_data):
            z = pyro.sample("z", dist.Normal(x.new_zeros(len(x), 2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z + bad, 1.0).to_event(1), obs=x)

    def guide(x, num_data=None):
        p = pyro.param("loc", loc)
        with data_plate(x, num_data):
            pyro.sample("z", dist.Normal(p.expand(len(x), 2), 1.0).to_event(1))

    with pyro.validation_enabled(False), pytest.raises(TrainingDiverged, match="log_likelihood"):
        train(model, guide, torch.randn(8, 2), steps=5, batch_size=8, progress=False)


def test_resume_past_the_requested_end_is_refused(tmp_path):
    vae, x = small_vae(), binary_data(n=32)
    ckpt = tmp_path / "ck.pt"
    train(vae.model, vae.guide, x, steps=6, batch_size=8, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="at step 6, past the requested end"):
        train(
            vae.model,
            vae.guide,
            x,
            steps=4,
            batch_size=8,
            checkpoint=ckpt,
            resume=True,
            progress=False,
        )
    assert load_checkpoint(ckpt)["step"] == 6  # untouched


def test_resume_with_another_architecture_names_the_parameter(tmp_path):
    x = binary_data(n=32)
    ckpt = tmp_path / "ck.pt"
    vae = small_vae(hidden=16)
    train(vae.model, vae.guide, x, steps=3, batch_size=8, checkpoint=ckpt, progress=False)
    wider = small_vae(hidden=32)
    with pytest.raises(ValueError, match=r"parameter '.*' has shape .* there and .* here"):
        train(
            wider.model,
            wider.guide,
            x,
            steps=6,
            batch_size=8,
            checkpoint=ckpt,
            resume=True,
            progress=False,
        )


def test_resume_with_changed_settings_warns_and_applies_the_new_lr(tmp_path):
    vae, x = small_vae(), binary_data(n=32)
    ckpt = tmp_path / "ck.pt"
    train(vae.model, vae.guide, x, steps=3, batch_size=8, lr=1e-3, checkpoint=ckpt, progress=False)
    with pytest.warns(UserWarning, match=r"batch_size 8 -> 16; lr 0.001 -> 0.01"):
        train(
            vae.model,
            vae.guide,
            x,
            InfoVAE(0.0, 2.0),
            steps=6,
            batch_size=16,
            lr=1e-2,
            checkpoint=ckpt,
            resume=True,
            progress=False,
        )
    state = load_checkpoint(ckpt)
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-2)
    assert state["settings"]["objective"].startswith("InfoVAE(")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(steps=-5), "steps must be ≥ 0"),
        (dict(epochs=-1), "epochs must be ≥ 0"),
        (dict(steps=3, batch_size=2.5), "batch_size must be a whole number"),
        (dict(steps=3, batch_size=0), "batch_size must be ≥ 1"),
        (dict(steps=3, lr=0.0), "lr must be > 0"),
        (dict(steps=3, lr=float("inf")), "lr must be finite"),
    ],
)
def test_bad_training_arguments(kwargs, match, tmp_path):
    vae, x = small_vae(), binary_data(n=16)
    with pytest.raises(ValueError, match=match):
        train(vae.model, vae.guide, x, checkpoint=tmp_path / "ck.pt", progress=False, **kwargs)
    assert not (tmp_path / "ck.pt").exists()


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: EvidenceLowerBound(num_particles=0), "num_particles must be ≥ 1"),
        (lambda: EvidenceLowerBound(num_particles=2.5), "num_particles must be a whole number"),
        (lambda: IWAE(num_particles=0), "num_particles must be ≥ 1"),
        (lambda: LiBI(num_samples=0), "num_samples must be ≥ 1"),
        (lambda: InfoVAE(0.0, float("inf")), "lam .* must be finite"),
        (lambda: EvidenceLowerBound.__mro__[1](beta=float("inf")), "beta .* must be finite"),
    ],
)
def test_bad_objective_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_float64_data_train_a_float32_model():
    vae, x = small_vae(), binary_data(n=16).double()
    result = train(vae.model, vae.guide, x, steps=2, batch_size=8, progress=False)
    assert len(result.history) == 2


def test_reused_adversarial_objective_starts_with_a_fresh_discriminator():
    vae, x = small_vae(), binary_data(n=32)
    objective = InfoVAE(1.0, 10.0, divergence="adversarial")
    train(vae.model, vae.guide, x, objective, steps=2, batch_size=16, progress=False)
    first = objective.divergence.discriminator
    train(vae.model, vae.guide, x, objective, steps=2, batch_size=16, progress=False)
    assert objective.divergence.discriminator is not first


# ----- files --------------------------------------------------------------------------------
def test_broken_checkpoints_are_one_clear_error(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"params": {"w": torch.ones(2)}, "param_names": ["w"]})
    raw = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "empty.pt").write_bytes(b"")
    os.mkdir(tmp_path / "folder.pt")
    for name, match in [
        ("truncated.pt", "truncated or corrupted"),
        ("garbage.pt", "truncated or corrupted"),
        ("empty.pt", "truncated or corrupted"),
        ("folder.pt", "is a folder"),
    ]:
        with pytest.raises(CheckpointError, match=match) as info:
            load_checkpoint(tmp_path / name)
        assert name in str(info.value)
    save_checkpoint(tmp_path / "noparams.pt", {"step": 3})
    with pytest.raises(CheckpointError, match=r"without \['params', 'param_names'\]"):
        load_checkpoint(tmp_path / "noparams.pt")


def test_a_checkpoint_with_code_is_refused_as_such(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"format": "pyrovae-checkpoint-1", "params": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="holds Python objects") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(info.value)


def test_stray_temporary_files_are_cleaned_and_history_is_atomic(tmp_path):
    vae, x = small_vae(), binary_data(n=16)
    (tmp_path / ".tmp-ck.pt-abc123.pt").write_bytes(b"half a write")
    train(
        vae.model,
        vae.guide,
        x,
        steps=2,
        batch_size=8,
        checkpoint=tmp_path / "ck.pt",
        progress=False,
    )
    left = sorted(os.listdir(tmp_path))
    assert left == ["ck.pt", "history.json"], left


def test_corrupted_npz_is_one_clear_error(tmp_path):
    bad = tmp_path / "binarized_mnist.npz"
    bad.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ValueError, match="truncated or corrupted") as info:
        load_binarized_mnist(bad)
    assert str(bad) in str(info.value)
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="could not find binarized_mnist.npz"):
        load_binarized_mnist(empty)


def test_validate_every_zero_and_a_folder_as_checkpoint_are_refused_before_training(tmp_path):
    """validate_every=0 once meant once per epoch silently; a folder given as the checkpoint
    failed only at the final save, after every step, with nothing saved."""
    vae, x = small_vae(), binary_data(n=16)
    with pytest.raises(ValueError, match="validate_every must be ≥ 1"):
        train(vae.model, vae.guide, x, steps=2, validation=x, validate_every=0, progress=False)
    (tmp_path / "ck").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        train(vae.model, vae.guide, x, steps=2, checkpoint=tmp_path / "ck", progress=False)
