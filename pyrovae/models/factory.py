"""Build a :class:`VAE` from a plain, JSON-serializable config, and restore one from a checkpoint.

The config is what ``pyrovae train`` stores in its checkpoint, so a trained model can be rebuilt
without pickled code. Keys (defaults in :data:`DEFAULT_CONFIG`): ``data_shape``, ``z_dim``,
``net`` ("mlp" or "conv"), ``hidden`` (MLP widths), ``activation`` (of the MLPs: "relu", "tanh",
...), ``likelihood`` ("bernoulli", "gaussian", "gaussian-learned", "gaussian-decoder"), ``sigma``,
``min_variance``, ``per_dimension``, ``init_log_variance``.
"""

import math

import torch

from ..checkpoint import load_checkpoint
from ..nets import MLP, ConvDecoder28, ConvEncoder28
from .grey_levels import BetaLikelihood, ContinuousBernoulli
from .likelihoods import Bernoulli, DecoderGaussian, Gaussian, LearnedGaussian
from .vae import VAE

#: the value of every key a config may leave out
DEFAULT_CONFIG = dict(
    z_dim=2,
    net="mlp",
    hidden=[400],
    activation="relu",
    likelihood="bernoulli",
    sigma=1.0,
    min_variance=0.0,
    per_dimension=False,
    init_log_variance=0.0,
)
LIKELIHOODS = (
    "bernoulli",
    "gaussian",
    "gaussian-learned",
    "gaussian-decoder",
    "continuous-bernoulli",
    "beta",
)


def build_likelihood(cfg):
    """The likelihood module a config's ``likelihood`` entry names (``bernoulli``, ``gaussian``,
    ``gaussian-learned``, ``gaussian-decoder``, ``continuous-bernoulli``, ``beta``), with its
    settings."""
    name = cfg["likelihood"]
    if name == "bernoulli":
        return Bernoulli()
    if name == "gaussian":
        return Gaussian(cfg["sigma"])
    if name == "gaussian-learned":
        return LearnedGaussian(
            init_sigma=cfg["sigma"],
            per_dimension=cfg["per_dimension"],
            data_shape=cfg["data_shape"],
            min_variance=cfg["min_variance"],
        )
    if name == "gaussian-decoder":
        return DecoderGaussian(
            min_variance=cfg["min_variance"], init_log_variance=cfg["init_log_variance"]
        )
    if name == "continuous-bernoulli":
        return ContinuousBernoulli()
    if name == "beta":
        return BetaLikelihood()
    raise ValueError(f"unknown likelihood {name!r}; choose from {LIKELIHOODS}")


def build_vae(config: dict) -> VAE:
    """A fresh VAE for ``config`` (must hold ``data_shape``)."""
    cfg = dict(DEFAULT_CONFIG, **config)
    if "data_shape" not in config:
        raise ValueError("config needs data_shape, e.g. [784]")
    data_shape = tuple(cfg["data_shape"])
    likelihood = build_likelihood(cfg)
    d, z, m = math.prod(data_shape), int(cfg["z_dim"]), likelihood.num_outputs
    if cfg["net"] == "mlp":
        act = cfg["activation"]
        encoder = MLP(d, cfg["hidden"], 2 * z, activation=act)
        decoder = MLP(z, list(cfg["hidden"])[::-1], m * d, activation=act)
    elif cfg["net"] == "conv":
        if d != 784:
            raise ValueError(f"the conv nets are for 28x28 images (784 values), data has {d}")
        encoder, decoder = ConvEncoder28(2 * z), ConvDecoder28(z, out_channels=m)
    else:
        raise ValueError(f"unknown net {cfg['net']!r}; use 'mlp' or 'conv'")
    vae = VAE(encoder, decoder, likelihood, z, data_shape)
    vae.config = dict(config)  # what pyrovae.save stores to rebuild it
    return vae


def copy_named_params(targets: dict, params: dict, source: str, hint: str):
    """Copy ``params[name]`` into every tensor of ``targets`` (``{name: tensor}``, in place, no
    gradient); a name missing from ``params`` or a shape that differs is a ``ValueError``
    naming ``source`` and ending with ``hint``."""
    missing = sorted(set(targets) - set(params))
    if missing:
        raise ValueError(f"{source} lacks parameters of this model: {missing[:5]}; {hint}")
    with torch.no_grad():
        for name, target in targets.items():
            value = params[name]
            if value.shape != target.shape:
                raise ValueError(
                    f"parameter {name!r}: shape {tuple(value.shape)} in {source}, "
                    f"{tuple(target.shape)} in the model; {hint}"
                )
            target.copy_(value.to(target.device, target.dtype))


def load_params_into(vae: VAE, params: dict):
    """Copy Pyro param-store entries (``"encoder$$$net.0.weight"``, unconstrained) into ``vae``.

    Every parameter of the VAE's children must be present; entries of other modules (an
    objective's discriminator, say) are ignored.
    """
    expected = {
        f"{child}$$${name}": p
        for child, module in vae.named_children()
        for name, p in module.named_parameters()
    }
    copy_named_params(expected, params, "the checkpoint", "was it trained with the same config?")
    return vae


def load_vae(path, map_location="cpu") -> VAE:
    """Rebuild the VAE saved by ``pyrovae train`` (or :func:`pyrovae.infer.train` with a
    ``config`` holding a ``model`` entry) from its checkpoint."""
    state = load_checkpoint(path, map_location=map_location)
    cfg = state.get("config", {}).get("model")
    if not cfg:
        raise ValueError(
            f"{path} stores no model config (it was not written by `pyrovae train`); for your "
            "own model pass --model package.module:factory to `pyrovae diagnose`, or in Python "
            "use pyrovae.models.user.load_user_parameters(model, guide, path, x)"
        )
    return load_params_into(build_vae(cfg), state["params"])
