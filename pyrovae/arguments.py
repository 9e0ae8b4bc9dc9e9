"""Argument checks shared by the objectives and the training loop: one clear ``ValueError`` each,
naming the argument and the fix, before any work is done."""

import math
import numbers


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
