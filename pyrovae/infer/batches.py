"""Which data points a training step sees: a fixed random permutation per epoch, cut into
minibatches, so a resumed run continues with exactly the batches an uninterrupted run would
have seen (the permutation depends only on the seed and the epoch)."""

import torch

_PERMUTATION_CACHE = {}


def batch_indices(step, n, batch_size, seed, device):
    """The indices (into ``n`` points) of step ``step``'s minibatch: epoch ``e`` draws
    ``randperm(n)`` from a generator seeded with ``seed * 1_000_003 + e`` and its steps take
    consecutive slices of ``batch_size``. A last partial batch is dropped when n > batch_size
    (MMD-type divergences want equal batch sizes)."""
    per_epoch = max(n // batch_size, 1)
    epoch, i = divmod(step, per_epoch)
    key = (n, seed, epoch, str(device))
    if key not in _PERMUTATION_CACHE:
        _PERMUTATION_CACHE.clear()
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        _PERMUTATION_CACHE[key] = torch.randperm(n, generator=gen).to(device)
    return _PERMUTATION_CACHE[key][i * batch_size : (i + 1) * batch_size]
