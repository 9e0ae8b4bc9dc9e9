"""The training loop: SVI with Adam on minibatches, per-term history, checkpoints, NaN guard.

Each step evaluates ``objective.loss_and_grads(model, guide, batch, num_data=N)`` under a Pyro
param capture (as ``pyro.infer.SVI`` does) and steps one ``torch.optim.Adam`` over every parameter
the step touched (new parameters, e.g. a discriminator built on first use, join as they appear).
"""

import json
import math
import os
import warnings
from dataclasses import dataclass, field

import pyro
import torch
from pyro import poutine
from tqdm.auto import tqdm

from ..arguments import check_count, check_data, check_weight
from ..checkpoint import load_checkpoint, save_checkpoint, write_atomic
from ..models.contract import data_already_validated
from ._objective import EXTENSIVE_TERMS
from .beta_vae import EvidenceLowerBound


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

    def last(self, key="loss"):
        return self.history[-1][key] if self.history else float("nan")


def validate_data(data, model=None):
    """``ValueError`` naming the fix for data that cannot be trained on."""
    check_data(data, "train", min_dim=2)
    owner = getattr(model, "__self__", None)
    if hasattr(owner, "validate_data"):
        owner.validate_data(data)


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
    owner = getattr(fn, "__self__", None)
    return owner if isinstance(owner, torch.nn.Module) else None


def _to_device(fn, device):
    owner = _owner_module(fn)
    if owner is not None:
        owner.to(device)


def _rng_state():
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class NonFiniteStep(FloatingPointError):
    """Raised by :meth:`SVIStepper.step` before any update when ``term`` is NaN / inf."""

    def __init__(self, term, detail=None):
        super().__init__(
            f"{term} is not finite" + (f" or outside its support: {detail}" if detail else "")
        )
        self.term = term


class SVIStepper:
    """One training step as :func:`train` runs it: loss and gradients under a Pyro param capture,
    the NaN / inf guard, then Adam. Parameters join the optimizer as they first appear, in order.

    ``step`` returns the history row (data-set sums divided by N) or raises
    :class:`NonFiniteStep` *without* updating the parameters.
    """

    def __init__(self, lr=1e-3, optim_args=None):
        self.lr, self.optim_args = lr, dict(optim_args or {})
        self.names, self.params, self.optimizer = [], [], None
        self._known = set()
        self._store_size = -1

    def register(self, named_params):
        new = []
        for name, p in named_params:
            if name not in self._known:
                self._known.add(name)
                self.names.append(name)
                self.params.append(p)
                new.append(p)
        if new:
            if self.optimizer is None:
                options = {"foreach": True, **self.optim_args}  # one kernel per op, not per tensor
                self.optimizer = torch.optim.Adam(new, lr=self.lr, **options)
            else:
                self.optimizer.add_param_group({"params": new})

    def capture(self, trace):
        self.register(
            (name, site["value"].unconstrained())
            for name, site in trace.nodes.items()
            if site["type"] == "param"
        )

    def step(self, objective, model, guide, batch, num_data):
        # Parameters are captured (as SVI does) until the param store stops growing: after that
        # every parameter the step touches is already known, and tracing param sites is skipped.
        store_size = len(pyro.get_param_store())
        try:
            if self.optimizer is None or store_size != self._store_size:
                with poutine.trace(param_only=True) as capture:
                    loss = objective.loss_and_grads(model, guide, batch, num_data=num_data)
                self.capture(capture.trace)
                self._store_size = len(pyro.get_param_store())
            else:
                loss = objective.loss_and_grads(model, guide, batch, num_data=num_data)
        except ValueError as err:
            # with Pyro validation on, a NaN / inf / out-of-support parameter makes a
            # distribution's constructor raise before any loss exists: that is divergence too
            if not _is_constraint_violation(err):
                raise
            if self.optimizer is not None:
                self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteStep("a distribution parameter", _first_line(err)) from err
        if self.optimizer is None:
            raise ValueError(
                "the model and guide touched no Pyro parameters, so there is nothing to train: "
                "register nn.Modules with pyro.module(name, net) inside model/guide, and decorate "
                "PyroModule methods other than forward with @pyro.nn.pyro_method"
            )
        terms = dict(getattr(objective, "last_terms", {}) or {})
        num = float(terms.pop("num_data", num_data))
        keys = list(terms)
        # one device-to-host transfer for every term and the gradient norm
        values = torch.stack(
            [torch.as_tensor(terms[k]).detach().double().cpu().reshape(()) for k in keys]
            + [_grad_norm(self.params).double().cpu()]
        ).tolist()
        # name the first bad term (log_likelihood, kl, ...) before the loss they sum to
        named = [(k, v) for k, v in zip(keys, values[:-1], strict=True) if k != "loss"]
        named += [("loss", loss), ("gradient norm", values[-1])]
        bad = next((k for k, v in named if not math.isfinite(v)), None)
        if bad is not None:
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteStep(bad)
        extensive = getattr(objective, "extensive_terms", EXTENSIVE_TERMS)
        row = {"loss": loss / num}
        row.update(
            {
                k: v / num if k in extensive else v
                for k, v in zip(keys, values[:-1], strict=True)
                if k != "loss"
            }
        )
        row["grad_norm"] = values[-1]
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return row


