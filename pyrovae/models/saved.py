"""Save a trained VAE and load it elsewhere: ``pyrovae.save(vae, path)`` / ``pyrovae.load(path)``.

One file holds what rebuilds the model — its config (:func:`~pyrovae.models.build_vae`'s) and
its parameters — with its provenance: the library versions that wrote it and, when given, the
content hash of the data it was trained on. The file is a pyrovae checkpoint container
(:mod:`pyrovae.checkpoint`): written atomically, checksummed, tensors, numbers and strings only
(``torch.load(path, weights_only=True)`` reads it), so loading never runs code.

For a model of your own (a Pyro model / guide written around your modules), save what rebuilds
it the same way: your factory's arguments and the modules' ``state_dict()``::

    torch.save({"args": {"z_dim": 20}, "state": net.state_dict()}, "mine.pt")
    saved = torch.load("mine.pt", weights_only=True)
    net = make_net(**saved["args"]); net.load_state_dict(saved["state"])

``pyrovae diagnose --model package.module:factory`` loads such a ``state_dict`` file.
"""

import os

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..provenance import tensor_digest, versions
from .factory import build_vae, load_vae
from .inputs import as_inputs
from .vae import VAE

__all__ = ["MODEL_FORMAT", "load", "save"]

#: the version of the saved-model layout this pyrovae writes and reads
MODEL_FORMAT = 1
KIND = "saved-model"


def _config_of(vae, config):
    """The config that rebuilds ``vae``: the one given, or the one build_vae recorded."""
    config = config if config is not None else getattr(vae, "config", None)
    if config is None:
        raise ValueError(
            "this VAE was not built from a config, so a file cannot say how to rebuild it: "
            "build it with pyrovae.models.build_vae(config) (or pass save(..., config=) that "
            "build_vae turns into the same architecture); for a model of your own, save your "
            "factory's arguments and state_dict() (see pyrovae.models.saved)"
        )
    fresh = build_vae(dict(config)).state_dict()
    mine = vae.state_dict()
    if {k: tuple(v.shape) for k, v in fresh.items()} != {
        k: tuple(v.shape) for k, v in mine.items()
    }:
        raise ValueError(
            "build_vae(config) gives another architecture than this VAE (parameter names or "
            "shapes differ); pass the config it was built with"
        )
    return dict(config)


def save(vae: VAE, path, *, config=None, data=None, notes=None) -> str:
    """Write ``vae`` to ``path`` (atomically: a temporary file, renamed when complete).

    :param vae: a :class:`~pyrovae.models.VAE` made by :func:`~pyrovae.models.build_vae` (which
        records its config), or any VAE that ``build_vae(config)`` rebuilds.
    :param config: the build_vae config, when the VAE does not carry one.
    :param data: the training data (a tensor, or a tuple / dict of tensors): its content hash and
        size are stored, so a reader can tell which data the model saw.
    :param notes: JSON-like dict of anything else worth keeping (objective, steps, ...).
    :returns: the path written.
    """
    if not isinstance(vae, VAE):
        raise ValueError(
            f"pyrovae.save takes a pyrovae.models.VAE, got {type(vae).__name__}; for a model of "
            "your own, save your factory's arguments and state_dict() (see pyrovae.models.saved)"
        )
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give a file path, e.g. {path}/model.pt")
    if os.path.exists(path):  # replacing an earlier pyrovae file is fine; anything else is not
        try:
            load_checkpoint(path)
        except CheckpointError as err:
            raise ValueError(
                f"{path} exists and is not a pyrovae file ({err}); it is left as it is: save "
                "the model under another path"
            ) from None
    state = {
        "kind": KIND,
        "model_format": MODEL_FORMAT,
        "model_config": _config_of(vae, config),
        # the container's keys: parameters by name (checked for NaN / inf on loading)
        "param_names": list(vae.state_dict()),
        "params": {k: v.detach().cpu() for k, v in vae.state_dict().items()},
        "provenance": versions(),
        "data": {}
        if data is None
        else {"sha256": tensor_digest(data), "num_points": as_inputs(data).num_points},
        "notes": dict(notes or {}),
    }
    return save_checkpoint(path, state)


def load(path, map_location="cpu") -> VAE:
    """The VAE saved at ``path`` by :func:`save` (or the model of a ``pyrovae train``
    checkpoint), in eval mode, with ``saved_with`` (the file's provenance, data hash and notes).

    :raises CheckpointError: not a pyrovae file, a corrupted one, or one of a newer layout.
    """
    state = load_checkpoint(path, map_location=map_location)
    if state.get("kind") != KIND:
        if (state.get("config") or {}).get("model"):
            return load_vae(path, map_location=map_location)  # a `pyrovae train` checkpoint
        raise CheckpointError(
            f"{path} is a pyrovae checkpoint without a saved model (its own model was not "
            "recorded); load your model's parameters with "
            "pyrovae.models.user.load_user_parameters(model, guide, path, x)"
        )
    written = state.get("model_format")
    if written != MODEL_FORMAT:
        raise CheckpointError(
            f"{path} holds saved-model layout {written!r}, written by pyrovae "
            f"{state.get('provenance', {}).get('pyrovae', '?')}; this pyrovae "
            f"{versions()['pyrovae']} reads layout {MODEL_FORMAT}: load it with that version"
        )
    vae = build_vae(state["model_config"])
    vae.load_state_dict(state["params"])
    vae.saved_with = {
        "provenance": state.get("provenance", {}),
        "data": state.get("data", {}),
        "notes": state.get("notes", {}),
    }
    return vae.to(map_location).eval()
