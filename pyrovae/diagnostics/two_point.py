"""The numbers of InfoVAE's two-point example for one trained VAE (data {−1, +1})."""

import torch

from ..infer import EvidenceLowerBound
from .aggregate import aggregate_posterior_moments
from .information import mutual_information


@torch.no_grad()
def two_point_summary(vae, x, particles=256, seed=0):
    """Mean and std of q(z|x=±1), variance and log det of the aggregate q(z) (the data are half
    −1, half +1), decoder σ at the two codes, I_q(x; z) (≤ log 2) and the ELBO per point
    (``particles`` samples)."""
    ref = next(vae.parameters())
    points = torch.tensor([[-1.0], [1.0]], device=ref.device)
    loc, scale = vae.encode(points)
    moments = aggregate_posterior_moments(loc, scale)
    sigma = vae.likelihood.variance_of(vae.decoder(loc), (1,)).sqrt()
    gen = torch.Generator().manual_seed(seed)
    elbo = EvidenceLowerBound(
        num_particles=particles, vectorize_particles=True, max_plate_nesting=1
    )
    torch.manual_seed(seed)
    final_elbo = -elbo.loss(vae.model, vae.guide, x.to(ref.device)) / x.shape[0]
    return {
        "q_mean": {"x=-1": loc[0, 0].item(), "x=+1": loc[1, 0].item()},
        "q_std": {"x=-1": scale[0, 0].item(), "x=+1": scale[1, 0].item()},
        "aggregate_variance": moments["variance"][0].item(),
        "aggregate_log_det": moments["log_det"].item(),
        "decoder_sigma_at_q_mean": {"x=-1": sigma[0, 0].item(), "x=+1": sigma[1, 0].item()},
        "mutual_information": mutual_information(
            loc.cpu(), scale.cpu(), 4096, generator=gen
        ).item(),
        "final_elbo": final_elbo,
    }
