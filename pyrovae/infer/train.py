"""The training loop: SVI with Adam on minibatches, per-term history, validation-based model
selection, schedules, checkpoints, NaN guard.

Each step evaluates the objective's record (:class:`~pyrovae.infer.record.ObjectiveRecord`) on a
minibatch under a Pyro param capture, backpropagates its surrogate and steps one
``torch.optim.Adam`` over every parameter the model and guide touch (:mod:`.stepper`). The
options of a run are one :class:`~pyrovae.infer.TrainOptions` recipe (:mod:`.train_options`);
where a run stands is a :class:`~pyrovae.infer.training_state.TrainingState`, which also owns the
checkpoint format.

Recipes that reach published likelihoods (docs/guide/training.md): held-out validation with
the best model kept (pythae; Tomczak's VampPrior code), a decaying learning rate, KL warm-up
(Bowman et al. 2016; Sønderby et al. 2016), free bits (Kingma et al. 2016), STL / DReG gradients.
"""

import contextlib
import json
import os
import time
from dataclasses import dataclass, field

import pyro
import torch
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint, write_atomic
from ..checks import check_inputs
from ..models.contract import data_already_validated
from ..models.inputs import as_inputs
from ..provenance import tensor_digest
from ..traces import adapt, unwrap
from .batches import batch_indices
from .callbacks import namespaced, notify
from .elbo import EvidenceLowerBound
from .schedules import check_kl_warmup, kl_scale, make_scheduler, restore_scheduler
from .stepper import NonFiniteStep, SVIStepper
from .streamed import StreamedData, check_items_fit, is_streamable
from .streams import StreamSet, StreamsObjective, is_streams
from .train_options import TrainOptions
from .training_state import (
    TrainingState,
    best_path,
    check_resume,
    create_parameters,
    describe_objective,
    load_parameters,
    restore_params,
    save_best,
)
from .validation import check_validation, validation_loss


