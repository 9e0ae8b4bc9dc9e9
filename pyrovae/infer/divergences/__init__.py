r"""Divergences D(q(z) ‖ p(z)) between the aggregate posterior and the prior, for InfoVAE.

Each divergence is called as ``divergence(q_samples, p_samples, score)`` with flat samples of
shape (n, D) -- ``q_samples`` carry gradients to the encoder, ``p_samples`` are drawn from the
model's prior -- and ``score(z)`` the prior score ∇_z log p(z). It returns a
:class:`DivergenceEstimate`.
"""

from .adversarial import AdversarialDivergence
from .base import DivergenceEstimate
from .mmd import MMDDivergence
from .stein import SteinDivergence

REGISTRY = {"mmd": MMDDivergence, "stein": SteinDivergence, "adversarial": AdversarialDivergence}


def make_divergence(divergence, **kwargs):
    """A divergence from its name ("mmd", "stein", "adversarial") or an
    instance (returned as is)."""
    if not isinstance(divergence, str):
        if kwargs:
            raise ValueError("divergence options apply only when the divergence is given by name")
        return divergence
    if divergence not in REGISTRY:
        raise ValueError(f"unknown divergence {divergence!r}; choose from {sorted(REGISTRY)}")
    return REGISTRY[divergence](**kwargs)


__all__ = [
    "AdversarialDivergence",
    "DivergenceEstimate",
    "MMDDivergence",
    "SteinDivergence",
    "make_divergence",
]
