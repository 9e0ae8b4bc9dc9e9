"""Data sets by name, for the CLI: each returns a float tensor ``(N, *data_shape)``."""

import numpy as np
import torch

from .mnist import load_binarized_mnist, load_fashion_mnist, load_mnist_idx
from .two_point import two_point

DATASETS = ("two-point", "binarized-mnist", "mnist", "fashion-mnist", "file")


def load_dataset(name: str, path=None, split="train", n=512) -> torch.Tensor:
    """``two-point`` (``n`` points), ``binarized-mnist`` (npz / amat at ``path``), ``mnist``
    (grey levels in [0, 1] from idx files; only the test split ships in ../shared),
    ``fashion-mnist`` (grey levels in [0, 1], train and test), or ``file``:
    a ``.npy`` array or ``.npz`` with an array named ``split`` (N, ...)."""
    if name == "two-point":
        return two_point(n)
    if name == "binarized-mnist":
        return load_binarized_mnist(path, split)
    if name == "mnist":
        return load_mnist_idx(path, split)[0]
    if name == "fashion-mnist":
        return load_fashion_mnist(path, split)[0]
    if name == "file":
        if path is None:
            raise ValueError("--dataset file needs --data PATH to a .npy or .npz file")
        arr = np.load(path)
        if isinstance(arr, np.lib.npyio.NpzFile):
            if split not in arr.files:
                raise ValueError(f"{path} has no array {split!r}; it has {arr.files}")
            arr = arr[split]
        return torch.as_tensor(np.asarray(arr, dtype=np.float32))
    raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
