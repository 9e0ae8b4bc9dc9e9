"""Per-batch transforms for :func:`pyrovae.infer.train`'s ``transform=``."""

import torch

__all__ = ["Binarize"]


class Binarize:
    """Stochastic (dynamic) binarization: every time a batch is read, each grey level p in
    [0, 1] becomes a fresh draw x ~ Bernoulli(p) — how the IWAE (Burda et al. 2016) and InfoVAE
    (Zhao et al. 2019) papers train on MNIST, against the fixed binarization of Larochelle &
    Murray (2011). Draws come from torch's random stream, which training checkpoints keep, so a
    resumed run binarizes exactly as an uninterrupted one.

    A batch that is a tuple or a dict has its first tensor binarized (the images of
    ``(image, label)`` items); the rest passes unchanged.
    """

    def __call__(self, batch):
        if torch.is_tensor(batch):
            return self._draw(batch)
        if isinstance(batch, dict):
            key = next(k for k, v in batch.items() if torch.is_tensor(v))
            return {**batch, key: self._draw(batch[key])}
        if isinstance(batch, (tuple, list)):
            return (self._draw(batch[0]), *batch[1:])
        raise ValueError(
            f"Binarize takes a tensor, tuple or dict batch, got {type(batch).__name__}"
        )

    @staticmethod
    def _draw(x):
        if not torch.is_floating_point(x):
            x = x.float()
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"Binarize needs grey levels in [0, 1], got values in [{x.min().item():g}, "
                f"{x.max().item():g}]; scale the images first (e.g. x / 255)"
            )
        return torch.bernoulli(x)

    def __repr__(self):
        return "Binarize()"
