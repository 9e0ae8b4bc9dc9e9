"""Likelihoods for grey levels: normalized densities on [0, 1] (checked by quadrature), their
closed forms, and VAEs that train on grey-level data with them."""

import math

import pytest
import torch

import pyrovae
from pyrovae.infer import train
from pyrovae.models import BetaLikelihood, ContinuousBernoulli, build_vae

GRID = torch.linspace(0, 1, 200001, dtype=torch.float64)


def _integral(log_density):
    return torch.trapezoid(log_density(GRID).exp(), GRID).item()


@pytest.mark.parametrize("logit", [-4.0, -0.3, 0.0, 0.01, 2.5])
def test_continuous_bernoulli_is_a_density_with_its_closed_form(logit):
    out = torch.tensor([[logit]], dtype=torch.float64)
    d = ContinuousBernoulli()(out, (1,), (1,))

    def log_density(x):
        return d.log_prob(x.reshape(-1, 1, 1)).reshape(-1)

    assert _integral(log_density) == pytest.approx(1.0, abs=1e-6)
    lam = torch.sigmoid(torch.tensor(logit, dtype=torch.float64))
    # C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ), and 2 at λ = 1/2
    c = 2.0 if abs(logit) < 1e-12 else 2 * torch.atanh(1 - 2 * lam) / (1 - 2 * lam)
    x = torch.tensor(0.3, dtype=torch.float64)
    expected = math.log(c) + x * torch.log(lam) + (1 - x) * torch.log1p(-lam)
    assert log_density(x.reshape(1)).item() == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("raw", [(0.5, 2.0), (3.0, 1.2), (1.0, 1.0)])
def test_beta_likelihood_is_a_density_and_scores_the_edges(raw):
    out = torch.tensor([[raw[0], raw[1]]], dtype=torch.float64)
    likelihood = BetaLikelihood()
    d = likelihood(out, (1,), (1,))
    a, b = (torch.nn.functional.softplus(torch.tensor(r)) + 1e-3 for r in raw)
    assert likelihood.mean(out, (1,), (1,)).item() == pytest.approx(float(a / (a + b)))
    inside = GRID[(GRID > 0) & (GRID < 1)]
    dens = d.base_dist.base.log_prob(inside.reshape(-1, 1)).exp().reshape(-1)
    if a > 1 and b > 1:  # bounded density: the trapezoid rule is accurate
        assert torch.trapezoid(dens, inside).item() == pytest.approx(1.0, abs=1e-4)
    edges = d.log_prob(torch.tensor([[0.0], [1.0]], dtype=torch.float64).reshape(2, 1, 1))
    assert torch.isfinite(edges).all()  # Fashion-MNIST's 0 background is scored at eps


@pytest.mark.parametrize("name", ["continuous-bernoulli", "beta"])
def test_a_vae_trains_on_grey_levels_and_saves(name, tmp_path):
    torch.manual_seed(0)
    x = torch.rand(64, 12)
    x[:, :3] = 0.0  # background pixels exactly at 0
    vae = build_vae({"data_shape": [12], "z_dim": 2, "hidden": [16], "likelihood": name})
    result = train(vae.model, vae.guide, x, steps=30, batch_size=32, lr=1e-2, progress=False)
    assert all(math.isfinite(row["loss"]) for row in result.history)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    with pytest.raises(ValueError, match=r"grey levels in \[0, 1\]"):
        train(vae.model, vae.guide, x * 255, steps=1, progress=False)
    pyrovae.save(vae, tmp_path / "vae.pt")
    assert pyrovae.load(tmp_path / "vae.pt").config["likelihood"] == name
