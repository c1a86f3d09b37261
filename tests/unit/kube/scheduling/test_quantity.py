"""resource.Quantity parsing (scheduling/quantity.py): values, rounding and apimachinery's errors."""

from __future__ import annotations

import pytest

from dockyard.control.kube.scheduling.quantity import (
    FORMAT_WRONG,
    NUMERIC,
    SUFFIX,
    QuantityError,
    milli_value,
    parse_nano,
    value,
)


@pytest.mark.parametrize(
    ("text", "milli"),
    [
        ("100m", 100),
        ("0.5", 500),
        ("1", 1000),
        ("2.25", 2250),
        ("1e3", 1_000_000),
        ("1E-3", 1),
        ("0.1m", 1),  # rounded up to the next millicore
        ("+1", 1000),
        ("007", 7000),
        ("1.", 1000),
        (".5", 500),
        (".", 0),
        ("+", 0),
        ("0", 0),
    ],
)
def test_cpu_quantities_in_millicores(text: str, milli: int) -> None:
    assert milli_value(text) == milli


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1.5Ki", 1536),
        ("1G", 10**9),
        ("1k", 1000),
        ("1.G", 10**9),
        ("1n", 1),  # a non-zero value never rounds to zero
        ("1.5", 2),
        ("-1.5", -2),  # away from zero, as ScaledValue rounds
        ("2e2", 200),
    ],
)
def test_whole_units(text: str, units: int) -> None:
    assert value(text) == units


def test_values_are_rounded_up_to_the_nanounit_and_capped_at_int64() -> None:
    assert parse_nano("0.0000000001") == 1
    assert parse_nano("1e-20") == 1
    assert value("1e100") == 2**63 - 1
    assert value("9223372036854775808") == 2**63 - 1
    assert value("-1e100") == -(2**63 - 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT_WRONG),
        ("1 ", FORMAT_WRONG),
        ("1Q", FORMAT_WRONG),
        ("1Mi2x", FORMAT_WRONG),
        ("1K", SUFFIX),  # kilo is lowercase; K only as Ki
        ("1e", SUFFIX),
        ("1mm", SUFFIX),
        ("1e1.5", FORMAT_WRONG),
        (".e-10", NUMERIC),  # no digit, on apimachinery's slow path
    ],
)
def test_errors_are_apimachinerys(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_nano(text)
    assert caught.value.message == message
    assert caught.value.code == 400
