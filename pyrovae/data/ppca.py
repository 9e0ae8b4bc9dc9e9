"""Probabilistic-PCA data with known principal directions (Lucas et al. 2019, Secs. 4–5)."""

import math

import torch


def ppca_data(n=10000, d=20, k=5, sigma2=0.1, top=(5.0, 0.2), seed=0):
    """Samples of pPCA with random orthonormal directions; the data covariance has eigenvalues
    ``linspace(top[0], top[1], k)`` along them and σ² elsewhere. Returns (x, directions (d, k))."""
    gen = torch.Generator().manual_seed(seed)
    directions, _ = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    directions = directions[:, :k]
    eig = torch.linspace(top[0], top[1], k, dtype=torch.float64)
    w = directions * (eig - sigma2).sqrt()
    z = torch.randn(n, k, generator=gen, dtype=torch.float64)
    x = z @ w.T + math.sqrt(sigma2) * torch.randn(n, d, generator=gen, dtype=torch.float64)
    return x.float(), directions.float()


def column_alignment(W, directions):
    """For each principal direction, the largest ``|cos|`` with any decoder column (1 = aligned)."""
    w = W / W.norm(dim=0, keepdim=True).clamp_min(1e-12)
    return (directions.T @ w).abs().max(1).values
