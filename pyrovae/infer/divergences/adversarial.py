r"""Adversarial (Jensen-Shannon) divergence with a discriminator on z (Makhzani et al. 2016, AAE;
InfoVAE Sec. 3, "adversarial" D).

A discriminator :math:`T(z)` (logit that z came from the prior) is trained jointly to minimize
the cross-entropy :math:`-E_p \log\sigma(T) - E_q \log(1 - \sigma(T))`; at its optimum

.. math::
    \mathrm{JS}(q \,\|\, p) = \log 2 + \tfrac12 E_p \log\sigma(T(z)) + \tfrac12
    E_q \log(1 - \sigma(T(z))),

which is the reported value. The encoder gets the gradient of the JS estimate through the q
samples with the discriminator held fixed (``generator_loss="saturating"``) or of the
non-saturating form :math:`-\tfrac12 E_q \log\sigma(T(z))` (default; same sign, stronger when the
discriminator wins). The discriminator's own loss reaches only its parameters (q samples are
detached there), and the encoder's loss reaches only the encoder (the discriminator's parameters
are detached there).
"""

import math

import pyro
from torch.func import functional_call
from torch.nn import functional as F

from ...nets import MLP
from .base import DivergenceEstimate


class AdversarialDivergence:
    """JS divergence through a jointly trained MLP discriminator (built on first use).

    :param hidden: hidden layer sizes of the discriminator.
    :param generator_loss: "non_saturating" (default) or "saturating".
    :param name: Pyro name of the discriminator module (its parameters join the param store).
    """

    def __init__(
        self, hidden=(128, 128), generator_loss="non_saturating", name="infovae_discriminator"
    ):
        if generator_loss not in ("non_saturating", "saturating"):
            raise ValueError("generator_loss must be 'non_saturating' or 'saturating'")
        self.hidden, self.generator_loss, self.module_name = tuple(hidden), generator_loss, name
        self.discriminator = None
        self.name = "adversarial"

    def reset(self):
        """Forget the discriminator: the next call builds a fresh one (``train`` calls this
        when it starts from a cleared param store, so a reused objective does not carry a
        discriminator trained against another run's encoder)."""
        self.discriminator = None

    def _module(self, z):
        if self.discriminator is None:
            self.discriminator = MLP(z.shape[-1], self.hidden, 1, activation="leaky_relu")
        weight = next(self.discriminator.parameters())
        if weight.device != z.device or weight.dtype != z.dtype:  # moved once, not every step
            self.discriminator.to(device=z.device, dtype=z.dtype)
        return pyro.module(self.module_name, self.discriminator)

    #: takes ``weights``: q given as C weighted candidates per point (enumerated discrete sites)
    supports_weights = True

    def __call__(self, q_samples, p_samples, score=None, weights=None) -> DivergenceEstimate:
        """``q_samples`` (n, D); or (n, C, D) with ``weights`` (n, C), each row summing to 1:
        every average over q then weighs the candidates (exactly the expectation over each
        point's choice, as the estimate is an average over points)."""
        if weights is None:
            q_flat, q_mean = q_samples, lambda t: t.mean()
        else:
            q_flat = q_samples.reshape(-1, q_samples.shape[-1])
            flat_w = weights.reshape(-1) / weights.shape[0]
            q_mean = lambda t: (flat_w * t).sum()  # noqa: E731
        disc = self._module(q_flat)
        frozen = {k: v.detach() for k, v in disc.named_parameters()}
        logit_q = functional_call(disc, frozen, (q_flat,)).squeeze(-1)  # grads to encoder only
        logit_p = functional_call(disc, frozen, (p_samples,)).squeeze(-1)
        # log(1 - sigmoid(t)) = logsigmoid(-t)
        js = (
            math.log(2.0)
            + 0.5 * F.logsigmoid(logit_p).mean()
            + 0.5 * q_mean(F.logsigmoid(-logit_q))
        )
        if self.generator_loss == "saturating":
            surrogate = js
        else:
            surrogate = -0.5 * q_mean(F.logsigmoid(logit_q))
        # discriminator loss: binary cross-entropy, prior = 1, aggregate posterior = 0; the
        # weights are held fixed there (this loss trains the discriminator alone)
        d_q = disc(q_flat.detach()).squeeze(-1)
        d_p = disc(p_samples.detach()).squeeze(-1)
        d_q_loss = F.softplus(d_q)
        if weights is None:
            d_q_loss = d_q_loss.mean()
        else:
            d_q_loss = (flat_w.detach() * d_q_loss).sum()
        bce = F.softplus(-d_p).mean() + d_q_loss
        return DivergenceEstimate(value=js.detach(), surrogate=surrogate, auxiliary=bce)