class TrainingDiverged(FloatingPointError):
    """A loss term or gradient became NaN / inf. ``result`` holds the history up to the last good
    step; the parameters (and the checkpoint, when one was requested) hold the last good state."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


_clock = time.monotonic  # the time_limit clock (a test replaces it)


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
    #: ``time_limit`` ran out before the last step (resume to continue)
    out_of_time: bool = False

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


def train(model, guide, data, objective=None, *, options=None, **keywords) -> TrainResult:
    """Train ``model`` / ``guide`` (any Pyro pair with a data plate, :mod:`pyrovae.models.contract`)
    on ``data``.

    :param data: a tensor (N, ...) → ``model(x)``; a tuple of aligned tensors → ``model(xs, ys)``;
        a dict of them → ``model(xs=..., ys=...)`` (:mod:`pyrovae.models.inputs`); or a
        ``Dataset``, ``IterableDataset`` or ``DataLoader``, read batch by batch and never stacked
        (:mod:`pyrovae.infer.streamed`; its items become the model's arguments the same way).
        Minibatches cut every tensor along dim 0 together. A list of
        :class:`~pyrovae.infer.Stream` trains on several data sets at once, each with its own
        model / guide call, batch size and weight (semi-supervised VAEs,
        :mod:`pyrovae.infer.streams`); ``validation`` then takes the first stream's form and is
        evaluated with ``model`` / ``guide``.
    :param objective: a pyrovae objective (default :class:`~pyrovae.infer.EvidenceLowerBound`) or
        any ``pyro.infer.ELBO`` (then only the loss is recorded).
    :param options: a :class:`~pyrovae.infer.TrainOptions` recipe (default: its defaults).
    :param keywords: any field of :class:`~pyrovae.infer.TrainOptions` (``steps``, ``epochs``,
        ``batch_size``, ``lr``, ``validation``, ``checkpoint``, ``seed``, ``device``, ...),
        replacing the recipe's. ``num_data`` is passed to model / guide only when their
        signature names it; otherwise the N / B scale is applied.
    :raises TrainingDiverged: a term or gradient is NaN / inf; parameters keep the last good state.
    :returns: :class:`TrainResult` with one history row per step, terms in nats per data point.
    """
    return _TrainingRun(model, guide, data, objective, TrainOptions.build(options, **keywords))()


class _TrainingRun:
    """One call of :func:`train`, in the steps it takes: prepare the data (:meth:`_prepare`),
    set up parameters, optimizer and a resumed state (:meth:`_start`), then per step one
    optimizer step (:meth:`_optimize`), the monitoring that follows it (:meth:`_monitor`) and
    checkpoints (:meth:`_save`), and the best parameters at the end (:meth:`_finish`)."""

    def __init__(self, model, guide, data, objective, options):
        self.options = options
        self.objective = objective if objective is not None else EvidenceLowerBound()
        self.kl_warmup = check_kl_warmup(options.kl_warmup, self.objective)
        self._first = None  # the first batch, made once (_first_batch)
        self._prepare(model, guide, data)
        self.settings = self._settings()

    def _prepare(self, model, guide, data):
        """Data as model inputs (or streams, or a data set read batch by batch) on the device
        and dtype of the networks; the model / guide adapted to pyrovae's contract; the run's
        length."""
        opts = self.options
        data = self._data_source(model, guide, data)
        # every point checked before step 1, or (data read batch by batch, or transformed) each
        # batch as it comes
        self.checked_upfront = self.streams or (not self.streamed and opts.transform is None)
        self.model, self.guide = adapt(model, opts.plate_name), adapt(guide, opts.plate_name)
        self.n = data.num_points
        self.batch_size = data.batch_size if self.streamed else min(opts.batch_size, self.n)
        self.per_epoch = (
            data.batches_per_epoch
            if self.streams or self.streamed
            else max(self.n // self.batch_size, 1)
        )
        self.total = opts.total_steps(self.per_epoch)
        self.validate_every = opts.validate_every or self.per_epoch
        self.device = torch.device(opts.device) if opts.device is not None else data.device
        self.dtype = _parameter_dtype(self.model, self.guide, data.primary.dtype)
        if self.streamed:
            if opts.pin_memory is None and self.device.type == "cuda":
                data.pin_memory = True  # page-locked batches, copied without blocking
            self.data = data
        else:
            self.data = data.to(device=self.device, dtype=self.dtype)
        if not self.checked_upfront:
            first = self._first_batch()
            if self.streamed:
                check_items_fit(model, first)
            validate_data(first, model)
        self.validation = None
        if opts.validation is not None:
            first = self.data.streams[0].inputs if self.streams else self.data
            if self.streamed:
                first = self.data.first.to(device=self.device, dtype=self.dtype)
            self.validation = check_validation(opts.validation, first)
            validate_data(self.validation, self.model)
        for fn in (self.model, self.guide):
            _to_device(fn, self.device)

    def _data_source(self, model, guide, data):
        """What the data are: several streams, a data set read batch by batch, or tensors
        (checked here, every point, unless a transform makes the batches checked as they come)."""
        opts = self.options
        self.streams = is_streams(data)
        self.streamed = not self.streams and is_streamable(data)
        if opts.num_data is not None and not self.streamed:
            raise ValueError(
                "num_data is for a data set read batch by batch (an IterableDataset without a "
                "length); tensor data give it by their first dimension"
            )
        if self.streams:
            if opts.transform is not None or opts.num_workers is not None:
                raise ValueError(
                    "transform and num_workers apply to one data set; with several streams give "
                    "each Stream its data as they should be trained on"
                )
            data = StreamSet(data, model, guide, opts.batch_size, opts.plate_name)
            for stream in data.streams:
                validate_data(stream.inputs, stream.model)
            return data
        if self.streamed:
            return StreamedData(
                data,
                opts.batch_size,
                num_data=opts.num_data,
                transform=opts.transform,
                num_workers=opts.num_workers,
                pin_memory=opts.pin_memory,
                seed=opts.seed,
            )
        data = as_inputs(data)
        if opts.transform is None:
            validate_data(data, model)
        return data

    def _settings(self) -> dict:
        """What a resumed run must agree on (or is warned about), with the data's content hash
        (a resume on other data is refused: :mod:`pyrovae.provenance`)."""
        opts = self.options
        settings = {
            "objective": describe_objective(self.objective),
            "batch_size": self.batch_size,
            "seed": int(opts.seed),
            "lr": float(opts.lr),
            "kl_warmup": self.kl_warmup,
            "validate_every": self.validate_every if self.validation is not None else None,
            "patience": opts.patience,
        }
        data = self.data
        if self.streamed:  # a fingerprint: the data set may not fit in memory
            settings["data_sha256"] = data.fingerprint()
            settings["streamed"] = data.settings()
        else:
            settings["data_sha256"] = tensor_digest(
                [s.inputs for s in data.streams] if self.streams else data
            )
        if self.streams:
            settings["streams"] = data.settings()
        return settings

    def _start(self):
        """Seed, create every parameter, register them with Adam, and continue from the
        checkpoint when resuming; the learning-rate scheduler last (it needs the optimizer)."""
        opts = self.options
        if opts.clear_param_store and hasattr(self.objective, "reset"):
            self.objective.reset()  # a fresh start: forget e.g. a discriminator of an earlier run
        self.step_objective = (
            StreamsObjective(self.objective, self.data) if self.streams else self.objective
        )
        pyro.set_rng_seed(opts.seed)
        if opts.clear_param_store:
            pyro.clear_param_store()
        devices = [self.device] if self.device.type == "cuda" else []
        self.stepper = SVIStepper(opts.lr, opts.optim_args)
        first_batch = self._first_batch()
        params_trace = create_parameters(
            self.step_objective, self.model, self.guide, first_batch, self.n, devices
        )
        self.state, saved = TrainingState(), None
        if opts.resume and opts.checkpoint and os.path.exists(opts.checkpoint):
            saved = load_checkpoint(opts.checkpoint, map_location=self.device)
            previous = check_resume(
                opts.checkpoint,
                saved,
                self.total,
                self.settings,
                opts.config,
                opts.resume == "other-data",
            )
            if previous:  # a run continued on other data keeps what it was trained on before
                self.settings["previous_data_sha256"] = previous
            load_parameters(opts.checkpoint, saved, self.stepper)
            self.state = TrainingState.from_checkpoint(saved)
        self.stepper.capture(params_trace)
        self.stepper.check_has_parameters()
        self.scheduler = None
        if opts.scheduler is not None:
            self.scheduler = make_scheduler(opts.scheduler, self.stepper.optimizer)
            if saved is not None and saved.get("scheduler"):
                restore_scheduler(self.scheduler, saved["scheduler"])
        self.plateau = isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    def __call__(self) -> TrainResult:
        self._start()
        opts, state = self.options, self.state
        notify(
            opts.callbacks,
            "on_train_begin",
            {"settings": self.settings, "model": opts.config or {}, "options": opts.plain_values()},
        )
        end = state.step if state.stopped_early else self.total
        bar = tqdm(
            range(state.step, end),
            disable=not opts.progress,
            desc=type(self.objective).__name__,
            leave=False,
        )
        batches = self._batches(state.step, end)
        deadline = None if opts.time_limit is None else _clock() + 60 * opts.time_limit
        self.out_of_time = False
        for step in bar:
            row = self._optimize(step, next(batches))
            evaluated = self._monitor(step, row)
            state.history.append(row)
            state.step = step + 1
            notify(opts.callbacks, "on_step_end", state.step, namespaced(row, evaluated))
            if opts.patience is not None and state.since_best >= opts.patience:
                state.stopped_early = True
            if opts.progress and (step % 50 == 0 or state.step == self.total):
                bar.set_postfix(loss=f"{row['loss']:.3f}")
            if state.stopped_early:
                break  # saved below
            if deadline is not None and state.step < end and _clock() > deadline:
                self.out_of_time = True
                break  # saved below; a resumed run continues from here
            if opts.checkpoint_every and state.step % opts.checkpoint_every == 0:
                self._save()
        result = self._finish()
        notify(opts.callbacks, "on_train_end", result)
        return result

    def _first_batch(self):
        """The first ``batch_size`` points in the data's own order, transformed once (on a forked
        random stream seeded with ``seed``: training's noise is untouched), for the checks of
        :meth:`_prepare` and the parameters :meth:`_start` creates."""
        if self._first is None:
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.options.seed)
                if self.streamed:
                    self._first = self.data.first_batch(self.device, self.dtype)
                else:
                    self._first = self._transformed(self.data.slice(0, self.batch_size))
        return self._first

    def _batches(self, start, stop):
        """The minibatches of steps ``start`` … ``stop - 1``: a seeded permutation per epoch
        (:mod:`.batches`) of the tensors, of each stream, or of a data set read batch by batch
        (:mod:`.streamed`), after ``transform``."""
        seed = self.options.seed
        if self.streamed:
            yield from self.data.batches(start, stop, self.device, self.dtype)
            return
        for step in range(start, stop):
            if self.streams:
                yield self.data.batch(step, seed, self.device)
            else:
                idx = batch_indices(step, self.n, self.batch_size, seed, self.device)
                yield self._transformed(self.data.index_select(idx))

    def _transformed(self, inputs):
        """``transform`` applied to a batch of tensor data in the form the model takes it."""
        transform = self.options.transform
        if transform is None:
            return inputs
        if inputs.single:
            return as_inputs(transform(inputs.primary))
        return as_inputs(transform(dict(inputs.kwargs) if inputs.kwargs else inputs.args))

    def _optimize(self, step, xb) -> dict:
        """One optimizer step on the step's minibatch ``xb``; its history row. A NaN / inf term
        or gradient leaves the parameters as they were, saves, and raises TrainingDiverged."""
        factor = kl_scale(step, self.kl_warmup)
        lr_now = self.stepper.optimizer.param_groups[0]["lr"]
        if not self.checked_upfront:  # read or transformed now: checked now
            check_inputs(xb, f"train (step {step + 1}'s batch)")
        checked = data_already_validated() if self.checked_upfront else contextlib.nullcontext()
        try:
            with checked:
                row = self.stepper.step(
                    self.step_objective, self.model, self.guide, xb, self.n, kl_scale=factor
                )
        except NonFiniteStep as bad:
            result = self._result()
            self._save()
            checkpoint = self.options.checkpoint
            where = f"; checkpoint {checkpoint} holds it" if checkpoint else ""
            raise TrainingDiverged(
                f"training diverged at step {step + 1}: {bad}. The parameters "
                f"keep the state after step {step}{where}. Try a lower learning rate, a variance "
                "floor (min_variance) for Gaussian decoders, or a smaller divergence weight.",
                result,
            ) from None
        row = {"step": step + 1, **row, "lr": lr_now}
        if self.kl_warmup:
            row["kl_weight"] = factor * getattr(self.objective, "kl_weight", None)
        return row

    def _monitor(self, step, row):
        """After a step: the user's ``evaluate``, the validation loss (and the best state it
        selects), and the learning-rate schedule. Returns the keys ``evaluate`` added."""
        opts, done = self.options, step + 1
        last = done == self.total
        evaluated = ()
        if opts.evaluate is not None and (done % opts.evaluate_every == 0 or last):
            with torch.no_grad():
                numbers = opts.evaluate(done) or {}
            row.update(numbers)
            evaluated = tuple(numbers)
        if self.validation is not None and (done % self.validate_every == 0 or last):
            val = validation_loss(
                self.objective,
                self.model,
                self.guide,
                self.validation,
                opts.validation_batch_size,
                opts.seed + 1,
            )
            row["val_loss"] = val
            notify(opts.callbacks, "on_validation", done, {"valid/loss": float(val)})
            improved = self.state.record_validation(done, val, self.stepper)
            if improved and opts.checkpoint and opts.keeps_best:
                save_best(opts.checkpoint, self.state.best, self.settings, opts.config)
            if self.plateau:
                self.scheduler.step(val)
        if self.scheduler is not None and not self.plateau:
            if opts.scheduler_interval == "step" or done % self.per_epoch == 0:
                self.scheduler.step()
        return evaluated

    def _save(self):
        """The checkpoint (atomic) and the history JSON beside it, or at ``history_path``."""
        opts = self.options
        if opts.checkpoint:
            content = self.state.to_checkpoint(
                self.stepper, self.scheduler, opts.config, self.settings
            )
            save_checkpoint(opts.checkpoint, content)
        if opts.history_path or opts.checkpoint:
            path = opts.history_path or os.path.join(
                os.path.dirname(os.path.abspath(opts.checkpoint)), "history.json"
            )
            write_atomic(path, json.dumps(self.state.history).encode())

    def _result(self) -> TrainResult:
        opts, state = self.options, self.state
        result = TrainResult(
            history=state.history,
            steps=state.step,
            checkpoint=os.fspath(opts.checkpoint) if opts.checkpoint else None,
            param_names=list(self.stepper.names),
            stopped_early=state.stopped_early,
            out_of_time=getattr(self, "out_of_time", False),
        )
        if opts.keeps_best and opts.checkpoint:
            result.best_checkpoint = best_path(opts.checkpoint)
        if state.best is not None:  # for the record even when the parameters are not restored
            result.best_step, result.best_val_loss = state.best.step, state.best.val_loss
        return result

    def _finish(self) -> TrainResult:
        """Save the trajectory's state (a resumed longer run continues from here), then end
        with the best validation parameters when asked."""
        self._save()
        if self.state.best is not None and self.options.keeps_best:
            restore_params(self.stepper, self.state.best.params)
        return self._result()
