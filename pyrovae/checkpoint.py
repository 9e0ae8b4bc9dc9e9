"""Atomic, code-free checkpoints: tensors, numbers and strings only (``weights_only=True``)."""

import glob
import io
import os
import pickle
import tempfile
import zipfile

import torch

FORMAT = "pyrovae-checkpoint-1"
TMP_PREFIX = ".tmp-"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what is wrong."""


def _write(path, write_fn, suffix):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    # a write killed mid-way leaves a temporary file; the next save of the same file removes it
    for stray in glob.glob(os.path.join(glob.escape(folder), f"{TMP_PREFIX}{glob.escape(name)}-*")):
        try:
            os.unlink(stray)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{name}-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_atomic(path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    return _write(os.fspath(path), lambda f: f.write(data), ".part")


def save_checkpoint(path, state: dict) -> str:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A crash mid-write leaves the previous checkpoint intact (and a stray temporary file, which
    the next save removes).
    """
    return _write(os.fspath(path), lambda f: torch.save({"format": FORMAT, **state}, f), ".pt")


def _unreadable(path, detail):
    return CheckpointError(
        f"{path} is not a readable checkpoint (truncated or corrupted: {detail}); "
        "restore it from a copy or start a new run"
    )


def load_checkpoint(path, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` without executing any code.

    :raises FileNotFoundError: no file at ``path``.
    :raises CheckpointError: a folder, a truncated or corrupted file, a file that is not a
        pyrovae checkpoint, or one holding code (refused: only tensors, numbers and strings load).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise CheckpointError(
            f"{path} is a folder; give the checkpoint file inside it (e.g. {path}/checkpoint.pt)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" not in str(err).lower():  # garbage bytes, not a refused object
            raise _unreadable(path, "bytes that are neither a zip archive nor a pickle") from err
        raise CheckpointError(
            f"refused to load {path}: it holds Python objects other than tensors, numbers and "
            "strings (code could run on loading), so it was not written by pyrovae. Only load "
            "files from sources you trust."
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, io.UnsupportedOperation, OSError) as err:
        lines = str(err).strip().splitlines()
        raise _unreadable(path, f"{type(err).__name__}: {lines[0][:200] if lines else ''}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pyrovae checkpoint (expected format {FORMAT!r})")
    missing = [k for k in ("params", "param_names") if k not in state]
    if missing:
        raise CheckpointError(f"{path} is a pyrovae checkpoint without {missing}: it is incomplete")
    return state
