"""Objectives (each a thin ``pyro.infer.ELBO`` subclass) and the training loop."""

import warnings

from ..checkpoint import load_checkpoint, save_checkpoint
from .callbacks import Callback
from .divergences import AdversarialDivergence, MMDDivergence, SteinDivergence
from .elbo import BetaVAE, EvidenceLowerBound
from .infovae import InfoVAE
from .iwae import IWAE
from .libi import LiBI
from .libi_fit import frozen_model, libi_fit
from .per_point_fit import fit_per_point_guide
from .record import ObjectiveRecord
from .stepper import SVIStepper
from .streams import Stream
from .train import TrainingDiverged, TrainResult, train
from .train_options import TrainOptions

__all__ = [
    "IWAE",
    "AdversarialDivergence",
    "BetaVAE",
    "Callback",
    "EvidenceLowerBound",
    "InfoVAE",
    "LiBI",
    "MMDDivergence",
    "ObjectiveRecord",
    "SVIStepper",
    "SteinDivergence",
    "Stream",
    "TrainOptions",
    "TrainResult",
    "TrainingDiverged",
    "fit_per_point_guide",
    "frozen_model",
    "libi_fit",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]

_DEPRECATED = {"ELBO": "EvidenceLowerBound"}


def __getattr__(name):
    # old names keep working, with a DeprecationWarning naming the new one
    if name in _DEPRECATED:
        warnings.warn(
            f"pyrovae.infer.{name} is renamed {_DEPRECATED[name]} ({name} shadowed "
            f"pyro.infer.ELBO)",
            DeprecationWarning,
            stacklevel=2,
        )
        from .elbo import ELBO

        return ELBO
    raise AttributeError(f"module 'pyrovae.infer' has no attribute {name!r}")
