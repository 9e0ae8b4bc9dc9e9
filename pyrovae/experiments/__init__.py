"""Experiments that reproduce claims of the source papers; each writes results.json and PNGs.

The modules here are the experiments, one per claim; what they are built on is
:mod:`pyrovae.experiments.framework`. Each follows its skeleton (a frozen ``Config`` with
``quick`` and ``full`` profiles, ``run``, ``checks``, ``plot``); ``overrides`` (``--set
key=value``) replace any setting, type-checked. ``pyrovae reproduce NAME`` runs one (``get``),
``pyrovae reproduce --list`` lists them, ``pyrovae sweep`` runs grids of them and ``pyrovae
reproduce --report`` tabulates their results.
"""

from .framework.registry import REGISTRY, describe, experiment_module, experiment_settings, get

__all__ = ["REGISTRY", "describe", "experiment_module", "experiment_settings", "get"]
