r"""Observation models p(x|z) that turn a decoder's output into a Pyro distribution.

Each likelihood is a plain ``torch.nn.Module`` (learned variances are its parameters) with

* ``num_outputs``: how many decoder outputs it needs per data dimension (1, or 2 for σ(z));
* ``validate(x)``: a ``ValueError`` naming the fix for data it cannot score;
* ``forward(out, data_shape, batch_shape=None)``: the distribution over ``x`` with
  ``len(data_shape)`` event dims (``batch_shape``: the latent's batch shape, ``z.shape[:-1]``);
* ``mean(out, data_shape, batch_shape=None)``: its mean (reconstructions, samples).

The decoder output may be flat ``(*batch, num_outputs * prod(data_shape))`` or channel-first
``(*batch, num_outputs, *image)``; it is reshaped to ``(*batch, num_outputs, *data_shape)``.

**Variance floor.** For a Gaussian decoder with a learned variance the likelihood of a VAE is
unbounded: putting a decoder mean on one training point and letting its variance go to 0 sends
log p(x) to +∞ (Mattei & Frellsen, "Leveraging the exact likelihood of deep latent variable
models", NeurIPS 2018, Theorem 1). Their fix is the constraint :math:`\sigma^2 \ge \xi`; here
``min_variance=ξ`` parameterizes :math:`\sigma^2 = \xi + \exp(r)`, which bounds the density of
each data dimension by :math:`(2\pi\xi)^{-1/2}`.
"""

import math

import torch
from pyro import distributions as dist
from torch import nn


def _split(out: torch.Tensor, num_outputs: int, data_shape, batch_shape=None):
    """Reshape a decoder output to ``num_outputs`` chunks of shape (*batch, *data_shape).

    ``batch_shape`` (the latent's batch shape) makes the reshape unambiguous; without it the
    batch dims are the leading dims left after the trailing ones that hold the values.
    """
    numel = math.prod(data_shape) * num_outputs
    if batch_shape is not None:
        out = out.reshape(*batch_shape, num_outputs, *data_shape)
        return out.unbind(len(batch_shape))
    n_tail, prod = 0, 1
    while prod < numel and n_tail < out.dim():
        n_tail += 1
        prod *= out.shape[-n_tail]
    if prod != numel:
        raise ValueError(
            f"decoder output of shape {tuple(out.shape)} does not hold {num_outputs} x "
            f"{tuple(data_shape)} values per latent; give the decoder {numel} outputs"
        )
    batch = out.shape[: out.dim() - n_tail]
    out = out.reshape(*batch, num_outputs, *data_shape)  # (*batch, m, *data_shape)
    return out.unbind(len(batch))


def _check_finite(x: torch.Tensor):
    if not torch.is_floating_point(x):
        raise ValueError(
            f"data must be a floating point tensor, got dtype {x.dtype}; use x.float()"
        )
    if not torch.isfinite(x).all():
        raise ValueError("data contains NaN or inf values; clean or impute them before training")


class Bernoulli(nn.Module):
    """Bernoulli with logits from the decoder, for binary data in {0, 1}.

    ``allow_fractional=True`` accepts data in [0, 1] (grey-scale MNIST used as probabilities); the
    log-"likelihood" is then the binary cross-entropy, which is not a normalized density.
    """

    num_outputs = 1

    def __init__(self, allow_fractional: bool = False):
        super().__init__()
        self.allow_fractional = bool(allow_fractional)

    def validate(self, x: torch.Tensor):
        _check_finite(x)
        if self.allow_fractional:
            if (x < 0).any() or (x > 1).any():
                raise ValueError(
                    "Bernoulli likelihood needs data in [0, 1]; rescale the data first"
                )
        elif ((x != 0) & (x != 1)).any():
            raise ValueError(
                "Bernoulli likelihood needs binary data in {0, 1}; binarize the data, use a "
                "Gaussian likelihood, or pass Bernoulli(allow_fractional=True) for data in [0, 1]"
            )

    def forward(self, out, data_shape, batch_shape=None):
        (logits,) = _split(out, 1, data_shape, batch_shape)
        validate = False if self.allow_fractional else None
        return dist.Bernoulli(logits=logits, validate_args=validate).to_event(len(data_shape))

    def mean(self, out, data_shape, batch_shape=None):
        return torch.sigmoid(_split(out, 1, data_shape, batch_shape)[0])


