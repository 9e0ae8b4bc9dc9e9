"""Pure torch math shared by the objectives and diagnostics (no Pyro state)."""

from .kernels import imq_kernel, multiscale_kernel, rbf_kernel, resolve_kernel
from .mmd import gaussian_rbf_mmd2, mmd2, weighted_mmd2
from .stats import logmeanexp

__all__ = [
    "gaussian_rbf_mmd2",
    "imq_kernel",
    "logmeanexp",
    "mmd2",
    "multiscale_kernel",
    "rbf_kernel",
    "resolve_kernel",
    "weighted_mmd2",
]
