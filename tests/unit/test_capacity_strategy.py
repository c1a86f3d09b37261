"""Capacity provider strategies: base first, then by weight (control/launch/capacity.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dockyard.control.launch.capacity import FARGATE, FARGATE_SPOT, check_strategy, split
from dockyard.core.errors import ApiError

MIXED = [
    {"capacityProvider": FARGATE, "base": 1, "weight": 1},
    {"capacityProvider": FARGATE_SPOT, "weight": 3},
]


def test_the_documented_split_base_then_weights() -> None:
    assert Counter(split(MIXED, 9)) == {FARGATE: 3, FARGATE_SPOT: 6}
    assert split(MIXED, 1) == [FARGATE]  # the base comes first


def test_equal_weights_alternate_and_counts_already_running_take_part() -> None:
    even = [{"capacityProvider": FARGATE, "weight": 1}, {"capacityProvider": FARGATE_SPOT, "weight": 1}]
    assert split(even, 4) == [FARGATE, FARGATE_SPOT, FARGATE, FARGATE_SPOT]
    # A service lost one Spot task of its 3 + 6: the replacement goes back to Spot.
    assert split(MIXED, 1, existing={FARGATE: 3, FARGATE_SPOT: 5}) == [FARGATE_SPOT]


def test_a_provider_of_weight_zero_only_takes_its_base() -> None:
    strategy = [
        {"capacityProvider": FARGATE, "base": 2, "weight": 0},
        {"capacityProvider": FARGATE_SPOT, "weight": 1},
    ]
    assert split(strategy, 5) == [FARGATE, FARGATE] + [FARGATE_SPOT] * 3


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        ([{"capacityProvider": f"p{i}", "weight": 1} for i in range(7)], "more than 6"),
        (
            [
                {"capacityProvider": FARGATE, "base": 1, "weight": 1},
                {"capacityProvider": FARGATE_SPOT, "base": 1},
            ],
            "only one",
        ),
        ([{"capacityProvider": FARGATE, "weight": 0}], "greater than zero"),
        ([{"capacityProvider": FARGATE, "weight": 1001}], "weight"),
        (
            [{"capacityProvider": FARGATE, "weight": 1}, {"capacityProvider": FARGATE, "weight": 2}],
            "duplicate",
        ),
    ],
)
def test_bad_strategies_are_refused(strategy: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        check_strategy(strategy)
    assert excinfo.value.code == "InvalidParameterException" and fragment in excinfo.value.message
