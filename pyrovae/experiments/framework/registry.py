"""The experiments by name: which module reproduces which claim, and how to run one."""

import importlib

#: experiment name (``pyrovae reproduce NAME``) -> its module in ``pyrovae.experiments``
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

_PACKAGE = "pyrovae.experiments"


def experiment_module(name):
    """The module of experiment ``name`` (a key of :data:`REGISTRY`)."""
    if name not in REGISTRY:
        raise ValueError(
            f"unknown experiment {name!r}; choose from {', '.join(REGISTRY)} "
            "(`pyrovae reproduce --list` describes them)"
        )
    return importlib.import_module(f"{_PACKAGE}.{REGISTRY[name]}")


def describe(name):
    """The docstring of an experiment's module (its first line names the claim)."""
    return experiment_module(name).__doc__


def get(name):
    """``run(out, profile, device, seed, data, progress, overrides, budget_minutes,
    stages)`` of an experiment (its results), through
    :func:`~pyrovae.experiments.framework.skeleton.run_experiment`."""
    module = experiment_module(name)

    def run(
        out=None,
        profile="quick",
        device="cpu",
        seed=0,
        data=None,
        progress=False,
        overrides=None,
        budget_minutes=None,
        stages=None,
    ):
        from .skeleton import run_experiment

        return run_experiment(
            module,
            name,
            out,
            profile,
            device,
            seed,
            data,
            progress,
            overrides,
            budget_minutes,
            stages,
        )

    return run


def experiment_settings(name, profile="quick", overrides=None):
    """The config ``run`` would use for this profile and these overrides; an unknown key or a
    value of the wrong type raises ``ValueError`` naming the settings."""
    from .skeleton import configure

    return configure(experiment_module(name), name, profile, overrides)