def _is_constraint_violation(err) -> bool:
    text = str(err)
    return "to satisfy the constraint" in text or "Expected value argument" in text


def _first_line(err) -> str:
    return str(err).strip().splitlines()[0][:300]


def _grad_norm(params):
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.stack(torch._foreach_norm(grads)).norm()


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
) -> TrainResult:
    """Train ``model`` / ``guide`` (the :mod:`pyrovae.models.contract`) on ``data`` (N, ...).

    :param objective: a pyrovae objective (default :class:`~pyrovae.infer.ELBO`) or any
        ``pyro.infer.ELBO`` (then only the loss is recorded).
    :param steps: number of optimizer steps; or ``epochs`` (passes over the data set).
    :param batch_size: minibatch size B; the data plate scales by N / B.
    :param device: move data (and the modules owning ``model`` / ``guide``) there;
        default: the data's device.
    :param seed: seeds Pyro / torch and the minibatch order.
    :param checkpoint: path of a checkpoint written atomically every ``checkpoint_every`` steps
        and at the end; with ``resume=True`` training continues from it when it exists.
    :param history_path: where to write the history as JSON (also written next to a checkpoint).
    :param clear_param_store: clear Pyro's global param store first (a stale store silently
        trains old weights; on resume the checkpoint then provides every value).
    :param evaluate: optional ``evaluate(step) -> dict`` called (under ``torch.no_grad``) after
        every ``evaluate_every`` steps and after the last; its numbers join that step's history row
        (e.g. MMD(q(z), p(z)) on held-out data against iteration).
    :raises TrainingDiverged: a term or gradient is NaN / inf; parameters keep the last good state.
    :returns: :class:`TrainResult` with one history row per step, terms in nats per data point.
    """
    validate_data(data, model)
    n = data.shape[0]
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps= or epochs=")
    batch_size = min(check_count("batch_size", batch_size), n)
    if steps is not None:
        total = check_count("steps", steps, minimum=0)
    else:
        total = check_count("epochs", epochs, minimum=0) * max(n // batch_size, 1)
    check_weight("lr", lr, strict=True)
    if checkpoint_every is not None:
        checkpoint_every = check_count("checkpoint_every", checkpoint_every)
    if evaluate is not None and not (callable(evaluate) and int(evaluate_every) >= 1):
        raise ValueError(
            "evaluate must be a callable evaluate(step) -> dict and evaluate_every ≥ 1"
        )
    device = torch.device(device) if device is not None else data.device
    data = data.to(device=device, dtype=_parameter_dtype(model, guide, data.dtype))
    for fn in (model, guide):
        _to_device(fn, device)
    objective = objective if objective is not None else EvidenceLowerBound()
    if clear_param_store and hasattr(objective, "reset"):
        objective.reset()  # a fresh start: forget e.g. a discriminator of an earlier run
    settings = {
        "objective": _describe_objective(objective),
        "batch_size": batch_size,
        "seed": int(seed),
        "lr": float(lr),
    }

    pyro.set_rng_seed(seed)
    if clear_param_store:
        pyro.clear_param_store()
    stepper = SVIStepper(lr, optim_args)
    result = TrainResult(checkpoint=os.fspath(checkpoint) if checkpoint else None)
    start = 0
    if resume and checkpoint and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint, map_location=device)
        _check_resume(checkpoint, state, total, settings)
        start = _resume(
            checkpoint, state, stepper, objective, model, guide, data[:batch_size], n, result
        )

    def save(step):
        if checkpoint:
            state = {
                "step": step,
                "param_names": list(stepper.names),
                "params": {
                    k: p.detach().cpu() for k, p in zip(stepper.names, stepper.params, strict=True)
                },
                "optimizer": stepper.optimizer.state_dict() if stepper.optimizer else {},
                "history": result.history,
                "rng": _rng_state(),
                "config": config or {},
                "settings": settings,
            }
            save_checkpoint(checkpoint, state)
        if history_path or checkpoint:
            path = history_path or os.path.join(
                os.path.dirname(os.path.abspath(checkpoint)), "history.json"
            )
            write_atomic(path, json.dumps(result.history).encode())

    bar = tqdm(
        range(start, total), disable=not progress, desc=type(objective).__name__, leave=False
    )
    for step in bar:
        idx = _batch_indices(step, n, batch_size, seed, device)
        xb = data.index_select(0, idx)
        try:
            with data_already_validated():  # validate_data checked every point above
                row = {"step": step + 1, **stepper.step(objective, model, guide, xb, n)}
        except NonFiniteStep as bad:
            result.steps = step
            save(step)
            where = f"; checkpoint {checkpoint} holds it" if checkpoint else ""
            raise TrainingDiverged(
                f"training diverged at step {step + 1}: {bad}. The parameters "
                f"keep the state after step {step}{where}. Try a lower learning rate, a variance "
                "floor (min_variance) for Gaussian decoders, or a smaller divergence weight.",
                result,
            ) from None
        if evaluate is not None and ((step + 1) % int(evaluate_every) == 0 or step + 1 == total):
            with torch.no_grad():
                row.update(evaluate(step + 1) or {})
        result.history.append(row)
        if progress and (step % 50 == 0 or step == total - 1):
            bar.set_postfix(loss=f"{row['loss']:.3f}")
        if checkpoint_every and (step + 1) % checkpoint_every == 0:
            result.steps = step + 1
            save(step + 1)
    result.steps = total
    result.param_names = list(stepper.names)
    save(total)
    return result


