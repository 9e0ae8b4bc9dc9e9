"""A sizeless pyro.plate("data") (Pyro's SS-VAE and CVAE): pyrovae used to count N = -1 data
points, flipping the history's sign and InfoVAE's divergence weight."""

import pyro
import torch
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import TutorialStyleVAE, random_points

from pyrovae.infer import InfoVAE


def _data(n=16):
    return random_points(n, 3)


def test_elbo_equals_trace_elbo_times_n_over_b():
    vae = TutorialStyleVAE(sized=False)
    check_elbo_equals_pyro(vae.model, vae.guide, _data(8), num_data=100)


def test_train_history_has_the_right_sign_and_scale():
    vae = TutorialStyleVAE(sized=False)
    check_history_is_loss_over_n(vae.model, vae.guide, _data(), batch_size=4)


def test_infovae_gives_the_same_loss_as_with_a_sized_plate():
    x = _data(8)
    losses = []
    for sized in (True, False):
        vae = TutorialStyleVAE(sized=sized)
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        objective = InfoVAE(alpha=0.0, lam=10.0, latent_sites=["latent"])
        record = objective.evaluate(vae.model, vae.guide, (x,), {"num_data": 1000})
        assert record.num_data == 1000
        losses.append(record.loss)
    torch.testing.assert_close(losses[0], losses[1])
    assert losses[0] > 0


def test_importance_sampling_matches_the_exact_marginal():
    vae = TutorialStyleVAE(sized=False)
    x = _data(6)
    check_importance_matches_exact(vae.model, vae.guide, x, vae.exact_log_marginal(x))
