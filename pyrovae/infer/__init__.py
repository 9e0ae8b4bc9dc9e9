"""Objectives (each a thin ``pyro.infer.ELBO`` subclass) and the training loop."""

from ..checkpoint import load_checkpoint, save_checkpoint
from .beta_vae import ELBO, BetaVAE
from .divergences import AdversarialDivergence, MMDDivergence, SteinDivergence
from .infovae import InfoVAE
from .iwae import IWAE
from .train import SVIStepper, TrainingDiverged, TrainResult, train

__all__ = [
    "ELBO",
    "IWAE",
    "AdversarialDivergence",
    "BetaVAE",
    "InfoVAE",
    "MMDDivergence",
    "SVIStepper",
    "SteinDivergence",
    "TrainResult",
    "TrainingDiverged",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
