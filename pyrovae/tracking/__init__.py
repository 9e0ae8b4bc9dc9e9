"""Experiment tracking: loggers for :func:`pyrovae.infer.train`'s callbacks.

``train(..., callbacks=[TensorBoardLogger("runs/tb")])`` writes the namespaced numbers of every
step (``train/elbo``, ``train/kl``, ``valid/loss``, ``eval/...``), the run's configuration and,
at the end, the training curves as a figure. Each tracker is an optional extra, imported when a
logger is made: ``pip install -e ".[tensorboard]"`` or ``".[mlflow]"``. On the command line:
``pyrovae train ... --log tensorboard:DIR`` or ``--log mlflow:URI``.
"""

from .loggers import MLflowLogger, TensorBoardLogger, logger_from_target

__all__ = ["MLflowLogger", "TensorBoardLogger", "logger_from_target"]
