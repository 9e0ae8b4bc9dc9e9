r"""An autoregressive Bernoulli likelihood with a conditional PixelCNN, p(x|z) = ∏ p(x_i | x_<i, z).

The decoder net maps z to a conditioning map ``(*batch, C, H, W)``
(e.g. ``ConvDecoder28(z_dim, out_channels=C)``); :class:`PixelCNNBernoulli` holds the masked
PixelCNN and turns that map into a distribution whose ``log_prob(x)`` is one teacher-forced pass
(exact and normalized) and whose ``sample()`` runs H·W passes, one pixel at a time, each on
the band of rows the pixel's logit can see (7 of 28 for the default net). The mean of
such a distribution has no closed form: ``mean`` returns the per-pixel probabilities met along
one ancestral sample (what "samples" shows for PixelCNN VAEs in the InfoVAE paper).
"""

import math

import torch
from pyro.distributions import TorchDistribution, constraints
from torch import nn

from ..nets.pixelcnn import PixelCNN
from .likelihoods import Bernoulli


class AutoregressiveBernoulli(TorchDistribution):
    """p(x | condition) for flat binary images of ``image_shape``, batch shape = the condition's."""

    arg_constraints = {}
    support = constraints.boolean
    has_rsample = False

    def __init__(
        self, net: PixelCNN, condition: torch.Tensor, image_shape, data_shape, validate_args=None
    ):
        self.net, self.condition = net, condition  # condition: (*batch, C, H, W)
        self.image_shape, self.data_shape = tuple(image_shape), tuple(data_shape)
        super().__init__(condition.shape[:-3], torch.Size(data_shape), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        condition = self.condition.expand(*batch_shape, *self.condition.shape[-3:])
        return AutoregressiveBernoulli(self.net, condition, self.image_shape, self.data_shape)

    def _flat_condition(self, batch_shape):
        return self.condition.expand(*batch_shape, *self.condition.shape[-3:]).reshape(
            -1, *self.condition.shape[-3:]
        )

    def logits(self, value: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits of every pixel, shape ``(*batch, *data_shape)``."""
        n_event = len(self.data_shape)
        batch = torch.broadcast_shapes(value.shape[: value.dim() - n_event], self.batch_shape)
        x = value.expand(*batch, *self.data_shape).reshape(-1, 1, *self.image_shape)
        return self.net(x, self._flat_condition(batch)).reshape(*batch, *self.data_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Summed over the pixels in at least float32: under ``torch.autocast`` the PixelCNN
        may run in bfloat16 / float16, but its logits are widened before the sum, so the
        rounding of a low-precision sum of hundreds of terms does not enter log p(x|z)."""
        logits = self.logits(value)
        logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
        value = value.to(logits.dtype).expand_as(logits)
        ll = -nn.functional.binary_cross_entropy_with_logits(logits, value, reduction="none")
        return ll.flatten(-len(self.data_shape)).sum(-1)

    @torch.no_grad()
    def _ancestral(self, sample_shape=()):
        shape = torch.Size(sample_shape) + self.batch_shape
        cond = self._flat_condition(shape)
        x = cond.new_zeros(cond.shape[0], 1, *self.image_shape)
        probs = torch.zeros_like(x)
        h, w = self.image_shape
        above = getattr(self.net, "rows_above", h)  # another net: every row, every pass
        for r in range(h):
            # row r's logits depend on rows r - above .. r only: run the net on that band
            top = max(0, r - above)
            band, band_cond = x[:, :, top : r + 1], cond[:, :, top : r + 1]
            for c in range(w):
                p = torch.sigmoid(self.net(band, band_cond)[:, 0, -1, c])
                probs[:, 0, r, c] = p
                x[:, 0, r, c] = torch.bernoulli(p)  # band is a view: it sees the new pixel
        return x.reshape(*shape, *self.data_shape), probs.reshape(*shape, *self.data_shape)

    def sample(self, sample_shape=()):
        return self._ancestral(sample_shape)[0]


class PixelCNNBernoulli(nn.Module):
    """Likelihood for binary images with a conditional PixelCNN on top of the decoder's map.

    :param image_shape: (H, W) of the images (flat data of H·W values or (1, H, W) both work).
    :param condition_channels: channels C of the decoder's output ``(*batch, C, H, W)``.
    :param channels: with ``layers``, width and depth of the PixelCNN.
    """

    CONDITION_CHANNELS = 4  # default C; give the decoder this many output channels

    def __init__(
        self,
        image_shape=(28, 28),
        condition_channels: int = CONDITION_CHANNELS,
        channels: int = 32,
        layers: int = 4,
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.condition_channels = int(condition_channels)
        self.net = PixelCNN(self.condition_channels, channels, layers)
        self._binary = Bernoulli()

    @property
    def num_outputs(self):
        return self.condition_channels

    def validate(self, x: torch.Tensor):
        self._binary.validate(x)
        if math.prod(x.shape[1:]) != math.prod(self.image_shape):
            raise ValueError(
                f"PixelCNNBernoulli was built for {self.image_shape} images, data points have "
                f"shape {tuple(x.shape[1:])}; pass image_shape="
            )

    def _condition(self, out, batch_shape):
        if batch_shape is None:
            batch_shape = (
                out.shape[: out.dim() - 3] if out.shape[-2:] == self.image_shape else out.shape[:-1]
            )
        return out.reshape(*batch_shape, self.condition_channels, *self.image_shape)

    def forward(self, out, data_shape, batch_shape=None):
        return AutoregressiveBernoulli(
            self.net, self._condition(out, batch_shape), self.image_shape, data_shape
        )

    def mean(self, out, data_shape, batch_shape=None):
        """Per-pixel probabilities along one ancestral sample (no closed-form mean exists)."""
        return self.forward(out, data_shape, batch_shape)._ancestral()[1]
