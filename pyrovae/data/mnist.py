"""Binarized MNIST (Larochelle & Murray 2011 fixed binarization) and MNIST idx files."""

import gzip
import os
import struct
import zipfile

import numpy as np
import torch

from .paths import resolve_data_file

SPLITS = ("train", "valid", "test")


def load_binarized_mnist(path=None, split="train", dtype=torch.float32) -> torch.Tensor:
    """Binarized MNIST as a float tensor (N, 784) of 0/1.

    :param path: ``binarized_mnist.npz`` (arrays ``train`` 50000x784, ``valid``, ``test``), the
        amat file ``binarized_mnist_{split}.amat``, or a folder with either. Default:
        ``$PYROVAE_DATA``.
    :param split: "train", "valid" or "test".

    **The test split is ordered by digit class** (its first 980 images are the zeros of the MNIST
    test set, then the ones, …; nearest-neighbour matching against the labelled idx files gives
    labels equal to the sorted MNIST test labels for all 10000). ``x_test[:n]`` is therefore a
    biased sample of a few digits; use :func:`random_subset` for evaluation subsets.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    file = resolve_data_file(
        path, ["binarized_mnist.npz", f"binarized_mnist_{split}.amat"], "binarized MNIST"
    )
    try:
        if file.endswith(".npz"):
            with open(file, "rb") as handle, np.load(handle) as arrays:
                if split not in arrays:
                    raise ValueError(f"{file} has no array {split!r} (has {sorted(arrays.files)})")
                x = arrays[split]
        else:
            x = np.loadtxt(file, dtype=np.uint8)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if str(err).startswith(file):
            raise
        raise ValueError(
            f"{file} could not be read as binarized MNIST ({type(err).__name__}: {err}); the file "
            "is truncated or corrupted -- copy it again"
        ) from err
    if x.ndim != 2 or x.shape[1] != 784:
        raise ValueError(f"{file}: expected (N, 784) images, got {x.shape}")
    return torch.as_tensor(x.astype(np.float32), dtype=dtype)


def _read_idx(file):
    opener = gzip.open if file.endswith(".gz") else open
    try:
        with opener(file, "rb") as f:
            magic = f.read(4)
            if len(magic) != 4 or magic[:2] != b"\x00\x00" or magic[2] != 0x08:
                raise ValueError(f"{file} is not an unsigned-byte idx file")
            ndim = magic[3]
            shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
            data = np.frombuffer(f.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as err:
        raise ValueError(f"{file} is truncated or corrupted ({type(err).__name__}: {err})") from err
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{file} is truncated: expected {shape}, got {data.size} values")
    return data.reshape(shape)


def _load_idx_pair(path, split, subfolder, what):
    """Images (N, 784) in [0, 1] and labels (N,) of an idx-format data set's ``split``."""
    prefix = {"test": "t10k", "train": "train"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    names = {
        kind: [
            f"{prefix}-{kind}-idx{d}-ubyte.gz",
            f"{prefix}-{kind}-idx{d}-ubyte",
            f"{subfolder}/{prefix}-{kind}-idx{d}-ubyte.gz",
        ]
        for kind, d in (("images", 3), ("labels", 1))
    }
    if path is not None and os.path.isfile(path):
        path = os.path.dirname(path)
    images = _read_idx(resolve_data_file(path, names["images"], f"{what} images"))
    labels = _read_idx(resolve_data_file(path, names["labels"], f"{what} labels"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{what} images and labels differ in number")
    x = torch.as_tensor(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    return x, torch.as_tensor(labels.astype(np.int64))


def load_mnist_idx(path=None, split="test"):
    """Grey-scale MNIST with labels from the official idx(.gz) files.

    :param path: a folder holding ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``
        (``train-...`` for ``split="train"``); default ``$PYROVAE_DATA`` or
        its ``mnist/`` subfolder.
    :returns: images (N, 784) float in [0, 1] and labels (N,) int64.
    """
    return _load_idx_pair(path, split, "mnist", "MNIST")


def load_fashion_mnist(path=None, split="train"):
    """Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) with labels, from its idx(.gz) files: 28x28
    grey-level images of 10 kinds of clothing, 60000 train and 10000 test.

    :param path: a folder holding ``train-images-idx3-ubyte.gz`` and
        ``train-labels-idx1-ubyte.gz`` (``t10k-...`` for ``split="test"``); default
        ``$PYROVAE_DATA`` or its ``fashion-mnist/`` subfolder.
    :returns: images (N, 784) float in [0, 1] and labels (N,) int64 (0 T-shirt/top, 1 trouser,
        2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot).
    """
    return _load_idx_pair(path, split, "fashion-mnist", "Fashion-MNIST")


def random_subset(x: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` rows of ``x`` chosen uniformly without replacement by a fixed seed (all rows, shuffled,
    when ``n`` ≥ len(x)). Use it for evaluation subsets of class-ordered splits."""
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    return x[perm[: int(n)].to(x.device)]


def binarized_mnist_test_labels(path=None) -> torch.Tensor:
    """Digit labels of the binarized MNIST *test* split, in its order: the labels of the MNIST idx
    test set, sorted (the binarized split is the MNIST test set ordered by class; checked by
    nearest-neighbour matching of all 10000 images). ``path`` as for :func:`load_mnist_idx`."""
    return torch.sort(load_mnist_idx(path, "test")[1], stable=True).values
