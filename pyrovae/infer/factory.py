"""Objectives by name, for the CLI and configs."""

from .beta_vae import BetaVAE, EvidenceLowerBound
from .infovae import InfoVAE
from .iwae import IWAE

OBJECTIVES = ("elbo", "beta-vae", "iwae", "infovae")


def make_objective(
    name: str,
    beta=1.0,
    alpha=0.0,
    lam=1.0,
    divergence="mmd",
    particles=1,
    analytic_kl=False,
    **divergence_options,
):
    """``"elbo"``, ``"beta-vae"`` (``beta``), ``"iwae"`` (``particles`` = K) or ``"infovae"``
    (``alpha``, ``lam``, ``divergence`` and its options)."""
    if name == "elbo":
        return EvidenceLowerBound(num_particles=particles, analytic_kl=analytic_kl)
    if name == "beta-vae":
        return BetaVAE(beta, num_particles=particles, analytic_kl=analytic_kl)
    if name == "iwae":
        return IWAE(num_particles=max(int(particles), 1))
    if name == "infovae":
        return InfoVAE(
            alpha,
            lam,
            divergence,
            num_particles=particles,
            analytic_kl=analytic_kl,
            **divergence_options,
        )
    raise ValueError(f"unknown objective {name!r}; choose from {OBJECTIVES}")
