"""Experiments that reproduce claims of the source papers; each writes results.json and PNGs.

Each module has ``run(out, profile="quick"|"full", device, seed, data, progress, overrides)
-> dict`` and its settings per profile in ``SETTINGS``; ``overrides`` (``--set key=value``)
replaces any of them, type-checked (:mod:`.settings`). ``pyrovae reproduce NAME`` runs one,
``pyrovae reproduce --list`` lists them, ``pyrovae sweep`` runs grids of them.
"""

REGISTRY = {
    "linear-vae-ppca": "linear_vae_ppca",
    "sigma-collapse": "sigma_collapse",
    "unbounded-likelihood": "unbounded_likelihood",
    "dai-local-minimum": "dai_local_minimum",
    "libi-synthetic": "libi_synthetic",
    "infovae-two-point": "infovae_two_point",
    "infovae-mnist-variance": "infovae_mnist_variance",
    "infovae-posteriors": "infovae_posteriors",
    "infovae-comparison": "infovae_comparison",
    "infovae-likelihood": "infovae_likelihood",
}


def describe(name):
    """The first docstring line of an experiment's module."""
    import importlib

    return importlib.import_module(f"{__name__}.{REGISTRY[name]}").__doc__


def _module(name):
    import importlib

    if name not in REGISTRY:
        raise ValueError(
            f"unknown experiment {name!r}; choose from {', '.join(REGISTRY)} "
            "(`pyrovae reproduce --list` describes them)"
        )
    return importlib.import_module(f"{__name__}.{REGISTRY[name]}")


def get(name):
    """The run function of an experiment."""
    return _module(name).run


def experiment_settings(name, profile="quick", overrides=None) -> dict:
    """The settings ``run`` would use for this profile and these overrides (checked: an unknown
    key or a value of the wrong type raises ``ValueError`` naming the settings)."""
    from .common import check_profile
    from .settings import resolve_settings

    module = _module(name)
    base = dict(getattr(module, "DEFAULTS", {}), **module.SETTINGS[check_profile(profile)])
    return resolve_settings(base, overrides, name)
