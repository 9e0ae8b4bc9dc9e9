"""The VAE tutorial's model shape: pyro.plate("data", x.shape[0]) and no num_data parameter
(such models once failed with "guide() got an unexpected keyword argument 'num_data'")."""

import torch
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import TutorialStyleVAE, random_points

from pyrovae.posterior import ais


def _data(n=16):
    return random_points(n, 3)


def test_elbo_equals_trace_elbo_times_n_over_b():
    vae = TutorialStyleVAE()
    check_elbo_equals_pyro(vae.model, vae.guide, _data(8), num_data=100)


def test_train_history_is_the_loss_per_data_point():
    vae = TutorialStyleVAE()
    result = check_history_is_loss_over_n(vae.model, vae.guide, _data(), batch_size=4)
    assert result.param_names  # the user's pyro.module parameters were trained


def test_importance_sampling_matches_the_exact_marginal():
    vae = TutorialStyleVAE()
    x = _data(6)
    check_importance_matches_exact(vae.model, vae.guide, x, vae.exact_log_marginal(x))


def test_ais_matches_the_exact_marginal():
    vae = TutorialStyleVAE()
    x = _data(4)
    result = ais(vae.model, x, guide=vae.guide, num_steps=500, num_chains=16, seed=0)
    gap = (result.log_marginal - vae.exact_log_marginal(x)).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05), gap
