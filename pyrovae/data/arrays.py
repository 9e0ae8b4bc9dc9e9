"""A data set over the rows of an array that need not fit in memory (``numpy.memmap``, a
``.npy`` file opened with ``mmap_mode="r"``, an HDF5 data set): :func:`pyrovae.infer.train`
reads it batch by batch (:mod:`pyrovae.infer.streamed`)."""

import warnings

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["ArrayRows"]


class ArrayRows(Dataset):
    """The rows of ``array`` as float tensors, one data point per row.

    A minibatch is read with one gather of the rows in ascending order (``__getitems__``,
    which torch's ``DataLoader`` uses for a whole batch), not one read per row: from a
    memory-mapped file that is one pass over the pages the batch touches. It returns the batch
    as one tensor (``(B, ...)``), which :mod:`pyrovae.infer.streamed` takes as it is.

    :param array: anything indexable by rows with ``len``: ``np.load(path, mmap_mode="r")``,
        ``np.memmap(...)``, an ``h5py`` data set, an in-memory array.
    :param dtype: the tensors' dtype (default float32; the array is converted per batch).
    """

    def __init__(self, array, dtype=torch.float32):
        if len(array) == 0:
            raise ValueError("the array has no rows")
        self.array, self.dtype = array, dtype
        self._view = None
        if isinstance(array, np.ndarray) and array.dtype.kind in "fiub":
            # a tensor over the same memory (no copy; torch only reads it): gathers run in torch
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "not writable": never written
                self._view = torch.from_numpy(array)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return torch.from_numpy(np.array(self.array[index])).to(self.dtype)  # a copy: writable

    def __getitems__(self, indices):
        index = torch.as_tensor(indices, dtype=torch.long)
        ascending, order = torch.sort(index)  # sequential reads of the file
        if self._view is not None:
            rows = self._view.index_select(0, ascending)
        else:
            rows = torch.from_numpy(np.array(self.array[ascending.numpy()]))
        batch = torch.empty_like(rows)
        batch[order] = rows  # back to the sampler's order
        return batch.to(self.dtype)
