"""pyrovae: see and fix what goes wrong in variational autoencoders, in Pyro.

Layers (imports flow one way, top to bottom; nothing imports ``cli`` or ``experiments``)::

    checks       argument checks and declared bounds (used everywhere below)
    checkpoint   atomic, checksummed, code-free files; JSON reading (used by infer and models)
    provenance   versions and content hashes of data, for every record
    ops          pure torch math: kernels, MMD estimators, logmeanexp
    nets         plain torch.nn modules (MLP, 28x28 conv); never call pyro.sample / pyro.param
    models       generative models p(x, z) as Pyro callables / PyroModules; likelihoods;
                 the linear-Gaussian oracle (pPCA); several inputs
    traces       any Pyro model / guide run with public handlers: data-plate adapter, traces,
                 log-weights, particles, enumeration
    guides       variational families beyond the amortized encoder (per-point Gaussian)
    infer        objectives, each a thin ``pyro.infer.ELBO`` subclass in its own file; the
                 training loop (``train``, its ``TrainOptions`` recipe, ``TrainingState``)
    posterior    reference posteriors with the decoder fixed: importance sampling, AIS / BDMC,
                 NUTS, vectorized HMC, grid
    diagnostics  numbers about a fitted model (likelihood, gaps, collapse, aggregate posterior, ...)
    plotting     matplotlib figures from tensors / records; never trains
    data         the two-point dataset, binarized MNIST / MNIST loaders
    experiments  one module per reproduced claim (``pyrovae demo``, ``pyrovae reproduce``);
                 what they are built on in ``experiments.framework``
    sweep        grids of settings x seeds on Ray
    cli          thin argparse front over the library

The model / guide contract every objective relies on is documented in :mod:`pyrovae.models`.
"""

__version__ = "0.1.0"

__all__ = ["load", "save"]


def __getattr__(name):
    # pyrovae.save / pyrovae.load (pyrovae.models.saved), imported when first used so that
    # `import pyrovae` (and the command line's start) stays light
    if name in ("save", "load"):
        from .models import saved

        return getattr(saved, name)
    raise AttributeError(f"module 'pyrovae' has no attribute {name!r}")
