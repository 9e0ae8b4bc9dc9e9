"""Training data read batch by batch from a ``torch.utils.data`` data set: never stacked, so a data
set larger than memory (a ``numpy.memmap``, files read per item) trains like a tensor.

* A **map-style** ``Dataset`` (``__len__`` and ``__getitem__``) is read in the order a tensor
  would be: step ``s`` takes the items :func:`~pyrovae.infer.batches.batch_indices` gives (a
  seeded permutation per epoch), through a ``DataLoader`` with that batch sampler, so
  ``num_workers`` read them in parallel and a resumed run (which starts the sampler at its step)
  sees exactly the batches of an uninterrupted one. A ``TensorDataset(x)`` trains bitwise like
  the tensor ``x``.
* An **IterableDataset** is read in its own order, ``batch_size`` items per step, from the start
  again when it is exhausted (one pass = one epoch); it needs ``num_data`` (N, for the N / B
  scale) when it has no length. A resumed run re-reads and skips the batches already seen, so it
  is exact when the data set yields the same items on every pass.
* A ``DataLoader`` lends its data set, ``num_workers``, ``pin_memory`` and ``collate_fn``; its own
  batch size and sampler are replaced by ``train``'s (a warning says so when they differ).

Items become the model's arguments as :mod:`pyrovae.models.inputs` describes: a tensor →
``model(x)``, a tuple → ``model(xs, ys)``, a dict → ``model(xs=..., ys=...)``. ``transform``
(e.g. :class:`pyrovae.data.Binarize`) is applied to each collated batch in the training process,
after any worker: its random draws come from torch's random stream, which checkpoints keep.
The loader's own random state is a generator seeded from ``seed``, so reading data never
changes the training noise.
"""

import hashlib
import inspect
import itertools
import warnings

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from ..models.inputs import Inputs, as_inputs
from ..provenance import digest_update
from ..traces import unwrap
from .batches import batch_indices

__all__ = ["StreamedData", "check_items_fit", "is_streamable"]

_FINGERPRINT_ITEMS = 64


def is_streamable(data) -> bool:
    """Whether ``data`` is a torch ``Dataset`` or ``DataLoader`` (read batch by batch)."""
    return isinstance(data, (Dataset, DataLoader))


class _StepBatchSampler(torch.utils.data.Sampler):
    """The index lists of steps ``start``, ``start + 1``, ... ``stop - 1``."""

    def __init__(self, n, batch_size, seed, start, stop):
        self.n, self.batch_size, self.seed, self.start, self.stop = n, batch_size, seed, start, stop

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield batch_indices(step, self.n, self.batch_size, self.seed, "cpu").tolist()

    def __len__(self):
        return max(self.stop - self.start, 0)


