r"""A small conditional PixelCNN (van den Oord et al., "Pixel Recurrent Neural Networks", ICML 2016)
for single-channel binary images, the decoder family of the InfoVAE paper's MNIST experiments.

Masked convolutions make the logit of pixel :math:`i` (raster order) a function of the pixels
before it only: the first layer's mask ("A") hides the centre pixel and everything after it, later
layers' masks ("B") hide only what comes after the centre. The conditioning map (from the latent
code, shape ``(N, C, H, W)``) enters every layer through a 1x1 convolution, so

.. math:: p(x \mid z) = \prod_i \mathrm{Bernoulli}(x_i \mid \sigma(f_i(x_{<i}, z))).
"""

import torch
from torch import nn
from torch.nn import functional as F


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution whose kernel cannot see pixels after the centre (type "B") or
    the centre pixel either (type "A")."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        mask = torch.ones(kernel_size, kernel_size)
        c = kernel_size // 2
        mask[c, c + (mask_type == "B") :] = 0  # the centre row from the centre (A) or after it (B)
        mask[c + 1 :] = 0  # every row below
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """``forward(x, condition)``: images ``(N, 1, H, W)`` and a conditioning map ``(N, C, H, W)``
    -> logits ``(N, 1, H, W)``, logit (r, c) depending on ``x`` only through earlier pixels."""

    def __init__(
        self,
        condition_channels: int,
        channels: int = 64,
        layers: int = 5,
        first_kernel: int = 7,
        kernel: int = 3,
    ):
        super().__init__()
        self.first = MaskedConv2d(1, channels, first_kernel, "A")
        self.convs = nn.ModuleList(
            MaskedConv2d(channels, channels, kernel, "B") for _ in range(layers - 1)
        )
        self.conditions = nn.ModuleList(
            nn.Conv2d(condition_channels, channels, 1) for _ in range(layers)
        )
        self.out = nn.Sequential(
            nn.ReLU(),
            MaskedConv2d(channels, channels, 1, "B"),
            nn.ReLU(),
            MaskedConv2d(channels, 1, 1, "B"),
        )

    @property
    def rows_above(self) -> int:
        """The number of rows above a pixel that its logit can see.

        It is the masked kernels' reach summed over the layers (rows below are masked out, the
        1x1 conditioning is pointwise), so the logits of row r computed from rows
        ``r - rows_above .. r`` alone equal the whole image's (what ancestral sampling uses)."""
        return sum(m.kernel_size[0] // 2 for m in self.modules() if isinstance(m, MaskedConv2d))

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.first(x) + self.conditions[0](condition))
        for conv, cond in zip(self.convs, self.conditions[1:], strict=True):
            h = h + F.relu(conv(h) + cond(condition))  # residual; masks keep the raster order
        return self.out(h)
