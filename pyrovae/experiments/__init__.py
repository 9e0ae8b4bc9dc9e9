"""Experiments that reproduce claims of the source papers; each writes results.json and PNGs.

Each module has ``run(out, profile="quick"|"full", device, seed, data, progress) -> dict``;
``pyrovae reproduce NAME`` runs one, ``pyrovae reproduce --list`` lists them.
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


def get(name):
    """The run function of an experiment."""
    import importlib

    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; `pyrovae reproduce --list` lists them")
    return importlib.import_module(f"{__name__}.{REGISTRY[name]}").run
