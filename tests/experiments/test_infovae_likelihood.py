"""infovae-likelihood (InfoVAE Table 1 and the anchor): a saved VAE scored as the anchor in
place of training one, equal to scoring it by hand under the same seed; a saved model of
another data shape refused."""

import pytest
from conftest import SHARED_DATA

import pyrovae
from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.diagnostics import log_likelihood
from pyrovae.experiments import get
from pyrovae.models import build_vae
from pyrovae.provenance import file_digest

needs_mnist = pytest.mark.skipif(
    not (SHARED_DATA / "binarized_mnist.npz").exists(), reason="needs ../shared/data"
)
TOY = {"n_test": 8, "num_samples": 20, "anchor_n_test": 6}


@needs_mnist
def test_a_saved_model_is_scored_as_the_anchor(tmp_path):
    vae = build_vae({"data_shape": [784], "z_dim": 3, "hidden": [16]})
    path = tmp_path / "mine.pt"
    pyrovae.save(vae, path)
    overrides = {**TOY, "anchor_model": str(path)}
    run = get("infovae-likelihood")
    partial = run(
        str(tmp_path / "run"), data=str(SHARED_DATA), overrides=overrides, stages=["anchor"]
    )
    anchor = partial["stage_numbers"]["anchor"]
    assert anchor["saved_model"]["sha256"] == file_digest(path) and anchor["steps"] is None
    x = random_subset(load_binarized_mnist(SHARED_DATA, "test"), 10000, 0)[:6]
    by_hand = log_likelihood(vae.model, vae.guide, x, num_samples=20, seed=0)
    assert anchor["log_likelihood"] == pytest.approx(by_hand["log_likelihood"], rel=1e-6)
    assert anchor["test_nll"] == pytest.approx(-by_hand["log_likelihood"], rel=1e-6)


@needs_mnist
def test_a_saved_model_of_other_data_is_refused_as_the_anchor(tmp_path):
    pyrovae.save(build_vae({"data_shape": [12], "z_dim": 2, "hidden": [8]}), tmp_path / "m.pt")
    overrides = {**TOY, "anchor_model": str(tmp_path / "m.pt")}
    with pytest.raises(ValueError, match=r"data shape \(12,\); the anchor scores binarized"):
        get("infovae-likelihood")(
            str(tmp_path / "run"), data=str(SHARED_DATA), overrides=overrides, stages=["anchor"]
        )
