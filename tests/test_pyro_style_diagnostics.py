"""Diagnostics and summaries of a Pyro-style model whose latent sites are not named "z": report
finds its sites, says which it skips and why; nuts_summary covers every site."""

import pytest
import torch
from pyro_style_models import LabelVAE, SequentialVAE, TutorialStyleVAE

from pyrovae.diagnostics import report
from pyrovae.posterior import hmc, nuts_summary


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
