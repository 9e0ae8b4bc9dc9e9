"""What the InfoVAE MNIST reproductions share (``infovae-comparison``, Fig. 6, and
``infovae-likelihood``, Table 1; Zhao, Song, Ermon 2019): the conv-VAE training settings and
the objectives in the order of the paper's figures."""

from dataclasses import dataclass

from ..checks import NON_NEGATIVE
from ..infer import BetaVAE, EvidenceLowerBound, InfoVAE


@dataclass(frozen=True)
class ConvInfoVAESettings:
    """``n_train`` binarized-MNIST images, ``steps`` of Adam at batch ``batch_size``; conv nets
    (``channels``, ``hidden``) with a ``decoder`` "conv" or "pixelcnn"; InfoVAE with (α, λ).
    ``stage_minutes`` > 0: each model's training stops after that many minutes (what it ran
    is recorded)."""

    n_train: int = 10000
    steps: int = 1000
    batch_size: int = 100
    channels: int = 16
    hidden: int = 256
    decoder: str = "conv"
    alpha: float = 1.0
    lam: float = NON_NEGATIVE.field(1000.0)
    stage_minutes: float = NON_NEGATIVE.field(0.0)


def infovae_objectives(alpha=1.0, lam=1000.0, autoencoder=False):
    """(label, objective): the ELBO, InfoVAE with MMD, Stein and adversarial divergences, and
    with ``autoencoder`` a β = 0 VAE (no KL term), in the order of the paper's figures."""
    chosen = [
        ("ELBO", EvidenceLowerBound()),
        ("InfoVAE-MMD", InfoVAE(alpha, lam, "mmd")),
        ("InfoVAE-Stein", InfoVAE(alpha, lam, "stein")),
        ("InfoVAE-adversarial", InfoVAE(alpha, lam, "adversarial")),
    ]
    if autoencoder:
        chosen.append(("Autoencoder", BetaVAE(0.0)))
    return chosen
