r"""MMD between the aggregate posterior and the prior (InfoVAE Eq. 8; Gretton et al. 2012)."""

from ...ops import mmd2, resolve_kernel, weighted_mmd2
from .base import DivergenceEstimate


class MMDDivergence:
    r""":math:`\mathrm{MMD}^2(q(z), p(z))` estimated from the minibatch's guide samples and as many
    prior samples.

    :param kernel: "rbf" (default), "imq", "multiscale" or a callable ``k(x, y) -> (n, m)``.
    :param bandwidth: RBF bandwidth convention, "dim" (default, :math:`\exp(-\|z-z'\|^2/2d)`),
        "infovae" (the authors' :math:`\exp(-\|z-z'\|^2/d^2)`), "median" or a float ``h``; see
        :mod:`pyrovae.ops.kernels`.
    :param unbiased: U-statistic (default) or the authors' biased V-statistic.
    """

    def __init__(self, kernel="rbf", bandwidth="dim", unbiased=True):
        self.kernel = resolve_kernel(kernel, bandwidth)
        self.unbiased = bool(unbiased)
        self.name = f"mmd[{kernel if isinstance(kernel, str) else 'custom'}]"

    #: takes ``weights``: q given as C weighted candidates per point (enumerated discrete sites)
    supports_weights = True

    def __call__(self, q_samples, p_samples, score=None, weights=None) -> DivergenceEstimate:
        """``q_samples`` (n, D); or (n, C, D) with ``weights`` (n, C): the expectation of the
        estimate over each point's candidates (:func:`pyrovae.ops.weighted_mmd2`)."""
        if weights is None:
            value = mmd2(q_samples, p_samples, self.kernel, self.unbiased)
        else:
            value = weighted_mmd2(q_samples, weights, p_samples, self.kernel, self.unbiased)
        return DivergenceEstimate(value=value, surrogate=value)
