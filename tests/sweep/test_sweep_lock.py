"""pyrovae.sweep.lock: one driver per sweep folder (two drivers on one folder would drop each
other's rows from sweep.json)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from pyrovae.sweep import run_sweep
from pyrovae.sweep.lock import LOCK_FILE, sweep_lock

TINY = {"n": "200", "phases": "((5, 0.05),)"}


def _write_lock(folder, pid, host=None):
    holder = {"pid": pid, "host": host or socket.gethostname(), "since": 0.0}
    (folder / LOCK_FILE).write_text(json.dumps(holder))


def test_a_held_lock_refuses_a_second_driver_and_is_removed_at_the_end(tmp_path):
    with sweep_lock(tmp_path):
        assert (tmp_path / LOCK_FILE).exists()
        with pytest.raises(ValueError, match=f"process {os.getpid()} on"):
            with sweep_lock(tmp_path):
                pass
        assert (tmp_path / LOCK_FILE).exists()  # the refusal left the holder's lock alone
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_sweep_into_a_folder_held_by_a_live_driver_is_refused_untouched(tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        try:
            _write_lock(out, other.pid)
            before = sorted(os.listdir(out))
            with pytest.raises(
                ValueError, match=f"being swept by another driver \\(process {other.pid}"
            ):
                run_sweep("linear-vae-ppca", sets=TINY, out=str(out), progress=False)
            assert sorted(os.listdir(out)) == before  # no sweep.json written
        finally:
            other.kill()


def test_the_lock_of_a_killed_driver_on_this_host_is_taken_over(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _write_lock(tmp_path, int(done.stdout))  # that process has exited
    with sweep_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_from_another_host_is_refused_naming_the_file_to_delete(tmp_path):
    _write_lock(tmp_path, 1, host="elsewhere.invalid")
    with pytest.raises(ValueError, match=f"delete {tmp_path / LOCK_FILE}"):
        with sweep_lock(tmp_path):
            pass