def _parameter_dtype(model, guide, data_dtype):
    """The floating dtype of the modules owning model / guide (data are converted to it: a
    float64 data set against a float32 network would fail deep inside a matmul)."""
    for fn in (model, guide):
        owner = _owner_module(fn)
        for p in owner.parameters() if owner is not None else ():
            if torch.is_floating_point(p):
                return p.dtype
    return data_dtype


# attributes of an objective that do not change what it optimizes
_NOT_SETTINGS = {
    "ignore_jit_warnings",
    "max_plate_nesting",
    "strict_enumeration_warning",
    "tail_adaptive_beta",
    "plate_name",
}


def _describe_objective(objective) -> str:
    """The objective's class and its numeric settings, e.g. ``InfoVAE(alpha=0.0, lam=1000.0)``."""
    fields = {
        k: v
        for k, v in sorted(vars(objective).items())
        if isinstance(v, (int, float, str, bool))
        and not k.startswith("_")
        and k not in _NOT_SETTINGS
    }
    return f"{type(objective).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def _check_resume(path, state, total, settings):
    """Refuse a checkpoint past the requested end; warn about settings that changed."""
    start = int(state["step"])
    if start > total:
        raise ValueError(
            f"checkpoint {path} is at step {start}, past the requested end ({total} steps): "
            f"ask for at least {start} steps (or epochs to match), or start a new checkpoint"
        )
    saved = state.get("settings", {})
    changed = [
        f"{key} {saved[key]!r} -> {value!r}"
        for key, value in settings.items()
        if key in saved and saved[key] != value
    ]
    if changed:
        warnings.warn(
            f"resuming {path} with changed settings: {'; '.join(changed)}. The run continues with "
            "the new ones (a changed seed also changes the minibatch order).",
            UserWarning,
            stacklevel=3,
        )


def _resume(path, state, stepper, objective, model, guide, first_batch, n, result):
    """Load ``state`` into the param store, the optimizer (at the run's current lr), the RNG and
    the history; returns the step it holds."""
    with poutine.trace(param_only=True) as capture:
        objective.loss(model, guide, first_batch, num_data=n)  # creates the parameters
    store = dict(pyro.get_param_store().named_parameters())
    missing = [k for k in state["param_names"] if k not in store]
    if missing:
        raise ValueError(
            f"checkpoint {path} has parameters the model does not create: {missing[:5]}"
        )
    for name in state["param_names"]:
        if store[name].shape != state["params"][name].shape:
            raise ValueError(
                f"checkpoint {path} does not fit this model: parameter {name!r} has shape "
                f"{tuple(state['params'][name].shape)} there and {tuple(store[name].shape)} here; "
                "build the model with the checkpoint's architecture, or start a new checkpoint"
            )
    with torch.no_grad():
        for name in state["param_names"]:
            store[name].copy_(state["params"][name])
    # the checkpoint's order first, so the optimizer state lines up with the parameters
    stepper.register((name, store[name]) for name in state["param_names"])
    stepper.capture(capture.trace)
    if state["optimizer"]:
        stepper.optimizer.load_state_dict(state["optimizer"])
        for group in stepper.optimizer.param_groups:
            group["lr"] = stepper.lr  # a new lr applies; the checkpoint's would win otherwise
    _set_rng_state(state["rng"])
    result.history = list(state["history"])
    return int(state["step"])
