"""The two-point data set of InfoVAE Proposition 1 (Zhao, Song, Ermon 2019): x ∈ {−1, +1}."""

import torch


def two_point(n: int = 512, dtype=torch.float32, device=None) -> torch.Tensor:
    """``n`` points, half at −1 and half at +1, shape (n, 1). Deterministic (no seed needed)."""
    if n < 2 or n % 2:
        raise ValueError(f"n must be a positive even number, got {n}")
    half = n // 2
    x = torch.cat([-torch.ones(half, 1), torch.ones(half, 1)])
    return x.to(dtype=dtype, device=device)
