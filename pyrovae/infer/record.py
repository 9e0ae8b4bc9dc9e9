"""The record an objective hands the training loop: loss, surrogate, per-term values and N.

Pyro's objectives return a float from ``loss_and_grads`` and keep nothing; a training loop that
wants the ELBO's parts (E log p(x|z), KL, a divergence) would otherwise read them from a side
attribute. ``VAEObjective.evaluate`` (the base class of pyrovae's objectives) returns this
record instead, and
:func:`pyrovae.infer.train` backpropagates ``surrogate`` and logs ``terms``.
"""

from dataclasses import dataclass

import torch

#: terms that are sums over the data set (divide by N for nats per data point)
EXTENSIVE_TERMS = frozenset({"loss", "log_likelihood", "kl", "elbo", "iwae_bound"})


@dataclass(frozen=True)
class ObjectiveRecord:
    """One evaluation of an objective on a minibatch.

    :ivar loss: the objective's value, a detached scalar in nats summed over the data set (the
        minibatch sum scaled by N / B, Pyro's convention).
    :ivar surrogate: a differentiable scalar whose gradient is the objective's gradient estimate
        (its value need not equal ``loss``: e.g. DReG's surrogate).
    :ivar terms: detached scalars, e.g. ``log_likelihood`` (E_q log p(x|z)), ``kl``, ``elbo``,
        ``divergence``; those named in ``extensive`` are sums over the data set like ``loss``.
    :ivar num_data: N, the data-set size the data plate declares (NaN when there is none).
    :ivar extensive: the names in ``terms`` that are data-set sums.
    """

    loss: torch.Tensor
    surrogate: torch.Tensor
    terms: dict
    num_data: float
    extensive: frozenset = EXTENSIVE_TERMS
