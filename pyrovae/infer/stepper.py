"""One training step: the objective's record, the NaN / inf guard, then Adam."""

import math

import pyro
import torch
from pyro import poutine

from ..models.inputs import as_inputs
from .record import ObjectiveRecord


class NonFiniteStep(FloatingPointError):
    """Raised by :meth:`~pyrovae.infer.stepper.SVIStepper.step` before any update when ``term``
    is NaN / inf."""

    def __init__(self, term, detail=None):
        super().__init__(
            f"{term} is not finite" + (f" or outside its support: {detail}" if detail else "")
        )
        self.term = term


def evaluate_objective(objective, model, guide, batch, num_data, kl_scale=1.0, backward=True):
    """The objective's :class:`~pyrovae.infer.record.ObjectiveRecord` on a minibatch (a tensor
    or :class:`~pyrovae.models.inputs.Inputs`), its surrogate backpropagated when ``backward``.
    Any other ``pyro.infer.ELBO`` runs its own ``loss_and_grads`` (or ``loss``) and records the
    loss alone; ``model`` / ``guide`` must then take ``num_data`` (:func:`pyrovae.traces.adapt`)."""
    batch = as_inputs(batch)
    if hasattr(objective, "evaluate"):
        record = objective.evaluate(
            model, guide, batch.args, {**batch.kwargs, "num_data": num_data}, kl_scale=kl_scale
        )
        if backward and record.surrogate.requires_grad:
            record.surrogate.backward()
        return record
    run = objective.loss_and_grads if backward else objective.loss
    loss = torch.as_tensor(float(run(model, guide, *batch.args, num_data=num_data, **batch.kwargs)))
    return ObjectiveRecord(loss=loss, surrogate=loss, terms={}, num_data=float(num_data))


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
                options = dict(self.optim_args)
                if "fused" not in options and "foreach" not in options and _fusable(new):
                    # one fused kernel per parameter: on the CPU torch's default per-tensor
                    # loop cost 2.65 ms per step of the 784-400-20 VAE, fused Adam 0.62 ms
                    options["fused"] = True
                self.optimizer = torch.optim.Adam(new, lr=self.lr, **options)
            else:
                self.optimizer.add_param_group({"params": new})

    def check_has_parameters(self):
        if self.optimizer is None:
            raise ValueError(
                "the model and guide touched no Pyro parameters, so there is nothing to train: "
                "register nn.Modules with pyro.module(name, net) inside model/guide, and decorate "
                "PyroModule methods other than forward with @pyro.nn.pyro_method"
            )

    def capture(self, trace):
        """Register the parameters of a param-site trace (and note the param store's size)."""
        self.register(
            (name, site["value"].unconstrained())
            for name, site in trace.nodes.items()
            if site["type"] == "param"
        )
        self._store_size = len(pyro.get_param_store())

    def step(self, objective, model, guide, batch, num_data, kl_scale=1.0):
        # Parameters are captured (as SVI does) until the param store stops growing: after that
        # every parameter the step touches is already known, and tracing param sites is skipped.
        store_size = len(pyro.get_param_store())
        try:
            if self.optimizer is None or store_size != self._store_size:
                with poutine.trace(param_only=True) as capture:
                    record = evaluate_objective(objective, model, guide, batch, num_data, kl_scale)
                self.capture(capture.trace)
            else:
                record = evaluate_objective(objective, model, guide, batch, num_data, kl_scale)
        except ValueError as err:
            # with Pyro validation on, a NaN / inf / out-of-support parameter makes a
            # distribution's constructor raise before any loss exists: that is divergence too
            if not _is_constraint_violation(err):
                raise
            if self.optimizer is not None:
                self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteStep("a distribution parameter", _first_line(err)) from err
        self.check_has_parameters()
        num = record.num_data if math.isfinite(record.num_data) else float(num_data)
        keys = list(record.terms)
        values = host_values(
            [record.loss] + [record.terms[k] for k in keys] + [_grad_norm(self.params)]
        )
        loss, term_values, grad_norm = values[0], values[1:-1], values[-1]
        # name the first bad term (log_likelihood, kl, ...) before the loss they sum to
        named = list(zip(keys, term_values, strict=True))
        named += [("loss", loss), ("gradient norm", grad_norm)]
        bad = next((k for k, v in named if not math.isfinite(v)), None)
        if bad is not None:
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteStep(bad)
        row = {"loss": loss / num}
        row.update(
            {
                k: v / num if k in record.extensive else v
                for k, v in zip(keys, term_values, strict=True)
            }
        )
        row["grad_norm"] = grad_norm
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return row


def _fusable(params) -> bool:
    """Whether torch's fused Adam takes these parameters: floating point, all on one CPU or
    CUDA device (the devices torch ships fused kernels for)."""
    devices = {p.device for p in params}
    return (
        len(devices) == 1
        and next(iter(devices)).type in ("cpu", "cuda")
        and all(torch.is_floating_point(p) for p in params)
    )


def _is_constraint_violation(err) -> bool:
    text = str(err)
    return "to satisfy the constraint" in text or "Expected value argument" in text


def _first_line(err) -> str:
    return str(err).strip().splitlines()[0][:300]


def host_values(items) -> list:
    """``items`` (numbers and one-element tensors) as Python floats, with one device-to-host
    transfer per device: the tensors are stacked where they live and read at once (on CUDA
    every separate read would wait for the GPU)."""
    values = [None if torch.is_tensor(v) else float(v) for v in items]
    by_device = {}
    for i, v in enumerate(items):
        if torch.is_tensor(v):
            by_device.setdefault(v.device, []).append(i)
    for where in by_device.values():
        stacked = torch.stack([items[i].detach().reshape(()).double() for i in where])
        for i, value in zip(where, stacked.cpu().tolist(), strict=True):
            values[i] = value
    return values


def _grad_norm(params):
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.stack(torch._foreach_norm(grads)).norm()
