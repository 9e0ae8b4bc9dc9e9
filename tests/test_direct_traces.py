"""The direct (untraced) path of pyrovae.models.VAE is the traced computation: same sites, same
loss, terms and gradients under the same seed for every objective, and it steps aside whenever
it could differ (handlers active, overridden model, PyroModule submodules, foreign params)."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from helpers import binary_data, small_vae
from pyro import poutine
from pyro.nn import PyroModule, PyroSample

from pyrovae.infer import IWAE, BetaVAE, EvidenceLowerBound, InfoVAE, SVIStepper
from pyrovae.models import VAE, DecoderGaussian
from pyrovae.nets import MLP

N = 200  # the data set the minibatch stands for: plate scale N / B


def traced(fn):
    """The same function, not a bound method of the VAE: always traced by Pyro."""
    return lambda *args, **kwargs: fn(*args, **kwargs)


def register(vae, x):
    """Put the VAE's parameters in the param store, as train()'s first (traced) step does."""
    pyro.clear_param_store()
    poutine.trace(vae.guide).get_trace(x)
    poutine.trace(vae.model).get_trace(x)


def evaluate_with_grads(objective, model, guide, vae, x, seed, kwargs):
    pyro.set_rng_seed(seed)
    record = objective.evaluate(model, guide, (x,), kwargs)
    params = list(vae.parameters())
    grads = torch.autograd.grad(record.surrogate, params, allow_unused=True)
    pairs = zip(params, grads, strict=True)
    return record, [torch.zeros_like(p) if g is None else g for p, g in pairs]


OBJECTIVES = {
    "elbo": lambda: EvidenceLowerBound(),
    "elbo-analytic-kl": lambda: EvidenceLowerBound(analytic_kl=True),
    "elbo-stl": lambda: EvidenceLowerBound(gradient="stl"),
    "elbo-3-particles": lambda: EvidenceLowerBound(num_particles=3),
    "beta-vae": lambda: BetaVAE(4.0),
    "free-bits": lambda: EvidenceLowerBound(free_bits=0.5),
    "infovae-mmd": lambda: InfoVAE(0.0, 10.0),
    "infovae-mmd-alpha1": lambda: InfoVAE(1.0, 50.0, kernel="imq"),
    "infovae-stein": lambda: InfoVAE(0.0, 5.0, "stein"),
    "infovae-adversarial": lambda: InfoVAE(0.0, 5.0, "adversarial"),
    "iwae-1": lambda: IWAE(num_particles=1, vectorize_particles=False),
    "iwae-3-looped": lambda: IWAE(num_particles=3, vectorize_particles=False),
    "iwae-5": lambda: IWAE(num_particles=5),
    "iwae-dreg": lambda: IWAE(num_particles=5, gradient="dreg"),
}


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
@pytest.mark.parametrize("num_data", [None, N])
def test_direct_path_equals_traced_path(name, num_data, monkeypatch):
    taken = []
    build = VAE.direct_traces

    def spy(self, *args):
        traces = build(self, *args)
        taken.append(traces is not None)
        return traces

    monkeypatch.setattr(VAE, "direct_traces", spy)
    vae, x = small_vae(), binary_data(n=24)
    register(vae, x)
    kwargs = {} if num_data is None else {"num_data": num_data}
    objective = OBJECTIVES[name]()
    pyro.set_rng_seed(5)  # the adversarial discriminator is created on first use
    objective.evaluate(traced(vae.model), traced(vae.guide), (x,), kwargs)
    taken.clear()
    direct, g_direct = evaluate_with_grads(objective, vae.model, vae.guide, vae, x, 1, kwargs)
    # vectorized particles wrap model and guide in a plate: those objectives are always traced
    assert any(taken) == (not objective.vectorize_particles or objective.num_particles == 1)
    slow, g_slow = evaluate_with_grads(
        objective, traced(vae.model), traced(vae.guide), vae, x, 1, kwargs
    )
    torch.testing.assert_close(direct.loss, slow.loss, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(direct.surrogate, slow.surrogate, rtol=1e-6, atol=1e-6)
    assert direct.terms.keys() == slow.terms.keys()
    for key in direct.terms:
        torch.testing.assert_close(direct.terms[key], slow.terms[key], rtol=1e-6, atol=1e-6)
    assert direct.num_data == slow.num_data
    assert any(g.abs().sum() > 0 for g in g_direct)
    for a, b in zip(g_direct, g_slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def test_direct_traces_have_the_traced_sites():
    vae, x = small_vae(), binary_data(n=16)
    register(vae, x)
    pyro.set_rng_seed(0)
    model_trace, guide_trace = vae.direct_traces(vae.model, vae.guide, (x,), {"num_data": N})
    pyro.set_rng_seed(0)
    slow_guide = poutine.trace(vae.guide).get_trace(x, num_data=N)
    slow_model = poutine.trace(poutine.replay(vae.model, trace=slow_guide)).get_trace(x, num_data=N)
    for fast, slow in ((model_trace, slow_model), (guide_trace, slow_guide)):
        slow = poutine.util.prune_subsample_sites(slow)
        sample = [n for n, s in slow.nodes.items() if s["type"] == "sample"]
        assert list(fast.nodes) == sample
        for name in sample:
            a, b = fast.nodes[name], slow.nodes[name]
            torch.testing.assert_close(a["value"], b["value"])
            assert a["scale"] == b["scale"] == N / 16
            assert a["cond_indep_stack"] == b["cond_indep_stack"]
            assert a["cond_indep_stack"][0].full_size == b["cond_indep_stack"][0].full_size
            assert a["is_observed"] == b["is_observed"]
            assert a["mask"] is b["mask"] is None
            assert type(a["fn"]) is type(b["fn"])
            assert a["fn"].batch_shape == b["fn"].batch_shape
            assert a["fn"].event_shape == b["fn"].event_shape
        fast.compute_log_prob()
        slow.compute_log_prob()
        for name in sample:
            torch.testing.assert_close(fast.nodes[name]["log_prob"], slow.nodes[name]["log_prob"])


class _OwnModel(VAE):
    def model(self, x, num_data=None):  # an override: the direct path would not know it
        return super().model(x, num_data)


class _BayesianDecoder(PyroModule):
    def __init__(self):
        super().__init__()
        self.bias = PyroSample(dist.Normal(torch.zeros(12), 1.0).to_event(1))

    def forward(self, z):
        return z.sum(-1, keepdim=True) + self.bias


def test_direct_path_steps_aside_when_it_could_differ():
    x = binary_data(n=8)
    vae = small_vae()
    pyro.clear_param_store()
    # 1. parameters not (yet) in the param store: the optimizer would not see their gradients
    assert vae.direct_traces(vae.model, vae.guide, (x,), {}) is None
    register(vae, x)
    assert vae.direct_traces(vae.model, vae.guide, (x,), {}) is not None
    # 2. any active handler (a param capture, a user's scale / condition)
    for handler in (poutine.trace(), poutine.scale(scale=2.0), poutine.block()):
        with handler:
            assert vae.direct_traces(vae.model, vae.guide, (x,), {}) is None
    # 3. another signature, or another VAE's guide
    assert vae.direct_traces(vae.model, vae.guide, (x, N, 3), {}) is None
    assert vae.direct_traces(vae.model, vae.guide, (x,), {"other": 1}) is None
    other = small_vae(seed=1)
    assert vae.direct_traces(vae.model, other.guide, (x,), {}) is None
    # 4. a subclass that overrides the model
    own = _OwnModel(vae.encoder, vae.decoder, vae.likelihood, vae.z_dim, vae.data_shape)
    register(own, x)
    assert own.direct_traces(own.model, own.guide, (x,), {}) is None
    # 5. a PyroModule submodule (its PyroSample attributes are sample sites)
    bayes = VAE(MLP(12, [8], 6), _BayesianDecoder(), vae.likelihood, 3, (12,))
    register(bayes, x)
    assert bayes.direct_traces(bayes.model, bayes.guide, (x,), {}) is None
    trace = poutine.trace(bayes.model).get_trace(x)
    assert "decoder.bias" in trace.nodes  # what the direct path would have dropped


def test_training_steps_match_with_and_without_the_direct_path():
    """Ten SVIStepper steps of the same VAE: bound methods (direct after the first step) and
    wrapped functions (always traced) give the same parameters."""
    x = torch.randn(64, 12)
    results = []
    for wrap in (lambda f: f, traced):
        torch.manual_seed(0)
        vae = VAE(MLP(12, [16], 6), MLP(3, [16], 24), DecoderGaussian(1e-3), 3, (12,))
        pyro.clear_param_store()
        pyro.set_rng_seed(3)
        stepper = SVIStepper(lr=1e-2)
        objective = InfoVAE(0.0, 10.0)
        for k in range(10):
            batch = x[8 * (k % 8) : 8 * (k % 8 + 1)]
            stepper.step(objective, wrap(vae.model), wrap(vae.guide), batch, 64)
        results.append([p.detach().clone() for p in vae.parameters()])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
