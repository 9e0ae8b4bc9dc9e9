"""InfoVAE on the semi-supervised M2 shape (a one-hot label y enumerated in the guide): the
divergence compares the continuous z's aggregate posterior q(z) = E_x Σ_y q(y|x) q(z|x, y)
with p(z), as the exact expectation over y of its estimator; the rest is the enumerated ELBO."""

import itertools

import pyro
import pyro.poutine as poutine
import pytest
import torch
from pyro.infer import TraceEnum_ELBO
from pyro_style_checks import check_elbo_equals_pyro
from pyro_style_models import LabelVAE

from pyrovae.infer import InfoVAE, train
from pyrovae.infer.divergences import AdversarialDivergence
from pyrovae.ops import mmd2, rbf_kernel, weighted_mmd2
from pyrovae.traces.enumeration import enumerated_aggregate, enumeration_weights


def _mixture(n=4, c=3, d=2, m=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, d, generator=gen, dtype=torch.float64)
    w = torch.rand(n, c, generator=gen, dtype=torch.float64)
    return x, w / w.sum(1, keepdim=True), torch.randn(m, d, generator=gen, dtype=torch.float64)


def _expectation_over_choices(x, w, statistic):
    """Σ over every choice (c_1..c_n) of Π_i w[i, c_i] · statistic(x[i, c_i])."""
    n, c, _ = x.shape
    total = 0.0
    for choice in itertools.product(range(c), repeat=n):
        prob = torch.stack([w[i, k] for i, k in enumerate(choice)]).prod()
        total = total + prob * statistic(torch.stack([x[i, k] for i, k in enumerate(choice)]))
    return total


@pytest.mark.parametrize("unbiased", [True, False], ids=["U", "V"])
def test_weighted_mmd_is_the_expectation_of_mmd_over_each_points_choice(unbiased):
    x, w, y = _mixture()
    exact = _expectation_over_choices(x, w, lambda pts: mmd2(pts, y, rbf_kernel, unbiased))
    torch.testing.assert_close(weighted_mmd2(x, w, y, rbf_kernel, unbiased), exact)
    one = torch.ones(4, 1, dtype=torch.float64)
    torch.testing.assert_close(weighted_mmd2(x[:, :1], one, y), mmd2(x[:, 0], y))


def test_weighted_adversarial_estimate_is_the_expectation_over_choices():
    x, w, y = _mixture()
    torch.manual_seed(0)
    divergence = AdversarialDivergence(hidden=(8,))
    weighted = divergence(x, y, weights=w)
    per_choice = {
        key: _expectation_over_choices(x, w, lambda pts, k=key: getattr(divergence(pts, y), k))
        for key in ("value", "surrogate", "auxiliary")
    }
    for key, exact in per_choice.items():
        torch.testing.assert_close(getattr(weighted, key), exact, msg=key)


def test_the_aggregate_holds_every_labels_draw_weighted_by_q_y_given_x():
    vae = LabelVAE()
    xs, _ = vae.simulate(5, 1)
    pyro.set_rng_seed(0)
    guide = poutine.enum(vae.guide, first_available_dim=-2)
    guide_trace = poutine.trace(guide).get_trace(xs)
    model_trace = poutine.trace(poutine.replay(vae.model, trace=guide_trace)).get_trace(xs)
    for trace in (guide_trace, model_trace):
        trace.compute_log_prob()
    pairs = {n: (model_trace.nodes[n], guide_trace.nodes[n]) for n in ("y", "z")}
    weights = enumeration_weights(guide_trace, ["y"])
    q, w, p = enumerated_aggregate(pairs, ["z"], weights, plate_nesting=1)
    z = guide_trace.nodes["z"]["value"]  # (K, B, D): one draw of z per label value
    assert q.shape == (5, 3, 2) and w.shape == (5, 3) and p.shape == (5, 2)
    torch.testing.assert_close(q, z.permute(1, 0, 2))
    torch.testing.assert_close(w, torch.softmax(vae.encoder_y(xs), -1))


