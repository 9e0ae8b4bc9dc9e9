"""Objectives (each a thin ``pyro.infer.ELBO`` subclass) and the training loop."""

from ..checkpoint import load_checkpoint, save_checkpoint
from .beta_vae import ELBO, BetaVAE
from .divergences import AdversarialDivergence, MMDDivergence, SteinDivergence
from .infovae import InfoVAE
from .iwae import IWAE
from .per_point import fit_per_point_guide
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
    "fit_per_point_guide",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
