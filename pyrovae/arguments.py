"""Deprecated name of :mod:`pyrovae.checks` (argument checks and declared bounds)."""

import warnings

from .checks import *  # noqa: F403
from .checks import __all__  # noqa: F401

warnings.warn(
    "pyrovae.arguments is renamed pyrovae.checks; import from there",
    DeprecationWarning,
    stacklevel=2,
)
