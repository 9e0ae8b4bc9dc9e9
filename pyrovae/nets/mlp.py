"""Multi-layer perceptron that accepts any number of leading batch dimensions."""

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}


class MLP(nn.Module):
    """``in_dim -> hidden... -> out_dim`` with an activation between layers, none at the end.

    Inputs of shape ``(*batch, *event)`` are flattened over the trailing dimensions that make up
    ``in_dim`` (so a ``(B, 1, 28, 28)`` image batch works with ``in_dim=784``), and the output has
    shape ``(*batch, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}"
            )
        sizes = [int(in_dim), *[int(h) for h in hidden], int(out_dim)]
        layers = []
        for i, (a, b) in enumerate(pairwise(sizes)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = sizes[0], sizes[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_dim:
            # flatten trailing event dims, e.g. (B, 1, 28, 28) -> (B, 784)
            n, tail = 1, 0
            while n < self.in_dim and tail < x.dim():
                tail += 1
                n *= x.shape[-tail]
            if n != self.in_dim:
                raise ValueError(
                    f"MLP expects inputs with {self.in_dim} features, got shape {tuple(x.shape)}"
                )
            x = x.reshape(*x.shape[:-tail], n)
        return self.net(x)
