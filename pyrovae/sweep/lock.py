"""One driver per sweep folder: ``OUT/.sweep.lock``, created atomically by the driver that runs
the sweep and removed when it ends.

Two drivers on one folder would each rewrite ``sweep.json`` from their own rows, and the later
write would drop the other's finished runs. The lock file records the holder (process id, host,
start time). A second driver is refused with a message naming the holder. A lock left by a
driver that was killed is recognised when it was taken on this host and its process is gone,
and taken over; a lock from another host cannot be checked from here, so the message names the
file to delete once that driver is known to be gone.
"""

import contextlib
import json
import os
import socket
import time

LOCK_FILE = ".sweep.lock"


def _holder(path):
    try:
        with open(path) as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


def _gone(holder):
    """True when the holder ran on this host and its process no longer exists."""
    if holder is None or holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, TypeError, ValueError, OverflowError):
        return False
    return False


@contextlib.contextmanager
def sweep_lock(folder):
    """Hold ``folder``'s sweep lock for the ``with`` block; ``ValueError`` naming the holder
    when another live driver holds it."""
    path = os.path.join(folder, LOCK_FILE)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(path)
            if _gone(holder):  # a killed driver of this host: take its lock over
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                continue
            who = (
                f"process {holder.get('pid')} on {holder.get('host')}, since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder.get('since', 0)))}"
                if holder
                else "a driver whose lock file is unreadable"
            )
            raise ValueError(
                f"{folder} is being swept by another driver ({who}): wait for it to finish or "
                f"give another --out; if that driver is gone, delete {path}"
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(mine, f)
        break
    else:  # the lock changed hands while we looked
        raise ValueError(f"{folder} is being swept by another driver; try again, or delete {path}")
    try:
        yield
    finally:
        if _holder(path) == mine:
            os.remove(path)
