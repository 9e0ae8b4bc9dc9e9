"""Stranded HMC chains (pyrovae.posterior.stranded, hmc(restart_stranded=True),
posterior_comparison's ``why``) on a two-mode posterior of known masses.

Prior z ~ ½N(−4, 0.3²) + ½N(4, 0.3²), likelihood x ~ N(z, 1): the posterior is a mixture of two
Normals with closed-form weights w_k ∝ ½N(x; μ_k, 0.3² + 1). HMC cannot cross the valley
between the modes (tens of nats deep), so chains stay in the mode their prior draw fell in:

* x = ±2: the far mode holds ~4e-7 of the mass (negligible): chains there are stranded;
* x = ±0.314: the modes hold ~10% / 90%: chains in the lighter mode are *not* stranded;
* x = 0: equal masses.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch

from pyrovae.models.contract import data_plate
from pyrovae.posterior import hmc, posterior_comparison
from pyrovae.posterior.stranded import chain_log_mass, restart_from_others, stranded

MEANS, PRIOR_SD, NOISE_SD = torch.tensor([-4.0, 4.0]), 0.3, 1.0
X = torch.tensor([2.0, -2.0, 2.0, 0.0, 0.314, -0.314])


def two_mode(x, num_data=None):
    """x: (B, 1)."""
    with data_plate(x, num_data):
        weights = dist.Categorical(probs=x.new_full((len(x), 2), 0.5))
        parts = dist.Normal(MEANS.to(x).expand(len(x), 2), PRIOR_SD)
        z = pyro.sample("z", dist.MixtureSameFamily(weights, parts))
        pyro.sample("x", dist.Normal(z.unsqueeze(-1), NOISE_SD).to_event(1), obs=x)


def exact_posterior(x):
    """Weights (B, 2), means (B, 2) and the common sd of the two Normal components."""
    precision = 1 / PRIOR_SD**2 + 1 / NOISE_SD**2
    means = (MEANS / PRIOR_SD**2 + x.unsqueeze(-1) / NOISE_SD**2) / precision
    evidence = dist.Normal(MEANS, math.sqrt(PRIOR_SD**2 + NOISE_SD**2)).log_prob(x.unsqueeze(-1))
    return evidence.softmax(-1), means, precision**-0.5


def _run(**options):
    return hmc(
        two_mode, X[:, None], num_samples=250, warmup_steps=250, num_chains=8, seed=0, **options
    )


@pytest.fixture(scope="module")
def plain():
    return _run()


@pytest.fixture(scope="module")
def restarted():
    return _run(restart_stranded=True)


def _chain_means(idata):
    return torch.as_tensor(idata.posterior["z"].values).reshape(8, 250, len(X)).mean(1)  # (C, B)


def test_the_masses_are_as_the_docstring_says():
    weights, _, _ = exact_posterior(X)
    assert weights[0, 0] < 1e-6 and weights[1, 1] < 1e-6
    assert weights[3].sub(0.5).abs().max() < 1e-6
    assert 0.08 < weights[4, 0] < 0.12 and 0.08 < weights[5, 1] < 0.12


def test_without_restart_a_chain_is_stranded_and_the_comparison_says_so(plain):
    weights, means, _ = exact_posterior(X)
    minor = weights.argmin(-1)
    in_minor = (_chain_means(plain) - means.gather(1, minor[:, None]).T).abs() < 1.0  # (C, B)
    # the premise: some chains of the x = ±2 points sit in the mode of negligible mass
    assert in_minor[:, :3].any(0).all(), in_minor
    table = posterior_comparison(plain).set_index("data")
    for b in range(3):
        assert not table.loc[b, "reliable"]
        assert table.loc[b, "lightest_chain_mass"] < 1e-3
        assert "stranded" in table.loc[b, "why"] and "restart_stranded=True" in table.loc[b, "why"]
    # modes of comparable mass are not called stranded, whatever the R-hat says
    for b in range(3, 6):
        if in_minor[:, b].any() and not in_minor[:, b].all():
            assert table.loc[b, "lightest_chain_mass"] > 1e-2
            assert "comparable mass" in table.loc[b, "why"], table.loc[b, "why"]
            assert "stranded in" not in table.loc[b, "why"]
    assert (table["why"] == "").eq(table["reliable"]).all()


def test_restart_moves_only_the_stranded_chains_and_recovers_the_posterior(plain, restarted):
    weights, means, sd = exact_posterior(X)
    moved = torch.tensor(restarted.posterior.attrs["restarted"])  # (C, B)
    minor = weights.argmin(-1)
    plain_in_minor = (_chain_means(plain) - means.gather(1, minor[:, None]).T).abs() < 1.0
    # same seed, so the same chains stand in the same modes at the end of warm-up
    assert moved[:, :3].eq(plain_in_minor[:, :3]).all(), (moved, plain_in_minor)
    assert moved[:, 3:].sum() == 0  # modes of 50% and 10% mass are left alone
    exact_mean = (weights * means).sum(-1)
    draws = torch.as_tensor(restarted.posterior["z"].values).reshape(-1, len(X))
    # x = ±2: within 0.15 posterior sd of the exact mean once the stranded chains moved
    assert ((draws.mean(0)[:3] - exact_mean[:3]).abs() < 0.15 * sd).all(), draws.mean(0)
    table = posterior_comparison(restarted).set_index("data")
    assert table.loc[[0, 1, 2], "reliable"].all(), table
    assert table.loc[[0, 1, 2], "restarted_chains"].eq(moved[:, :3].sum(0).numpy()).all()


def test_chain_log_mass_is_the_log_evidence_of_a_gaussian_mode():
    """For draws from N(m, s²) with log density log w + log N(z; m, s²), the estimate is log w
    (within 0.05 for 4000 draws)."""
    gen = torch.Generator().manual_seed(0)
    z = 3.0 + 0.5 * torch.randn(2, 4000, 1, 2, generator=gen, dtype=torch.float64)
    log_w = torch.tensor([math.log(0.2), math.log(1e-5)], dtype=torch.float64)
    lp = dist.Normal(3.0, 0.5).log_prob(z).sum(-1) + log_w.view(2, 1, 1)
    log_mass = chain_log_mass(z, lp)
    assert (log_mass[:, 0] - log_w).abs().max() < 0.05
    assert stranded(log_mass, 1e-3)[:, 0].tolist() == [False, True]


def test_restart_copies_a_donor_state_that_is_not_stranded():
    u = torch.arange(12.0).view(3, 2, 2)  # (C=3, B=2, D=2)
    lp = torch.arange(6.0).view(3, 2)
    is_stranded = torch.tensor([[True, False], [False, False], [True, True]])
    new_u, new_lp = restart_from_others((u, lp), is_stranded, torch.Generator().manual_seed(0))
    assert torch.equal(new_u[0, 0], u[1, 0]) and torch.equal(new_u[2, 0], u[1, 0])
    assert new_lp[2, 1].item() in (lp[0, 1].item(), lp[1, 1].item())
    assert torch.equal(new_u[1], u[1]) and torch.equal(new_u[0, 1], u[0, 1])


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"vectorize": False}, "vectorize=True"),
        ({"num_chains": 1}, "num_chains >= 2"),
        ({"warmup_steps": 20}, "warmup_steps >= 40"),
        ({"stranded_mass_ratio": 1.0}, "(0, 1)"),
    ],
)
def test_restart_refuses_what_cannot_work(options, fragment):
    settings = {"num_samples": 5, "warmup_steps": 40, "num_chains": 2, **options}
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        hmc(two_mode, X[:, None], restart_stranded=True, **settings)
