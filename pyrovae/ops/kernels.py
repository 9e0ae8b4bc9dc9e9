r"""Positive-definite kernels on latent codes, for MMD and Stein divergences.

Every kernel takes ``x`` of shape (n, d) and ``y`` of shape (m, d) and returns the (n, m) Gram
matrix. Bandwidth conventions (``d`` is the latent dimension):

* ``"dim"`` (default): :math:`k(z, z') = \exp(-\|z - z'\|^2 / (2d))`, i.e. a Gaussian kernel of
  squared width :math:`h^2 = d`. Two independent draws of :math:`N(0, I_d)` are :math:`2d` apart in
  squared distance on average, so the kernel stays informative as ``d`` grows (the choice of
  Tolstikhin et al. 2018, WAE, :math:`2h^2 = 2d\sigma_p^2` with :math:`\sigma_p = 1`).
* ``"infovae"``: :math:`k(z, z') = \exp(-\|z - z'\|^2 / d^2)`, the convention of the InfoVAE
  authors' code (the mean squared difference over dimensions divided by ``d``).
* ``"median"``: :math:`2h^2 = \mathrm{median}\|z - z'\|^2 / \log(n + 1)` over the pooled sample
  (Liu & Wang 2016, SVGD); data dependent and treated as a constant (no gradient).
* a positive float ``h``: :math:`k(z, z') = \exp(-\|z - z'\|^2 / (2h^2))`.

The IMQ kernel is :math:`k(z, z') = C / (C + \|z - z'\|^2)` with :math:`C = 2d` by default
(WAE's choice); the multi-scale kernel sums a base kernel over scales
:math:`s \in \{0.1, 0.2, 0.5, 1, 2, 5, 10\}` of its width.
"""

import math
from collections.abc import Callable, Sequence

import torch

Bandwidth = str | float
KernelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFAULT_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances, (n, d) x (m, d) -> (n, m), clamped at 0."""
    xx = (x * x).sum(-1, keepdim=True)  # (n, 1)
    yy = (y * y).sum(-1, keepdim=True).transpose(-1, -2)  # (1, m)
    return (xx + yy - 2.0 * x @ y.transpose(-1, -2)).clamp_min(0.0)


def rbf_denominator(bandwidth: Bandwidth, dim: int, sqdist: torch.Tensor = None):
    r"""The :math:`c` of :math:`\exp(-\|z - z'\|^2 / c)` for a bandwidth convention: a float,
    or for ``"median"`` a 0-d tensor on the distances' device (read on the host it would make
    every training step wait for the GPU)."""
    if isinstance(bandwidth, str):
        if bandwidth == "dim":
            return 2.0 * dim
        if bandwidth == "infovae":
            return float(dim) ** 2
        if bandwidth == "median":
            if sqdist is None:
                raise ValueError("the median bandwidth needs the pairwise distances")
            n = sqdist.shape[0]
            med = sqdist.detach().flatten().median()
            return (med / math.log(n + 1.0)).clamp_min(1e-8)
        raise ValueError(
            f"unknown bandwidth {bandwidth!r}: use 'dim', 'infovae', 'median' or a positive float"
        )
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    return 2.0 * float(bandwidth) ** 2


def rbf_kernel(x: torch.Tensor, y: torch.Tensor, bandwidth: Bandwidth = "dim") -> torch.Tensor:
    r"""Gaussian (RBF) kernel :math:`\exp(-\|x - y\|^2 / c)`; see the module doc for ``c``."""
    sq = squared_distances(x, y)
    return torch.exp(-sq / rbf_denominator(bandwidth, x.shape[-1], sq))


def imq_kernel(x: torch.Tensor, y: torch.Tensor, c: float = None) -> torch.Tensor:
    r"""Inverse multiquadratic kernel :math:`C / (C + \|x - y\|^2)`, :math:`C = 2d` by default."""
    c = 2.0 * x.shape[-1] if c is None else float(c)
    if not c > 0:
        raise ValueError(f"IMQ constant C must be positive, got {c}")
    return c / (c + squared_distances(x, y))


def multiscale_kernel(
    x: torch.Tensor, y: torch.Tensor, base: str = "imq", scales: Sequence[float] = DEFAULT_SCALES
) -> torch.Tensor:
    r"""Sum of a base kernel ("rbf" or "imq") over widths :math:`s \cdot 2d`, s in ``scales``."""
    sq = squared_distances(x, y)
    c0 = 2.0 * x.shape[-1]
    if base == "imq":
        return sum((s * c0) / (s * c0 + sq) for s in scales)
    if base == "rbf":
        return sum(torch.exp(-sq / (s * c0)) for s in scales)
    raise ValueError(f"unknown base kernel {base!r}: use 'imq' or 'rbf'")


def resolve_kernel(kernel: str | KernelFn, bandwidth: Bandwidth = "dim") -> KernelFn:
    """Turn a kernel name ("rbf", "imq", "multiscale") or a callable into a callable."""
    if callable(kernel):
        return kernel
    if kernel == "rbf":
        rbf_denominator(bandwidth, 1, torch.ones(1, 1))  # validate early
        return lambda x, y: rbf_kernel(x, y, bandwidth)
    if kernel == "imq":
        return imq_kernel
    if kernel == "multiscale":
        return multiscale_kernel
    raise ValueError(f"unknown kernel {kernel!r}: use 'rbf', 'imq', 'multiscale' or a callable")
