"""Input checks shared by the reference posteriors: a clear ``ValueError`` before any work."""

import warnings

import torch

from ..arguments import check_count

__all__ = ["check_count", "check_data", "warn_if_large"]

LARGE_BYTES = 1 << 30


def check_data(x, what: str):
    """``x`` must be a non-empty floating tensor of data points along dim 0, without NaN / inf."""
    if not torch.is_tensor(x):
        raise ValueError(f"{what} needs x as a torch.Tensor (N, ...), got {type(x).__name__}")
    if x.dim() == 0 or x.shape[0] == 0:
        raise ValueError(f"{what} got no data points (x of shape {tuple(x.shape)})")
    if not torch.is_floating_point(x):
        raise ValueError(f"{what} needs floating-point x, got {x.dtype}; use x.float()")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what}: x contains NaN or inf; clean or drop those data points")


def warn_if_large(num_bytes: int, what: str, knob: str):
    """A ``ResourceWarning`` when a result would hold more than 1 GiB."""
    if num_bytes > LARGE_BYTES:
        warnings.warn(
            f"{what} will hold about {num_bytes / 2**30:.1f} GiB in memory; reduce the {knob} "
            "(or pass fewer data points per call)",
            ResourceWarning,
            stacklevel=3,
        )