def test_with_divergence_weight_zero_infovae_is_trace_enum_elbo():
    vae = LabelVAE()
    xs, _ = vae.simulate(8, 1)
    check_elbo_equals_pyro(
        vae.model,
        vae.guide,
        xs,
        num_data=120,
        pyro_objective=TraceEnum_ELBO(max_plate_nesting=1),
        objective=InfoVAE(alpha=0.0, lam=1.0),
    )


def test_sampled_label_with_divergence_weight_zero_is_trace_elbo():
    vae = LabelVAE()
    xs, _ = vae.simulate(8, 1)
    check_elbo_equals_pyro(
        vae.model, vae.guide_sampled, xs, num_data=80, objective=InfoVAE(alpha=0.0, lam=1.0)
    )


def test_the_divergence_gradient_reaches_the_label_encoder_exactly():
    """With the draws' noise fixed by a seed the loss is a smooth function of q(y|x)'s
    parameters; its autograd gradient equals central differences (float64, h = 1e-5)."""
    vae = LabelVAE()
    xs = vae.simulate(6, 1)[0].double()
    vae = vae.double()
    objective = InfoVAE(alpha=1.0, lam=50.0)  # divergence weight 50·N, no KL term

    def loss():
        pyro.set_rng_seed(4)
        return objective.differentiable_loss(vae.model, vae.guide, xs)

    pyro.clear_param_store()
    value = loss()
    bias = vae.encoder_y.bias
    (grad,) = torch.autograd.grad(value, bias)
    assert objective.last_terms["divergence"] != 0
    h, numeric = 1e-5, torch.zeros_like(bias)
    with torch.no_grad():
        for i in range(bias.numel()):
            bias[i] += h
            up = loss()
            bias[i] -= 2 * h
            down = loss()
            bias[i] += h
            numeric[i] = (up - down) / (2 * h)
    torch.testing.assert_close(grad, numeric, rtol=1e-4, atol=1e-6)


def test_train_infovae_on_the_m2_shape():
    vae = LabelVAE()
    xs, _ = vae.simulate(32, 1)
    objective = InfoVAE(alpha=0.0, lam=100.0, divergence="mmd")
    result = train(vae.model, vae.guide, xs, objective, steps=5, batch_size=8, progress=False)
    assert len(result.history) == 5
    assert all(torch.isfinite(torch.tensor(row["divergence"])) for row in result.history)


@pytest.mark.parametrize(
    "options, guide, message",
    [
        ({"divergence": "stein"}, "guide", "use divergence='mmd' or 'adversarial'"),
        ({}, "guide_sampled", r"enumerate them \(pyro.infer.config_enumerate"),
        ({"latent_sites": ["y", "z"]}, "guide", r"latent_sites \['y'\] are discrete"),
    ],
    ids=["stein-enumerated", "sampled-label", "discrete-latent-site"],
)
def test_what_cannot_work_is_refused_naming_the_fix(options, guide, message):
    vae = LabelVAE()
    xs, _ = vae.simulate(4, 1)
    with pytest.raises(ValueError, match=message):
        InfoVAE(alpha=0.0, lam=10.0, **options).loss(vae.model, getattr(vae, guide), xs)


def test_labelled_data_needs_no_enumeration_and_matches_trace_elbo_at_weight_zero():
    vae = LabelVAE()
    xs, ys = vae.simulate(8, 1)
    check_elbo_equals_pyro(
        vae.model, vae.guide, (xs, ys), num_data=80, objective=InfoVAE(alpha=0.0, lam=1.0)
    )
    pyro.set_rng_seed(0)
    loss = InfoVAE(alpha=0.0, lam=10.0).loss(vae.model, vae.guide, xs, ys)
    assert torch.isfinite(torch.tensor(loss))
