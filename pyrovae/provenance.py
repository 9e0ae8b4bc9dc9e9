"""Where a record came from: content hashes of data (files, folders, tensors) and the versions of
the software that produced it. Results, sweep specs, checkpoints and merges carry these, so runs
on different data never mix silently (resume, sweep-resume and merge compare them)."""

import hashlib
import os
import platform

import torch

__all__ = ["data_record", "digest_update", "file_digest", "tensor_digest", "versions"]

_FILE_CACHE = {}


def versions() -> dict:
    """The versions of pyrovae, torch, pyro, numpy and Python."""
    import numpy
    import pyro

    from . import __version__

    found = {
        "pyrovae": __version__,
        "torch": torch.__version__,  # a str subclass: plain str below, or a checkpoint refuses it
        "pyro": pyro.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
    return {name: str(version) for name, version in found.items()}


def _hash_file(path, h):
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def file_digest(path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative names and bytes, sorted;
    hidden files left out). Cached per path, size and modification time."""
    path = os.path.realpath(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"no data at {path}")
    stamp = []
    files = [path]
    if os.path.isdir(path):
        files = sorted(
            os.path.join(root, name)
            for root, dirs, names in os.walk(path)
            for name in names
            if not name.startswith(".")
        )
    for file in files:
        st = os.stat(file)
        stamp.append((file, st.st_size, st.st_mtime_ns))
    key = (path, tuple(stamp))
    if key not in _FILE_CACHE:
        h = hashlib.sha256()
        for file in files:
            h.update(os.path.relpath(file, path).encode() + b"\0")
            _hash_file(file, h)
        _FILE_CACHE[key] = h.hexdigest()
    return _FILE_CACHE[key]


def digest_update(h, header: str, tensor: torch.Tensor):
    """Feed one tensor into hash ``h``: ``header`` and its dtype and shape, then its bytes
    (device-independent). :func:`tensor_digest` and data-set fingerprints both hash this way."""
    t = tensor.detach().cpu().contiguous()
    h.update(f"{header}{t.dtype}:{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def tensor_digest(data) -> str:
    """SHA-256 of the tensors of ``data`` (a tensor, a tuple / dict of tensors,
    :class:`~pyrovae.models.inputs.Inputs`, or a list of those, e.g. the streams of a run):
    dtype, shape and bytes, device-independent."""
    from .models.inputs import as_inputs

    parts = data if isinstance(data, list) else [data]
    h = hashlib.sha256()
    for k, part in enumerate(parts):
        for label, tensor in as_inputs(part).tensors().items():
            digest_update(h, f"{k}:{label}:", tensor)
    return h.hexdigest()


def data_record(path=None, **details) -> dict:
    """``{"path", "sha256", **details}`` for data read from ``path`` (``None``: no file, e.g.
    data an experiment generates itself); ``details`` such as the split or a limit."""
    if path is None:
        return {"path": None, **details}
    return {"path": os.path.abspath(os.fspath(path)), "sha256": file_digest(path), **details}
