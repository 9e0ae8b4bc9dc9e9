"""Data sets: the InfoVAE two-point data, binarized MNIST, labelled MNIST and Fashion-MNIST, from
local files.

Nothing here downloads. Loaders take a path, or read the folder named by the environment variable
``PYROVAE_DATA``, and raise ``FileNotFoundError`` naming the file they need.
"""

from .arrays import ArrayRows
from .mnist import (
    binarized_mnist_test_labels,
    load_binarized_mnist,
    load_fashion_mnist,
    load_mnist_idx,
    random_subset,
)
from .paths import DATA_ENV, resolve_data_file
from .ppca import column_alignment, ppca_data
from .registry import DATASETS, load_dataset
from .synthetic import SyntheticDataset, synthetic
from .transforms import Binarize
from .two_point import two_point

__all__ = [
    "DATASETS",
    "DATA_ENV",
    "ArrayRows",
    "Binarize",
    "SyntheticDataset",
    "binarized_mnist_test_labels",
    "column_alignment",
    "load_binarized_mnist",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist_idx",
    "ppca_data",
    "random_subset",
    "resolve_data_file",
    "synthetic",
    "two_point",
]
