"""InfoVAE reproductions at the quick profile (slow: run by CI with --runslow)."""

import math

import pytest
import torch

from pyrovae.data import load_mnist_idx
from pyrovae.experiments import get

pytestmark = pytest.mark.slow


def test_infovae_two_point(tmp_path):
    """Measured at seed 0: the ELBO separates q(z|x=±1) (I(x;z) = log 2) and over-spreads q(z);
    InfoVAE (α=0, λ=500) keeps Var q(z) near 1 — by posterior collapse (I(x;z) ≈ 0)."""
    r = get("infovae-two-point")(str(tmp_path), "quick")
    holds = (
        "elbo_separates",
        "elbo_overspreads_aggregate",
        "infovae_aggregate_near_prior",
        "infovae_collapsed",
        "closed_form_informative_beats_collapse",
    )
    assert all(r["checks"][k] for k in holds), r["checks"]
    # training does not reach the informative optimum the closed form finds (README)
    elbo = r["objectives"]["ELBO"]["final"]
    assert elbo["mutual_information"] == pytest.approx(math.log(2), abs=0.01)
    assert (tmp_path / "figure1.png").exists() and (tmp_path / "trajectories.png").exists()
    assert (tmp_path / "closed_form.png").exists()


def test_infovae_two_point_is_informative_at_small_lambda(tmp_path):
    """The phase diagram's low-λ regime (README; 3000 steps, seed 0, λ = 10, ξ = 10⁻³, where all
    3 seeds of the sweep were informative at both α): I(x;z) near log 2 and Var q(z) within 0.15
    of the closed-form optimum's (the sweep at seed 0: 0.84 against 0.73 at α = 0, 0.63 against
    0.64 at α = 1), an optimum below the prior's 1; and the closed form says the informative
    solution beats collapse."""
    settings = {"lam": 10.0, "train_elbo": False, "closed_form_grid": False, "stages": 3}
    r = get("infovae-two-point")(str(tmp_path), "quick", overrides=settings)
    assert r["checks"]["closed_form_informative_beats_collapse"]
    assert not r["checks"]["infovae_collapsed"]
    for optimum in r["closed_form_at_setting"]:
        a = int(optimum["alpha"])
        assert r[f"a{a}_information"] > 0.68
        variance = optimum["informative"]["aggregate_variance"]
        assert abs(r[f"a{a}_aggregate_variance"] - variance) < 0.15 and variance < 0.8


def test_infovae_mnist_variance(tmp_path, shared_data):
    """Figure 2 at quick scale (seed 0, random test subset): log det Cov[q(z)] measured ELBO 4.87
    (N=500), 1.43 (N=2000); InfoVAE-MMD −1.31, −0.54. Asserted: the ELBO's is > 0.5 and larger at
    the smaller N, and InfoVAE's is closer to 0 at both sizes."""
    r = get("infovae-mnist-variance")(str(tmp_path), "quick", data=str(shared_data))
    assert all(r["checks"].values()), r["checks"]
    rows = {(row["objective"], row["train_size"]): row["log_det_cov"] for row in r["rows"]}
    assert set(rows) == {(o, n) for o in ("ELBO", "InfoVAE-MMD") for n in (500, 2000)}
    assert rows["ELBO", 500] > rows["ELBO", 2000] > 0.5
    for n in (500, 2000):
        assert abs(rows["InfoVAE-MMD", n]) < rows["ELBO", n]
    assert (tmp_path / "figure2.png").exists()


def test_infovae_posteriors(tmp_path, shared_data):
    """Measured at seed 0 (quick, random test subset): aggregate MMD² 0.0053
    (InfoVAE) < 0.094 (ELBO);
    mean grid KL(q ‖ p(z|x)) over 100 test points 8.41 < 16.33; NUTS agrees with the grid posterior
    means (max difference 0.009). The sample-quality ordering holds by a small margin (pixel MMD²
    of ELBO prior samples 0.160 vs reconstructions 0.154) and is not asserted."""
    r = get("infovae-posteriors")(str(tmp_path), "quick", data=str(shared_data))
    assert r["checks"]["infovae_aggregate_closer_to_prior"]
    assert r["checks"]["infovae_posteriors_closer"]
    for obj in r["objectives"].values():
        assert obj["kl_points"] >= 100
        assert obj["nuts_vs_grid_max_mean_difference"] < 0.1
    for name in ("aggregate_ELBO", "posteriors_InfoVAE-MMD", "samples_ELBO"):
        assert (tmp_path / f"{name}.png").exists()


