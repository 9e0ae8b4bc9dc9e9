"""pyrovae.experiments.framework.settings: --set values checked against the bounds declared
beside each experiment's Config fields, and listed with them."""

import pytest

from pyrovae import experiments
from pyrovae.experiments.framework.settings import bounds, describe_settings, resolve_settings


@pytest.mark.parametrize("name", list(experiments.REGISTRY))
def test_every_profile_meets_the_bounds_its_config_declares(name):
    for profile in ("quick", "full"):
        settings = experiments.experiment_settings(name, profile)
        for key, bound in bounds(settings).items():
            bound.check(f"{name} {profile} {key}", getattr(settings, key))


def test_the_bounded_fields_include_the_learning_rates_and_variances():
    declared = bounds(experiments.experiment_settings("sigma-collapse"))
    assert {"lr", "deep_sigma2", "linear_sigma2", "delta"} <= set(declared)
    assert declared["lr"].text == "> 0" and declared["delta"].text == "in (0, 1)"


@pytest.mark.parametrize(
    "name, key, text, message",
    [
        ("linear-vae-ppca", "sigma2", "-1", "sigma2 must be a finite number > 0, got -1.0"),
        ("sigma-collapse", "lr", "0", "lr must be a finite number > 0"),
        ("sigma-collapse", "epsilons", "(0.1, -0.1)", r"epsilons\[1\] must be"),
        ("sigma-collapse", "delta", "1.0", r"delta must be a finite number in \(0, 1\)"),
        (
            "linear-vae-ppca",
            "min_abs_cos",
            "1.5",
            r"min_abs_cos must be a finite number in \[0, 1\]",
        ),
    ],
)
def test_an_override_outside_its_bound_is_refused_naming_the_setting(name, key, text, message):
    with pytest.raises(ValueError, match=message):
        experiments.experiment_settings(name, "quick", {key: text})


def test_values_inside_the_bounds_are_applied():
    settings = experiments.experiment_settings("sigma-collapse", "quick", {"delta": "0.2"})
    assert settings.delta == 0.2


def test_the_settings_listing_shows_type_bound_and_value():
    settings = experiments.experiment_settings("sigma-collapse")
    lines = describe_settings(settings, with_values=True)
    assert "lr (float, > 0) = 0.001" in lines and "deep_n (int) = 2000" in lines
    with pytest.raises(ValueError, match=r"lr \(float, > 0\)"):
        resolve_settings(settings, {"learning_rate": "1"}, "sigma-collapse")
