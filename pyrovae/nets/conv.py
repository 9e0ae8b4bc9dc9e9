"""DCGAN-style convolutional encoder and decoder for 28x28 single-channel images.

The architecture of the InfoVAE experiments (Zhao, Song, Ermon 2019, Appendix): two stride-2
4x4 convolutions (64, 128 channels) and a 1024-unit dense layer, mirrored in the decoder.
"""

import torch
from torch import nn


class ConvEncoder28(nn.Module):
    """``(B, 784)`` or ``(B, 1, 28, 28)`` -> ``(B, out_dim)``."""

    def __init__(self, out_dim: int, channels: int = 64, hidden: int = 1024):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.1),  # (B, c, 14, 14)
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.1),  # (B, 2c, 7, 7)
            nn.Flatten(),
            nn.Linear(2 * channels * 7 * 7, hidden),
            nn.LeakyReLU(0.1),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[: x.dim() - (1 if x.shape[-1] == 784 else 3)]
        out = self.net(x.reshape(-1, 1, 28, 28))  # (prod(batch), out_dim)
        return out.reshape(*batch, -1)


class ConvDecoder28(nn.Module):
    """``(*batch, z_dim)`` -> ``(*batch, out_channels, 28, 28)``."""

    def __init__(self, z_dim: int, out_channels: int = 1, channels: int = 64, hidden: int = 1024):
        super().__init__()
        self.channels = channels
        self.dense = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * channels * 7 * 7),
            nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1),  # 28x28
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        batch = z.shape[:-1]
        h = self.dense(z.reshape(-1, z.shape[-1])).reshape(-1, 2 * self.channels, 7, 7)
        out = self.deconv(h)  # (prod(batch), out_channels, 28, 28)
        return out.reshape(*batch, *out.shape[1:])
