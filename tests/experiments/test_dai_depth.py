"""dai-depth (Dai et al. 2020, Fig. 1): the checks' logic on hand-made numbers, and a tiny run."""

import json

import pytest
from conftest import SHARED_DATA

from pyrovae.experiments import get
from pyrovae.experiments.dai_depth import Config, checks, training_images
from pyrovae.experiments.dai_depth import summary as get_summary


def _results(vae, ae, sigma):
    depths = (1, 2, 4, 8)
    rows = [
        {"model": m, "depth": d, "reconstruction_error": e, "sigma_z_median": s}
        for m, errors in (("VAE", vae), ("AE", ae))
        for d, e, s in zip(depths, errors, sigma, strict=True)
    ]
    return {"config": {"error_tolerance": 0.02}, "rows": rows}


def test_checks_on_hand_made_curves():
    v = checks(_results([50, 40, 45, 60], [45, 35, 36, 50], [0.3, 0.4, 0.6, 0.9]))
    assert v == {
        "vae_error_falls_then_rises_with_depth": True,
        "ae_error_rises_at_the_deepest": True,
        "vae_error_at_least_ae_at_every_depth": True,
        "vae_sigma_z_moves_toward_one_with_depth": True,
    }
    # monotone decrease: no rise; an AE worse than the VAE; σ_z moving away from 1
    v = checks(_results([50, 40, 35, 30], [55, 45, 40, 30], [0.9, 0.8, 0.7, 0.6]))
    assert not any(v.values())
    # a rise within the 2% tolerance does not count
    v = checks(_results([50, 40, 40, 40.5], [45, 35, 36, 35.2], [0.3, 0.4, 0.6, 0.9]))
    assert not v["vae_error_falls_then_rises_with_depth"]
    assert not v["ae_error_rises_at_the_deepest"]


FASHION = SHARED_DATA / "fashion-mnist" / "train-images-idx3-ubyte.gz"


@pytest.mark.skipif(not FASHION.exists(), reason="needs ../shared/data/fashion-mnist")
def test_tiny_run_records_every_depth_and_model(tmp_path):
    tiny = {"n": 200, "depths": (1, 3), "steps": 20, "width": 16, "z_dim": 4}
    r = get("dai-depth")(str(tmp_path), data=str(SHARED_DATA), overrides=tiny)
    assert r == json.loads((tmp_path / "results.json").read_text())
    assert r["config"]["dataset"] == "fashion-mnist"  # the paper's data by default
    assert "Fashion-MNIST training images, as the paper" in get_summary(r)
    assert {(row["model"], row["depth"]) for row in r["rows"]} == {
        (m, d) for m in ("AE", "VAE") for d in (1, 3)
    }
    for row in r["rows"]:
        assert row["reconstruction_error"] > 0 and len(row["sigma_z_per_dimension"]) == 4
        assert row["gamma"] >= Config().min_variance
    assert r["figures"] == ["depth.png"] and (tmp_path / "depth.png").exists()


@pytest.mark.skipif(not FASHION.exists(), reason="needs ../shared/data/fashion-mnist")
def test_training_images_are_grey_levels_of_the_chosen_data_set():
    fashion = training_images(Config(n=300), str(SHARED_DATA), seed=0)
    assert fashion.shape == (300, 784)
    # grey levels: many values strictly between 0 and 1, unlike the binarized MNIST images
    assert ((fashion > 0) & (fashion < 1)).float().mean() > 0.1
    if (SHARED_DATA / "binarized_mnist.npz").exists():
        mnist = training_images(Config(n=300, dataset="binarized-mnist"), str(SHARED_DATA), 0)
        assert set(mnist.unique().tolist()) == {0.0, 1.0}


def test_an_unknown_dataset_is_refused_naming_the_choices():
    from pyrovae.experiments import dai_depth
    from pyrovae.experiments.framework.skeleton import configure

    with pytest.raises(ValueError, match="dataset must be one of .*fashion-mnist"):
        configure(dai_depth, "dai-depth", overrides={"dataset": "cifar"})
