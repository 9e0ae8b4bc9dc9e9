"""Atomic, code-free, checksummed checkpoints: tensors, numbers and strings only
(``weights_only=True``), with a SHA-256 digest of their content written beside them and verified
on load, so a file changed after it was written (a flipped bit on disk, a bad copy, an edit) is
refused instead of resuming from corrupted parameters or optimizer state."""

import glob
import hashlib
import io
import json
import math
import os
import pickle
import re
import socket
import stat
import tempfile
import warnings
import zipfile

import torch

FORMAT = "pyrovae-checkpoint-1"
TMP_PREFIX = ".tmp-"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what is wrong."""


def _read_umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


_UMASK = _read_umask()  # read once, at import: os.umask can only be read by setting it


_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())


def _writer_is_running(tail) -> bool:
    """Whether the temporary file whose name goes on with ``tail`` ("PID@HOST-...") was made
    by a process still running on this host (another host's: assumed running)."""
    match = re.match(r"(\d+)@([^-]*)-", tail)
    if match is None:
        return False  # an older layout, without the writer: a stray
    pid, host = int(match.group(1)), match.group(2)
    if host != _HOST:
        return True
    if pid == os.getpid():
        return False  # this process's own earlier, unfinished write
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mode_for(path):
    """The permissions a rewritten file keeps (a new one: what ``open`` would give it, not
    the 0600 of a temporary file)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _write(path, write_fn, suffix):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    # a write killed mid-way leaves a temporary file; the next save of the same file removes
    # it, unless the process that made it is still running (processes writing one file at once)
    pattern = os.path.join(glob.escape(folder), f"{TMP_PREFIX}{glob.escape(name)}-*")
    for stray in glob.glob(pattern):
        if _writer_is_running(os.path.basename(stray)[len(TMP_PREFIX) + len(name) + 1 :]):
            continue
        try:
            os.unlink(stray)
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(
        prefix=f"{TMP_PREFIX}{name}-{os.getpid()}@{_HOST}-", suffix=suffix, dir=folder
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_atomic(path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    return _write(os.fspath(path), lambda f: f.write(data), ".part")


def _digest(value, h):
    """Feed ``value`` (nested dicts / lists of tensors, numbers, strings) into hash ``h``."""
    if isinstance(value, dict):
        h.update(b"{%d" % len(value))
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _digest(value[key], h)
    elif isinstance(value, (list, tuple)):
        h.update(b"[%d" % len(value))
        for item in value:
            _digest(item, h)
    elif torch.is_tensor(value):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        h.update(repr(value).encode())


def checksum(state: dict) -> str:
    """SHA-256 of a checkpoint's content (every key but ``sha256``), independent of devices."""
    h = hashlib.sha256()
    _digest({k: v for k, v in state.items() if k != "sha256"}, h)
    return h.hexdigest()


def read_json(path, fix: str):
    """The JSON value in the file ``path``; a truncated or edited file is a ``ValueError`` that
    names it and ends with ``fix``."""
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not readable JSON ({err}): truncated or edited; {fix}"
        ) from None


def save_checkpoint(path, state: dict) -> str:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then rename;
    the file holds the content's :func:`checksum` under ``sha256``.

    A crash mid-write leaves the previous checkpoint intact (and a stray temporary file, which
    the next save removes).
    """
    state = {"format": FORMAT, **state}
    state["sha256"] = checksum(state)
    return _write(os.fspath(path), lambda f: torch.save(state, f), ".pt")


def _first_non_finite(value, where):
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_non_finite(item, f"{where}[{key!r}]")
            if found:
                return found
    elif torch.is_tensor(value) and value.is_floating_point():
        if not torch.isfinite(value).all():
            return where
    elif isinstance(value, float) and not math.isfinite(value):
        return where
    return None


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
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        io.UnsupportedOperation,
        OSError,
        # short garbage read as an old-style pickle makes the weights-only unpickler fail inside
        IndexError,
        KeyError,
        ValueError,
    ) as err:
        lines = str(err).strip().splitlines()
        raise _unreadable(path, f"{type(err).__name__}: {lines[0][:200] if lines else ''}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pyrovae checkpoint (expected format {FORMAT!r})")
    missing = [k for k in ("params", "param_names") if k not in state]
    if missing:
        raise CheckpointError(f"{path} is a pyrovae checkpoint without {missing}: it is incomplete")
    if "sha256" not in state:
        warnings.warn(
            f"{path} has no checksum (written by an older pyrovae): its content cannot be "
            "verified; the next save adds one",
            stacklevel=2,
        )
    elif checksum(state) != state["sha256"]:
        raise CheckpointError(
            f"{path} fails its checksum: its content changed after it was written (a corrupted "
            "disk or copy, or an edit); restore it from a copy or start a new run"
        )
    for key in ("params", "optimizer"):
        bad = _first_non_finite(state.get(key), key)
        if bad:
            raise CheckpointError(
                f"{path} holds a NaN / inf value in {bad}: the run it saved had diverged; "
                "resume from an earlier checkpoint or start a new run"
            )
    return state
