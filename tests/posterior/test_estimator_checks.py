"""The estimators refuse impossible inputs and outputs (pyrovae.posterior._checks): data outside
the likelihood's support, a guide whose scale is 0 / negative / NaN, a log p(x) that is not
finite or is positive for discrete data; float64 data meet a float32 model as in train."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from torch import nn

from pyrovae.posterior import ais, grid, hmc, importance
from pyrovae.posterior._checks import check_log_marginal


class BernoulliVAE(nn.Module):
    """A Pyro-style Bernoulli VAE (no validate_data of its own); ``guide_scale`` overrides the
    encoder's scale (0, −1 or NaN for the refusals)."""

    def __init__(self, guide_scale=None):
        super().__init__()
        torch.manual_seed(0)
        self.decoder, self.encoder = nn.Linear(2, 6), nn.Linear(6, 4)
        self.guide_scale = guide_scale

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(x.new_zeros(x.shape[0], 2), 1.0).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=self.decoder(z)).to_event(1), obs=x)

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            loc, raw = self.encoder(x).chunk(2, -1)
            scale = nn.functional.softplus(raw) + 0.1
            if self.guide_scale is not None:
                scale = torch.full_like(scale, self.guide_scale)
            pyro.sample("z", dist.Normal(loc, scale, validate_args=False).to_event(1))


def _x(n=5):
    return (torch.rand(n, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()


RUNS = {
    "importance": lambda vae, x: importance(vae.model, vae.guide, x, num_samples=20),
    "ais": lambda vae, x: ais(vae.model, x, vae.guide, num_steps=5, num_chains=2),
    "hmc": lambda vae, x: hmc(
        vae.model, x, num_samples=5, warmup_steps=5, num_chains=2, guide=vae.guide
    ),
    "grid": lambda vae, x: grid(vae.model, x, resolution=5),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_data_outside_the_likelihoods_support_is_refused(name):
    x = _x()
    x[2, 3] = 7.0
    with pytest.raises(ValueError, match=rf"{name}: the data lie outside the support.*'x'.*7"):
        RUNS[name](BernoulliVAE(), x)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan])
@pytest.mark.parametrize("name", ["ais", "hmc", "importance"])
def test_a_guide_scale_that_is_not_positive_is_refused(name, scale):
    """ais once returned log p(x) = +inf for a Bernoulli model (scale 0 or −1), hmc NaN draws,
    importance Pyro's parameter error without saying it was the guide's scale."""
    with pytest.raises(ValueError, match="scale"):
        RUNS[name](BernoulliVAE(guide_scale=scale), _x())


def test_impossible_log_marginals_are_errors():
    check_log_marginal(torch.tensor([-3.0, 0.5]), False, "ais", "")  # a density may exceed 1
    with pytest.raises(ValueError, match=r"log p\(x\) > 0 for data points \[1\].*discrete"):
        check_log_marginal(torch.tensor([-3.0, 0.5]), True, "ais", "")
    with pytest.raises(ValueError, match=r"not finite for data points \[0\]"):
        check_log_marginal(torch.tensor([math.inf, -1.0]), False, "importance", "")


def test_float64_data_meet_a_float32_model():
    vae, x = BernoulliVAE(), _x()
    single = importance(vae.model, vae.guide, x, num_samples=50, seed=0)
    double = importance(vae.model, vae.guide, x.double(), num_samples=50, seed=0)
    torch.testing.assert_close(single.log_marginal, double.log_marginal)
    result = ais(vae.model, x.double(), vae.guide, num_steps=5, num_chains=2, seed=0)
    assert result.log_marginal.dtype == torch.float32 and torch.all(result.log_marginal < 0)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_data_of_the_wrong_width_get_a_message_naming_the_shapes(name):
    with pytest.raises(
        ValueError, match=rf"{name}: the model fails on the data \(shapes \(5, 7\)\)"
    ):
        RUNS[name](BernoulliVAE(), torch.zeros(5, 7))
