"""TrainOptions (one training recipe) and TrainingState (the checkpoint format's one home)."""

import pytest
import torch
from helpers import binary_data, small_vae

from pyrovae.checkpoint import load_checkpoint
from pyrovae.infer import TrainOptions, train
from pyrovae.infer.training_state import BestState, TrainingState


def _losses(result):
    return [row["loss"] for row in result.history]


def test_recipe_and_keywords_train_the_same_run():
    x = binary_data(n=48)
    vae = small_vae()
    by_keywords = train(vae.model, vae.guide, x, steps=6, batch_size=16, lr=3e-3, progress=False)
    vae = small_vae()
    recipe = TrainOptions(steps=6, batch_size=16, lr=3e-3, progress=False)
    by_recipe = train(vae.model, vae.guide, x, options=recipe)
    assert _losses(by_recipe) == _losses(by_keywords)


def test_keywords_replace_the_recipes_fields_and_leave_it_unchanged():
    x = binary_data(n=48)
    recipe = TrainOptions(epochs=2, batch_size=16, progress=False)
    vae = small_vae()
    result = train(vae.model, vae.guide, x, options=recipe, steps=4, seed=3)
    assert result.steps == 4  # steps given here replace the recipe's epochs
    assert recipe.epochs == 2 and recipe.steps is None and recipe.seed == 0
    vae = small_vae()
    assert train(vae.model, vae.guide, x, options=recipe).steps == 2 * (48 // 16)


def test_unknown_option_names_the_closest_one():
    vae, x = small_vae(), binary_data(n=16)
    with pytest.raises(TypeError, match="did you mean 'steps'"):
        train(vae.model, vae.guide, x, stpes=3)
    with pytest.raises(TypeError, match="TrainOptions"):
        train(vae.model, vae.guide, x, options={"steps": 3})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 3, "epochs": 1}, "exactly one of steps= or epochs="),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"keep_best": True}, "keep_best selects on the validation loss"),
        ({"resume": "yes"}, "resume must be False, True or 'other-data'"),
        ({"scheduler_interval": "batch"}, "scheduler_interval must be one of"),
        ({"evaluate": 3}, "evaluate must be a callable"),
    ],
)
def test_a_bad_recipe_is_refused_when_made(options, message):
    with pytest.raises(ValueError, match=message):
        TrainOptions(**options)


def test_a_recipe_without_length_is_refused_when_training():
    vae, x = small_vae(), binary_data(n=16)
    with pytest.raises(ValueError, match="give exactly one of steps= or epochs="):
        train(vae.model, vae.guide, x, progress=False)


def test_keep_best_defaults_to_true_with_validation_only():
    assert not TrainOptions().keeps_best
    assert TrainOptions(validation=torch.zeros(2, 3)).keeps_best
    assert not TrainOptions(validation=torch.zeros(2, 3), keep_best=False).keeps_best


def test_training_state_reads_back_what_it_writes(tmp_path):
    vae, x = small_vae(), binary_data(n=48)
    path = tmp_path / "run.pt"
    result = train(
        vae.model,
        vae.guide,
        x,
        steps=6,
        batch_size=16,
        validation=x[:8],
        validate_every=2,
        checkpoint=path,
        progress=False,
    )
    state = TrainingState.from_checkpoint(load_checkpoint(path))
    assert state.step == 6 and state.history == result.history
    assert state.best.step == result.best_step and state.best.val_loss == result.best_val_loss
    assert state.since_best == sum(
        1 for row in result.history if "val_loss" in row and row["step"] > result.best_step
    )
    assert set(state.best.params) == set(result.param_names)


def test_record_validation_keeps_the_lowest_finite_loss():
    class Stepper:  # the two attributes a snapshot reads
        names = ["w"]
        params = [torch.ones(2)]

    state = TrainingState()
    assert state.record_validation(2, 5.0, Stepper)
    assert not state.record_validation(4, float("nan"), Stepper)
    assert not state.record_validation(6, 7.0, Stepper)
    assert state.record_validation(8, 4.0, Stepper)
    assert (state.best.step, state.best.val_loss, state.since_best) == (8, 4.0, 0)
    assert isinstance(state.best, BestState)


def test_a_run_out_of_time_stops_and_resumes_like_an_uninterrupted_one(tmp_path, monkeypatch):
    """time_limit stops at a step boundary (a fake clock: each step takes 1 s of a 3.5 s limit,
    so 4 steps run), saves the checkpoint, and the resumed run ends where an uninterrupted
    one does, bitwise."""
    import itertools
    import math
    import sys

    train_module = sys.modules["pyrovae.infer.train"]

    x = binary_data(48)
    whole = small_vae()
    full = train(whole.model, whole.guide, x, steps=10, batch_size=16, seed=2, progress=False)
    ticks = itertools.count()
    monkeypatch.setattr(train_module, "_clock", lambda: float(next(ticks)))
    vae = small_vae()
    options = TrainOptions(
        steps=10, batch_size=16, seed=2, progress=False, checkpoint=tmp_path / "c.pt"
    )
    first = train(vae.model, vae.guide, x, options=options, time_limit=3.5 / 60)
    assert first.out_of_time and first.steps == 4
    assert load_checkpoint(tmp_path / "c.pt")["step"] == 4
    monkeypatch.setattr(train_module, "_clock", lambda: 0.0)
    vae = small_vae()
    rest = train(vae.model, vae.guide, x, options=options, resume=True)
    assert not rest.out_of_time and rest.steps == 10
    assert [r["loss"] for r in rest.history] == [r["loss"] for r in full.history]
    assert all(math.isfinite(r["loss"]) for r in rest.history)
    with pytest.raises(ValueError, match="time_limit"):
        TrainOptions(steps=1, time_limit=0)
