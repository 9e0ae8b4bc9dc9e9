"""The training loop: SVI with Adam on minibatches, per-term history, validation-based model
selection, schedules, checkpoints, NaN guard.

Each step evaluates the objective's record (:class:`~pyrovae.infer.record.ObjectiveRecord`) on a
minibatch under a Pyro param capture, backpropagates its surrogate and steps one
``torch.optim.Adam`` over every parameter the model and guide touch (:mod:`.stepper`).

Recipes that reach published likelihoods (README, "Training recipes"): held-out validation with
the best model kept (pythae; Tomczak's VampPrior code), a decaying learning rate, KL warm-up
(Bowman et al. 2016; Sønderby et al. 2016), free bits (Kingma et al. 2016), STL / DReG gradients.
"""

import json
import math
import os
from dataclasses import dataclass, field

import pyro
import torch
from tqdm.auto import tqdm

from ..arguments import check_count, check_inputs, check_weight
from ..checkpoint import load_checkpoint, save_checkpoint, write_atomic
from ..models.contract import data_already_validated
from ..models.inputs import as_inputs
from ..provenance import tensor_digest
from ..traces import adapt, unwrap
from .elbo import EvidenceLowerBound
from .schedules import (
    check_kl_warmup,
    check_scheduler_interval,
    kl_scale,
    make_scheduler,
    restore_scheduler,
)
from .stepper import NonFiniteStep, SVIStepper
from .streams import StreamSet, StreamsObjective, is_streams
from .training_state import (
    BestState,
    best_path,
    check_resume,
    checkpoint_state,
    create_parameters,
    describe_objective,
    load_parameters,
    restore_params,
    resumed_selection,
    save_best,
    snapshot,
)
from .validation import as_tensor_data, check_validation, validation_loss


