"""Deprecated: the ELBO family lives in :mod:`pyrovae.infer.elbo` (import it from
``pyrovae.infer``); this alias will be removed in a later release."""

import warnings

from .elbo import BetaVAE, EvidenceLowerBound, check_stl  # noqa: F401

warnings.warn(
    "pyrovae.infer.beta_vae is renamed pyrovae.infer.elbo (import BetaVAE / EvidenceLowerBound "
    "from pyrovae.infer)",
    DeprecationWarning,
    stacklevel=2,
)
