"""A data plate with another name (the deep Markov model's "z_minibatch"): found without
plate_name=; two plates of the minibatch's size are refused naming plate_name=."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import TutorialStyleVAE, random_points

from pyrovae.infer import EvidenceLowerBound


def _data(n=16):
    return random_points(n, 3)


def test_elbo_equals_trace_elbo_times_n_over_b():
    vae = TutorialStyleVAE(plate="z_minibatch")
    check_elbo_equals_pyro(vae.model, vae.guide, _data(8), num_data=100)


def test_train_history_is_per_data_point_not_per_minibatch():
    vae = TutorialStyleVAE(plate="z_minibatch")
    check_history_is_loss_over_n(vae.model, vae.guide, _data(), batch_size=4)


def test_importance_sampling_matches_the_exact_marginal():
    vae = TutorialStyleVAE(plate="z_minibatch")
    x = _data(6)
    check_importance_matches_exact(vae.model, vae.guide, x, vae.exact_log_marginal(x))


def _two_plates(x):
    with pyro.plate("points", x.shape[0]), pyro.plate("pixels", x.shape[1], dim=-2):
        pyro.sample("z", dist.Normal(torch.zeros(x.shape[1], x.shape[0]), 1.0))


def test_two_candidate_plates_are_refused_naming_plate_name():
    x = torch.randn(3, 3)
    with pytest.raises(ValueError, match="plate_name="):
        EvidenceLowerBound().loss(_two_plates, _two_plates, x, num_data=30)


def test_no_data_plate_is_refused_when_a_minibatch_must_be_scaled():
    def model(x):
        pyro.sample("z", dist.Normal(0.0, 1.0))

    with pytest.raises(ValueError, match=r"pyro.plate\('data'"):
        EvidenceLowerBound().loss(model, model, torch.randn(4, 2), num_data=40)


def test_num_data_smaller_than_the_minibatch_is_refused():
    vae = TutorialStyleVAE()
    with pytest.raises(ValueError, match="smaller than the minibatch"):
        EvidenceLowerBound().loss(vae.model, vae.guide, _data(8), num_data=4)