class TrainingDiverged(FloatingPointError):
    """A loss term or gradient became NaN / inf. ``result`` holds the history up to the last good
    step; the parameters (and the checkpoint, when one was requested) hold the last good state."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


@dataclass
class TrainResult:
    """``history``: one dict per step. Data-set sums (loss, log_likelihood, kl, elbo, iwae_bound)
    are divided by N (nats per data point); the divergence and discriminator loss are as
    estimated (they are properties of the aggregate posterior, not sums over data points)."""

    history: list[dict] = field(default_factory=list)
    steps: int = 0
    checkpoint: str | None = None
    param_names: list[str] = field(default_factory=list)
    #: with ``validation``: the step of the lowest ``val_loss`` and that loss (nats per point)
    best_step: int | None = None
    best_val_loss: float | None = None
    #: ``patience`` validations passed without improvement before the last step
    stopped_early: bool = False
    #: the ``best`` checkpoint written beside ``checkpoint`` (with ``validation``)
    best_checkpoint: str | None = None

    def last(self, key="loss"):
        return self.history[-1][key] if self.history else float("nan")


def validate_data(data, model=None):
    """``ValueError`` naming the fix for data (a tensor, or several inputs) that cannot be
    trained on; a model whose owner has ``validate_data`` (the built-in VAEs) checks its own."""
    inputs = as_inputs(data)
    check_inputs(inputs, "train")
    owner = getattr(unwrap(model), "__self__", None)
    if hasattr(owner, "validate_data") and inputs.single:
        owner.validate_data(inputs.primary)


_PERMUTATION_CACHE = {}


def _batch_indices(step, n, batch_size, seed, device):
    """Minibatch indices of a step: a fixed permutation per epoch, so a resumed run continues
    with exactly the batches the uninterrupted run would have seen. A last partial batch is
    dropped when n > batch_size (MMD-type divergences want equal batch sizes)."""
    per_epoch = max(n // batch_size, 1)
    epoch, i = divmod(step, per_epoch)
    key = (n, seed, epoch, str(device))
    if key not in _PERMUTATION_CACHE:
        _PERMUTATION_CACHE.clear()
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        _PERMUTATION_CACHE[key] = torch.randperm(n, generator=gen).to(device)
    return _PERMUTATION_CACHE[key][i * batch_size : (i + 1) * batch_size]


def _owner_module(fn):
    """The ``nn.Module`` whose bound method ``fn`` is (e.g. ``vae.model``), or ``None``."""
    owner = getattr(unwrap(fn), "__self__", None)
    return owner if isinstance(owner, torch.nn.Module) else None


def _to_device(fn, device):
    owner = _owner_module(fn)
    if owner is not None:
        owner.to(device)


def _parameter_dtype(model, guide, data_dtype):
    """The floating dtype of the modules owning model / guide (data are converted to it: a
    float64 data set against a float32 network would fail deep inside a matmul)."""
    for fn in (model, guide):
        owner = _owner_module(fn)
        for p in owner.parameters() if owner is not None else ():
            if torch.is_floating_point(p):
                return p.dtype
    return data_dtype


def _check_selection(validation, keep_best, patience, validate_every):
    """keep_best / patience / validate_every need ``validation``; returns (keep_best, patience)."""
    if validation is None:
        for name, value in (
            ("keep_best", keep_best),
            ("patience", patience),
            ("validate_every", validate_every),
        ):
            if value:
                raise ValueError(
                    f"{name} selects on the validation loss; give validation=x_val (held-out "
                    "data, e.g. binarized MNIST's 'valid' split)"
                )
        return False, None
    keep_best = True if keep_best is None else bool(keep_best)
    if patience is not None:
        patience = check_count("patience (validations without improvement)", patience)
    return keep_best, patience


def train(
    model,
    guide,
    data,
    objective=None,
    *,
    steps=None,
    epochs=None,
    batch_size=128,
    lr=1e-3,
    optim_args=None,
    device=None,
    seed=0,
    checkpoint=None,
    checkpoint_every=None,
    resume=False,
    history_path=None,
    progress=True,
    clear_param_store=True,
    config=None,
    evaluate=None,
    evaluate_every=100,
    validation=None,
    validate_every=None,
    validation_batch_size=1000,
    keep_best=None,
    patience=None,
    scheduler=None,
    scheduler_interval="epoch",
    kl_warmup=0,
    plate_name=None,
) -> TrainResult:
    """Train ``model`` / ``guide`` (any Pyro pair with a data plate, :mod:`pyrovae.models.contract`)
    on ``data``.

    :param data: a tensor (N, ...) → ``model(x)``; a tuple of aligned tensors → ``model(xs, ys)``;
        a dict of them → ``model(xs=..., ys=...)`` (:mod:`pyrovae.models.inputs`); or a map-style
        ``Dataset`` / ``DataLoader`` over one tensor (stacked once; items may be
        ``(x, label)`` tuples). Minibatches cut every tensor along dim 0 together. A list of
        :class:`~pyrovae.infer.Stream` trains on several data sets at once, each with its own
        model / guide call, batch size and weight (semi-supervised VAEs,
        :mod:`pyrovae.infer.streams`); ``validation`` then takes the first stream's form and is
        evaluated with ``model`` / ``guide``.
    :param objective: a pyrovae objective (default :class:`~pyrovae.infer.EvidenceLowerBound`) or
        any ``pyro.infer.ELBO`` (then only the loss is recorded).
    :param steps: number of optimizer steps; or ``epochs`` (passes over the data set).
    :param batch_size: minibatch size B; the data plate scales by N / B.
    :param lr: Adam's learning rate.
    :param optim_args: further ``torch.optim.Adam`` arguments (e.g. ``betas``). Adam is fused
        (``fused=True``: one kernel per parameter) unless ``fused`` or ``foreach`` is given.
    :param device: move data (and the modules owning ``model`` / ``guide``) there;
        default: the data's device.
    :param seed: seeds Pyro / torch and the minibatch order.
    :param checkpoint: path of a checkpoint written atomically every ``checkpoint_every`` steps
        and at the end; with ``resume=True`` training continues from it when it exists, on the
        same data only (content hash); ``resume="other-data"`` continues on other data on
        purpose (fine-tuning), with a warning, the earlier hashes kept in the checkpoint.
    :param history_path: where to write the history as JSON (also written next to a checkpoint).
    :param clear_param_store: clear Pyro's global param store first (a stale store silently
        trains old weights; on resume the checkpoint then provides every value).
    :param evaluate: optional ``evaluate(step) -> dict`` called (under ``torch.no_grad``) after
        every ``evaluate_every`` steps and after the last; its numbers join that step's history row
        (e.g. MMD(q(z), p(z)) on held-out data against iteration).
    :param validation: held-out data (same point shape as ``data``): every ``validate_every``
        steps (default: once per epoch) and after the last, ``val_loss`` -- the negative ELBO (the
        negative IWAE bound for IWAE) in nats per data point, evaluated without gradients in
        batches of ``validation_batch_size`` (:mod:`pyrovae.infer.validation`) -- joins that
        step's history row.
    :param keep_best: (default ``True`` with ``validation``) end with the parameters of the lowest
        ``val_loss``; with ``checkpoint`` they are also written to ``<checkpoint>.best.pt``.
    :param patience: stop after this many validations without a lower ``val_loss``.
    :param scheduler: ``scheduler(optimizer) -> torch.optim.lr_scheduler`` scheduler, stepped once
        per epoch (``scheduler_interval="step"``: per step; ``ReduceLROnPlateau``: with each
        ``val_loss``); saved in and restored from the checkpoint. ``lr`` is in every row.
    :param kl_warmup: the KL weight rises linearly from 0 to the objective's own over this many
        steps (:mod:`pyrovae.infer.schedules`); recorded as ``kl_weight``.
    :param plate_name: the name of the data plate, when it cannot be found (two plates of the
        minibatch's size); by default the plate over the minibatch's points is found, sized or
        sizeless, whatever its name (:func:`pyrovae.traces.adapt`). ``num_data`` is passed to
        model / guide only when their signature names it; otherwise the N / B scale is applied.
    :raises TrainingDiverged: a term or gradient is NaN / inf; parameters keep the last good state.
    :returns: :class:`TrainResult` with one history row per step, terms in nats per data point.
    """
    if resume not in (False, True, "other-data"):
        raise ValueError(
            f"resume must be False, True or 'other-data' (continue on other data on purpose), "
            f"got {resume!r}"
        )
    streams = is_streams(data)
    if streams:
        data = StreamSet(data, model, guide, check_count("batch_size", batch_size), plate_name)
        for stream in data.streams:
            validate_data(stream.inputs, stream.model)
    else:
        data = as_inputs(as_tensor_data(data))
        validate_data(data, model)
    model, guide = adapt(model, plate_name), adapt(guide, plate_name)
    n = data.num_points
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    batch_size = min(check_count("batch_size", batch_size), n)
    per_epoch = data.batches_per_epoch if streams else max(n // batch_size, 1)
    if steps is not None:
        total = check_count("steps", steps, minimum=0)
    else:
        total = check_count("epochs", epochs, minimum=0) * per_epoch
    check_weight("lr", lr, strict=True)
    if checkpoint_every is not None:
        checkpoint_every = check_count("checkpoint_every", checkpoint_every)
    if checkpoint is not None and os.path.isdir(checkpoint):  # once found only at the last save
        raise ValueError(
            f"checkpoint={os.fspath(checkpoint)!r} is a folder; give a file path inside it, e.g. "
            f"{os.path.join(os.fspath(checkpoint), 'checkpoint.pt')}"
        )
    if evaluate is not None and not (callable(evaluate) and int(evaluate_every) >= 1):
        raise ValueError(
            "evaluate must be a callable evaluate(step) -> dict and evaluate_every ≥ 1"
        )
    objective = objective if objective is not None else EvidenceLowerBound()
    kl_warmup = check_kl_warmup(kl_warmup, objective)
    keep_best, patience = _check_selection(validation, keep_best, patience, validate_every)
    if validate_every is None:
        validate_every = per_epoch
    else:  # 0 once meant "once per epoch" silently
        validate_every = check_count("validate_every", validate_every)
    validation_batch_size = check_count("validation_batch_size", validation_batch_size)
    scheduler_interval = check_scheduler_interval(scheduler_interval)
    device = torch.device(device) if device is not None else data.device
    data = data.to(device=device, dtype=_parameter_dtype(model, guide, data.primary.dtype))
    if validation is not None:
        validation = check_validation(validation, data.streams[0].inputs if streams else data)
        validate_data(validation, model)
    for fn in (model, guide):
        _to_device(fn, device)
    if clear_param_store and hasattr(objective, "reset"):
        objective.reset()  # a fresh start: forget e.g. a discriminator of an earlier run
    settings = {
        "objective": describe_objective(objective),
        "batch_size": batch_size,
        "seed": int(seed),
        "lr": float(lr),
        "kl_warmup": kl_warmup,
        "validate_every": validate_every if validation is not None else None,
        "patience": patience,
    }
    # the data's content hash: a resume on other data is refused (pyrovae.provenance)
    settings["data_sha256"] = tensor_digest([s.inputs for s in data.streams] if streams else data)
    step_objective = objective
    if streams:
        settings["streams"] = data.settings()
        step_objective = StreamsObjective(objective, data)

    pyro.set_rng_seed(seed)
    if clear_param_store:
        pyro.clear_param_store()
    devices = [device] if device.type == "cuda" else []
    stepper = SVIStepper(lr, optim_args)
    result = TrainResult(checkpoint=os.fspath(checkpoint) if checkpoint else None)
    if keep_best and checkpoint:
        result.best_checkpoint = best_path(checkpoint)
    params_trace = create_parameters(
        step_objective, model, guide, data.slice(0, batch_size), n, devices
    )
    start, best, since_best, state = 0, None, 0, None
    if resume and checkpoint and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, map_location=device)
        other_data = resume == "other-data"
        previous = check_resume(checkpoint, state, total, settings, config, other_data)
        if previous:  # a run continued on other data keeps what it was trained on before
            settings["previous_data_sha256"] = previous
        load_parameters(checkpoint, state, stepper)
        start, result.history, best, since_best, result.stopped_early = resumed_selection(state)
    stepper.capture(params_trace)
    stepper.check_has_parameters()
    lr_scheduler = None
    if scheduler is not None:
        lr_scheduler = make_scheduler(scheduler, stepper.optimizer)
        if state is not None and state.get("scheduler"):
            restore_scheduler(lr_scheduler, state["scheduler"])
    plateau = isinstance(lr_scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    kl_weight = getattr(objective, "kl_weight", None)

    def save(step):
        if checkpoint:
            state = checkpoint_state(
                step,
                stepper,
                lr_scheduler,
                best,
                since_best,
                result.stopped_early,
                result.history,
                config,
                settings,
            )
            save_checkpoint(checkpoint, state)
        if history_path or checkpoint:
            path = history_path or os.path.join(
                os.path.dirname(os.path.abspath(checkpoint)), "history.json"
            )
            write_atomic(path, json.dumps(result.history).encode())

    end = start if result.stopped_early else total
    bar = tqdm(range(start, end), disable=not progress, desc=type(objective).__name__, leave=False)
    result.steps = start
    for step in bar:
        if streams:
            xb = data.batch(step, seed, device, _batch_indices)
        else:
            xb = data.index_select(_batch_indices(step, n, batch_size, seed, device))
        factor = kl_scale(step, kl_warmup)
        lr_now = stepper.optimizer.param_groups[0]["lr"]
        try:
            with data_already_validated():  # validate_data checked every point above
                row = stepper.step(step_objective, model, guide, xb, n, kl_scale=factor)
        except NonFiniteStep as bad:
            result.steps = step
            if best is not None:  # for the record; the parameters stay the last good ones
                result.best_step, result.best_val_loss = best.step, best.val_loss
            save(step)
            where = f"; checkpoint {checkpoint} holds it" if checkpoint else ""
            raise TrainingDiverged(
                f"training diverged at step {step + 1}: {bad}. The parameters "
                f"keep the state after step {step}{where}. Try a lower learning rate, a variance "
                "floor (min_variance) for Gaussian decoders, or a smaller divergence weight.",
                result,
            ) from None
        row = {"step": step + 1, **row, "lr": lr_now}
        if kl_warmup:
            row["kl_weight"] = factor * kl_weight
        last = step + 1 == total
        if evaluate is not None and ((step + 1) % int(evaluate_every) == 0 or last):
            with torch.no_grad():
                row.update(evaluate(step + 1) or {})
        if validation is not None and ((step + 1) % validate_every == 0 or last):
            val = validation_loss(
                objective, model, guide, validation, validation_batch_size, seed + 1
            )
            row["val_loss"] = val
            if math.isfinite(val) and (best is None or val < best.val_loss):
                best, since_best = BestState(step + 1, val, snapshot(stepper)), 0
                if checkpoint and keep_best:
                    save_best(checkpoint, best, settings, config)
            else:
                since_best += 1
            if plateau:
                lr_scheduler.step(val)
        if lr_scheduler is not None and not plateau:
            if scheduler_interval == "step" or (step + 1) % per_epoch == 0:
                lr_scheduler.step()
        result.history.append(row)
        result.steps = step + 1
        if patience is not None and since_best >= patience:
            result.stopped_early = True
        if progress and (step % 50 == 0 or last):
            bar.set_postfix(loss=f"{row['loss']:.3f}")
        if result.stopped_early:
            break  # saved below
        if checkpoint_every and (step + 1) % checkpoint_every == 0:
            save(step + 1)
    result.param_names = list(stepper.names)
    save(result.steps)  # the trajectory's state: a resumed longer run continues from here
    if best is not None:
        result.best_step, result.best_val_loss = best.step, best.val_loss
        if keep_best:
            restore_params(stepper, best.params)
    return result
