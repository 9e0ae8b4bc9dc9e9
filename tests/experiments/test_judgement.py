"""Verdicts in words (pyrovae/experiments/framework/judgement.py): comparisons with their Monte
Carlo error, a claim judged over several cases, and the InfoVAE experiments' ``judge`` on
hand-made results, as the README table shows them."""

import json

import pytest

from pyrovae.experiments import infovae_comparison, infovae_likelihood
from pyrovae.experiments.framework.judgement import (
    FAILS,
    HOLDS,
    TIE,
    claim_words,
    compare,
    difference_stderr,
)
from pyrovae.experiments.framework.verdict_table import report_table


def test_compare_decides_only_beyond_two_standard_errors():
    assert compare(1.0, 2.0) == HOLDS and compare(2.0, 1.0) == FAILS
    assert compare(1.0, 1.0) == TIE
    assert compare(1.8, 2.0, stderr=0.05) == HOLDS  # 0.2 > 2 × 0.05
    assert compare(1.95, 2.0, stderr=0.05) == TIE
    assert compare(2.15, 2.0, stderr=0.05) == FAILS
    assert compare(2.05, 2.0, stderr=0.05, ties_hold=True) == HOLDS  # "at least as good"
    assert compare(-80.0, -82.0, stderr=0.1, better="higher") == HOLDS
    with pytest.raises(ValueError, match="better must be"):
        compare(1.0, 2.0, better="smaller")
    assert difference_stderr(0.3, 0.4) == pytest.approx(0.5)
    assert difference_stderr(0.3, None) == pytest.approx(0.3)


def test_claim_words_name_the_cases_that_hold_fail_or_tie():
    assert claim_words({"MMD": HOLDS, "Stein": HOLDS}) == "reproduced"
    assert claim_words({"MMD": FAILS, "Stein": FAILS}) == "not reproduced"
    assert claim_words({"MMD": HOLDS, "Stein": TIE}) == "undecided (within noise for Stein)"
    assert (
        claim_words({"MMD": HOLDS, "Stein": FAILS, "adversarial": TIE})
        == "partly: holds for MMD; fails for Stein; within noise for adversarial"
    )


def _table1(infovae_ll, gap=0.1, elbo_information=5.0):
    """Hand-made Table 1 results: the ELBO at −85 ± 0.05 by AIS, every InfoVAE model at
    ``infovae_ll`` ± 0.05, each with the BDMC ``gap``."""

    def model(ll, information):
        ais = {"log_likelihood": ll, "stderr": 0.05, "bdmc_gap": gap}
        ais["trusted"] = {"ais": gap <= 1.0}
        return {"ais": ais, "information": {"mutual_information": information}}

    config = infovae_likelihood.PROFILES["cpu"].__dict__ | {"trusted_gap": 1.0}
    models = {"ELBO": model(-85.0, elbo_information)}
    for k in ("InfoVAE-MMD", "InfoVAE-Stein", "InfoVAE-adversarial"):
        models[k] = model(infovae_ll, 3.0)
    anchor = {"test_nll": 90.5, "meets_target": False}
    return {"profile": "cpu", "config": config, "models": models, "anchor": anchor}


def test_table1_verdict_is_undecided_while_the_elbo_model_still_uses_z():
    words = infovae_likelihood.judge(_table1(-87.0, elbo_information=5.04))
    assert words.startswith("at the cpu profile: 1500 steps on 50000 images, pixelcnn decoder")
    assert "undecided at this scale: as measured, not reproduced, but the ELBO model still" in words
    assert "I(x;z) = 5.04 nats ≥ 0.5" in words
    assert "anchor NLL 90.50 against the target 89.0: not met" in words


def test_table1_verdict_is_not_reproduced_once_the_elbo_model_ignores_z():
    words = infovae_likelihood.judge(_table1(-87.0, elbo_information=0.1))
    assert "InfoVAE at least the ELBO in log-likelihood: not reproduced;" in words
    assert "ignore z" not in words  # every InfoVAE model here has I(x;z) = 3 nats


def test_table1_verdict_names_the_infovae_models_that_ignore_z():
    results = _table1(-87.0)
    results["models"]["InfoVAE-MMD"]["information"]["mutual_information"] = 0.29
    words = infovae_likelihood.judge(results)
    assert "(InfoVAE models that ignore z, I(x;z) in nats: InfoVAE-MMD 0.29);" in words


def test_table1_verdict_is_reproduced_within_noise_and_undecided_when_ais_is_untrusted():
    assert "log-likelihood: reproduced;" in infovae_likelihood.judge(_table1(-85.05))
    words = infovae_likelihood.judge(_table1(-80.0, gap=3.0))
    assert "undecided: AIS not trusted (BDMC gap above 1.0 nats: ELBO 3.00" in words


def test_figure6_verdicts_appear_in_the_readme_table(tmp_path):
    """Hand-made Fig. 6 rows (z = 5): MMD and Stein below the ELBO's MMD², the adversarial
    above it; class cross entropies within their bootstrap errors; SVM errors as good."""

    def row(objective, mmd2, ce, svm):
        return {
            "objective": objective,
            "z_dim": 5,
            "mmd2": mmd2,
            "class_cross_entropy": ce,
            "class_cross_entropy_stderr": 0.02,
            "svm_error": svm,
            "svm_test_points": 2000,
        }

    rows = [
        row("ELBO", 0.01, 2.35, 0.20),
        row("InfoVAE-MMD", 0.002, 2.34, 0.20),
        row("InfoVAE-Stein", 0.003, 2.36, 0.21),
        row("InfoVAE-adversarial", 0.05, 2.37, 0.19),
        row("Autoencoder", 0.4, 3.0, 0.15),
    ]
    config = infovae_comparison.PROFILES["cpu"].__dict__
    results = {"experiment": "infovae-comparison", "profile": "cpu", "seed": 0}
    results |= {"config": config, "rows": rows, "classifier_heldout_accuracy": 0.95}
    results["class_cross_entropy_minimum"] = 2.3
    results["checks"] = infovae_comparison.checks(results)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(json.dumps(results))
    table = report_table(str(tmp_path))
    assert "at the cpu profile: 800 steps on 50000 images, pixelcnn decoder" in table
    assert "(MMD²): partly: holds for MMD, Stein; fails for adversarial;" in table
    assert "closer than the autoencoder's: reproduced;" in table
    assert "(class cross entropy): undecided (within noise for MMD, Stein, adversarial)" in table
    assert "latents as good for an SVM as the ELBO's: reproduced" in table
