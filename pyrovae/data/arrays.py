"""A data set over the rows of an array that need not fit in memory (``numpy.memmap``, a
``.npy`` file opened with ``mmap_mode="r"``, an HDF5 data set): :func:`pyrovae.infer.train`
reads it batch by batch (:mod:`pyrovae.infer.streamed`)."""

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["ArrayRows"]


class ArrayRows(Dataset):
    """The rows of ``array`` as float tensors, one data point per row.

    A minibatch is read with one sorted fancy-index of the array (``__getitems__``, which
    torch's ``DataLoader`` uses for a whole batch), not one read per row: from a memory-mapped
    file that is one pass over the pages the batch touches.

    :param array: anything indexable by rows with ``len``: ``np.load(path, mmap_mode="r")``,
        ``np.memmap(...)``, an ``h5py`` data set, an in-memory array.
    :param dtype: the tensors' dtype (default float32; the array is converted per batch).
    """

    def __init__(self, array, dtype=torch.float32):
        if len(array) == 0:
            raise ValueError("the array has no rows")
        self.array, self.dtype = array, dtype

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return torch.from_numpy(np.array(self.array[index])).to(self.dtype)  # a copy: writable

    def __getitems__(self, indices):
        order = np.argsort(indices)
        rows = np.array(self.array[np.asarray(indices)[order]])  # ascending: sequential reads
        batch = torch.from_numpy(rows).to(self.dtype)
        restored = torch.empty_like(batch)
        restored[torch.as_tensor(order)] = batch  # back to the sampler's order
        return list(restored)
