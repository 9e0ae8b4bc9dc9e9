r"""Health of a Gaussian decoder's variance: is σ heading to 0 (the unbounded likelihood)?

With a learned variance and no floor the likelihood of a Gaussian VAE is unbounded: a decoder
mean sitting on a training point with σ → 0 sends log p(x) to +∞ (Mattei & Frellsen 2018). This
reports the smallest σ(z) the decoder produces at the encoder means of the data, relative to the
data's spread, and warns when it is tiny and no floor ξ (σ² ≥ ξ) stops it.
"""

import warnings

import torch

from ..models.likelihoods import DecoderGaussian, Gaussian, LearnedGaussian


class DecoderVarianceWarning(UserWarning):
    """σ of a Gaussian decoder is collapsing towards 0 with no floor to stop it."""


@torch.no_grad()
def decoder_variance_health(vae, x, relative_threshold=1e-2, warn=True) -> dict:
    """σ statistics of ``vae``'s Gaussian decoder at the encoder means of ``x``.

    ``heading_to_zero`` is true when min σ < ``relative_threshold`` × (std of the data) and the
    likelihood has no floor; a :class:`DecoderVarianceWarning` is issued then (``warn=True``).
    Returns ``None`` for non-Gaussian likelihoods.
    """
    lik = vae.likelihood
    if not isinstance(lik, (DecoderGaussian, LearnedGaussian, Gaussian)):
        return None
    z = vae.encode(x)[0]
    sigma = vae.decode(z).base_dist.scale.reshape(x.shape[0], -1)  # (B, pixels)
    floor = getattr(lik, "min_variance", None)
    data_scale = x.reshape(x.shape[0], -1).std(0).mean().item()
    sigma_min = sigma.min().item()
    heading = (
        floor is not None
        and floor == 0.0
        and not isinstance(lik, Gaussian)
        and sigma_min < relative_threshold * data_scale
    )
    result = {
        "sigma_min": sigma_min,
        "sigma_median": sigma.median().item(),
        "sigma_max": sigma.max().item(),
        "data_std": data_scale,
        "min_variance": floor,
        "at_floor": bool(floor) and sigma_min**2 <= 1.01 * floor,
        "heading_to_zero": bool(heading),
    }
    if heading and warn:
        warnings.warn(
            f"decoder σ reaches {sigma_min:.3g} (data std {data_scale:.3g}) with no variance "
            f"floor: "
            "the Gaussian likelihood is unbounded and training log p(x) can grow without limit "
            "(Mattei & Frellsen 2018). Set min_variance (σ² ≥ ξ) on the likelihood.",
            DecoderVarianceWarning,
            stacklevel=2,
        )
    return result
