"""Turn raw encoder outputs into the parameters of a diagonal Gaussian q(z|x)."""

import math

import torch
from torch import nn
from torch.nn import functional as F


class DiagonalGaussianHead(nn.Module):
    r"""Split ``(..., 2 z)`` into ``loc`` and ``scale = softplus(raw) + min_scale``.

    A raw value of 0 maps to a scale of about 0.69; ``raw = log(e - 1)`` gives exactly 1, so the
    collapsed posterior :math:`q(z|x) = N(0, I)` is representable.
    """

    def __init__(self, z_dim: int, min_scale: float = 1e-5):
        super().__init__()
        self.z_dim, self.min_scale = int(z_dim), float(min_scale)

    def forward(self, raw: torch.Tensor):
        if raw.shape[-1] != 2 * self.z_dim:
            raise ValueError(
                f"the encoder must output 2 * z_dim = {2 * self.z_dim} features, got "
                f"{raw.shape[-1]}"
            )
        loc, raw_scale = raw.split(self.z_dim, dim=-1)
        return loc, F.softplus(raw_scale) + self.min_scale

    @staticmethod
    def raw_for_scale(scale: float) -> float:
        """The raw value whose softplus is ``scale`` (ignoring ``min_scale``)."""
        return math.log(math.expm1(scale))
