"""Diagnostics against closed forms and known answers."""

import math
import warnings

import pytest
import torch
from helpers import linear_data, linear_oracle

from pyrovae.diagnostics import (
    DecoderVarianceWarning,
    active_units,
    aggregate_posterior_moments,
    aggregate_posterior_test,
    collapsed_dimensions,
    decoder_variance_health,
    inference_gaps,
    kl_per_dimension,
    kl_to_posterior,
    log_likelihood,
    mmd_permutation_test,
    mutual_information,
    variational_gap,
)
from pyrovae.models import VAE, DecoderGaussian, LinearGaussianVAE
from pyrovae.nets import MLP


def test_kl_to_posterior_by_importance_matches_closed_form():
    vae = linear_oracle()
    x = linear_data(vae, n=30)
    exact = vae.kl_to_posterior(x).detach()
    est = kl_to_posterior(vae.model, vae.guide, x, num_samples=5000)
    # the IS estimate is biased low by ~se²/2 and noisy by ~se (≈0.01 here)
    assert (est - exact).abs().max() < 0.05
    assert exact.mean() > 0.2  # the guide is visibly off


def test_kl_to_posterior_on_a_grid_matches_closed_form():
    vae = linear_oracle(d=6, k=2).double()
    x = linear_data(vae, n=5).double()
    est = kl_to_posterior(
        vae.model, vae.guide, x, method="grid", bounds=(-6.0, 6.0), resolution=301
    )
    assert torch.allclose(est, vae.kl_to_posterior(x).detach(), atol=1e-3)


def test_variational_gap_and_log_likelihood():
    vae = linear_oracle()
    x = linear_data(vae, n=30)
    gap = variational_gap(vae.model, vae.guide, x, num_samples=2000)
    assert gap["elbo"].mean().item() == pytest.approx(vae.elbo(x).mean().item(), abs=0.05)
    ll = log_likelihood(vae.model, vae.guide, x, num_samples=2000)
    exact = vae.log_marginal(x).mean().item()
    assert abs(ll["log_likelihood"] - exact) < 3 * ll["stderr"] + 1e-3


def test_gaps_when_the_family_contains_the_posterior():
    """Orthogonal W makes p(z|x) a diagonal Gaussian: the per-point family contains it, so the
    approximation gap is ≈ 0; the amortization gap is ≥ 0 up to Monte Carlo error."""
    torch.manual_seed(0)
    d, k = 8, 2
    vae = LinearGaussianVAE(d, k)
    q, _ = torch.linalg.qr(torch.randn(d, k))
    vae.set_params(W=q * torch.tensor([2.0, 1.0]), mu=torch.zeros(d), sigma2=torch.tensor(0.5))
    vae.set_optimal_guide()
    with torch.no_grad():
        vae.V.mul_(0.8)  # a worse amortized mean map
    x = linear_data(vae, n=16)
    gaps = inference_gaps(vae.model, vae.guide, x, num_samples=2000, steps=400)
    assert abs(gaps["mean_approximation_gap"]) < 0.03
    assert gaps["mean_amortization_gap"] > 0.05
    assert (gaps["amortization_gap"] > -0.05).all()
    exact_amortization = (vae.log_marginal(x) - vae.elbo(x)).detach()  # q* is exact here
    assert torch.allclose(gaps["amortization_gap"], exact_amortization, atol=0.08)


def test_mmd_permutation_p_values_are_uniform_under_the_null_and_small_when_shifted():
    p_null = [
        mmd_permutation_test(
            torch.randn(60, 2, generator=torch.Generator().manual_seed(2 * i)),
            torch.randn(60, 2, generator=torch.Generator().manual_seed(2 * i + 1)),
            num_permutations=99,
            seed=i,
        )["p_value"]
        for i in range(60)
    ]
    frac_small = sum(p <= 0.1 for p in p_null) / len(p_null)
    assert 0.0 <= frac_small <= 0.25  # expected 0.1; 60 draws: sd ≈ 0.04
    assert 0.35 < sum(p_null) / len(p_null) < 0.65  # expected 0.5
    shifted = mmd_permutation_test(
        torch.randn(100, 2) + 0.8, torch.randn(100, 2), num_permutations=99
    )
    assert shifted["p_value"] <= 0.02


def test_aggregate_posterior_test_and_moments():
    loc = torch.randn(300, 2) * 0.5
    scale = torch.full((300, 2), math.sqrt(0.75))  # mixture variance 0.25 + 0.75 = 1
    m = aggregate_posterior_moments(loc, scale)
    assert torch.allclose(m["variance"], loc.var(0, unbiased=False) + 0.75)
    assert aggregate_posterior_test(loc, scale, num_permutations=99)["p_value"] > 0.01
    assert aggregate_posterior_test(loc + 1.0, scale, num_permutations=99)["p_value"] <= 0.02


