"""Objectives by name, for the CLI and configs."""

from .elbo import BetaVAE, EvidenceLowerBound
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
    gradient="reparam",
    free_bits=0.0,
    **divergence_options,
):
    """``"elbo"``, ``"beta-vae"`` (``beta``), ``"iwae"`` (``particles`` = K) or ``"infovae"``
    (``alpha``, ``lam``, ``divergence`` and its options).

    :param gradient: ``"reparam"``, ``"stl"`` (every objective) or ``"dreg"`` (IWAE only).
    :param free_bits: λ nats per latent dimension (ELBO and β-VAE only).
    """
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from {OBJECTIVES}")
    if free_bits and name not in ("elbo", "beta-vae"):
        raise ValueError(
            f"free_bits clamps the KL term of the ELBO / beta-VAE; {name} has no such option"
        )
    if name == "elbo":
        return EvidenceLowerBound(
            num_particles=particles, analytic_kl=analytic_kl, free_bits=free_bits, gradient=gradient
        )
    if name == "beta-vae":
        return BetaVAE(
            beta,
            num_particles=particles,
            analytic_kl=analytic_kl,
            free_bits=free_bits,
            gradient=gradient,
        )
    if name == "iwae":
        return IWAE(num_particles=max(int(particles), 1), gradient=gradient)
    return InfoVAE(
        alpha,
        lam,
        divergence,
        num_particles=particles,
        analytic_kl=analytic_kl,
        gradient=gradient,
        **divergence_options,
    )
