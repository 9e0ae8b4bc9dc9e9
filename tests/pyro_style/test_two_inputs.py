"""The conditional VAE's shape: model(xs, ys) with a prior network p(z|xs), a sizeless plate and
targets observed only where they are not -1 (a mask). The data go in as a tuple or a dict."""

import torch
from pyro_style_checks import (
    check_elbo_equals_pyro,
    check_history_is_loss_over_n,
    check_importance_matches_exact,
)
from pyro_style_models import ConditionalVAE

from pyrovae.infer import train
from pyrovae.posterior import ais


def _data(n=16, seed=1):
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(n, 2, generator=gen)
    ys = torch.randn(n, 3, generator=gen)
    hidden = torch.rand(n, 3, generator=gen) < 0.3
    hidden[:, 0] = False  # every point keeps an observed target
    return xs, ys.masked_fill(hidden, -1.0)


def test_elbo_equals_trace_elbo_times_n_over_b():
    cvae = ConditionalVAE()
    xs, ys = _data(8)
    check_elbo_equals_pyro(cvae.model, cvae.guide, (xs, ys), num_data=64)


def test_train_history_is_the_loss_per_data_point():
    cvae = ConditionalVAE()
    check_history_is_loss_over_n(cvae.model, cvae.guide, _data(), batch_size=4)


def test_inputs_as_a_dict_train_like_a_tuple():
    xs, ys = _data()
    histories = []
    for data in ((xs, ys), {"xs": xs, "ys": ys}):
        cvae = ConditionalVAE()
        result = train(cvae.model, cvae.guide, data, steps=3, batch_size=4, progress=False)
        histories.append([row["loss"] for row in result.history])
    assert histories[0] == histories[1]


def test_validation_takes_the_same_form_as_the_data():
    cvae = ConditionalVAE()
    result = train(
        cvae.model,
        cvae.guide,
        _data(),
        steps=4,
        batch_size=4,
        validation=_data(8, seed=2),
        validate_every=2,
        progress=False,
    )
    assert result.best_step in (2, 4) and result.history[-1]["val_loss"] > 0


def test_importance_sampling_matches_the_exact_masked_marginal():
    cvae = ConditionalVAE()
    xs, ys = _data(6)
    exact = cvae.exact_log_marginal(xs, ys)
    check_importance_matches_exact(cvae.model, cvae.guide, (xs, ys), exact)


def test_ais_with_two_inputs_matches_the_exact_masked_marginal():
    cvae = ConditionalVAE()
    xs, ys = _data(4)
    result = ais(cvae.model, (xs, ys), guide=cvae.guide, num_steps=300, num_chains=16, seed=0)
    gap = (result.log_marginal - cvae.exact_log_marginal(xs, ys)).abs()
    assert torch.all(gap <= 4 * result.stderr + 0.05), gap