def test_collapse_statistics():
    loc = torch.cat([torch.randn(500, 1), torch.zeros(500, 1)], 1)
    scale = torch.cat([torch.full((500, 1), 0.1), torch.ones(500, 1)], 1)
    kl = kl_per_dimension(loc, scale)
    assert torch.allclose(kl[:, 1], torch.zeros(500))
    assert kl[0, 0] == pytest.approx(
        0.5 * (loc[0, 0] ** 2 + 0.01 - 1 - math.log(0.01)).item(), rel=1e-5
    )
    au = active_units(loc)
    assert au["num_active"] == 1 and au["active"].tolist() == [True, False]
    col = collapsed_dimensions(kl, epsilon=0.01, delta=0.01)
    assert col["collapsed"].tolist() == [False, True] and col["collapsed_fraction"] == 0.5


def test_mutual_information_bounds():
    loc = torch.tensor([[-5.0], [5.0]]).repeat(50, 1)
    assert mutual_information(loc, torch.full_like(loc, 0.1), 64).item() == pytest.approx(
        math.log(2), abs=1e-3
    )
    same = torch.zeros(100, 1)
    assert abs(mutual_information(same, torch.ones_like(same), 64).item()) < 1e-6


def test_decoder_variance_warning_fires_only_without_a_floor():
    torch.manual_seed(0)
    x = torch.randn(50, 3)
    for floor, should_warn in ((0.0, True), (1e-3, False)):
        vae = VAE(MLP(3, [8], 4), MLP(2, [8], 6), DecoderGaussian(min_variance=floor), 2, (3,))
        with torch.no_grad():
            vae.decoder.net[-1].bias[3:].fill_(-30.0)  # log-variance outputs far below 0
            vae.decoder.net[-1].weight[3:].zero_()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            health = decoder_variance_health(vae, x)
        assert health["heading_to_zero"] is should_warn
        assert any(issubclass(w.category, DecoderVarianceWarning) for w in caught) is should_warn
        if floor:
            assert health["at_floor"] and health["sigma_min"] >= math.sqrt(floor) - 1e-6


def test_report_on_the_linear_oracle_and_its_figures(tmp_path):
    from pyrovae.diagnostics import report
    from pyrovae.plotting import plot_posteriors, plot_report
    from pyrovae.posterior import grid

    vae = linear_oracle(d=6, k=2)
    x = linear_data(vae, n=300)
    rep = report(
        vae.model,
        vae.guide,
        x,
        num_samples=1000,
        is_points=50,
        num_permutations=50,
        labels=torch.arange(300) % 3,
    )
    s = rep.summary
    exact = vae.log_marginal(x[:50]).mean().item()
    assert abs(s["log_likelihood"]["mean"] - exact) < 3 * s["log_likelihood"]["stderr"] + 1e-3
    assert s["elbo"] == pytest.approx(vae.elbo(x[:50]).mean().item(), abs=0.05)
    assert s["active_units"] == 2 and s["collapse"]["num_collapsed"] == 0
    import json

    json.dumps(s)  # serializable
    plot_report(rep, tmp_path / "r.png")
    g = grid(vae.model, x[:3], bounds=(-6.0, 6.0), resolution=101)
    plot_posteriors(
        rep.arrays["loc"],
        rep.arrays["scale"],
        [0, 1, 2],
        grid_result=g,
        samples=rep.arrays["samples"],
        path=tmp_path / "p.png",
    )
    assert (tmp_path / "r.png").stat().st_size > 10_000 and (
        tmp_path / "p.png"
    ).stat().st_size > 10_000


def test_mixture_density_grid_is_the_normalized_mixture():
    from pyrovae.plotting.posteriors import mixture_density_grid

    g, dens = mixture_density_grid(torch.zeros(5, 2), torch.ones(5, 2), extent=6.0, resolution=241)
    cell = (g[1] - g[0]) ** 2
    assert float(dens.sum() * cell) == pytest.approx(1.0, abs=1e-6)
    assert float(dens[120, 120]) == pytest.approx(1 / (2 * math.pi), rel=1e-9)  # N(0, I) at 0
    loc = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])
    g, dens = mixture_density_grid(loc, torch.full((2, 2), 0.5), extent=4.0, resolution=81)
    # row i is z2 = g[i], column j is z1 = g[j]: the modes sit at z1 = ±2 on the z2 = 0 row
    assert dens[40].argmax() in (20, 60) and dens[:, 60].argmax() == 40
