"""A user's own model for the command line: ``package.module:factory`` and its saved parameters.

``pyrovae diagnose --model mypackage.vaes:make_vae checkpoint.pt`` imports ``mypackage.vaes``
(from the current folder or the installed packages), calls ``make_vae()`` and takes the result's
``.model`` / ``.guide`` (or the ``(model, guide)`` pair it returns). The parameters come from

* a checkpoint of :func:`pyrovae.infer.train` (``train(..., checkpoint="run/checkpoint.pt")``):
  Pyro param-store entries, put into the store after one run of model and guide has created
  them;
* or a ``torch.save(module.state_dict(), path)`` of the module whose methods ``model`` /
  ``guide`` are (loaded with ``load_state_dict``, strict).

Files are loaded with ``weights_only=True``: only tensors, numbers and strings, never code.
"""

import importlib
import os
import sys

import pyro
import torch
from pyro import poutine

from ..checkpoint import FORMAT, load_checkpoint
from ..traces import unwrap
from .factory import copy_named_params
from .inputs import as_inputs

__all__ = ["load_user_model", "load_user_parameters"]


def load_user_model(spec: str):
    """``(model, guide)`` from ``"package.module:factory"`` (see the module docstring)."""
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"--model takes package.module:factory (a callable returning an object with "
            f".model and .guide, or a (model, guide) pair), got {spec!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a module in the folder the command runs from
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"cannot import {module_name!r} ({err}); run from the folder that holds it, or "
            "install its package"
        ) from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{module_name} has no callable {attr!r}")
    built = factory()
    if isinstance(built, tuple) and len(built) == 2 and all(map(callable, built)):
        return built
    model, guide = getattr(built, "model", None), getattr(built, "guide", None)
    if not (callable(model) and callable(guide)):
        raise ValueError(
            f"{spec}() returned {type(built).__name__}, which has no callable .model and "
            ".guide; return an object with both, or a (model, guide) pair"
        )
    return model, guide


def _owner_module(model, guide):
    for fn in (model, guide):
        owner = getattr(unwrap(fn), "__self__", None)
        if isinstance(owner, torch.nn.Module):
            return owner
    return None


def _load_tensors(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"cannot read {path} as saved tensors ({type(err).__name__}); give a checkpoint of "
            "pyrovae.infer.train or a torch.save(module.state_dict())"
        ) from err


def load_user_parameters(model, guide, path, data):
    """Load the parameters at ``path`` into the user's model / guide (see the module
    docstring); ``data`` (a few points, any form the model takes) runs them once to create
    their Pyro parameters. A checkpoint's entries replace Pyro's param store (it is cleared
    first: entries left from another model of the same names would otherwise shadow the new
    modules' parameters). Returns which kind of file it was."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no parameter file at {path}")
    state = _load_tensors(path)
    if isinstance(state, dict) and state.get("format") == FORMAT:
        params, kind = load_checkpoint(path)["params"], "checkpoint"
    elif isinstance(state, dict) and all(torch.is_tensor(v) for v in state.values()) and state:
        owner = _owner_module(model, guide)
        if owner is None:
            raise ValueError(
                f"{path} is a state dict, but model / guide are not methods of an nn.Module to "
                "load it into; save a checkpoint with pyrovae.infer.train(..., checkpoint=) "
                "instead"
            )
        try:
            owner.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise ValueError(
                f"{path} does not fit {type(owner).__name__}: {first}; build the model with "
                "the architecture it was saved from"
            ) from None
        return "state dict"
    else:
        raise ValueError(f"{path} is neither a checkpoint of pyrovae.infer.train nor a state dict")
    pyro.clear_param_store()
    _create_parameters(model, guide, data)
    store = dict(pyro.get_param_store().named_parameters())
    copy_named_params(store, params, path, "was it saved from this model?")
    return kind


def _create_parameters(model, guide, data):
    inputs = as_inputs(data)
    with torch.no_grad(), poutine.trace(param_only=True):
        inputs.call(poutine.trace(guide).get_trace)
        inputs.call(poutine.trace(model).get_trace)