class StreamedData:
    """A data set read batch by batch (see the module docstring).

    :param data: a ``Dataset``, ``IterableDataset`` or ``DataLoader``.
    :param batch_size: B, items per step (cut to N when larger).
    :param num_data: N; required for an ``IterableDataset`` without ``__len__``, else checked.
    :param transform: ``transform(batch) -> batch`` on each collated batch, or ``None``.
    :param num_workers: worker processes reading items (default: the DataLoader's, else 0).
    :param pin_memory: page-locked batches for fast copies to CUDA (default: on when training on
        CUDA); copies are then non-blocking.
    """

    def __init__(
        self,
        data,
        batch_size,
        *,
        num_data=None,
        transform=None,
        num_workers=None,
        pin_memory=None,
        seed=0,
    ):
        loader = data if isinstance(data, DataLoader) else None
        self.dataset = loader.dataset if loader is not None else data
        self.collate_fn = loader.collate_fn if loader is not None else None
        # the values come checked from TrainOptions
        self.num_workers = (
            num_workers if num_workers is not None else (loader.num_workers if loader else 0)
        )
        self.pin_memory = (
            pin_memory if pin_memory is not None else bool(loader and loader.pin_memory)
        )
        self.transform, self.seed = transform, int(seed)
        self.iterable = isinstance(self.dataset, IterableDataset)
        self.num_points = self._size(num_data)
        self.batch_size = min(batch_size, self.num_points)
        if loader is not None and loader.batch_size not in (None, self.batch_size):
            warnings.warn(
                f"train reads the DataLoader's data set in batches of batch_size="
                f"{self.batch_size} in its own seeded order (so a resumed run sees the same "
                f"batches); the DataLoader's batch_size={loader.batch_size} and sampler are not "
                "used (its workers, pin_memory and collate_fn are)",
                UserWarning,
                stacklevel=4,
            )
        self._first_raw = next(iter(self._loader(0, 1, ordered=True)))
        self.first = self._to_inputs(self._first_raw)

    def _size(self, num_data):
        try:
            length = len(self.dataset)
        except TypeError:
            length = None
        if length is None and num_data is None:
            raise ValueError(
                f"{type(self.dataset).__name__} has no length: give train(..., num_data=N), the "
                "number of data points it holds (for the N / B scale of the ELBO)"
            )
        if num_data is not None:
            if length is not None and length != num_data:
                raise ValueError(
                    f"num_data={num_data} but the data set holds {length} items; leave num_data "
                    "out (it is read from the data set) or give its length"
                )
        size = length if length is not None else num_data
        if size < 1:
            raise ValueError("the data set is empty (no data points)")
        return size

    # ----- what train asks of its data --------------------------------------------------------
    @property
    def batches_per_epoch(self) -> int:
        return max(self.num_points // self.batch_size, 1)

    @property
    def primary(self) -> torch.Tensor:
        return self.first.primary

    @property
    def device(self):
        return self.first.device

    def first_batch(self, device, dtype) -> Inputs:
        """The first ``batch_size`` items in the data set's own order (to create parameters)."""
        return self._prepare(self._first_raw, device, dtype)

    def batches(self, start, stop, device, dtype):
        """The batches of steps ``start`` … ``stop - 1``, as model inputs on ``device``."""
        if self.iterable:
            raw = itertools.islice(self._cycle(), start, stop)
        else:
            raw = iter(self._loader(start, stop))
        for batch in raw:
            yield self._prepare(batch, device, dtype)

    def fingerprint(self) -> str:
        """SHA-256 over the data set's type, size and up to 64 evenly spaced items (the whole
        data set is not read: it may be larger than memory). A resume on other data is refused
        by it (:func:`pyrovae.infer.training_state.check_resume`)."""
        h = hashlib.sha256(f"{type(self.dataset).__name__}:{self.num_points}".encode())
        if self.iterable:
            items = itertools.islice(iter(self.dataset), _FINGERPRINT_ITEMS)
        else:
            count = min(self.num_points, _FINGERPRINT_ITEMS)
            positions = sorted(
                {int(i * (self.num_points - 1) / max(count - 1, 1)) for i in range(count)}
            )
            items = (self.dataset[i] for i in positions)
        for item in items:
            for t in _tensors_of(item):
                digest_update(h, "", t)
        return h.hexdigest()

    def settings(self) -> dict:
        return {"num_data": self.num_points, "iterable": self.iterable}

    # ----- reading ------------------------------------------------------------------------------
    def _loader(self, start, stop, ordered=False):
        generator = torch.Generator().manual_seed(self.seed)  # the global stream stays untouched
        options = dict(
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            generator=generator,
        )
        options["collate_fn"] = self.collate_fn if self.collate_fn is not None else _collate
        if self.iterable or ordered:
            # equal batch sizes within a pass (MMD-type divergences want them)
            drop_last = self.iterable and self.num_points > self.batch_size
            return DataLoader(
                self.dataset, batch_size=self.batch_size, drop_last=drop_last, **options
            )
        sampler = _StepBatchSampler(self.num_points, self.batch_size, self.seed, start, stop)
        return DataLoader(self.dataset, batch_sampler=sampler, **options)

    def _cycle(self):
        """Batches of an iterable data set, pass after pass, ``batches_per_epoch`` per pass."""
        per_pass = self.batches_per_epoch
        while True:
            produced = 0
            for batch in itertools.islice(iter(self._loader(0, 0)), per_pass):
                produced += 1
                yield batch
            if produced == 0:
                raise ValueError(f"{type(self.dataset).__name__} yielded no items")

    def _prepare(self, batch, device, dtype):
        if self.transform is not None:
            batch = self.transform(batch)
        non_blocking = self.pin_memory and torch.device(device).type == "cuda"
        inputs = self._to_inputs(batch)
        moved = {}
        for label, t in inputs.tensors().items():
            t = t.to(device=device, non_blocking=non_blocking)
            moved[label] = t.to(dtype) if dtype is not None and t.is_floating_point() else t
        return _replace_tensors(inputs, moved)

    def _to_inputs(self, batch):
        return as_inputs(_as_batch(batch))


def check_items_fit(model, inputs, what="the data set's items"):
    """``ValueError`` naming the fix when the model cannot take ``inputs`` (one batch) as its
    arguments: items become arguments, so an ``(image, label)`` item calls ``model(x, label)``."""
    fn = unwrap(model)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    parts = len(inputs.args) + len(inputs.kwargs)
    try:
        bound = signature.bind(*inputs.args, **inputs.kwargs)
    except TypeError as err:
        problem = str(err)
    else:
        if "num_data" not in bound.arguments:
            return
        problem = "the data would fill num_data"
    name = getattr(fn, "__qualname__", "the model")
    raise ValueError(
        f"{what} have {parts} part(s), which become the arguments of {name}{signature} "
        f"({problem}); give items the model takes, e.g. transform=lambda batch: batch[0] to keep "
        "the images of (image, label) items, or a TensorDataset of the images alone"
    )


def _collate(batch):
    """torch's default collation, except for a batch a data set's ``__getitems__`` already
    returned as one tensor (``ArrayRows``), which passes unchanged."""
    if torch.is_tensor(batch):
        return batch
    return torch.utils.data.default_collate(batch)


def _tensors_of(item):
    """The tensors of one item (a tensor, a tuple / list or a dict of them), in order."""
    if torch.is_tensor(item):
        return [item]
    if isinstance(item, dict):
        return [v for _, v in sorted(item.items()) if torch.is_tensor(v)]
    if isinstance(item, (tuple, list)):
        return [v for v in item if torch.is_tensor(v)]
    return []


def _as_batch(item):
    """A collated batch (or one item) in the forms :func:`as_inputs` takes: lists as tuples."""
    return tuple(item) if isinstance(item, list) else item


def _replace_tensors(inputs, tensors):
    args = tuple(tensors.get(f"arg{i}", a) for i, a in enumerate(inputs.args))
    kwargs = {k: tensors.get(k, v) for k, v in inputs.kwargs.items()}
    return Inputs(args, kwargs)
