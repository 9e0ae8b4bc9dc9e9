"""VAE class, likelihoods (validation, variance floor), nets and shapes."""

import math

import pyro
import pytest
import torch
from helpers import small_vae

from pyrovae.infer import IWAE, EvidenceLowerBound
from pyrovae.models import VAE, Bernoulli, DecoderGaussian, Gaussian, LearnedGaussian, build_vae
from pyrovae.nets import MLP, ConvDecoder28, ConvEncoder28


def test_bernoulli_rejects_non_binary_data():
    vae = small_vae()
    x = torch.rand(8, 12)
    with pytest.raises(ValueError, match="binary data"):
        EvidenceLowerBound().loss(vae.model, vae.guide, x)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Bernoulli(allow_fractional=True).validate(x * 2)
    Bernoulli(allow_fractional=True).validate(x)  # fractional data allowed explicitly


def test_fractional_bernoulli_scores_grey_levels():
    lik = Bernoulli(allow_fractional=True)
    logits = torch.zeros(3, 4)
    x = torch.full((3, 4), 0.3)
    lp = lik(logits, (4,)).log_prob(x)
    assert torch.allclose(lp, torch.full((3,), 4 * torch.log(torch.tensor(0.5))))


def test_data_shape_and_nan_errors():
    vae = small_vae()
    with pytest.raises(ValueError, match="data_shape"):
        vae.validate_data(torch.zeros(4, 13))
    with pytest.raises(ValueError, match="NaN"):
        Gaussian(1.0).validate(torch.tensor([[float("nan")]]))


@pytest.mark.parametrize(
    "lik", [LearnedGaussian(init_sigma=1.0, min_variance=0.01), DecoderGaussian(min_variance=0.01)]
)
def test_variance_floor_holds_even_for_extreme_raw_values(lik):
    """σ² = ξ + exp(r) ≥ ξ: the Mattei-Frellsen constraint bounds the density by (2πξ)^(-1/2)."""
    if isinstance(lik, LearnedGaussian):
        with torch.no_grad():
            lik.raw_variance.fill_(-1e4)
        out = torch.zeros(5, 3)
    else:
        out = torch.cat([torch.zeros(5, 3), torch.full((5, 3), -1e4)], -1)
    d = lik(out, (3,))
    assert (d.base_dist.scale**2 >= 0.01 - 1e-9).all()
    bound = -0.5 * 3 * torch.log(torch.tensor(2 * torch.pi * 0.01))
    assert (d.log_prob(torch.zeros(5, 3)) <= bound + 1e-5).all()


def test_without_floor_the_density_is_unbounded():
    """At x = μ, log N(x; μ, e^r) = −½ log 2π − r/2 grows without bound as r → −∞."""
    lik = DecoderGaussian(min_variance=0.0)
    values = []
    for raw in (-10.0, -40.0, -80.0):
        out = torch.cat([torch.zeros(1, 1), torch.full((1, 1), raw)], -1)
        values.append(lik(out, (1,)).log_prob(torch.zeros(1, 1)).item())
        assert values[-1] == pytest.approx(-0.5 * math.log(2 * math.pi) - raw / 2, rel=1e-5)
    assert values[-1] > 39


def test_invalid_likelihood_parameters():
    with pytest.raises(ValueError, match="min_variance"):
        DecoderGaussian(min_variance=-1.0)
    with pytest.raises(ValueError, match="data_shape"):
        LearnedGaussian(per_dimension=True)
    with pytest.raises(ValueError, match="sigma"):
        Gaussian(0.0)


def test_per_dimension_learned_variance_has_one_parameter_per_pixel():
    lik = LearnedGaussian(per_dimension=True, data_shape=(5,))
    assert lik.raw_variance.shape == (5,)
    assert lik(torch.zeros(2, 5), (5,)).base_dist.scale.shape == (2, 5)


def test_conv_vae_shapes_with_vectorized_particles():
    torch.manual_seed(0)
    vae = VAE(
        ConvEncoder28(2 * 4, channels=8, hidden=32),
        ConvDecoder28(4, 2, channels=8, hidden=32),
        DecoderGaussian(min_variance=1e-3),
        4,
        (1, 28, 28),
    )
    x = torch.rand(6, 1, 28, 28)
    loss = IWAE(num_particles=3).loss(vae.model, vae.guide, x)
    assert torch.isfinite(torch.tensor(loss))
    assert vae.reconstruct(x).shape == (6, 1, 28, 28)
    assert vae.sample(5).shape == (5, 1, 28, 28)


def test_flat_data_with_conv_nets_through_the_factory():
    vae = build_vae({"data_shape": [784], "z_dim": 3, "net": "conv"})
    x = (torch.rand(4, 784) > 0.5).float()
    assert torch.isfinite(torch.tensor(EvidenceLowerBound().loss(vae.model, vae.guide, x)))
    assert vae.sample(2).shape == (2, 784)


def test_mlp_rejects_wrong_width():
    with pytest.raises(ValueError, match="features"):
        MLP(10, [4], 2)(torch.zeros(3, 7))


def test_minibatch_scaling_of_the_data_plate():
    """With num_data = N the loss is N/B times the minibatch loss (Trace_ELBO conventions)."""
    vae = small_vae()
    x = (torch.rand(10, 12) > 0.5).float()
    pyro.set_rng_seed(0)
    full = EvidenceLowerBound().loss(vae.model, vae.guide, x)
    pyro.set_rng_seed(0)
    scaled = EvidenceLowerBound().loss(vae.model, vae.guide, x, num_data=1000)
    assert scaled == pytest.approx(100 * full, rel=1e-5)
    with pytest.raises(ValueError, match="smaller than the minibatch"):
        EvidenceLowerBound().loss(vae.model, vae.guide, x, num_data=5)
