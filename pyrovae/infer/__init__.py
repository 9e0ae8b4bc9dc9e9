"""Objectives (each a thin ``pyro.infer.ELBO`` subclass) and the training loop."""

from ..checkpoint import load_checkpoint, save_checkpoint
from .beta_vae import ELBO, BetaVAE
from .divergences import AdversarialDivergence, MMDDivergence, SteinDivergence
from .infovae import InfoVAE
from .iwae import IWAE
from .libi import LiBI
from .libi_fit import frozen_model, libi_fit
from .per_point import fit_per_point_guide
from .train import SVIStepper, TrainingDiverged, TrainResult, train

__all__ = [
    "ELBO",
    "IWAE",
    "LiBI",
    "AdversarialDivergence",
    "BetaVAE",
    "InfoVAE",
    "MMDDivergence",
    "SVIStepper",
    "SteinDivergence",
    "TrainResult",
    "TrainingDiverged",
    "fit_per_point_guide",
    "frozen_model",
    "libi_fit",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
