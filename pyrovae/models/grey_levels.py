r"""Normalized likelihoods for grey-level data in [0, 1].

The Bernoulli cross-entropy on grey levels (``Bernoulli(allow_fractional=True)``) is not a density:
it lacks a normalizing constant that depends on the decoder's output, so its "log p(x)" cannot be
compared across models (Loaiza-Ganem & Cunningham, "The continuous Bernoulli: fixing a pervasive
error in variational autoencoders", NeurIPS 2019). These two are densities on [0, 1]:

* :class:`ContinuousBernoulli`: :math:`p(x|\lambda) = C(\lambda)\,\lambda^x (1-\lambda)^{1-x}`,
  one decoder output (the logit of λ) per pixel;
* :class:`BetaLikelihood`: :math:`\mathrm{Beta}(x; \alpha, \beta)` with
  :math:`\alpha, \beta = \mathrm{softplus}(\cdot) + c_{\min}`, two outputs per pixel. Its density
  is unbounded at 0 and 1 (where α or β < 1), so pixels exactly at 0 or 1 — Fashion-MNIST's
  background — are moved ``eps`` inside the interval.
"""

import torch
from pyro import distributions as dist
from torch import nn
from torch.nn import functional as F

from .likelihoods import _check_finite, _split

__all__ = ["BetaLikelihood", "ContinuousBernoulli"]


def _check_unit_interval(x, name):
    _check_finite(x)
    if (x < 0).any() or (x > 1).any():
        raise ValueError(
            f"{name} needs grey levels in [0, 1], got values in [{x.min().item():g}, "
            f"{x.max().item():g}]; rescale the data (e.g. x / 255)"
        )


class ContinuousBernoulli(nn.Module):
    """The continuous Bernoulli with logits from the decoder (normalized on [0, 1])."""

    num_outputs = 1

    def validate(self, x: torch.Tensor):
        """``ValueError`` naming the fix for data outside [0, 1] or not finite."""
        _check_unit_interval(x, "ContinuousBernoulli")

    def forward(self, out, data_shape, batch_shape=None):
        """The distribution over ``x`` (``len(data_shape)`` event dims)."""
        (logits,) = _split(out, 1, data_shape, batch_shape)
        return dist.ContinuousBernoulli(logits=logits).to_event(len(data_shape))

    def mean(self, out, data_shape, batch_shape=None):
        """E[x|z] (not λ: the continuous Bernoulli's mean differs from its parameter)."""
        (logits,) = _split(out, 1, data_shape, batch_shape)
        return dist.ContinuousBernoulli(logits=logits).mean


class BetaLikelihood(nn.Module):
    """A Beta density per pixel with both concentrations from the decoder.

    :param min_concentration: floor c_min added to softplus of each output (keeps the density
        finite inside the interval while training starts).
    :param eps: grey levels are clamped to [eps, 1 − eps] before scoring.
    """

    num_outputs = 2

    def __init__(self, min_concentration=1e-3, eps=1e-3):
        super().__init__()
        if not min_concentration > 0:
            raise ValueError(f"min_concentration must be > 0, got {min_concentration}")
        if not 0 < eps < 0.5:
            raise ValueError(f"eps must be in (0, 0.5), got {eps}")
        self.min_concentration, self.eps = float(min_concentration), float(eps)

    def validate(self, x: torch.Tensor):
        """``ValueError`` naming the fix for data outside [0, 1] or not finite."""
        _check_unit_interval(x, "BetaLikelihood")

    def _beta(self, out, data_shape, batch_shape):
        raw_a, raw_b = _split(out, 2, data_shape, batch_shape)
        floor = self.min_concentration
        return dist.Beta(F.softplus(raw_a) + floor, F.softplus(raw_b) + floor)

    def forward(self, out, data_shape, batch_shape=None):
        """The distribution over ``x``; observations are clamped to [eps, 1 − eps]."""
        return _Clamped(self._beta(out, data_shape, batch_shape), self.eps).to_event(
            len(data_shape)
        )

    def mean(self, out, data_shape, batch_shape=None):
        """E[x|z] = α / (α + β)."""
        return self._beta(out, data_shape, batch_shape).mean


class _Clamped(dist.TorchDistribution):
    """A distribution on (0, 1) that scores x clamped to [eps, 1 − eps]."""

    arg_constraints = {}
    support = dist.constraints.unit_interval
    has_rsample = True

    def __init__(self, base, eps):
        self.base, self.eps = base, eps
        super().__init__(base.batch_shape, base.event_shape, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        return _Clamped(self.base.expand(batch_shape), self.eps)

    @property
    def mean(self):
        return self.base.mean

    def rsample(self, sample_shape=()):
        return self.base.rsample(torch.Size(sample_shape))

    def log_prob(self, value):
        return self.base.log_prob(value.clamp(self.eps, 1 - self.eps))
