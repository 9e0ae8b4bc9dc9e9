"""Argument checks shared by the objectives and the training loop: one clear ``ValueError`` each,
naming the argument and the fix, before any work is done."""

import math
import numbers

import torch


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
