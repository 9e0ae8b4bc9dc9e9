"""Validation-based model selection, early stopping, schedulers and KL warm-up."""

import pytest
import torch
from helpers import binary_data, linear_data, linear_oracle, small_vae

from pyrovae.checkpoint import load_checkpoint
from pyrovae.infer import IWAE, BetaVAE, EvidenceLowerBound, InfoVAE, train
from pyrovae.infer.schedules import named_schedule


def _linear_run(**kwargs):
    """A linear-Gaussian VAE trained noisily (large lr) with held-out data; every validation row
    also carries the closed-form validation −ELBO of the parameters at that step."""
    vae = linear_oracle(d=6, k=2, seed=0)
    x = linear_data(vae, n=64, seed=2)
    x_val = linear_data(vae, n=1000, seed=3)

    def exact(step):
        return {"exact_val_loss": -vae.elbo(x_val).mean().item()}

    options = dict(
        steps=60,
        batch_size=16,
        lr=0.08,
        validation=x_val,
        validate_every=4,
        evaluate=exact,
        evaluate_every=4,
        progress=False,
    )
    options.update(kwargs)
    result = train(vae.model, vae.guide, x, EvidenceLowerBound(analytic_kl=True), **options)
    return vae, x_val, result


def test_keep_best_restores_the_parameters_of_the_best_validation_loss():
    vae, x_val, result = _linear_run()
    rows = [r for r in result.history if "val_loss" in r]
    assert len(rows) == 15 and [r["step"] for r in rows] == list(range(4, 61, 4))
    best = min(rows, key=lambda r: r["val_loss"])
    assert result.best_step == best["step"] and result.best_val_loss == best["val_loss"]
    assert best["step"] != 60  # the noisy run's last step is not its best, so this tests a restore
    # the final parameters are those of the best step: their closed-form validation −ELBO
    final = -vae.elbo(x_val).mean().item()
    assert final == pytest.approx(best["exact_val_loss"], abs=1e-6)
    assert final != pytest.approx(rows[-1]["exact_val_loss"], abs=1e-4)
    # val_loss is a one-sample Monte Carlo estimate of that closed form (analytic KL: only
    # E log p(x|z) is sampled); over 1000 points its standard error is about 0.05 nats
    for row in rows:
        assert row["val_loss"] == pytest.approx(row["exact_val_loss"], abs=0.25)


def test_keep_best_false_keeps_the_last_parameters():
    vae, x_val, result = _linear_run(keep_best=False)
    last = [r for r in result.history if "val_loss" in r][-1]
    assert -vae.elbo(x_val).mean().item() == pytest.approx(last["exact_val_loss"], abs=1e-6)


def test_best_checkpoint_is_written_and_loads_with_weights_only(tmp_path):
    ckpt = tmp_path / "run.pt"
    vae, x_val, result = _linear_run(checkpoint=ckpt)
    assert result.best_checkpoint == str(tmp_path / "run.best.pt")
    best = load_checkpoint(result.best_checkpoint)  # torch.load(weights_only=True) inside
    assert best["step"] == result.best_step and best["val_loss"] == result.best_val_loss
    store = {name: p for name, p in vae.named_parameters()}
    for name, value in best["params"].items():
        assert torch.allclose(value, store[name.split(".")[-1]].detach())


def test_patience_stops_after_that_many_validations_without_improvement():
    _, _, result = _linear_run(patience=3, steps=400)
    rows = [r for r in result.history if "val_loss" in r]
    assert result.stopped_early and result.steps < 400 and result.steps == rows[-1]["step"]
    after_best = [r for r in rows if r["step"] > result.best_step]
    assert len(after_best) == 3
    assert all(r["val_loss"] >= result.best_val_loss for r in after_best)


def _killed_and_resumed(tmp_path, kill_at, **kwargs):
    """Train with a checkpoint every 8 steps; a first run dies at step ``kill_at`` (after its
    last checkpoint), a second run resumes it."""
    ckpt = tmp_path / "run.pt"

    class Killed(Exception):
        pass

    def killer(step):
        if step == kill_at:
            raise Killed
        return {}

    vae = small_vae()
    with pytest.raises(Killed):
        train(
            vae.model,
            vae.guide,
            **kwargs,
            checkpoint=ckpt,
            checkpoint_every=8,
            evaluate=killer,
            evaluate_every=1,
        )
    vae = small_vae()
    result = train(vae.model, vae.guide, **kwargs, checkpoint=ckpt, checkpoint_every=8, resume=True)
    return vae, result


def test_a_killed_run_resumed_ends_like_the_uninterrupted_one(tmp_path):
    """Early stopping, keep_best, a per-epoch scheduler and KL warm-up all survive resume: the
    final parameters, the best step and the whole history equal the uninterrupted run's."""
    x, x_val = binary_data(n=64, seed=1), binary_data(n=32, seed=9)
    kwargs = dict(
        data=x,
        objective=BetaVAE(2.0),
        steps=120,
        batch_size=16,
        lr=0.03,
        validation=x_val,
        validate_every=4,
        patience=6,
        kl_warmup=60,  # the kill at step 45 (checkpoint at 40) falls inside the warm-up
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7),
        progress=False,
    )
    whole = small_vae()
    reference = train(whole.model, whole.guide, **kwargs)
    resumed_vae, resumed = _killed_and_resumed(tmp_path, kill_at=45, **kwargs)
    assert resumed.history == reference.history
    assert (resumed.best_step, resumed.best_val_loss) == (
        reference.best_step,
        reference.best_val_loss,
    )
    assert resumed.stopped_early == reference.stopped_early
    for a, b in zip(whole.parameters(), resumed_vae.parameters(), strict=True):
        assert torch.equal(a, b)


