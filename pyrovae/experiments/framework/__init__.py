"""What every experiment is built on: the registry of experiments by name (:mod:`.registry`),
the skeleton each follows (:mod:`.skeleton`: a frozen ``Config`` with ``quick`` and ``full``
profiles, ``run``, ``checks``, ``plot``), typed ``--set`` settings (:mod:`.settings`), shared
helpers (:mod:`.common`), merging runs (:mod:`.merge`) and the verdict table
(:mod:`.verdict_table`)."""

from .registry import REGISTRY, describe, experiment_module, experiment_settings, get

__all__ = ["REGISTRY", "describe", "experiment_module", "experiment_settings", "get"]
