"""The semi-supervised M2 shape: model(xs, ys=None), a one-hot label enumerated in the guide
(config_enumerate). The ELBO sums it exactly, as TraceEnum_ELBO; importance sampling samples it
from the guide; the HMC-based samplers refuse it instead of walking on a one-hot vector."""

import pyro
import pytest
import torch
from pyro.infer import Trace_ELBO, TraceEnum_ELBO
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import LabelVAE

from pyrovae.infer import IWAE, EvidenceLowerBound
from pyrovae.posterior import ais, hmc, importance, nuts


def _data(n=12, seed=1):
    return LabelVAE().simulate(n, seed)


def test_unlabelled_elbo_equals_trace_enum_elbo_times_n_over_b():
    vae = LabelVAE()
    xs, _ = _data(8)
    check_elbo_equals_pyro(
        vae.model, vae.guide, xs, num_data=120, pyro_objective=TraceEnum_ELBO(max_plate_nesting=1)
    )


def test_labelled_elbo_equals_trace_elbo_times_n_over_b():
    vae = LabelVAE()
    xs, ys = _data(8)
    check_elbo_equals_pyro(vae.model, vae.guide, (xs, ys), num_data=80)


def test_enumeration_is_not_the_score_function_estimator():
    """Enumerated: the loss is exact over y, so two seeds differ only through z's noise; the
    sampled-label guide differs far more between seeds (y itself is drawn)."""
    vae = LabelVAE()
    xs, _ = _data(8)
    spread = {}
    for name, guide in (("enumerated", vae.guide), ("sampled", vae.guide_sampled)):
        losses = []
        for seed in range(20):
            pyro.set_rng_seed(seed)
            losses.append(EvidenceLowerBound().loss(vae.model, guide, xs))
        spread[name] = torch.tensor(losses).std()
    assert spread["enumerated"] < 0.5 * spread["sampled"], spread


def test_train_history_is_the_enumerated_loss_per_data_point():
    vae = LabelVAE()
    xs, _ = _data(16)
    check_history_is_loss_over_n(
        vae.model, vae.guide, xs, batch_size=4, pyro_objective=TraceEnum_ELBO(max_plate_nesting=1)
    )


def test_train_with_labels_as_a_second_input():
    vae = LabelVAE()
    check_history_is_loss_over_n(
        vae.model, vae.guide, _data(16), batch_size=4, pyro_objective=Trace_ELBO()
    )


def test_importance_sampling_sums_the_label_in_expectation():
    """The label is sampled from the guide inside the importance weights; log p̂(x) matches
    log Σ_y p(y) p(x|y) computed exactly."""
    vae = LabelVAE()
    xs, _ = _data(6)
    check_importance_matches_exact(vae.model, vae.guide, xs, vae.exact_log_marginal(xs))


def test_importance_sampling_with_observed_labels_matches_log_p_x_y():
    vae = LabelVAE()
    xs, ys = _data(6)
    check_importance_matches_exact(vae.model, vae.guide, (xs, ys), vae.exact_log_marginal(xs, ys))


@pytest.mark.parametrize("sampler", ["ais", "hmc", "nuts"])
def test_hamiltonian_samplers_refuse_the_discrete_label(sampler):
    vae = LabelVAE()
    xs, _ = _data(4)
    run = {
        "ais": lambda: ais(vae.model, xs, guide=vae.guide, num_steps=5, num_chains=2),
        "hmc": lambda: hmc(vae.model, xs, num_samples=5, warmup_steps=5, num_chains=2),
        "nuts": lambda: nuts(vae.model, xs, num_samples=5, warmup_steps=5, num_chains=1),
    }[sampler]
    with pytest.raises(ValueError, match="'y' is discrete.*importance"):
        run()


def test_objectives_without_enumeration_refuse_it_clearly():
    vae = LabelVAE()
    xs, _ = _data(4)
    with pytest.raises(ValueError, match="enumerat"):
        IWAE(num_particles=4).loss(vae.model, vae.guide, xs)


def test_sampled_label_importance_agrees_with_enumeration_free_guide():
    vae = LabelVAE()
    xs, _ = _data(4)
    result = importance(vae.model, vae.guide_sampled, xs, num_samples=3000, seed=1)
    gap = (result.log_marginal - vae.exact_log_marginal(xs)).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05)
