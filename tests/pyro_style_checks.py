"""The checks every Pyro-style model goes through (tests/pyro_style/*.py): pyrovae's ELBO
against Pyro's own objective under one seed, the history's sign and scale, and importance
sampling against the model's exact log p(x)."""

import pyro
import torch
from pyro.infer import Trace_ELBO

from pyrovae.infer import EvidenceLowerBound, train
from pyrovae.infer.batches import batch_indices
from pyrovae.models.inputs import as_inputs
from pyrovae.posterior import importance


def _loss_and_grads(objective_loss):
    pyro.clear_param_store()
    loss = objective_loss()
    params = dict(pyro.get_param_store().named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return loss.detach(), dict(zip(params, grads, strict=True))


def check_elbo_equals_pyro(
    model, guide, batch, num_data, pyro_objective=None, seed=3, objective=None
):
    """``objective``'s (default EvidenceLowerBound) loss and gradients on ``batch`` with
    ``num_data`` = N equal Pyro's objective (default ``Trace_ELBO``) on the same minibatch,
    times N / B, under one seed."""
    inputs = as_inputs(batch)
    objective = objective or EvidenceLowerBound()
    pyro_objective = pyro_objective or Trace_ELBO()
    scale = num_data / inputs.num_points

    def ours():
        pyro.set_rng_seed(seed)
        return objective.differentiable_loss(
            model, guide, *inputs.args, num_data=num_data, **inputs.kwargs
        )

    def theirs():
        pyro.set_rng_seed(seed)
        return pyro_objective.differentiable_loss(model, guide, *inputs.args, **inputs.kwargs)

    loss, grads = _loss_and_grads(ours)
    ref_loss, ref_grads = _loss_and_grads(theirs)
    torch.testing.assert_close(loss, ref_loss * scale, rtol=1e-5, atol=1e-4)
    assert set(grads) == set(ref_grads) and any(g is not None for g in grads.values())
    for name, grad in grads.items():
        if ref_grads[name] is None:  # a module the call registers but does not use
            assert grad is None, name
            continue
        torch.testing.assert_close(grad, ref_grads[name] * scale, rtol=1e-4, atol=1e-4)
    return loss


def check_history_is_loss_over_n(model, guide, data, batch_size, pyro_objective=None, seed=5):
    """``train``'s first history row is Pyro's loss on the same minibatch times N / B, divided
    by N: positive, in nats per data point (a learning rate of 1e-30 leaves the parameters)."""
    inputs = as_inputs(data)
    n = inputs.num_points
    result = train(
        model, guide, data, steps=1, batch_size=batch_size, lr=1e-30, seed=seed, progress=False
    )
    row = result.history[0]
    idx = batch_indices(0, n, batch_size, seed, inputs.device)
    batch = inputs.index_select(idx)
    pyro.set_rng_seed(seed)
    objective = pyro_objective or Trace_ELBO()
    ref = objective.loss(model, guide, *batch.args, **batch.kwargs) * n / batch_size
    assert row["loss"] > 0
    assert abs(row["loss"] - ref / n) < 1e-4 * abs(ref / n)
    assert abs(row["elbo"] + row["loss"]) < 1e-4 * abs(row["loss"])
    assert abs(row["log_likelihood"] - row["kl"] - row["elbo"]) < 1e-4 * abs(row["loss"])
    return result


def check_importance_matches_exact(model, guide, data, exact, num_samples=4000, seed=0):
    """IS log p̂(x) per point within 4 standard errors + 0.05 nats of the exact value (the
    IWAE-K bias is below the error bar here: a 2-D latent and K in the thousands)."""
    result = importance(model, guide, data, num_samples=num_samples, seed=seed)
    gap = (result.log_marginal - exact).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05), (result.log_marginal, exact)
    return result
