"""Plain ``torch.nn`` building blocks for encoders and decoders (no Pyro calls in here).

Encoders map a batch of data ``(B, *data_shape)`` to ``(B, 2 * z_dim)`` raw outputs that
:class:`DiagonalGaussianHead` turns into a location and a positive scale. Decoders map latents
``(*batch, z_dim)`` to ``(*batch, F)`` or ``(*batch, C, H, W)``; the likelihood reshapes the result.
"""

from .conv import ConvDecoder28, ConvEncoder28
from .heads import DiagonalGaussianHead
from .mlp import MLP
from .pixelcnn import MaskedConv2d, PixelCNN

__all__ = [
    "MLP",
    "ConvDecoder28",
    "ConvEncoder28",
    "DiagonalGaussianHead",
    "MaskedConv2d",
    "PixelCNN",
]
