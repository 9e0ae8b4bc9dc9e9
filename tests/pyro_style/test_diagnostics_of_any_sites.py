"""Diagnostics and summaries of a Pyro-style model whose latent sites are not named "z": report
finds its sites, says which it skips and why; nuts_summary covers every site."""

import pytest
import torch
from pyro_style_models import LabelVAE, SequentialVAE, TutorialStyleVAE

from pyrovae.diagnostics import report
from pyrovae.posterior import hmc, nuts_summary, posterior_comparison


def test_report_finds_a_latent_site_with_another_name():
    vae = TutorialStyleVAE()
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    out = report(vae.model, vae.guide, x, num_samples=50, is_points=5, num_permutations=20)
    assert out.summary["latent_sites"] == ["latent"]
    assert out.summary["latent_dim"] == 2 and out.summary["skipped_sites"] == {}


def test_report_skips_the_discrete_label_and_says_why():
    vae = LabelVAE()
    xs, _ = vae.simulate(20, seed=0)
    out = report(vae.model, vae.guide_sampled, xs, num_samples=50, is_points=5, num_permutations=20)
    assert out.summary["latent_sites"] == ["z"]
    assert "discrete" in out.summary["skipped_sites"]["y"]


def test_report_with_a_missing_site_lists_the_sites():
    vae = TutorialStyleVAE()
    with pytest.raises(ValueError, match=r"no site 'z'.*\['latent'\]"):
        report(vae.model, vae.guide, torch.randn(10, 3), site="z", num_samples=10, is_points=2)


def test_nuts_summary_covers_every_latent_site():
    dmm = SequentialVAE()
    x = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0))
    idata = hmc(dmm.model, x, num_samples=30, warmup_steps=30, num_chains=2, seed=0)
    summary = nuts_summary(idata)
    assert set(summary["sites"]) == {"z_1", "z_2", "z_3"}
    assert summary["rhat_max"] == max(s["rhat_max"] for s in summary["sites"].values())


def test_report_splits_the_diagnostics_by_latent_site():
    """Three sites of the sequential model: their columns partition the concatenated encoder
    output, and the per-site KL totals, active units and collapsed dimensions add up to the
    report's totals."""
    dmm = SequentialVAE()
    x = torch.randn(30, 3, 2, generator=torch.Generator().manual_seed(0))
    out = report(dmm.model, dmm.guide, x, num_samples=20, is_points=4, num_permutations=10)
    summary = out.summary
    per_site = summary["per_site"]
    assert list(per_site) == summary["latent_sites"] == ["z_1", "z_2", "z_3"]
    assert [s["dims"] for s in per_site.values()] == [[0, 2], [2, 4], [4, 6]]
    total = sum(s["kl_total"] for s in per_site.values())
    assert total == pytest.approx(summary["kl_total"], rel=1e-5)
    assert sum(s["active_units"] for s in per_site.values()) == summary["active_units"]
    collapsed = sum(s["num_collapsed"] for s in per_site.values())
    assert collapsed == summary["collapse"]["num_collapsed"]


def test_posterior_comparison_has_a_row_per_site_and_point():
    dmm = SequentialVAE()
    x = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0))
    idata = hmc(dmm.model, x, num_samples=30, warmup_steps=30, num_chains=2, seed=0)
    table = posterior_comparison(idata, guide=dmm.guide, x=x)
    assert sorted(set(table["site"])) == ["z_1", "z_2", "z_3"] and len(table) == 6
    assert table[["guide_mean_error_sd", "guide_sd_ratio_min"]].notna().all().all()
    summary = nuts_summary(idata)
    for name, rows in table.groupby("site"):
        assert rows["rhat"].max() == pytest.approx(summary["sites"][name]["rhat_max"])
    one = posterior_comparison(idata, site="z_2")
    assert list(one["site"]) == ["z_2", "z_2"]
    with pytest.raises(ValueError, match=r"no posterior variable 'w'.*z_1"):
        posterior_comparison(idata, site=["z_1", "w"])
