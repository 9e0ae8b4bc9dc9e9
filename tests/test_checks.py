"""pyrovae.checks.Bound: one declared constraint used by library code, argparse flags and
experiment Config fields."""

import argparse
import dataclasses
import math

import pytest

from pyrovae.checks import FINITE, NON_NEGATIVE, OPEN_UNIT, POSITIVE, UNIT


@pytest.mark.parametrize(
    "bound, good, bad",
    [
        (POSITIVE, [1e-12, 3.0], [0.0, -1.0, math.inf, math.nan]),
        (NON_NEGATIVE, [0.0, 2.0], [-1e-12, math.inf, math.nan]),
        (OPEN_UNIT, [0.5, 1e-9], [0.0, 1.0, 1.5]),
        (UNIT, [0.0, 1.0], [-0.1, 1.1]),
        (FINITE, [-1e30, 0.0], [math.inf, -math.inf, math.nan]),
    ],
)
def test_bounds_pass_good_numbers_and_name_the_setting_for_bad_ones(bound, good, bad):
    for value in good:
        assert bound.check("x", value) == value
    for value in bad:
        with pytest.raises(ValueError, match=r"^x must be a finite number"):
            bound.check("x", value)


def test_a_bound_checks_every_element_of_nested_tuples_and_refuses_non_numbers():
    assert POSITIVE.check("eps", (0.1, (0.2, 3))) == (0.1, (0.2, 3))
    with pytest.raises(ValueError, match=r"eps\[1\]\[0\] must be a finite number > 0"):
        POSITIVE.check("eps", (0.1, (-0.2, 3)))
    for value in ("0.1", True, None):
        with pytest.raises(ValueError, match="eps must be a finite number > 0"):
            POSITIVE.check("eps", value)


def test_argparse_type_turns_a_refusal_into_an_argparse_error():
    assert POSITIVE.argparse_type("1e-3") == 1e-3
    for text in ("0", "nan", "abc"):
        with pytest.raises(argparse.ArgumentTypeError, match="> 0"):
            POSITIVE.argparse_type(text)


def test_field_declares_the_bound_in_dataclass_metadata_and_checks_its_default():
    @dataclasses.dataclass(frozen=True)
    class Config:
        lr: float = POSITIVE.field(1e-3)

    (field,) = dataclasses.fields(Config)
    assert field.metadata["bound"] is POSITIVE and Config().lr == 1e-3
    with pytest.raises(ValueError, match="the default must be a finite number > 0"):
        POSITIVE.field(-1.0)


def test_old_module_name_warns_and_gives_the_same_checks():
    import importlib
    import sys

    import pyrovae.checks

    sys.modules.pop("pyrovae.arguments", None)
    with pytest.warns(DeprecationWarning, match="renamed pyrovae.checks"):
        old = importlib.import_module("pyrovae.arguments")
    assert old.check_count is pyrovae.checks.check_count and old.POSITIVE is pyrovae.checks.POSITIVE
