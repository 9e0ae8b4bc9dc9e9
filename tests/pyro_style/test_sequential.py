"""The deep Markov model's shape, small: one latent per time step inside a plate named
"z_minibatch", pyro.markov over time. Its exact log p(x) is Gaussian (a linear state-space
model), so importance sampling and AIS are checked against it."""

import torch
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import SequentialVAE

from pyrovae.posterior import hmc


def _data(n=16, seed=1):
    return torch.randn(n, 3, 2, generator=torch.Generator().manual_seed(seed))


def test_elbo_equals_trace_elbo_times_n_over_b():
    dmm = SequentialVAE()
    check_elbo_equals_pyro(dmm.model, dmm.guide, _data(8), num_data=200)


def test_train_history_is_per_sequence():
    dmm = SequentialVAE()
    check_history_is_loss_over_n(dmm.model, dmm.guide, _data(), batch_size=4)


def test_importance_sampling_matches_the_exact_marginal():
    dmm = SequentialVAE()
    x = _data(4)
    check_importance_matches_exact(
        dmm.model, dmm.guide, x, dmm.exact_log_marginal(x), num_samples=20000
    )


def test_hmc_samples_every_time_step():
    dmm = SequentialVAE()
    idata = hmc(dmm.model, _data(3), num_samples=50, warmup_steps=50, num_chains=2, seed=0)
    assert set(idata.posterior.data_vars) == {"z_1", "z_2", "z_3"}
