"""pyrovae.data.ArrayRows: the rows of a memory-mapped array as a data set, read a batch at a
time in the sampler's order."""

import numpy as np
import pytest
import torch
from helpers import binary_data, small_vae

from pyrovae.data import ArrayRows
from pyrovae.infer import train


def test_rows_and_batches_in_the_samplers_order(tmp_path):
    x = torch.rand(30, 5)
    np.save(tmp_path / "x.npy", x.numpy())
    rows = ArrayRows(np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert len(rows) == 30 and torch.equal(rows[7], x[7])
    order = [29, 3, 17, 3, 0]
    assert torch.equal(rows.__getitems__(order), x[order])
    assert rows[0].dtype == torch.float32 and ArrayRows(x.numpy(), torch.float64)[0].dtype == (
        torch.float64
    )
    with pytest.raises(ValueError, match="no rows"):
        ArrayRows(np.zeros((0, 5)))


def test_a_memory_mapped_file_trains_bitwise_like_the_tensor(tmp_path):
    x = binary_data(n=40)
    np.save(tmp_path / "x.npy", x.numpy())
    histories = []
    for data in (x, ArrayRows(np.load(tmp_path / "x.npy", mmap_mode="r"))):
        torch.manual_seed(0)
        vae = small_vae()
        histories.append(train(vae.model, vae.guide, data, steps=5, batch_size=8, progress=False))
    assert histories[0].history == histories[1].history
