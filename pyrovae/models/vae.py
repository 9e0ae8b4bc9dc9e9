r"""The amortized VAE of Kingma & Welling (2014) and Rezende et al. (2014), in Pyro syntax.

Generative model :math:`p(z) = N(0, I)`, :math:`p_\theta(x|z)` a likelihood from
:mod:`pyrovae.models.likelihoods` on top of a decoder net; guide
:math:`q_\phi(z|x) = N(\mu_\phi(x), \mathrm{diag}\,\sigma_\phi(x)^2)`. Both follow the contract of
:mod:`pyrovae.models.contract` (latent site ``"z"``, observed site ``"x"``, data plate ``"data"``).
"""

from collections.abc import Sequence

import pyro
import torch
from pyro import distributions as dist
from pyro.nn import PyroModule, pyro_method

from ..nets import DiagonalGaussianHead
from .contract import data_plate, should_validate_data


class VAE(PyroModule):
    """A VAE with pluggable encoder / decoder nets and likelihood.

    :param encoder: ``nn.Module`` mapping ``(B, *data_shape)`` to ``(B, 2 * z_dim)``.
    :param decoder: ``nn.Module`` mapping ``(*batch, z_dim)`` to
        ``likelihood.num_outputs * prod(data_shape)`` values per latent.
    :param likelihood: e.g. ``Bernoulli()``, ``Gaussian(0.1)``,
        ``DecoderGaussian(min_variance=1e-4)``.
    :param z_dim: latent dimension.
    :param data_shape: shape of one data point, e.g. ``(784,)`` or ``(1, 28, 28)``.

    Use ``svi = SVI(vae.model, vae.guide, ...)`` or :func:`pyrovae.infer.train`.
    """

    def __init__(self, encoder, decoder, likelihood, z_dim: int, data_shape: Sequence[int]):
        super().__init__()
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood
        self.head = DiagonalGaussianHead(z_dim)
        self.z_dim = int(z_dim)
        self.data_shape = tuple(int(s) for s in data_shape)

    def validate_data(self, x):
        if tuple(x.shape[1:]) != self.data_shape:
            shape = ", ".join(map(str, self.data_shape))
            raise ValueError(
                f"data points of shape {tuple(x.shape[1:])} do not match the model's data_shape "
                f"{self.data_shape}; reshape the data to (N, {shape})"
            )
        self.likelihood.validate(x)

    # ----- Pyro model and guide -------------------------------------------------------------
    # Inside a @pyro_method, reading a plain nn.Module attribute of this PyroModule registers its
    # parameters with pyro.module; each child is therefore read once per call.
    @pyro_method
    def model(self, x: torch.Tensor, num_data=None):
        """p(z) p(x|z) over a minibatch ``x`` of a data set of ``num_data`` points."""
        if should_validate_data():
            self.validate_data(x)
        decoder, likelihood = self.decoder, self.likelihood
        with data_plate(x, num_data):
            prior = dist.Normal(x.new_zeros(x.shape[0], self.z_dim), 1.0).to_event(1)
            z = pyro.sample("z", prior)  # (B, z_dim), or (P, B, z_dim) with vectorized particles
            pyro.sample("x", likelihood(decoder(z), self.data_shape, z.shape[:-1]), obs=x)

    @pyro_method
    def guide(self, x: torch.Tensor, num_data=None):
        """Amortized diagonal Gaussian q(z|x)."""
        encoder, head = self.encoder, self.head
        with data_plate(x, num_data):
            loc, scale = head(encoder(x))  # (B, z_dim) each
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    # ----- plain torch helpers (no Pyro state) ----------------------------------------------
    def encode(self, x: torch.Tensor):
        """(loc, scale) of q(z|x), each (B, z_dim)."""
        return self.head(self.encoder(x))

    def decode(self, z: torch.Tensor):
        """The distribution p(x|z) for latents of shape ``(*batch, z_dim)``."""
        return self.likelihood(self.decoder(z), self.data_shape, z.shape[:-1])

    def decoder_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z], shape ``(*batch, *data_shape)``."""
        return self.likelihood.mean(self.decoder(z), self.data_shape, z.shape[:-1])

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """E[x | z = mean of q(z|x)]."""
        return self.decoder_mean(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Decoder means of ``n`` latents drawn from the prior."""
        ref = next(self.decoder.parameters())
        z = torch.randn(n, self.z_dim, device=ref.device, dtype=ref.dtype, generator=generator)
        return self.decoder_mean(z)