def test_infovae_comparison(tmp_path, shared_data):
    """Figure 6 at quick scale (seed 0, 1000 steps, random test subset). What holds with a wide
    margin: the MMD and Stein InfoVAEs and the ELBO end with MMD²(q(z), p(z)) ≤ 0.03 while the
    autoencoder's is ≥ 0.3, and InfoVAE-MMD gets there within 100 steps while the ELBO is still at
    ≥ 0.2 (measured 0.002 vs 0.275 at z = 2, 0.001 vs 0.211 at z = 5). The class cross entropy and
    SVM orderings of the paper do not hold at this scale (README), so they are not asserted."""
    r = get("infovae-comparison")(str(tmp_path), "quick", data=str(shared_data))
    assert r["classifier_heldout_accuracy"] > 0.9
    # the README's item-5 verdict: at z = 2 Stein ends well below the ELBO's MMD² (seed 0:
    # 0.0022 against 0.0069 with two torch threads, 0.0020 against 0.0079 with one). InfoVAE-MMD
    # against the ELBO is not asserted: at seed 0 it is a tie that flips with the thread count
    # (0.00696 against 0.00694 with two threads, 0.0070 against 0.0079 with one), within the
    # estimator's noise.
    assert r["checks"]["z=2 InfoVAE-Stein: MMD² below the ELBO's"]
    for d in (2, 5):
        assert r["checks"][f"z={d} InfoVAE-MMD: MMD² below the autoencoder's"]
        assert r["checks"][f"z={d} InfoVAE-Stein: MMD² below the autoencoder's"]
        rows = {row["objective"]: row for row in r["rows"] if row["z_dim"] == d}
        assert (
            rows["InfoVAE-MMD"]["mmd_trajectory"][0][1] < 0.5 * rows["ELBO"]["mmd_trajectory"][0][1]
        )
    # the class cross entropy H(u, p̂) recomputed from the MNIST test labels (u) and the recorded
    # class distribution of each model's samples (p̂): the right u and formula were used
    _, labels = load_mnist_idx(str(shared_data), "test")
    u = torch.bincount(labels, minlength=10).double()
    u = u / u.sum()
    assert r["class_cross_entropy_minimum"] == pytest.approx(-(u * u.log()).sum().item(), rel=1e-5)
    for row in r["rows"]:
        p_hat = torch.tensor(row["generated_class_distribution"], dtype=torch.float64)
        assert p_hat.sum().item() == pytest.approx(1.0, abs=1e-4) and (p_hat >= 0).all()
        expected = -(u * p_hat.clamp_min(1e-12).log()).sum().item()
        assert row["class_cross_entropy"] == pytest.approx(expected, rel=1e-4)
        assert [s for s, _ in row["mmd_trajectory"]] == list(range(100, 1001, 100))
    assert (tmp_path / "figure6.png").exists() and (tmp_path / "samples_z5.png").exists()


def test_infovae_likelihood(tmp_path, shared_data):
    """Table 1 below quick scale (500 training steps, AIS on 20 images: the quick profile took
    508 s of CI's slow run; `pyrovae reproduce infovae-likelihood` runs it whole): K = 5000
    importance sampling gives log p̂(x) above the ELBO and at least the K = 500 estimate (up to
    Monte Carlo error) for every model, with finite error bars."""
    smaller = {"steps": "500", "anchor_steps": "500", "ais_points": "20"}
    r = get("infovae-likelihood")(str(tmp_path), "quick", data=str(shared_data), overrides=smaller)
    assert r["checks"]["estimator_above_elbo"]
    for m in [*r["models"].values(), r["anchor"]]:
        assert m["num_samples"] == 5000 and 0 < m["stderr"] < 1
        assert m["log_likelihood"] >= m["log_likelihood_k_over_10"] - 3 * math.hypot(
            m["stderr"], m["stderr_k_over_10"]
        )
    assert set(r["models"]) == {"ELBO", "InfoVAE-MMD", "InfoVAE-Stein", "InfoVAE-adversarial"}
    # re-judged by AIS on the same 20 test images for every model, with the BDMC gap of each model
    for m in r["models"].values():
        a = m["ais"]
        assert a["n_points"] == 20 and a["num_steps"] == 100 and 0 < a["stderr"] < 5
        assert a["bdmc_lower"] <= a["bdmc_upper"] + 1.0 and a["bdmc_gap"] == pytest.approx(
            a["bdmc_upper"] - a["bdmc_lower"], abs=1e-3
        )  # mean of float32 differences vs difference of float32 means: agree to ~1e-6 of ~150 nats
    assert any(k.endswith("_at_least_elbo_ais") for k in r["checks"])
    assert (tmp_path / "table1.png").stat().st_size > 10_000


def test_infovae_two_point_lam_warmup_escapes_collapse_but_not_to_the_optimum(tmp_path):
    """The README's λ warm-up finding (λ = 500, warm-up from 1 over the first 1000 of 3000 steps,
    seed 0): at α = 1 the codes stay apart (I = log 2; 5 of 5 seeds), with q(z|x) too narrow
    for the closed form's optimum, so the closed-form objective at the trained (c, s) is worse
    than collapse (measured 1.90 against 1.419)."""
    from pyrovae.models.two_point_theory import COLLAPSED, objective

    settings = {"stages": 3, "lam_warmup": 1000, "train_elbo": False, "closed_form_grid": False}
    r = get("infovae-two-point")(str(tmp_path), "quick", overrides=settings)
    f = r["objectives"]["InfoVAE a=1 l=500"]["final"]
    assert r["a1_information"] > 0.6
    assert r["a1_aggregate_variance"] < 0.8
    c = (f["q_mean"]["x=+1"] - f["q_mean"]["x=-1"]) / 2
    s = (f["q_std"]["x=+1"] + f["q_std"]["x=-1"]) / 2
    optimum = r["closed_form_at_setting"][1]["informative"]
    assert s < 0.5 * optimum["s"]
    assert float(objective(abs(c), s, 1.0, 500.0, min_variance=1e-3)) > COLLAPSED
