"""Models whose code cannot broadcast over a leading particle dimension (boolean indexing and
view(batch, -1), as Pyro's conditional VAE): the vectorized estimators say so and name the loop
(vectorize=False); the loop and the vectorized path agree where both run, and the loop matches
the exact marginal (closed form) and the exact grid posterior."""

import math

import pytest
import torch
from pyro_style_models import ConditionalVAE, IndexingConditionalVAE

from pyrovae.infer import IWAE
from pyrovae.posterior import ais, grid, hmc, importance


def _data(n=6, seed=1):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, 2, generator=gen)
    ys = torch.randn(n, 3, generator=gen)
    ys[:, 2] = -1.0  # the same target hidden for every point: view(batch, -1) keeps a shape
    return xs, ys


def test_vectorized_importance_names_vectorize_false():
    cvae = IndexingConditionalVAE()
    with pytest.raises(ValueError, match=r"vectorize=False"):
        importance(cvae.model, cvae.guide, _data(), num_samples=10)


def test_importance_loop_matches_the_exact_marginal():
    cvae = IndexingConditionalVAE()
    xs, ys = _data()
    result = importance(cvae.model, cvae.guide, (xs, ys), num_samples=2000, vectorize=False)
    gap = (result.log_marginal - cvae.exact_log_marginal(xs, ys)).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05), gap


def test_loop_and_vectorized_importance_agree_on_a_broadcasting_model():
    cvae = ConditionalVAE()
    data = _data()
    results = [
        importance(cvae.model, cvae.guide, data, num_samples=3000, seed=0, vectorize=v)
        for v in (True, False)
    ]
    gap = (results[0].log_marginal - results[1].log_marginal).abs()
    err = (results[0].stderr ** 2 + results[1].stderr ** 2).sqrt()
    assert torch.all(gap <= 4 * err + 0.02), gap


def test_vectorized_iwae_names_vectorize_particles_false():
    cvae = IndexingConditionalVAE()
    with pytest.raises(ValueError, match=r"vectorize_particles=False"):
        IWAE(num_particles=4).loss(cvae.model, cvae.guide, *_data())
    loss = IWAE(num_particles=4, vectorize_particles=False).loss(cvae.model, cvae.guide, *_data())
    assert math.isfinite(loss)  # the loop over particles runs


@pytest.mark.parametrize("sampler", ["ais", "hmc", "grid"])
def test_chain_vectorized_samplers_name_vectorize_false(sampler):
    cvae = IndexingConditionalVAE()
    run = {
        "ais": lambda: ais(cvae.model, _data(), num_steps=3, num_chains=2),
        "hmc": lambda: hmc(cvae.model, _data(), num_samples=3, warmup_steps=3, num_chains=2),
        "grid": lambda: grid(cvae.model, _data(), resolution=5),
    }[sampler]
    fix = rf"{sampler}\(\.\.\., vectorize=False"
    with pytest.raises(ValueError, match=rf"does not broadcast.*{fix}"):
        run()


def test_grid_loop_equals_the_vectorized_grid_and_the_closed_form():
    """The grid is deterministic: one point per pass and 41² points per pass give the same
    log p(x) (rtol 1e-5), which matches the closed form to quadrature accuracy (1e-3 nats)."""
    data = _data()
    looped = grid(IndexingConditionalVAE().model, data, (-6.0, 6.0), 41, vectorize=False)
    vectorized = grid(ConditionalVAE().model, data, (-6.0, 6.0), 41)
    assert looped.latent_site == "z"
    torch.testing.assert_close(looped.log_marginal, vectorized.log_marginal, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(looped.mean, vectorized.mean, rtol=1e-4, atol=1e-5)
    exact = ConditionalVAE().exact_log_marginal(*data)
    torch.testing.assert_close(looped.log_marginal, exact, rtol=0, atol=1e-3)


def test_ais_loop_matches_the_exact_marginal():
    cvae = IndexingConditionalVAE()
    xs, ys = _data()
    result = ais(
        cvae.model, (xs, ys), cvae.guide, num_steps=50, num_chains=3, seed=0, vectorize=False
    )
    assert result.num_chains == 3 and result.log_weights.shape == (3, 6)
    assert result.samples.shape == (3, 6, 2)
    gap = (result.log_marginal - cvae.exact_log_marginal(xs, ys)).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05), gap


def test_hmc_loop_matches_the_grid_posterior_mean():
    """Two chains of 300 draws per point, run one after another, against the exact grid mean:
    within 5 Monte Carlo standard errors (ESS-based, from arviz) + 0.02."""
    import arviz

    cvae = IndexingConditionalVAE()
    data = _data()
    idata = hmc(
        cvae.model, data, num_samples=300, warmup_steps=200, num_chains=2, seed=0, vectorize=False
    )
    draws = torch.as_tensor(idata.posterior["z"].values)  # (chain, draw, data, dim)
    assert draws.shape == (2, 300, 6, 2)
    assert len(idata.posterior.attrs["step_size"]) == 2  # one step size per chain and point
    exact = grid(cvae.model, data, (-6.0, 6.0), 61, vectorize=False).mean
    mcse = torch.as_tensor(arviz.mcse(idata, var_names=["z"])["z"].values)
    gap = (draws.mean((0, 1)) - exact).abs()
    assert torch.all(gap <= 5 * mcse + 0.02), (gap, mcse)
