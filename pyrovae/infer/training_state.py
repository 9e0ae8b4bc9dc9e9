"""What a training checkpoint holds and how a run resumes from it.

A checkpoint is the run's trajectory at a step: parameters, optimizer and scheduler state, the
random state, the history, and the model-selection state (the best validation parameters and how
many validations have passed since). Resuming from it continues exactly as the uninterrupted run
would have (same minibatches, same noise, same KL warm-up factor, same early stop).
"""

import math
import os
import warnings
from dataclasses import dataclass, field

import pyro
import torch
from pyro import poutine

from ..checkpoint import save_checkpoint
from ..provenance import versions
from .stepper import evaluate_objective


@dataclass
class BestState:
    """The parameters at the best validation loss so far."""

    step: int
    val_loss: float
    params: dict  # name -> detached CPU-or-device tensor

    def as_dict(self):
        return {
            "step": self.step,
            "val_loss": self.val_loss,
            "params": {k: v.detach().cpu() for k, v in self.params.items()},
        }


def best_path(checkpoint) -> str:
    """``run.pt`` -> ``run.best.pt``: where the best validation parameters are kept."""
    root, ext = os.path.splitext(os.fspath(checkpoint))
    return f"{root}.best{ext or '.pt'}"


def snapshot(stepper):
    """Detached copies of the optimizer's parameters by name (the best validation state)."""
    return {k: p.detach().clone() for k, p in zip(stepper.names, stepper.params, strict=True)}


def restore_params(stepper, params):
    """Copy saved values into the live parameters (those the snapshot has)."""
    with torch.no_grad():
        for name, p in zip(stepper.names, stepper.params, strict=True):
            if name in params:
                p.copy_(params[name].to(p.device))


def rng_state():
    """torch's random state (and CUDA's, when available), for a checkpoint."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore a random state saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainingState:
    """Where a run is: the steps done, the history, and the model selection (the best
    validation state, the validations passed since, whether patience ran out).

    The checkpoint format lives here alone: :meth:`to_checkpoint` writes it and
    :meth:`from_checkpoint` reads it back (with :func:`load_parameters` for the parameters,
    optimizer and random state, and :func:`check_resume` for what must agree)."""

    step: int = 0
    history: list = field(default_factory=list)
    best: BestState | None = None
    since_best: int = 0
    stopped_early: bool = False

    def record_validation(self, step, val_loss, stepper) -> bool:
        """Count one validation; a finite loss below the best so far becomes the best (its
        parameters snapshotted). Returns whether it did."""
        if math.isfinite(val_loss) and (self.best is None or val_loss < self.best.val_loss):
            self.best, self.since_best = BestState(step, val_loss, snapshot(stepper)), 0
            return True
        self.since_best += 1
        return False

    def to_checkpoint(self, stepper, scheduler, config, settings) -> dict:
        """The content of a training checkpoint: the step, the parameters in the optimizer's
        order, the optimizer's and scheduler's state, the model selection, the history, the
        random state, the model ``config``, the training ``settings`` (data hash included) and
        the library versions."""
        return {
            "step": self.step,
            "param_names": list(stepper.names),
            "params": {
                k: p.detach().cpu() for k, p in zip(stepper.names, stepper.params, strict=True)
            },
            "optimizer": stepper.optimizer.state_dict() if stepper.optimizer else {},
            "scheduler": scheduler.state_dict() if scheduler is not None else {},
            "selection": {
                "best": self.best.as_dict() if self.best is not None else {},
                "since_best": self.since_best,
                "stopped_early": self.stopped_early,
            },
            "history": self.history,
            "rng": rng_state(),
            "config": config or {},
            "provenance": versions(),
            "settings": settings,
        }

    @classmethod
    def from_checkpoint(cls, state) -> "TrainingState":
        """The run's position in a checkpoint written by :meth:`to_checkpoint`."""
        selection = state.get("selection") or {}
        saved = selection.get("best")
        best = BestState(saved["step"], saved["val_loss"], saved["params"]) if saved else None
        return cls(
            step=int(state["step"]),
            history=list(state["history"]),
            best=best,
            since_best=int(selection.get("since_best", 0)),
            stopped_early=bool(selection.get("stopped_early", False)),
        )


def save_best(checkpoint, best, settings, config):
    """The ``best`` checkpoint beside ``checkpoint`` (atomic; ``weights_only=True`` loadable)."""
    state = best.as_dict()
    save_checkpoint(
        best_path(checkpoint),
        {
            "step": state["step"],
            "val_loss": state["val_loss"],
            "param_names": list(state["params"]),
            "params": state["params"],
            "settings": settings,
            "config": config or {},
        },
    )