def test_kl_warmup_ramps_the_kl_weight_linearly_and_the_loss_uses_it():
    x = binary_data(n=32)
    vae = small_vae()
    result = train(
        vae.model, vae.guide, x, BetaVAE(2.0), steps=14, batch_size=8, kl_warmup=10, progress=False
    )
    weights = [r["kl_weight"] for r in result.history]
    assert weights == pytest.approx([2.0 * min(s / 10, 1.0) for s in range(14)])
    for row in result.history:  # loss = −E log p(x|z) + w · KL, per data point
        assert row["loss"] == pytest.approx(
            -row["log_likelihood"] + row["kl_weight"] * row["kl"], rel=1e-5, abs=1e-5
        )


def test_kl_warmup_weights_infovae_kl_by_one_minus_alpha():
    x = binary_data(n=32)
    vae = small_vae()
    result = train(
        vae.model,
        vae.guide,
        x,
        InfoVAE(0.5, 10.0),
        steps=6,
        batch_size=16,
        kl_warmup=4,
        progress=False,
    )
    assert [r["kl_weight"] for r in result.history] == pytest.approx(
        [0.0, 0.125, 0.25, 0.375, 0.5, 0.5]
    )


def test_scheduler_steps_per_epoch_and_the_lr_is_recorded():
    x = binary_data(n=32)
    vae = small_vae()
    result = train(
        vae.model,
        vae.guide,
        x,
        steps=12,
        batch_size=8,
        lr=0.01,
        progress=False,
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
    )
    # 4 steps per epoch: the lr halves after every epoch
    assert [r["lr"] for r in result.history] == pytest.approx(
        [0.01] * 4 + [0.005] * 4 + [0.0025] * 4
    )
    vae = small_vae()
    result = train(
        vae.model,
        vae.guide,
        x,
        steps=3,
        batch_size=8,
        lr=0.01,
        progress=False,
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
        scheduler_interval="step",
    )
    assert [r["lr"] for r in result.history] == pytest.approx([0.01, 0.005, 0.0025])


def test_named_schedules():
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam(params, lr=1.0)
    assert named_schedule("none", 10) is None
    step = named_schedule("step:2:0.5", 10)(opt)
    assert isinstance(step, torch.optim.lr_scheduler.StepLR) and step.gamma == 0.5
    cosine = named_schedule("cosine", 10)(torch.optim.Adam(params, lr=1.0))
    assert cosine.T_max == 10
    multi = named_schedule("multistep:200,350:0.631", 500)(torch.optim.Adam(params, lr=1.0))
    assert sorted(multi.milestones) == [200, 350]


def test_data_as_a_dataset_or_dataloader_trains_like_the_tensor():
    x = binary_data(n=32)
    runs = []
    for data in (
        x,
        torch.utils.data.TensorDataset(x),
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=4),
        [row for row in x],
    ):
        vae = small_vae()
        if isinstance(data, list):
            with pytest.raises(ValueError, match="torch.Tensor"):
                train(vae.model, vae.guide, data, steps=3, batch_size=8, progress=False)
            continue
        if isinstance(data, torch.utils.data.DataLoader):
            with pytest.warns(UserWarning, match="batch_size=4 and sampler are not used"):
                result = train(vae.model, vae.guide, data, steps=3, batch_size=8, progress=False)
        else:
            result = train(vae.model, vae.guide, data, steps=3, batch_size=8, progress=False)
        runs.append(result.history)
    assert runs[0] == runs[1] == runs[2]
    # (image, label) items are two arguments, which model(x) cannot take: refused, naming the fix
    labelled = torch.utils.data.TensorDataset(x, torch.arange(32))
    vae = small_vae()
    with pytest.raises(ValueError, match="batch\\[0\\]"):
        train(vae.model, vae.guide, labelled, steps=3, batch_size=8, progress=False)


def _bad(**kwargs):
    vae = small_vae()
    options = dict(steps=2, batch_size=8, progress=False)
    options.update(kwargs)
    objective = options.pop("objective", None)
    train(vae.model, vae.guide, binary_data(n=16), objective, **options)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(validation=binary_data(n=8, d=10)), "same shape"),
        (dict(validation=binary_data(n=8), patience=0), "patience"),
        (dict(patience=3), "validation="),
        (dict(keep_best=True), "validation="),
        (dict(kl_warmup=-1), "kl_warmup"),
        (dict(kl_warmup=5, objective=IWAE(3)), "no KL"),
        (dict(scheduler=lambda opt: 0.5), "must return a torch.optim.lr_scheduler"),
        (dict(scheduler="cosine"), "callable"),
        (dict(scheduler_interval="batch"), "scheduler_interval"),
    ],
)
def test_bad_recipe_arguments_fail_before_the_first_step(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _bad(**kwargs)


@pytest.mark.parametrize("spec", ["exponential", "step:0:0.5", "step:10", "multistep::0.5"])
def test_unknown_schedule_names_list_the_choices(spec):
    with pytest.raises(ValueError, match="none, cosine, step:EPOCHS:GAMMA"):
        named_schedule(spec, 10)
