"""pyrovae.checkpoint: a checksum written with every checkpoint and verified on load, so a file
changed after it was written is refused (it once loaded, and training blamed the learning rate);
NaN / inf parameters or optimizer state are refused with the file named."""

import os
import re
import struct

import numpy as np
import pytest
import torch
from helpers import binary_data, small_vae

from pyrovae.checkpoint import CheckpointError, checksum, load_checkpoint, save_checkpoint
from pyrovae.infer import train


def _flip_inside(path, values):
    """XOR 8 bytes in the middle of the stored float32 ``values`` (found in the file)."""
    raw = bytearray(path.read_bytes())
    start = bytes(raw).index(struct.pack(f"<{len(values)}f", *values))
    middle = start + 2 * len(values)
    raw[middle : middle + 8] = bytes(b ^ 0x5A for b in raw[middle : middle + 8])
    path.write_bytes(bytes(raw))


def test_a_bit_flip_in_a_tensor_is_refused_by_the_checksum(tmp_path):
    values = np.linspace(0.5, 1.5, 64).astype(np.float32)
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"params": {"w": torch.as_tensor(values)}, "param_names": ["w"]})
    assert load_checkpoint(path)["sha256"] == checksum(load_checkpoint(path))
    _flip_inside(path, values.tolist())
    state = torch.load(path, weights_only=True)  # torch itself reads the changed values
    assert not torch.equal(state["params"]["w"], torch.as_tensor(values))
    with pytest.raises(CheckpointError, match=r"ck.pt fails its checksum"):
        load_checkpoint(path)


def test_a_corrupted_optimizer_state_stops_resume_and_the_file_stays(tmp_path):
    """Train with a checkpoint, flip bytes of Adam's exp_avg_sq in it: resume refuses before any
    step, naming the file, and does not rewrite it."""
    x, vae = binary_data(n=64), small_vae()
    path = tmp_path / "checkpoint.pt"
    train(vae.model, vae.guide, x, steps=5, batch_size=16, checkpoint=path, progress=False)
    state = load_checkpoint(path)
    exp_avg_sq = next(
        s["exp_avg_sq"]
        for s in state["optimizer"]["state"].values()
        if s["exp_avg_sq"].numel() >= 8
    )
    _flip_inside(path, exp_avg_sq.flatten().tolist())
    corrupted = path.read_bytes()
    with pytest.raises(CheckpointError, match="fails its checksum"):
        train(
            vae.model,
            vae.guide,
            x,
            steps=10,
            batch_size=16,
            checkpoint=path,
            resume=True,
            progress=False,
        )
    assert path.read_bytes() == corrupted


@pytest.mark.parametrize("where", ["params", "optimizer"])
def test_non_finite_values_are_refused_with_the_file_named(tmp_path, where):
    state = {"params": {"w": torch.ones(3)}, "param_names": ["w"]}
    bad = torch.tensor([1.0, float("nan"), 2.0])
    if where == "params":
        state["params"]["w"] = bad
    else:
        state["optimizer"] = {"state": {0: {"exp_avg": bad}}, "param_groups": []}
    save_checkpoint(tmp_path / "nan.pt", state)
    with pytest.raises(CheckpointError, match=rf"nan.pt holds a NaN / inf value in {where}\["):
        load_checkpoint(tmp_path / "nan.pt")


def test_a_checkpoint_without_checksum_loads_with_a_warning(tmp_path):
    torch.save(
        {"format": "pyrovae-checkpoint-1", "params": {"w": torch.ones(2)}, "param_names": ["w"]},
        tmp_path / "old.pt",
    )
    with pytest.warns(UserWarning, match="no checksum"):
        assert load_checkpoint(tmp_path / "old.pt")["param_names"] == ["w"]


@pytest.mark.parametrize("content", [b"the user's data", b"\x80\x02}q", b"x"])
def test_short_garbage_is_a_checkpoint_error_not_a_traceback(tmp_path, content):
    """Bytes the weights-only unpickler starts reading as an old pickle and fails inside
    (IndexError there) are reported as an unreadable file, like any other corruption."""
    path = tmp_path / "garbage.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_a_write_keeps_the_temporary_file_of_a_writer_still_running(tmp_path):
    """Processes writing one file at once (stages of one run side by side) must not remove
    each other's temporary file; a dead writer's is a stray and goes."""
    import socket
    import subprocess

    from pyrovae.checkpoint import write_atomic

    host = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())
    finished = subprocess.Popen(["true"])
    finished.wait()
    live = tmp_path / f".tmp-r.json-{os.getppid()}@{host}-abc.part"
    dead = tmp_path / f".tmp-r.json-{finished.pid}@{host}-def.part"
    elsewhere = tmp_path / f".tmp-r.json-{finished.pid}@another_host-ghi.part"
    old_layout = tmp_path / ".tmp-r.json-jkl.part"
    for path in (live, dead, elsewhere, old_layout):
        path.write_bytes(b"half a write")
    write_atomic(tmp_path / "r.json", b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["r.json", live.name, elsewhere.name]
    )
