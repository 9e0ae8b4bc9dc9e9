"""Models whose code cannot broadcast over a leading particle dimension (boolean indexing and
view(batch, -1), as Pyro's conditional VAE): the vectorized estimators say so and name the loop
(vectorize=False); the loop and the vectorized path agree where both run."""

import math

import pytest
import torch
from pyro_style_models import ConditionalVAE, IndexingConditionalVAE

from pyrovae.infer import IWAE
from pyrovae.posterior import ais, hmc, importance


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


@pytest.mark.parametrize("sampler", ["ais", "hmc"])
def test_chain_vectorized_samplers_name_the_alternatives(sampler):
    cvae = IndexingConditionalVAE()
    run = {
        "ais": lambda: ais(cvae.model, _data(), num_steps=3, num_chains=2),
        "hmc": lambda: hmc(cvae.model, _data(), num_samples=3, warmup_steps=3, num_chains=2),
    }[sampler]
    with pytest.raises(ValueError, match="does not broadcast.*(vectorize=False|nuts)"):
        run()