# attributes of an objective that do not change what it optimizes
_NOT_SETTINGS = {
    "ignore_jit_warnings",
    "max_plate_nesting",
    "strict_enumeration_warning",
    "tail_adaptive_beta",
    "plate_name",
}


def describe_objective(objective) -> str:
    """The objective's class and its numeric settings, e.g. ``InfoVAE(alpha=0.0, lam=1000.0)``."""
    fields = {
        k: v
        for k, v in sorted(vars(objective).items())
        if isinstance(v, (int, float, str, bool))
        and not k.startswith("_")
        and k not in _NOT_SETTINGS
    }
    return f"{type(objective).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def check_resume(path, state, total, settings, config=None, other_data=False):
    """Refuse a checkpoint past the requested end, of other data (content hash; with
    ``other_data=True`` a warning instead) or of another model (the ``model`` entry of
    ``config``: e.g. a Gaussian likelihood resumed as Bernoulli); warn about settings that
    changed (learning rate, batch size, objective, ...).

    :returns: the content hashes of the data the checkpoint was trained on before the current
        ones (earliest first; empty when it always saw the same data), for the caller to keep in
        ``settings["previous_data_sha256"]``."""
    start = int(state["step"])
    if start > total:
        raise ValueError(
            f"checkpoint {path} is at step {start}, past the requested end ({total} steps): "
            f"ask for at least {start} steps (or epochs to match), or start a new checkpoint"
        )
    saved = state.get("settings", {})
    old_data, new_data = saved.get("data_sha256"), settings.get("data_sha256")
    previous = list(saved.get("previous_data_sha256", []))
    if old_data is not None and new_data is not None and old_data != new_data:
        what = (
            f"checkpoint {path} was trained on other data (content hash {old_data[:12]}…, "
            f"now {new_data[:12]}…: another data set, split, limit or order)"
        )
        if not other_data:
            raise ValueError(
                f"{what}; resume it on the same data, start a new checkpoint (another --out), "
                "or continue on these data on purpose (fine-tuning) with resume='other-data' "
                "(pyrovae train --resume --force)"
            )
        warnings.warn(
            f"{what}: continuing on the new data as asked; the checkpoint keeps the earlier "
            "hashes under settings['previous_data_sha256']",
            UserWarning,
            stacklevel=3,
        )
        previous.append(old_data)
    old_model = (state.get("config") or {}).get("model")
    new_model = (config or {}).get("model")
    if old_model is not None and new_model is not None and old_model != new_model:
        differs = sorted(set(old_model) | set(new_model))
        listed = ", ".join(
            f"{k}: {old_model.get(k)!r} there, {new_model.get(k)!r} here"
            for k in differs
            if old_model.get(k) != new_model.get(k)
        )
        raise ValueError(
            f"checkpoint {path} holds another model ({listed}); resume with the checkpoint's "
            "model settings, or start a new checkpoint (another --out)"
        )
    changed = [
        f"{key} {saved[key]!r} -> {value!r}"
        for key, value in settings.items()
        if key in saved and saved[key] != value and key != "data_sha256"
    ]
    if changed:
        warnings.warn(
            f"resuming {path} with changed settings: {'; '.join(changed)}. The run continues with "
            "the new ones (a changed seed also changes the minibatch order).",
            UserWarning,
            stacklevel=3,
        )
    return previous


def create_parameters(objective, model, guide, first_batch, n, devices):
    """Run the objective once (no gradient, on a forked random stream, so training's noise is
    unchanged) to create every parameter before step 1 (a learning-rate scheduler needs the
    optimizer); returns the param-site trace, in the order the parameters were touched."""
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        with poutine.trace(param_only=True) as capture:
            evaluate_objective(objective, model, guide, first_batch, n, backward=False)
    return capture.trace


def load_parameters(path, state, stepper):
    """Put a checkpoint's parameters into the param store and register them with the optimizer
    in the checkpoint's order (its optimizer state lines up with it), then load that state."""
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
    names = list(state["param_names"])
    groups = [len(g["params"]) for g in state["optimizer"].get("param_groups", [])]
    if sum(groups) != len(names):
        groups = [len(names)]
    for size in groups:  # the saved optimizer's parameter groups, in order
        stepper.register((name, store[name]) for name in names[:size])
        names = names[size:]
    if state["optimizer"]:
        stepper.optimizer.load_state_dict(state["optimizer"])
        for group in stepper.optimizer.param_groups:
            group["lr"] = stepper.lr  # a new lr applies; the checkpoint's would win otherwise
    set_rng_state(state["rng"])
