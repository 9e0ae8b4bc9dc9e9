"""Experiments that reproduce claims of the source papers; each writes results.json and PNGs.

Each module follows the skeleton of :mod:`.skeleton` (a frozen ``Config`` with ``quick`` and
``full`` profiles, ``run``, ``checks``, ``plot``); ``overrides`` (``--set key=value``) replace
any setting, type-checked (:mod:`.settings`). ``pyrovae reproduce NAME`` runs one (``get``),
``pyrovae reproduce --list`` lists them, ``pyrovae sweep`` runs grids of them and ``pyrovae
reproduce --report`` tabulates their results.
"""

REGISTRY = {
    "linear-vae-ppca": "linear_vae_ppca",
    "sigma-collapse": "sigma_collapse",
    "unbounded-likelihood": "unbounded_likelihood",
    "dai-local-minimum": "dai_local_minimum",
    "dai-depth": "dai_depth",
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
    """``run(out, profile, device, seed, data, progress, overrides) -> results`` of an
    experiment, through :func:`~pyrovae.experiments.skeleton.run_experiment`."""
    module = _module(name)

    def run(
        out=None, profile="quick", device="cpu", seed=0, data=None, progress=False, overrides=None
    ):
        from .skeleton import run_experiment

        return run_experiment(module, name, out, profile, device, seed, data, progress, overrides)

    return run


def experiment_settings(name, profile="quick", overrides=None):
    """The config ``run`` would use for this profile and these overrides; an unknown key or a
    value of the wrong type raises ``ValueError`` naming the settings."""
    from .skeleton import configure

    return configure(_module(name), name, profile, overrides)