class _GaussianBase(nn.Module):
    def validate(self, x: torch.Tensor):
        _check_finite(x)

    def _normal(self, loc, variance, data_shape):
        return dist.Normal(loc, variance.sqrt()).to_event(len(data_shape))

    def mean(self, out, data_shape, batch_shape=None):
        return _split(out, self.num_outputs, data_shape, batch_shape)[0]


def _floored(raw: torch.Tensor, min_variance: float) -> torch.Tensor:
    variance = raw.exp()
    return variance + min_variance if min_variance > 0 else variance


def _check_floor(min_variance):
    if min_variance < 0:
        raise ValueError(f"min_variance is a floor on σ² and must be ≥ 0, got {min_variance}")
    return float(min_variance)


class Gaussian(_GaussianBase):
    """Gaussian with a fixed standard deviation ``sigma`` (a hyper-parameter, not learned)."""

    num_outputs = 1

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma = float(sigma)

    def forward(self, out, data_shape, batch_shape=None):
        (loc,) = _split(out, 1, data_shape, batch_shape)
        return dist.Normal(loc, self.sigma).to_event(len(data_shape))

    def variance(self):
        return torch.tensor(self.sigma**2)


class LearnedGaussian(_GaussianBase):
    """Gaussian with a learned global variance: one scalar, or one per data dimension.

    :param data_shape: needed only for ``per_dimension=True``.
    :param min_variance: the floor ξ of Mattei & Frellsen (2018); 0 means no floor.
    """

    num_outputs = 1

    def __init__(self, init_sigma=1.0, per_dimension=False, data_shape=None, min_variance=0.0):
        super().__init__()
        self.min_variance = _check_floor(min_variance)
        if per_dimension and data_shape is None:
            raise ValueError(
                "per_dimension=True needs data_shape, e.g. LearnedGaussian(data_shape=(784,))"
            )
        if init_sigma**2 <= self.min_variance:
            raise ValueError("init_sigma² must exceed min_variance")
        shape = tuple(data_shape) if per_dimension else ()
        raw = math.log(init_sigma**2 - self.min_variance)
        self.raw_variance = nn.Parameter(torch.full(shape, raw))

    def variance(self):
        return _floored(self.raw_variance, self.min_variance)

    def forward(self, out, data_shape, batch_shape=None):
        (loc,) = _split(out, 1, data_shape, batch_shape)
        return self._normal(loc, self.variance().expand(loc.shape), data_shape)


class DecoderGaussian(_GaussianBase):
    """Gaussian whose mean and variance σ²(z) both come from the decoder (2 outputs per dim).

    σ²(z) = ξ + exp(r(z) + c), r(z) the decoder's second output and c = ``init_log_variance``, the
    log variance a decoder output of 0 stands for (a small c starts training with a sharp
    likelihood, which keeps the decoder from collapsing onto the data's marginal at the start).
    Without a floor (ξ = 0) the likelihood is unbounded (see module doc).
    """

    num_outputs = 2

    def __init__(self, min_variance=0.0, init_log_variance=0.0):
        super().__init__()
        self.min_variance = _check_floor(min_variance)
        self.init_log_variance = float(init_log_variance)

    def variance_of(self, out, data_shape, batch_shape=None):
        raw = _split(out, 2, data_shape, batch_shape)[1]
        return _floored(raw + self.init_log_variance, self.min_variance)

    def forward(self, out, data_shape, batch_shape=None):
        loc = _split(out, 2, data_shape, batch_shape)[0]
        return self._normal(loc, self.variance_of(out, data_shape, batch_shape), data_shape)
