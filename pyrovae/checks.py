"""Argument checks shared by the objectives and the training loop: one clear ``ValueError`` each,
naming the argument and the fix, before any work is done."""

import argparse
import dataclasses
import math
import numbers
import os

import torch

__all__ = [
    "FINITE",
    "NON_NEGATIVE",
    "OPEN_UNIT",
    "POSITIVE",
    "UNIT",
    "Bound",
    "check_count",
    "check_data",
    "check_fits_in_memory",
    "check_inputs",
    "check_probability",
    "check_weight",
    "physical_memory_bytes",
]


def check_count(name: str, value, minimum: int = 1) -> int:
    """An integer ≥ ``minimum``; refuses bools, fractions (2.5 is not silently truncated), NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif math.isfinite(value) and float(value).is_integer():
        number = int(value)
    else:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    if number < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {number}")
    return number


def check_weight(name: str, value, minimum: float = 0.0, strict: bool = False) -> float:
    """A finite real ≥ ``minimum`` (> when ``strict``): an infinite weight makes every loss inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '≥'} {minimum:g}, got {value:g}")
    return value


def check_probability(name: str, value) -> float:
    """A number strictly between 0 and 1 (an acceptance-rate target, say)."""
    value = check_weight(name, value, strict=True)
    if not value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value:g}")
    return value


def check_data(x, what: str = "data", min_dim: int = 1):
    """``x`` must be a non-empty floating tensor with data points along dim 0 (at least
    ``min_dim`` dimensions), without NaN / inf; otherwise one ``ValueError`` naming the fix."""
    if not torch.is_tensor(x):
        raise ValueError(
            f"{what}: x must be a torch.Tensor of shape (N, ...), got {type(x).__name__}; "
            "use torch.as_tensor(x, dtype=torch.float32)"
        )
    if x.dim() < min_dim:
        raise ValueError(
            f"{what}: x must have shape (N, ...) with data points along dim 0, got "
            f"{tuple(x.shape)}; use x.reshape(N, -1) (or x[:, None] for scalars)"
        )
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{what}: x is empty (no data points; shape {tuple(x.shape)})")
    if not torch.is_floating_point(x):
        raise ValueError(f"{what}: x must be floating point, got {x.dtype}; use x.float()")
    if not torch.isfinite(x).all():
        bad = (~torch.isfinite(x)).reshape(x.shape[0], -1).any(-1).nonzero()[:5, 0].tolist()
        raise ValueError(
            f"{what}: x contains NaN or inf (first bad rows: {bad}); clean or drop them"
        )


def check_inputs(inputs, what="train"):
    """``ValueError`` naming the fix for model inputs (:class:`pyrovae.models.inputs.Inputs`)
    that cannot be used: the first tensor (the observations) floating with points along dim 0;
    no floating tensor with NaN / inf."""
    check_data(inputs.primary, what, min_dim=2 if inputs.single else 1)
    for label, tensor in inputs.tensors().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{what}: input {label} contains NaN or inf; clean or drop those rows")


class Bound:
    """A named constraint on a real number (or on every number of a tuple), declared once and
    used three ways: :meth:`check` in library code, :meth:`argparse_type` for a command-line
    flag, and :meth:`field` beside an experiment's ``Config`` field, where ``--set`` checks it
    and the settings listing shows it. Every bound implies finiteness."""

    def __init__(self, text, test):
        self.text, self.test = text, test

    def _words(self):
        return f"a finite number {self.text}".strip()

    def __repr__(self):
        return f"Bound({self.text!r})"

    def check(self, name, value):
        """``value`` (a number, or a possibly nested tuple / list of numbers) if every number
        is finite and passes; else one ``ValueError`` naming ``name`` and the bound."""
        if isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                self.check(f"{name}[{i}]", item)
            return value
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be {self._words()}, got {value!r}")
        if not math.isfinite(value) or not self.test(value):
            raise ValueError(f"{name} must be {self._words()}, got {value!r}")
        return value

    def argparse_type(self, text):
        """For ``add_argument(type=BOUND.argparse_type)``: the float, or argparse's error."""
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number {self.text}, got {text!r}"
            ) from None
        try:
            return self.check("the value", value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    def field(self, default):
        """A dataclass field with this bound in its metadata:
        ``lr: float = POSITIVE.field(1e-3)``."""
        self.check("the default", default)
        return dataclasses.field(default=default, metadata={"bound": self})


FINITE = Bound("", lambda v: True)
POSITIVE = Bound("> 0", lambda v: v > 0)
NON_NEGATIVE = Bound("≥ 0", lambda v: v >= 0)
OPEN_UNIT = Bound("in (0, 1)", lambda v: 0 < v < 1)
UNIT = Bound("in [0, 1]", lambda v: 0 <= v <= 1)


def physical_memory_bytes():
    """This machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(what, nbytes, fix):
    """Refuse work whose tensors alone would exceed this machine's physical memory (a size
    typed with too many zeros), before anything is allocated or written."""
    total = physical_memory_bytes()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{what} needs about {nbytes / 2**30:.3g} GiB, more than this machine's "
            f"{total / 2**30:.3g} GiB of memory; {fix}"
        )
