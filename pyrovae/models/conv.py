"""The DCGAN-style conv VAE of the InfoVAE MNIST experiments (Zhao et al. 2019)."""

import torch

from ..nets import ConvDecoder28, ConvEncoder28
from .autoregressive import PixelCNNBernoulli
from .likelihoods import Bernoulli
from .vae import VAE


def conv_vae(z_dim, channels=32, hidden=256, decoder="conv", seed=None):
    """Conv encoder / decoder for 28×28 binary images flattened to 784, dim z = ``z_dim``.

    :param decoder: ``"conv"``: a Bernoulli per pixel from the decoder's map; ``"pixelcnn"``: the
        map conditions a :class:`PixelCNNBernoulli` (the paper's decoder for Fig. 6 / Table 1).
    :param seed: seeds torch's generator before the weights are drawn (None: as it stands).
    """
    if decoder not in ("conv", "pixelcnn"):
        raise ValueError(f"decoder must be 'conv' or 'pixelcnn', got {decoder!r}")
    if seed is not None:
        torch.manual_seed(seed)
    encoder = ConvEncoder28(2 * z_dim, channels, hidden)
    if decoder == "pixelcnn":
        net = ConvDecoder28(z_dim, PixelCNNBernoulli.CONDITION_CHANNELS, channels, hidden)
        return VAE(encoder, net, PixelCNNBernoulli(), z_dim, (784,))
    return VAE(encoder, ConvDecoder28(z_dim, 1, channels, hidden), Bernoulli(), z_dim, (784,))
