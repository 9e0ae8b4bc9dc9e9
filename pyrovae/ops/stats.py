"""Small numerically stable reductions."""

import math

import torch


def logmeanexp(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    r""":math:`\log \frac{1}{K}\sum_k e^{x_k}` along ``dim``, computed as logsumexp − log K."""
    return torch.logsumexp(x, dim=dim) - math.log(x.shape[dim])
