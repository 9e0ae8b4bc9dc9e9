"""Loaders read local files only and name the file they need when it is missing."""

import gzip
import struct

import numpy as np
import pytest
import torch

from pyrovae.data import DATA_ENV, load_binarized_mnist, load_dataset, load_mnist_idx, two_point


def test_two_point():
    x = two_point(10)
    assert x.shape == (10, 1) and x.sum() == 0 and set(x.flatten().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="even"):
        two_point(7)


def test_shared_binarized_mnist(shared_data):
    for split, n in (("train", 50000), ("valid", 10000), ("test", 10000)):
        x = load_binarized_mnist(shared_data / "binarized_mnist.npz", split)
        assert x.shape == (n, 784) and x.dtype == torch.float32
    assert set(torch.unique(x).tolist()) == {0.0, 1.0}


def test_shared_labelled_mnist(shared_data):
    x, y = load_mnist_idx(shared_data / "mnist", "test")
    assert x.shape == (10000, 784) and y.shape == (10000,)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert torch.bincount(y).tolist()[:3] == [980, 1135, 1032]  # the official test-set counts


def test_environment_variable_and_amat(tmp_path, monkeypatch):
    rows = (np.random.default_rng(0).random((5, 784)) > 0.5).astype(int)
    np.savetxt(tmp_path / "binarized_mnist_valid.amat", rows, fmt="%d")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    x = load_binarized_mnist(split="valid")
    assert torch.equal(x, torch.as_tensor(rows, dtype=torch.float32))


def test_idx_files_written_here(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + struct.pack(">III", 2, 28, 28) + images.tobytes())
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes([3, 7]))
    x, y = load_mnist_idx(tmp_path)
    assert y.tolist() == [3, 7]
    assert torch.allclose(x[0, :3] * 255, torch.tensor([0.0, 1.0, 2.0]))


def test_missing_files_name_what_is_needed(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match="binarized_mnist.npz.*PYROVAE_DATA"):
        load_binarized_mnist()
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist_idx(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_binarized_mnist(tmp_path / "nope.npz")


def test_bad_split_and_file_dataset(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_binarized_mnist(split="validation")
    np.save(tmp_path / "arr.npy", np.ones((4, 3)))
    assert load_dataset("file", tmp_path / "arr.npy").shape == (4, 3)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")


def test_random_subset_is_a_fixed_sample_without_replacement():
    from pyrovae.data import random_subset

    x = torch.arange(100.0).unsqueeze(-1)
    a, b = random_subset(x, 30, seed=3), random_subset(x, 30, seed=3)
    assert torch.equal(a, b) and a.shape == (30, 1)
    assert len(set(a.squeeze(-1).tolist())) == 30
    assert not torch.equal(a, x[:30])
    assert sorted(random_subset(x, 500).squeeze(-1).tolist()) == x.squeeze(-1).tolist()


def test_binarized_test_split_is_class_ordered_and_its_labels_are_the_sorted_mnist_labels(
    shared_data,
):
    """Oracle: each binarized test image's nearest thresholded grey-scale MNIST test image carries
    the label binarized_mnist_test_labels gives it (checked on 500 images spread over the split)."""
    from pyrovae.data import binarized_mnist_test_labels

    xb = load_binarized_mnist(shared_data, "test")
    grey, y = load_mnist_idx(shared_data, "test")
    labels = binarized_mnist_test_labels(shared_data)
    assert torch.equal(
        labels[:980], torch.zeros(980, dtype=labels.dtype)
    )  # the split starts with all zeros
    idx = torch.arange(0, 10000, 20)
    nearest = torch.cdist(xb[idx], (grey > 0.5).float()).argmin(1)
    assert torch.equal(y[nearest], labels[idx])


def _write_idx(path, array):
    with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x08" + bytes([array.ndim]))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype("uint8").tobytes())


def test_fashion_mnist_reads_idx_files_from_its_subfolder(tmp_path, monkeypatch):
    from pyrovae.data import load_fashion_mnist

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28))
    labels = np.arange(7) % 10
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte.gz", images)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    x, y = load_fashion_mnist(tmp_path, "train")  # the data folder: finds fashion-mnist/
    assert x.shape == (7, 784) and x.dtype.is_floating_point
    assert torch.equal(x, torch.as_tensor(images.reshape(7, -1) / 255.0, dtype=torch.float32))
    assert y.tolist() == labels.tolist()
    monkeypatch.setenv("PYROVAE_DATA", str(tmp_path))
    assert torch.equal(load_dataset("fashion-mnist", None, "train"), x)
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST images"):
        load_fashion_mnist(tmp_path, "test")  # only train was written: names the missing file


def test_fashion_mnist_from_the_shared_data():
    from conftest import SHARED_DATA

    from pyrovae.data import load_fashion_mnist

    if not (SHARED_DATA / "fashion-mnist").exists():
        pytest.skip(f"Fashion-MNIST not found at {SHARED_DATA / 'fashion-mnist'}")
    x, y = load_fashion_mnist(SHARED_DATA, "test")
    assert x.shape == (10000, 784) and 0.0 <= x.min() and x.max() <= 1.0
    assert torch.bincount(y).tolist() == [1000] * 10  # ten balanced classes
